"""Running the Telegram bot: the Bot client, the Dispatcher, long polling and shutdown.

:func:`run_telegram` checks the token first (a one-line :class:`SettingsError`, no network),
starts the service (worker processes load the model) before polling, long-polls until
SIGINT/SIGTERM or cancellation, lets updates in flight finish, then closes the service and
the HTTP session. :func:`build_dispatcher` and :func:`serve` are the same pieces for tests
and other launchers.

It does not set up logging or parse the command line (the launcher does) and holds no
handler logic (``handlers``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand, TelegramObject

from i18n import LANGUAGES, N_, say

from ..app import create_service
from ..service import RapService
from ..settings import Settings, TokenFilter
from .handlers import ARTISTS_PER_PAGE, TelegramHandlers

log = logging.getLogger(__name__)

POLLING_TIMEOUT_S = 30  # long-poll length: Telegram holds getUpdates open this long
COMMANDS = (  # (command, description: an English message id)
    ("help", N_("What I do and how to use me")),
    ("artists", N_("The artists I compare you with")),
    ("compare", N_("Compare two voices (reply, or @name)")),
    ("target", N_("Set, show or clear your target: an artist or a timing goal")),
    ("progress", N_("A chart of your takes against your target")),
    ("leaderboard", N_("Who here came closest to an artist this week")),
    ("share", N_("Show your takes on this group's leaderboards (on/off)")),
    ("cypher", N_("A round of verses in this group: /cypher start, /cypher stop")),
    ("forget", N_("Delete everything I keep about you")),
)


def commands(language: str) -> list[BotCommand]:
    return [BotCommand(command=c, description=say(d, language)) for c, d in COMMANDS]


# Loggers whose records may hold a request error; a logger's filter only sees its own records.
_SCRUBBED_LOGGERS = (
    "aiogram",
    "aiogram.dispatcher",
    "aiogram.event",
    "aiogram.middlewares",
    "aiogram.utils.chat_action",
    __name__,
    "bot.telegram_bot.handlers",
    "bot.telegram_bot.media",
    "bot.cypher.desk",  # a failed post of a round's notice
)


class InFlight(BaseMiddleware):
    """Counts updates being handled, so shutdown can wait for them to finish."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        self.count += 1
        self._idle.clear()
        try:
            return await handler(event, data)
        finally:
            self.count -= 1
            if self.count == 0:
                self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """True if every update finished within ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True


def make_bot(settings: Settings) -> Bot:
    """The aiogram Bot for ``settings``; a bad token is a SettingsError before any request."""
    token = settings.require_telegram_token()
    if settings.telegram_api_url:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    else:
        session = AiohttpSession()
    return Bot(token, session=session)


def scrub_token_from_logs(settings: Settings) -> None:
    """Keep the token out of what aiogram and this adapter log (URLs carry it)."""
    secrets = settings.secrets()
    for name in _SCRUBBED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenFilter) and f.secrets == secrets for f in logger.filters):
            logger.addFilter(TokenFilter(secrets))


def build_dispatcher(
    service: RapService, settings: Settings, *, artists_per_page: int = ARTISTS_PER_PAGE
) -> Dispatcher:
    """A Dispatcher with the adapter's router; ``dp["inflight"]`` counts running updates,
    ``dp["cypher"]`` is the :class:`~bot.cypher.CypherDesk` of its rounds."""
    scrub_token_from_logs(settings)
    dp = Dispatcher(name="rapsim")
    inflight = InFlight()
    dp.update.outer_middleware(inflight)
    dp["inflight"] = inflight
    handlers = TelegramHandlers(service, settings, artists_per_page=artists_per_page)
    dp.include_router(handlers.router())
    dp["cypher"] = handlers.cypher  # the rounds of cypher mode (their desk)
    dp.shutdown.register(handlers.cypher.close)  # a running round's timers
    return dp


async def serve(
    dp: Dispatcher,
    bot: Bot,
    *,
    polling_timeout: int = POLLING_TIMEOUT_S,
    handle_signals: bool = True,
    drain_s: float = 60.0,
) -> None:
    """Long-poll until stopped, then wait up to ``drain_s`` for updates still running.

    The bot's HTTP session stays open (handlers still reply while draining); the caller
    closes it.
    """
    try:
        await dp.start_polling(
            bot,
            polling_timeout=polling_timeout,
            handle_signals=handle_signals,
            close_bot_session=False,
        )
    finally:
        inflight: InFlight = dp["inflight"]
        if inflight.count and not await inflight.wait_idle(drain_s):
            log.warning("stopped with %d updates still running", inflight.count)


async def _prepare(bot: Bot) -> None:
    """Best effort: polling retries by itself if Telegram is briefly unreachable."""
    try:
        # A webhook left set elsewhere makes getUpdates fail; pending updates are kept.
        await bot.delete_webhook(drop_pending_updates=False)
        await bot.set_my_commands(commands("en"))
        for language in LANGUAGES[1:]:  # Telegram shows these to users of that language
            await bot.set_my_commands(commands(language), language_code=language)
    except TelegramAPIError as e:
        log.warning("could not prepare the bot (%s); polling anyway", e)


async def run_telegram(settings: Settings, *, artists_per_page: int = ARTISTS_PER_PAGE) -> None:
    """Run the Telegram bot until SIGINT/SIGTERM (or cancellation)."""
    bot = make_bot(settings)  # first: a bad token fails here, before workers start
    service = create_service(settings)
    try:
        await service.start()
        dp = build_dispatcher(service, settings, artists_per_page=artists_per_page)
        await _prepare(bot)
        await serve(dp, bot, drain_s=settings.job_timeout_s + 10)
    finally:
        await service.close()
        await bot.session.close()
