"""Telegram handlers: messages and button presses in, :class:`RapService` calls, replies out.

Voice notes, audio, video notes and audio documents are checked from Telegram's metadata,
fetched into memory and analysed; ``/start``, ``/help``, ``/artists`` (paged, with
buttons), ``/compare`` (by reply, @name or a mention of a member without a username) and
``/forget`` map one to one onto the service; the practice commands are in ``.practice``,
``/cypher`` in ``.cypher`` (a note sent while a round runs in the chat is its verse).
Every answer replies to the member's message, in their language (``language_code``).
An unexpected error is logged with its traceback and answered with a short apology; the
dispatcher goes on polling.

No decision about audio, limits or profiles is made here: the service makes them all.
"""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    ErrorEvent,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    User,
)
from aiogram.utils.chat_action import ChatActionSender
from aiogram.utils.keyboard import InlineKeyboardBuilder

from i18n import language_for, say

from ..cypher import CypherDesk
from ..member import Member
from ..service import RapService, Reply
from ..settings import Settings
from . import media, texts
from .cypher import CypherHandlers
from .people import PLATFORM, member_of
from .practice import PracticeHandlers

__all__ = ["PLATFORM", "ArtistsPage", "TelegramHandlers", "member_of", "replied_user"]

log = logging.getLogger(__name__)

ARTISTS_PER_PAGE = 20


class ArtistsPage(CallbackData, prefix="artists"):
    page: int  # 1-based


def replied_user(message: Message) -> User | None:
    """The author of the message this one replies to, if it is a real reply."""
    target = message.reply_to_message
    if target is None or target.forum_topic_created is not None:
        return None  # in forum topics every message "replies" to the topic's first message
    return target.from_user


class TelegramHandlers:
    """The adapter's handlers over one service; :meth:`router` registers them."""

    def __init__(
        self, service: RapService, settings: Settings, *, artists_per_page: int = ARTISTS_PER_PAGE
    ) -> None:
        self.service = service
        self.settings = settings
        self.artists_per_page = artists_per_page
        self.practice = PracticeHandlers(self)
        self.cypher = CypherDesk(service)
        self.cypher_handlers = CypherHandlers(self, self.cypher)

    def router(self) -> Router:
        router = Router(name="rapsim-telegram")
        router.message.register(self.on_help, Command("start", "help"))
        router.message.register(self.on_artists, Command("artists"))
        router.message.register(self.on_compare, Command("compare"))
        router.message.register(self.on_forget, Command("forget"))
        self.practice.register(router)
        self.cypher_handlers.register(router)
        media_filter = F.voice | F.audio | F.video_note | F.document
        router.message.register(self.on_media, media_filter)
        router.callback_query.register(self.on_artists_page, ArtistsPage.filter())
        router.errors.register(self.on_error)
        return router

    def language(self, user: User | None) -> str:
        """The language to answer ``user`` in (Telegram sends it with every update)."""
        code = user.language_code if user is not None else None
        return self.settings.language or language_for(code)

    # ---- audio -------------------------------------------------------------------------
    async def on_media(self, message: Message, bot: Bot) -> None:
        member = member_of(message.from_user, message.chat)
        if member is None:
            return
        attachment = media.attachment_of(message)
        if attachment is None:
            return
        other_document = message.document and not media.is_media_document(message.document)
        if other_document and message.chat.type != "private":
            return  # other documents are everyday sharing in a group; in a DM they are for us
        lang = await self.service.language_of(member, remember=True)
        refusal = media.refusal(self.service, self.settings, attachment, lang)
        if refusal:
            await self.reply_text(message, refusal)
            return
        async with self.busy(bot, message):
            try:
                audio = await media.download(
                    bot, attachment.file_id, media.download_limit(self.settings)
                )
            except media.TooBig as e:
                await self.reply_text(message, self._too_big(e.size, lang))
                return
            except media.DownloadFailed as e:
                log.warning("chat %s: %s", message.chat.id, e)
                await self.reply_text(message, say(texts.DOWNLOAD_FAILED, lang))
                return
            # a verse when a cypher round runs in this chat (it waits its turn), else a note
            reply = await self.cypher.verse(
                member,
                audio,
                attachment.filename,
                str(message.chat.id),
                mime=attachment.mime,
                language=lang,
            )
        await self.send(message, reply)

    def _too_big(self, size: int | None, language: str) -> str:
        limit = media.download_limit(self.settings)
        if limit < self.settings.max_upload_bytes:
            return texts.telegram_too_big(size, language)
        size = max(size or 0, limit + 1)  # over the limit by definition, even if unknown
        refusal = self.service.check_upload(size=size, filename=None, mime=None, language=language)
        return refusal or ""

    # ---- commands ----------------------------------------------------------------------
    async def on_help(self, message: Message) -> None:
        limit_mb = media.download_limit(self.settings) / 2**20  # 20 on the public Bot API
        lang = self.language(message.from_user)
        await self.reply_text(message, self.service.help_text(limit_mb, lang))

    async def on_forget(self, message: Message) -> None:
        member = member_of(message.from_user, message.chat)
        lang = self.language(message.from_user)
        if member is None:
            await self.reply_text(message, say(texts.ANONYMOUS, lang))
            return
        await self.send(message, await self.service.forget(PLATFORM, member.member_id, lang))

    async def on_artists(self, message: Message, command: CommandObject) -> None:
        lang = self.language(message.from_user)
        pages = self.service.artist_pages(self.artists_per_page, lang)
        arg = (command.args or "").strip()
        page = int(arg) if arg.isdigit() else 1
        text, markup = self._artists_page(pages, page, lang)
        await message.reply(text, reply_markup=markup, allow_sending_without_reply=True)

    async def on_artists_page(self, query: CallbackQuery, callback_data: ArtistsPage) -> None:
        lang = self.language(query.from_user)
        pages = self.service.artist_pages(self.artists_per_page, lang)
        text, markup = self._artists_page(pages, callback_data.page, lang)
        if isinstance(query.message, Message):
            try:
                await query.message.edit_text(text, reply_markup=markup)
            except TelegramBadRequest as e:
                if "not modified" not in e.message:  # a double click on the same button
                    raise
        await query.answer()

    def _artists_page(
        self, pages: list[str], page: int, language: str
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        if not pages:
            return say(texts.NO_ARTISTS, language), None
        page = min(max(page, 1), len(pages))
        if len(pages) == 1:
            return pages[0], None
        kb = InlineKeyboardBuilder()
        if page > 1:
            kb.button(text=say(texts.PREVIOUS, language), callback_data=ArtistsPage(page=page - 1))
        if page < len(pages):
            kb.button(text=say(texts.NEXT, language), callback_data=ArtistsPage(page=page + 1))
        return pages[page - 1], kb.as_markup()

    async def on_compare(self, message: Message, bot: Bot) -> None:
        me = member_of(message.from_user, message.chat)
        lang = self.language(message.from_user)
        if me is None:
            await self.reply_text(message, say(texts.ANONYMOUS, lang))
            return
        targets, unknown = await self._compare_targets(message, bot, me)
        if unknown:
            await self.reply_text(message, texts.unknown_handles(unknown, lang))
            return
        if not targets:
            await self.reply_text(message, say(texts.COMPARE_USAGE, lang))
            return
        a, b = (me, targets[0]) if len(targets) == 1 else (targets[0], targets[1])
        async with self.busy(bot, message):
            reply = await self.service.compare(a, b, language=lang)
        await self.send(message, reply)

    async def _compare_targets(
        self, message: Message, bot: Bot, me: Member
    ) -> tuple[list[Member], list[str]]:
        """Members named by the reply, @mentions and text mentions, in order; unknown @names."""
        found: list[Member] = []
        unknown: list[str] = []
        replied = member_of(replied_user(message), message.chat)
        if replied is not None:
            found.append(replied)
        own = ((await bot.me()).username or "").lower()
        text = message.text or ""
        for entity in message.entities or []:
            if entity.type == "text_mention" and entity.user is not None:
                member = member_of(entity.user, message.chat)
                if member is not None:
                    found.append(member)
            elif entity.type == "mention":
                handle = entity.extract_from(text).lstrip("@")
                if handle.lower() == own:
                    continue  # "/compare @RapSimBot @x": the bot's own name is not a member
                if handle.lower() == me.handle.lower():
                    found.append(me)
                    continue
                member = await self.service.find_member(PLATFORM, me.scope, handle)
                if member is None:
                    unknown.append(handle)
                else:
                    found.append(member)
        unique = list({m.member_id: m for m in reversed(found)}.values())[::-1]
        return unique, unknown

    # ---- sending -----------------------------------------------------------------------
    def busy(self, bot: Bot, message: Message) -> ChatActionSender:
        """Shows "sending photo…" in the chat until the block ends (renewed every 5 s)."""
        return ChatActionSender.upload_photo(
            bot=bot,
            chat_id=message.chat.id,
            message_thread_id=message.message_thread_id if message.is_topic_message else None,
        )

    async def send(self, message: Message, reply: Reply) -> None:
        if reply.image_png is None:
            await self.reply_text(message, reply.text)
            return
        caption, *rest = texts.split_text(reply.text, texts.CAPTION_LIMIT)
        await message.reply_photo(
            BufferedInputFile(reply.image_png, reply.image_name),
            caption=caption or None,
            allow_sending_without_reply=True,
        )
        for piece in rest:
            await message.reply(piece, allow_sending_without_reply=True)

    async def reply_text(self, message: Message, text: str) -> None:
        for piece in texts.split_text(text):
            await message.reply(piece, allow_sending_without_reply=True)

    # ---- errors ------------------------------------------------------------------------
    async def on_error(self, event: ErrorEvent, bot: Bot) -> bool:
        """Log the traceback and apologise; returning marks the update handled."""
        update = event.update
        log.error(
            "update %d failed: %s",
            update.update_id,
            type(event.exception).__name__,
            exc_info=event.exception,
        )
        message = update.message
        if message is None and update.callback_query is not None:
            query_message = update.callback_query.message
            message = query_message if isinstance(query_message, Message) else None
        if message is None:
            return True
        user = update.callback_query.from_user if update.callback_query else message.from_user
        try:
            await bot.send_message(
                message.chat.id,
                say(texts.APOLOGY, self.language(user)),
                message_thread_id=message.message_thread_id if message.is_topic_message else None,
                reply_parameters=ReplyParameters(
                    message_id=message.message_id, allow_sending_without_reply=True
                ),
            )
        except TelegramAPIError as e:
            log.warning("could not send the apology to chat %s: %s", message.chat.id, e)
        return True
