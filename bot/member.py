"""Who is asking, and where: the one identity every platform maps its users to."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Member:
    """A member of one scope. ``scope`` is a guild or chat id; DMs use ``dm:<user id>``."""

    platform: str  # "discord", "telegram"
    scope: str
    member_id: str
    display_name: str  # shown in replies and images
    handle: str = ""  # the @name people type to mention them (Telegram username), no "@"
    # The member's locale as their platform reports it ("ko", "en-US"; "" unknown: a
    # Discord message carries none), and their server's, the fallback after a remembered one.
    locale: str = field(default="", compare=False)
    scope_locale: str = field(default="", compare=False)
