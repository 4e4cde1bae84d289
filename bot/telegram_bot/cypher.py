"""Telegram's cypher rounds: ``/cypher start`` and ``/cypher stop`` in a group.

Telegram bots cannot join voice chats, so a cypher here is a round of voice notes: while
a round runs in a group, the media handler hands each note to the desk as a verse
(``TelegramHandlers.on_media``). The round's later notices (the pool is busy, the
summary after a quiet time) are sent into the chat, in the thread it was started in.
Every sentence is the desk's; this module only maps Telegram to it.
"""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from i18n import say

from ..cypher import CypherDesk
from ..cypher import replies as words
from ..cypher.desk import Post
from . import texts
from .people import PLATFORM, member_of
from .practice import Answering

START_WORDS = frozenset({"start", "begin", "시작"})
STOP_WORDS = frozenset({"stop", "end", "끝", "종료"})


class CypherHandlers:
    def __init__(self, handlers: Answering, desk: CypherDesk) -> None:
        self.h = handlers
        self.service = handlers.service
        self.desk = desk

    def register(self, router: Router) -> None:
        router.message.register(self.on_cypher, Command("cypher"))

    async def on_cypher(self, message: Message, command: CommandObject, bot: Bot) -> None:
        member = member_of(message.from_user, message.chat)
        if member is None:
            await self.h.reply_text(
                message, say(texts.ANONYMOUS, self.h.language(message.from_user))
            )
            return
        lang = await self.service.language_of(member, remember=True)
        if message.chat.type == "private":
            await self.h.reply_text(message, say(words.GROUP_ONLY, lang))
            return
        arg = (command.args or "").strip().casefold()
        room = str(message.chat.id)
        if arg in START_WORDS:
            reply = await self.desk.start(member, room, _poster(bot, message), lang)
        elif arg in STOP_WORDS:
            async with self.h.busy(bot, message):  # waits for the verses still in the queue
                reply = await self.desk.stop(PLATFORM, room, lang)
        else:
            await self.h.reply_text(message, say(words.USAGE, lang))
            return
        await self.h.send(message, reply)


def _poster(bot: Bot, message: Message) -> Post:
    """Says a text in the chat (and forum topic) ``message`` came from."""
    chat_id = message.chat.id
    thread = message.message_thread_id if message.is_topic_message else None

    async def post(text: str) -> None:
        for piece in texts.split_text(text):
            await bot.send_message(chat_id, piece, message_thread_id=thread)

    return post
