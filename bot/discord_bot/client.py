"""The Discord bot process: one :class:`RapBot` holding one :class:`RapService`.

``setup_hook`` (run once, after login and before the gateway connects) makes the service
with ``service_factory(settings)``, starts its workers and loads one cog per feature;
``close()`` disconnects from Discord first, so no new event arrives, then closes the service.

Intents: the defaults, plus MESSAGE_CONTENT only when ``settings.discord_channels`` is set.
MESSAGE_CONTENT is privileged (enabled per bot in the Developer Portal, reviewed for bots in
100+ servers); without it Discord still delivers attachments and text of DMs and of messages
that mention the bot, which is all ``/analyze``, the "Analyze voice" menu, DMs and
``@Bot`` + voice note need. Only answering every note in a listened channel needs it.

Errors: a member's mistake is answered with the service's sentence; anything unexpected in
an application command reaches :meth:`RapTree.on_error`, which logs the traceback and
answers with a short apology. The bot stays up. This module words nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from i18n import N_, say

from ..service import RapService
from ..settings import Settings
from .cogs import (
    AdminCog,
    AnalyzeCog,
    ArtistsCog,
    CompareCog,
    CypherCog,
    ForgetCog,
    HelpCog,
    PracticeCog,
)
from .common import APOLOGY, answer_safely, language_of
from .translator import CatalogueTranslator

log = logging.getLogger(__name__)

ServiceFactory = Callable[[Settings], RapService]

NOT_HERE = N_("That command works in a server only.")
STALE_COMMAND = N_("That command is out of date; please try again in a minute.")
BAD_OPTION = N_("I couldn't use one of the options you gave; please pick it again.")
# Discord sent a command this build does not know (or knows differently): commands not synced.
_STALE = (app_commands.CommandNotFound, app_commands.CommandSignatureMismatch)


def _default_factory(settings: Settings) -> RapService:
    from ..app import create_service  # imported late: it pulls in the process pool

    return create_service(settings)


class RapTree(app_commands.CommandTree):
    """The command tree, with one place that turns command failures into answers."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        name = interaction.command.qualified_name if interaction.command else "?"
        if isinstance(error, app_commands.CommandInvokeError):
            log.error("command /%s failed", name, exc_info=error.original)
            text = APOLOGY
        elif isinstance(error, app_commands.NoPrivateMessage):
            text = NOT_HERE
        elif isinstance(error, _STALE):
            log.warning("stale application command: %s", error)
            text = STALE_COMMAND
        elif isinstance(error, app_commands.TransformerError):
            log.info("command /%s: %s", name, error)
            text = BAD_OPTION
        else:
            log.error("command /%s failed", name, exc_info=error)
            text = APOLOGY
        service = getattr(interaction.client, "service", None)
        language = language_of(service, interaction) if service is not None else "en"
        await answer_safely(interaction, say(text, language))


class RapBot(commands.Bot):
    def __init__(
        self,
        settings: Settings,
        *,
        service_factory: ServiceFactory | None = None,
        sync_commands: bool = False,
        **options: Any,
    ) -> None:
        # The bot joins a voice channel only for a cypher, which checks the voice libraries
        # itself and says what is missing (bot.cypher.voice.missing_voice_support):
        # discord.py's own warnings about them would only mislead whoever reads the logs.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        intents = discord.Intents.default()
        intents.message_content = bool(settings.discord_channels)
        super().__init__(
            command_prefix=commands.when_mentioned,  # owner text commands: "@Bot sync"
            intents=intents,
            tree_cls=RapTree,
            help_command=None,
            owner_ids=set(settings.discord_owner_ids),  # empty: the application's owner
            # Display names are user-chosen: never let a reply ping @everyone or a role.
            allowed_mentions=discord.AllowedMentions(
                everyone=False, roles=False, users=False, replied_user=True
            ),
            **options,
        )
        self.settings = settings
        self._service_factory = service_factory or _default_factory
        self._sync_commands = sync_commands
        self._service: RapService | None = None
        self._service_closed = False

    @property
    def service(self) -> RapService:
        if self._service is None:
            raise RuntimeError("the service is made in setup_hook; log in first")
        return self._service

    async def setup_hook(self) -> None:
        self._service = self._service_factory(self.settings)
        await self._service.start()
        await self.tree.set_translator(CatalogueTranslator())  # Korean command descriptions
        for cog in (
            AnalyzeCog(self, self._service),
            CompareCog(self, self._service),
            ArtistsCog(self, self._service),
            PracticeCog(self, self._service),
            CypherCog(self, self._service),
            ForgetCog(self, self._service),
            HelpCog(self, self._service),
            AdminCog(self),
        ):
            await self.add_cog(cog)
        if self._sync_commands:
            synced = await self.tree.sync()
            log.info("synced %d application commands", len(synced))

    async def on_ready(self) -> None:
        user = self.user
        log.info("connected as %s (%s) to %d servers", user, user and user.id, len(self.guilds))

    async def on_command_error(
        self, context: commands.Context[Any], exception: commands.CommandError, /
    ) -> None:
        # Text commands are owner tools; "@Bot hello" from a member is not an error.
        if isinstance(exception, commands.CommandNotFound | commands.CheckFailure):
            log.debug("ignored text command from %s: %s", context.author.id, exception)
            return
        log.error("text command failed", exc_info=exception)
        try:
            await context.reply(APOLOGY)
        except discord.HTTPException as e:
            log.warning("could not apologise: %s", e)

    async def close(self) -> None:
        # discord.py waits guild_ready_timeout after READY before dispatching "ready"; a bot
        # closed inside that window would dispatch it on a closed client (an AttributeError
        # in a stray task). Cancelling the pending wait is what discord.py does on reconnect.
        pending_ready = getattr(self._connection, "_ready_task", None)
        if pending_ready is not None:
            pending_ready.cancel()
        try:
            await super().close()
        finally:
            if self._service is not None and not self._service_closed:
                self._service_closed = True
                await self._service.close()
