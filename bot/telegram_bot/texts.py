"""Sentences only the Telegram adapter needs, and splitting text to Telegram's limits.

Every answer about audio, profiles and limits comes from the service (``bot.replies``);
this module words only what is Telegram's own: its download cap, how ``/compare`` is
typed here, unknown @names. Plain text: the bot sends no parse_mode, so names with ``<``,
``*`` or ``_`` need no escaping.
"""

from __future__ import annotations

CAPTION_LIMIT = 1024  # characters in a photo caption
MESSAGE_LIMIT = 4096  # characters in a text message

APOLOGY = "Sorry, something went wrong on my side with that one. Please try again in a minute."
DOWNLOAD_FAILED = "I couldn't fetch that file from Telegram. Please send it again."
ANONYMOUS = "I can't tell who you are when you post anonymously; post as yourself to use that."
NO_ARTISTS = "The artist catalogue is empty right now."
COMPARE_USAGE = (
    "To compare voices, reply to a member's message with /compare, or name them: "
    "/compare @name (you and them) or /compare @first @second. "
    "Everyone compared needs to have sent me a voice note in this chat."
)


def telegram_too_big(size: int | None) -> str:
    what = "This file is" if size is None else f"This file is {size / 2**20:.1f} MB:"
    return (
        f"{what} too big for me to download; Telegram lets bots fetch files up to 20 MB. "
        "Send a shorter clip: a minute or two of rapping is plenty."
    )


def unknown_handles(handles: list[str]) -> str:
    names = ", ".join(f"@{h}" for h in handles)
    return (
        f"I have no voice note from {names} in this chat yet. "
        "They need to send me one here first (or reply to their message with /compare)."
    )


def split_text(
    text: str, first_limit: int = MESSAGE_LIMIT, limit: int = MESSAGE_LIMIT
) -> list[str]:
    """``text`` in pieces: the first at most ``first_limit`` characters, the others ``limit``.

    Cuts at the last line break that fits, else the last space, else mid-word, so a caption
    keeps whole lines and the rest follows in messages.
    """
    pieces: list[str] = []
    rest = text.strip()
    size = first_limit
    while len(rest) > size:
        cut = rest.rfind("\n", 0, size + 1)
        if cut <= 0:
            cut = rest.rfind(" ", 0, size + 1)
        if cut <= 0:
            cut = size
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
        size = limit
    if rest or not pieces:
        pieces.append(rest)
    return pieces
