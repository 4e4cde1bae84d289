"""Cypher mode's ears: hear a Discord voice channel and cut each opted-in member's audio
into verses (WAV bytes in memory, with the member), handed to a callback on the event loop.

verses (cutting by the member's own silence; numpy only) ← receive (the packet hook and
its decoder thread) ← client (discord.py's voice client that feeds it) ← session (join,
recording mark, opt-in buttons, leave). Everything but ``verses`` needs the ``voice``
extra (PyNaCl, davey, discord-ext-voice-recv) and libopus: ask
:func:`missing_voice_support` before importing ``session``. It never analyses audio,
posts cards or stores anything; how it works: docs/cypher-voice.md.
"""

from __future__ import annotations

import importlib.util

from .verses import Verse, VerseOptions

__all__ = ["Verse", "VerseOptions", "missing_voice_support"]


def missing_voice_support() -> str | None:
    """None when voice channels can be heard here; else what is missing, in a line."""
    missing = [
        package
        for module, package in (
            ("nacl", "PyNaCl"),
            ("davey", "davey"),
            ("discord.ext.voice_recv", "discord-ext-voice-recv"),
        )
        if _absent(module)
    ]
    if missing:
        return f"install the voice extra (pip install 'rapsim[voice]'): {', '.join(missing)}"
    import discord.opus

    # discord.py loads libopus itself on first use; this is the same look-up, done now
    if not discord.opus.is_loaded() and not discord.opus._load_default():
        return "libopus is missing (apt-get install libopus0)"
    return None


def _absent(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except ModuleNotFoundError:  # a parent package is missing
        return True
