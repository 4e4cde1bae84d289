"""Voice notes in, artist matches out: on_message, ``/analyze`` and "Analyze voice".

A message is answered when it is a DM, when it mentions the bot, or when it is posted in
one of ``settings.discord_channels`` (there only audio is answered, so chatter and images
pass silently), except a note posted in a channel where a cypher round runs: that is a
verse, and :class:`~bot.discord_bot.cogs.cypher.CypherCog` answers it. Every path checks
the attachment's size, type and length with :meth:`RapService.check_upload` before
downloading it. This cog does no audio work and words nothing itself: the service does
both.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from i18n import N_, say

from ...service import RapService, Reply
from ..common import (
    APOLOGY,
    BOT_AUTHOR,
    NO_AUDIO_IN_MESSAGE,
    analyze_attachment,
    invoker,
    language_of,
    member_of,
    message_kwargs,
    pick_audio,
    refusal_for,
    send_followup,
    typing_in,
)
from .cypher import CypherCog

log = logging.getLogger(__name__)


class AnalyzeCog(commands.Cog):
    def __init__(self, bot: commands.Bot, service: RapService) -> None:
        self.bot = bot
        self.service = service
        self.channels = service.settings.discord_channels
        # Context menus cannot be declared inside a cog class; they are added in cog_load.
        self.menu = app_commands.ContextMenu(
            name=N_("Analyze voice"), callback=self.analyze_message
        )

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    # ---- messages ------------------------------------------------------------------------
    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot:
            return  # ourselves included: never answer a bot, never loop
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return  # joins, pins, thread starts: system messages carry no note
        cypher = self.bot.get_cog(CypherCog.__cog_name__)
        if isinstance(cypher, CypherCog) and cypher.claims(message):
            return  # a verse of the round running in this channel: that cog answers it
        in_channel = self._in_listened_channel(message)
        addressed = message.guild is None or self._mentions_me(message)
        if not (in_channel or addressed):
            return
        try:
            await self._answer(message, addressed=addressed)
        except Exception:
            # The boundary of an event: log the traceback, apologise, keep the bot up.
            log.exception("failed to answer message %s", message.id)
            await self._reply(
                message, Reply(say(APOLOGY, self.service.settings.language or "en"), ok=False)
            )

    async def _answer(self, message: discord.Message, *, addressed: bool) -> None:
        attachment = pick_audio(self.service, message.attachments)
        if attachment is None and not addressed:
            return  # a listened channel: only audio is answered there
        guild = message.guild
        member = member_of(
            message.author,
            guild.id if guild else None,
            guild_locale=guild.preferred_locale if guild else "",
        )
        lang = await self.service.language_of(member)
        if attachment is None:
            if message.attachments:
                refusal = refusal_for(self.service, message.attachments[0], lang)
                text = refusal or say(NO_AUDIO_IN_MESSAGE, lang)
                await self._reply(message, Reply(text, ok=False))
            elif not (await self.bot.get_context(message)).valid:
                await self._reply(message, Reply(self.service.help_text(language=lang)))
            return
        refusal = refusal_for(self.service, attachment, lang)
        if refusal is not None:
            await self._reply(message, Reply(refusal, ok=False))
            return
        async with typing_in(message.channel):
            reply = await analyze_attachment(self.service, member, attachment, lang)
        await self._reply(message, reply)

    async def _reply(self, message: discord.Message, reply: Reply) -> None:
        try:
            await message.reply(**message_kwargs(reply))
        except discord.HTTPException as e:
            # Missing permissions or a deleted message: nothing to tell the member.
            log.warning("could not reply to message %s: %s", message.id, e)

    def _in_listened_channel(self, message: discord.Message) -> bool:
        if not self.channels or message.guild is None:
            return False
        channel = message.channel
        parent = getattr(channel, "parent_id", None)  # threads inherit their channel's setting
        return channel.id in self.channels or parent in self.channels

    def _mentions_me(self, message: discord.Message) -> bool:
        me = self.bot.user
        return me is not None and any(u.id == me.id for u in message.mentions)

    # ---- application commands ------------------------------------------------------------
    @app_commands.command(
        name="analyze", description=N_("Which rappers does this note sound like?")
    )
    @app_commands.describe(audio=N_("A voice note or audio file (ogg, mp3, wav, m4a...)"))
    async def analyze(self, interaction: discord.Interaction, audio: discord.Attachment) -> None:
        await interaction.response.defer(thinking=True)  # analysis takes longer than 3 s
        member = invoker(interaction)
        lang = await self.service.language_of(member, remember=True)
        reply = await analyze_attachment(self.service, member, audio, lang)
        await send_followup(interaction, reply)

    async def analyze_message(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        """The "Analyze voice" message menu: the note is attributed to the message's author;
        the answer is in the language of whoever used the menu."""
        await interaction.response.defer(thinking=True)
        lang = language_of(self.service, interaction)
        attachment = pick_audio(self.service, message.attachments)
        if message.author.bot:
            reply = Reply(say(BOT_AUTHOR, lang), ok=False)
        elif attachment is None:
            first = message.attachments[0] if message.attachments else None
            refusal = refusal_for(self.service, first, lang) if first else None
            reply = Reply(refusal or say(NO_AUDIO_IN_MESSAGE, lang), ok=False)
        else:
            member = member_of(message.author, interaction.guild_id)
            reply = await analyze_attachment(self.service, member, attachment, lang)
        await send_followup(interaction, reply)
