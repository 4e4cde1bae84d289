"""Sentences only the Telegram adapter needs, and splitting text to Telegram's limits.

Every answer about audio, profiles and limits comes from the service (``bot.replies``);
this module words only what is Telegram's own: its download cap, how ``/compare`` is
typed here, unknown @names, button labels. Constants are English message ids (said in a
member's language with ``i18n.say``). Plain text: the bot sends no parse_mode, so names
with ``<``, ``*`` or ``_`` need no escaping.
"""

from __future__ import annotations

from i18n import N_, number, translator

CAPTION_LIMIT = 1024  # characters in a photo caption
MESSAGE_LIMIT = 4096  # characters in a text message

APOLOGY = N_("Sorry, something went wrong on my side with that one. Please try again in a minute.")
DOWNLOAD_FAILED = N_("I couldn't fetch that file from Telegram. Please send it again.")
ANONYMOUS = N_("I can't tell who you are when you post anonymously; post as yourself to use that.")
NO_ARTISTS = N_("The artist catalogue is empty right now.")
COMPARE_USAGE = N_(
    "To compare voices, reply to a member's message with /compare, or name them: "
    "/compare @name (you and them) or /compare @first @second. "
    "Everyone compared needs to have sent me a voice note in this chat."
)
PREVIOUS, NEXT = N_("‹ Previous"), N_("Next ›")
CLEAR_TARGET = N_("Clear target")
PICK_TARGET = N_("Or pick one of your closest artists:")


def telegram_too_big(size: int | None, language: str = "en") -> str:
    _ = translator(language).gettext
    if size is None:
        return _(
            "This file is too big for me to download; Telegram lets bots fetch files up to "
            "20 MB. Send a shorter clip: a minute or two of rapping is plenty."
        )
    return _(
        "This file is {size} MB: too big for me to download; Telegram lets bots fetch files "
        "up to 20 MB. Send a shorter clip: a minute or two of rapping is plenty."
    ).format(size=number(size / 2**20, language, 1))


def unknown_handles(handles: list[str], language: str = "en") -> str:
    _ = translator(language).gettext
    return _(
        "I have no voice note from {names} in this chat yet. "
        "They need to send me one here first (or reply to their message with /compare)."
    ).format(names=", ".join(f"@{h}" for h in handles))


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
