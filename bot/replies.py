"""Every sentence the bot says, written for people; the same on every platform.

Plain text only (no Markdown: Telegram would show the asterisks). Adapters may split long
texts to fit their limits, but never reword them. This module only formats: it does not
decide what is allowed (the service does) and measures nothing (the workers do).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from .errors import JobError, JobRejected, JobTimedOut, PoolBusy, PoolClosed, WorkerCrashed
from .jobs import Analysis, ArtistEntry, Comparison, StyleLine
from .limits import Wait
from .settings import Settings

MAX_TIPS = 3
RUNNERS_UP = 4
NOTICEABLE = 0.06  # a difference under 6 % of a feature's usual range is not worth a tip

EMPTY_FILE = "That file is empty. Send a voice note, or an audio file."
DIFFERENT_SCOPES = "I can only compare two members of the same server or chat."
SAME_MEMBER = "Pick two different members to compare."
BUSY = "I'm busy with other notes right now. Please try again in a minute."

# For each feature: the wording, then what to try when the artist's value is higher / lower.
_TIPS: dict[str, tuple[str, str, str]] = {
    "syllable_rate": (
        "Flow: you rap at {mine}; {artist} raps at {theirs}",
        "speed up your delivery, more syllables per bar",
        "slow down and let the words breathe",
    ),
    "tempo_bpm": (
        "Tempo: your beat runs at {mine}; {artist}'s at {theirs}",
        "try a faster beat",
        "try a slower beat",
    ),
    "pitch_median_hz": (
        "Pitch: your voice sits at {mine}; {artist}'s at {theirs}",
        "try pitching your voice up",
        "try pitching your voice down, from the chest",
    ),
    "pitch_range_semitones": (
        "Melody: your pitch moves over {mine}; {artist}'s over {theirs}",
        "put more melody into your lines",
        "keep your delivery flatter and steadier",
    ),
    "energy_db": (
        "Energy: you come in at {mine}; {artist} at {theirs}",
        "push more energy (or get closer to the mic)",
        "pull back a little; you are louder than needed",
    ),
    "energy_dynamics_db": (
        "Dynamics: your loudness swings by {mine}; {artist}'s by {theirs}",
        "punch the key words harder",
        "keep your level steadier",
    ),
    "brightness_hz": (
        "Tone: your tone centres at {mine}; {artist}'s at {theirs}",
        "aim for a brighter, more forward tone",
        "aim for a darker, warmer tone",
    ),
    "pause_ratio": (
        "Pauses: you leave {mine} of the take silent; {artist} leaves {theirs}",
        "leave more room for breaths and rests",
        "fill the gaps and ride the beat",
    ),
}


def analysis(name: str, result: Analysis) -> str:
    top, rest = result.matches[0], result.matches[1 : 1 + RUNNERS_UP]
    first = f"{name}, you sound most like {top.artist}: {top.score:.0f}/100"
    meaning = f", {top.meaning}" if top.meaning and not top.maybe_self else ""
    lines = [first + meaning + "."]
    if top.maybe_self:
        lines.append(
            f"This may be {top.artist} themself: the voice matches {top.artist}'s own "
            f"recordings (identity {top.identity:.0f}/100)."
        )
    if rest:
        lines.append("Runners-up: " + ", ".join(f"{m.artist} {m.score:.0f}" for m in rest))
    if any(m.demo for m in result.matches):
        lines.append("(Demo catalogue: synthetic voices, not real artists.)")
    tips = style_tips(result.style_lines, top.artist)
    if tips:
        lines += ["", f"Next to {top.artist}:", *(f"- {t}" for t in tips)]
    lines += [f"Note: {w}" for w in result.warnings]
    return "\n".join(lines)


def style_tips(lines: Sequence[StyleLine], artist: str, limit: int = MAX_TIPS) -> list[str]:
    """The ``limit`` biggest differences from the artist, each with what to try."""
    gaps = []
    for line in lines:
        if line.name not in _TIPS or not (math.isfinite(line.mine) and math.isfinite(line.theirs)):
            continue
        gap = (line.theirs - line.mine) / line.span
        if abs(gap) >= NOTICEABLE:
            gaps.append((abs(gap), gap, line))
    gaps.sort(key=lambda g: g[0], reverse=True)
    tips = []
    for _, gap, line in gaps[:limit]:
        what, higher, lower = _TIPS[line.name]
        head = what.format(mine=line.mine_text, theirs=line.theirs_text, artist=artist)
        tips.append(f"{head}. To sound closer, {higher if gap > 0 else lower}.")
    if not tips and any(line.name in _TIPS for line in lines):
        tips.append(f"Your tempo, flow, pitch and energy are already close to {artist}'s.")
    return tips


def comparison(a: str, b: str, result: Comparison) -> str:
    first = f"{a} and {b}: {result.score:.0f}/100 alike"
    first += f", {result.meaning}." if result.meaning else "."
    lines = [first]
    if result.maybe_same_voice:
        lines.append("These two notes may be the same person.")
    lines.append(f"Closest artist of {a}: {result.closest[0]}; of {b}: {result.closest[1]}.")
    return "\n".join(lines)


def job_failed(error: JobError) -> str:
    if isinstance(error, PoolBusy):
        return BUSY
    if isinstance(error, JobRejected):
        return f"I couldn't analyse that: {error}"
    if isinstance(error, WorkerCrashed):
        return (
            "The analysis crashed on our side. Nothing was kept; "
            "please send the note again (or another take)."
        )
    if isinstance(error, JobTimedOut):
        return "That took too long to analyse and was stopped. Try a shorter note (30 s is plenty)."
    if isinstance(error, PoolClosed):
        return f"I'm not ready right now ({error}). Please try again in a minute."
    return str(error)


def too_big(size: int, max_mb: float) -> str:
    return (
        f"That file is {size / 2**20:.1f} MB; I take files up to {max_mb:g} MB. "
        "A 30-second voice note is plenty."
    )


def not_audio(name: str) -> str:
    return (
        f"'{name}' doesn't look like audio. Send a voice note or an audio file "
        "(ogg, opus, mp3, wav, m4a, flac)."
    )


def too_long(seconds: float, max_seconds: float) -> str:
    return (
        f"That recording is {seconds:.0f} s long; I take up to {max_seconds:.0f} s. "
        "Send your best 30 seconds."
    )


def slow_down(wait: Wait) -> str:
    if wait.in_flight:
        return "I'm still working on your last note. One at a time, please."
    return f"That's a lot of notes in a minute. Try again in {math.ceil(wait.seconds)} s."


def no_profile(names: Sequence[str]) -> str:
    who = " and ".join(names)
    return (
        f"I have no recent voice note from {who} here. "
        "Each of you sends a voice note first, then /compare."
    )


def stale_profile(names: Sequence[str]) -> str:
    return (
        f"The saved note of {' and '.join(names)} was analysed by another voice model. "
        "Send a new voice note, then /compare again."
    )


def forgotten(counts: Mapping[str, int]) -> str:
    total = sum(counts.values())
    if not total:
        return "I had nothing saved about you. (Audio is never kept.)"
    places = len(counts)
    where = "1 server or chat" if places == 1 else f"{places} servers or chats"
    noun = "analysis" if total == 1 else "analyses"
    return (
        f"Deleted {total} saved {noun} of your voice from {where}. "
        "Nothing about you is kept now (audio never was)."
    )


def artist_pages(entries: Sequence[ArtistEntry], per_page: int) -> list[str]:
    if not entries:
        return ["The catalogue is empty."]
    n_pages = math.ceil(len(entries) / per_page)
    pages = []
    for p in range(n_pages):
        chunk = entries[p * per_page : (p + 1) * per_page]
        head = f"Artists ({len(entries)}), page {p + 1}/{n_pages}:"
        rows = [
            f"{p * per_page + i}. {e.name}: {e.clips} clips, {_minutes(e.seconds)}"
            + (" (demo voice)" if e.demo else "")
            for i, e in enumerate(chunk, 1)
        ]
        pages.append("\n".join([head, *rows]))
    return pages


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def help_text(settings: Settings, max_upload_mb: float | None = None) -> str:
    upload_mb = min(settings.max_upload_mb, max_upload_mb or settings.max_upload_mb)
    return "\n".join(
        [
            "Rap Simulator: send me a voice note of yourself rapping (or an audio file) and "
            "I'll tell you which artists you sound like, why, and what to try.",
            "",
            "/artists: the artists I know",
            "/compare: how alike two members sound (from their latest notes)",
            "/forget: delete everything I keep about you",
            "",
            f"Files up to {upload_mb:g} MB and {settings.max_note_seconds:.0f} s; "
            "I analyse the best 30 seconds.",
            "Privacy: I never keep audio. I keep a voice fingerprint, style numbers and a small "
            f"spectrogram of your last {settings.profiles_per_member} notes for "
            f"{settings.retention_days:g} days, for /compare. /forget deletes them.",
        ]
    )
