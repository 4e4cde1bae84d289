"""Cypher rounds in a text channel: ``/cypher start`` and ``/cypher stop``.

While a round runs in a channel, every voice message or audio file posted there is a
verse: this cog answers it through the desk (queued fairly, then analysed like any note)
and :class:`~bot.discord_bot.cogs.analyze.AnalyzeCog` leaves it alone
(:meth:`CypherCog.claims`). The notice and the summary are posted in the channel; a
refusal (a round already running, none to stop) only to the caller. ``/cypher stop``
defers: it waits for the verses still in the queue.

Discord sends a bot the attachments of channel messages only with the Message Content
intent (asked for when ``DISCORD_CHANNELS`` is set) or when the message mentions the
bot; without the intent the notice asks members to mention the bot with their verse.
Used in a voice channel's chat, or by a member sitting in a voice channel (or with
``voice:True``), ``/cypher start`` makes the round a cypher in that voice channel: the
bot joins and hears the members who opt in (:mod:`.voice_cypher`); ``voice:False``
keeps it a round of voice notes.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from i18n import N_, say

from ...cypher import CypherDesk
from ...cypher import replies as words
from ...cypher.desk import Post
from ...reply import Reply
from ...service import RapService
from ..common import (
    APOLOGY,
    DOWNLOAD_FAILED,
    PLATFORM,
    clip,
    invoker,
    language_of,
    member_of,
    message_kwargs,
    pick_audio,
    refusal_for,
    send_followup,
    typing_in,
)
from .voice_cypher import VoiceRounds

log = logging.getLogger(__name__)

MENTION_ME = N_(
    "I only see the notes that mention me here: post each verse with @{bot} in the message."
)


class CypherCog(commands.Cog):
    cypher = app_commands.Group(
        name="cypher",
        description=N_("A round of verses in this channel: everyone's voice notes, a summary"),
        guild_only=True,
    )

    def __init__(self, bot: commands.Bot, service: RapService) -> None:
        self.bot = bot
        self.service = service
        self.desk = CypherDesk(service)
        self.voice = VoiceRounds(bot, service, self.desk)

    async def cog_unload(self) -> None:
        await self.voice.close()
        await self.desk.close()

    def claims(self, message: discord.Message) -> bool:
        """Whether ``message`` is a verse of the round running in its channel."""
        return (
            not message.author.bot
            and message.guild is not None
            and message.type in (discord.MessageType.default, discord.MessageType.reply)
            and self.desk.running(PLATFORM, str(message.channel.id))
            and pick_audio(self.service, message.attachments) is not None
        )

    # ---- commands ------------------------------------------------------------------------
    @cypher.command(name="start", description=N_("Open a cypher round in this channel"))
    @app_commands.describe(
        voice=N_(
            "True: I join your voice channel; False: a round of voice notes "
            "(default: voice if you're in one)"
        )
    )
    async def start(self, interaction: discord.Interaction, voice: bool | None = None) -> None:
        member = invoker(interaction)
        lang = await self.service.language_of(member, remember=True)
        channel = VoiceRounds.channel_for(interaction) if voice is not False else None
        if voice and channel is None:
            await interaction.response.send_message(say(words.NOT_IN_VOICE, lang), ephemeral=True)
            return
        refusal = self.voice.refusal(interaction, channel, lang) if channel else None
        if refusal is not None:
            await interaction.response.send_message(clip(refusal), ephemeral=True)
            return
        if channel is not None:
            await interaction.response.defer(thinking=True)  # joining takes a few seconds
            poster = self._poster(interaction.channel_id)
            reply, view = await self.voice.start(interaction, channel, member, lang, poster)
            if view is None:
                await interaction.followup.send(clip(reply.text), ephemeral=True)
            else:
                await interaction.followup.send(clip(reply.text), view=view)
            return
        room = str(interaction.channel_id)
        reply = await self.desk.start(member, room, self._poster(interaction.channel_id), lang)
        text = reply.text
        if reply.ok and not self.bot.intents.message_content:
            me = self.bot.user.display_name if self.bot.user else "Rap Simulator"
            text += "\n" + say(MENTION_ME, lang).format(bot=me)
        await interaction.response.send_message(clip(text), ephemeral=not reply.ok)

    @cypher.command(name="stop", description=N_("End the cypher round here and post its summary"))
    async def stop(self, interaction: discord.Interaction) -> None:
        lang = language_of(self.service, interaction)
        room = str(interaction.channel_id)
        if not self.desk.running(PLATFORM, room):
            await interaction.response.send_message(say(words.NO_ROUND, lang), ephemeral=True)
            return
        await interaction.response.defer(thinking=True)  # the last verses may still be queued
        await self.voice.stop(room)  # a voice cypher: leave first, its last verse is cut
        await send_followup(interaction, await self.desk.stop(PLATFORM, room, lang))

    def _poster(self, channel_id: int | None) -> Post:
        channel = self.bot.get_partial_messageable(channel_id or 0)

        async def post(text: str) -> None:
            await channel.send(clip(text))

        return post

    # ---- verses --------------------------------------------------------------------------
    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if not self.claims(message):
            return
        try:
            reply = await self._verse(message)
        except Exception:
            # The boundary of an event: log the traceback, apologise, keep the bot up.
            log.exception("failed to answer verse %s", message.id)
            reply = Reply(say(APOLOGY, self.service.settings.language or "en"), ok=False)
        try:
            await message.reply(**message_kwargs(reply))
        except discord.HTTPException as e:
            log.warning("could not reply to verse %s: %s", message.id, e)

    async def _verse(self, message: discord.Message) -> Reply:
        attachment = pick_audio(self.service, message.attachments)
        assert attachment is not None and message.guild is not None  # claims() checked
        guild = message.guild
        member = member_of(message.author, guild.id, guild_locale=guild.preferred_locale)
        lang = await self.service.language_of(member)
        refusal = refusal_for(self.service, attachment, lang)
        if refusal is not None:
            return Reply(refusal, ok=False)
        async with typing_in(message.channel):
            try:
                audio = await attachment.read()
            except discord.HTTPException as e:
                log.warning("attachment %s download failed: %s", attachment.id, e)
                return Reply(say(DOWNLOAD_FAILED, lang), ok=False)
            room = str(message.channel.id)
            mime = attachment.content_type
            return await self.desk.verse(
                member, audio, attachment.filename, room, mime=mime, language=lang
            )
