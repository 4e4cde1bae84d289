"""Who is asking, and where: the one identity every platform maps its users to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Member:
    """A member of one scope. ``scope`` is a guild or chat id; DMs use ``dm:<user id>``."""

    platform: str  # "discord", "telegram"
    scope: str
    member_id: str
    display_name: str  # shown in replies and images
    handle: str = ""  # the @name people type to mention them (Telegram username), no "@"
