"""Telegram's practice commands: ``/target``, ``/progress``, ``/leaderboard``, ``/share``.

``/target <artist>`` sets a target by name; ``/target`` alone shows it, with buttons for
the member's closest artists (and "Clear target"): a press sets the target of whoever
pressed it. Buttons carry an index into the catalogue's sorted names (Telegram allows 64
bytes of callback data; a name may be longer), checked again when pressed. Every
sentence is the service's; this module only maps Telegram to it.
"""

from __future__ import annotations

from typing import Protocol

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, User
from aiogram.utils.chat_action import ChatActionSender
from aiogram.utils.keyboard import InlineKeyboardBuilder

from i18n import say

from ..member import Member
from ..service import RapService, Reply
from . import texts
from .people import member_of

CLEAR = -1  # TargetPick.index of the "Clear target" button


class TargetPick(CallbackData, prefix="target"):
    index: int  # into the catalogue's artists sorted by name; CLEAR clears


class Answering(Protocol):
    """What these handlers use of :class:`~bot.telegram_bot.handlers.TelegramHandlers`
    (which owns them): the service and its ways of answering in a chat."""

    service: RapService

    def language(self, user: User | None) -> str: ...

    def busy(self, bot: Bot, message: Message) -> ChatActionSender: ...

    async def send(self, message: Message, reply: Reply) -> None: ...

    async def reply_text(self, message: Message, text: str) -> None: ...


class PracticeHandlers:
    def __init__(self, handlers: Answering) -> None:
        self.h = handlers
        self.service = handlers.service

    def register(self, router: Router) -> None:
        router.message.register(self.on_target, Command("target"))
        router.message.register(self.on_progress, Command("progress"))
        router.message.register(self.on_leaderboard, Command("leaderboard"))
        router.message.register(self.on_share, Command("share"))
        router.callback_query.register(self.on_target_pick, TargetPick.filter())

    def _names(self) -> list[str]:
        return sorted(self.service.practice.artist_names(), key=str.casefold)

    async def _asker(self, message: Message) -> tuple[Member, str] | None:
        """The member who sent ``message`` and their language (kept for later notes);
        None, after saying why, for a sender who cannot be told apart (an anonymous admin)."""
        member = member_of(message.from_user, message.chat)
        if member is None:
            anonymous = say(texts.ANONYMOUS, self.h.language(message.from_user))
            await self.h.reply_text(message, anonymous)
            return None
        return member, await self.service.language_of(member, remember=True)

    async def on_target(self, message: Message, command: CommandObject) -> None:
        asker = await self._asker(message)
        if asker is None:
            return
        member, lang = asker
        arg = command.args or ""
        reply = await self.service.practice.target(member, arg, lang)
        markup = None if arg.strip() else await self._choices(member, lang)
        text = reply.text + ("\n" + say(texts.PICK_TARGET, lang) if markup else "")
        await message.reply(text, reply_markup=markup, allow_sending_without_reply=True)

    async def _choices(self, member: Member, language: str) -> InlineKeyboardMarkup:
        names = self._names()
        picks = await self.service.practice.suggestions(member)
        kb = InlineKeyboardBuilder()
        for name in picks:
            kb.button(text=name, callback_data=TargetPick(index=names.index(name)))
        kb.button(text=say(texts.CLEAR_TARGET, language), callback_data=TargetPick(index=CLEAR))
        kb.adjust(2)
        return kb.as_markup()

    async def on_target_pick(self, query: CallbackQuery, callback_data: TargetPick) -> None:
        message = query.message if isinstance(query.message, Message) else None
        member = member_of(query.from_user, message.chat) if message else None
        if member is None:
            await query.answer()
            return
        lang = await self.service.language_of(member, remember=True)
        names = self._names()
        i = callback_data.index
        arg = "clear" if i == CLEAR else (names[i] if 0 <= i < len(names) else "?")
        reply = await self.service.practice.target(member, arg, lang)
        await query.answer()
        assert message is not None
        await self.h.reply_text(message, f"{member.display_name}: {reply.text}")

    async def on_progress(self, message: Message, bot: Bot) -> None:
        asker = await self._asker(message)
        if asker is None:
            return
        member, lang = asker
        async with self.h.busy(bot, message):
            reply = await self.service.practice.progress(member, lang)
        await self.h.send(message, reply)

    async def on_leaderboard(self, message: Message, command: CommandObject) -> None:
        asker = await self._asker(message)
        if asker is None:
            return
        member, lang = asker
        reply = await self.service.practice.leaderboard(member, command.args or "", lang)
        await self.h.send(message, reply)

    async def on_share(self, message: Message, command: CommandObject) -> None:
        asker = await self._asker(message)
        if asker is None:
            return
        member, lang = asker
        reply = await self.service.practice.share(member, command.args or "", lang)
        await self.h.send(message, reply)
