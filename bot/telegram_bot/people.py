"""Who wrote a Telegram message: the service's :class:`~bot.member.Member` for a user."""

from __future__ import annotations

from aiogram.types import Chat, User

from ..member import Member

PLATFORM = "telegram"


def member_of(user: User | None, chat: Chat) -> Member | None:
    """The member behind ``user`` in ``chat``; None for bots and anonymous admins."""
    if user is None or user.is_bot:
        return None
    return Member(
        PLATFORM,
        str(chat.id),
        str(user.id),
        user.full_name,
        user.username or "",
        locale=user.language_code or "",
    )
