"""A cypher in a Discord voice channel: the bot joins, hears the members who opted in, and
every verse they rap is a verse of a cypher round (``bot.cypher``) whose cards and
summary go to the text channel ``/cypher start`` was used in.

:class:`VoiceRounds` belongs to :class:`~bot.discord_bot.cogs.cypher.CypherCog`. It opens
the round on the desk, joins with :class:`~bot.cypher.voice.session.VoiceCypher` (the
recording mark, the opt-in buttons, verses cut by the member's own silence), and hands
each verse to ``desk.verse`` like a voice note: it waits its fair turn for the pool and
gets the same card, posted under a line that says whose verse it was. One cypher per
server (a bot is in one voice channel of a server at a time). It ends on ``/cypher
stop`` (the command posts the summary), or by itself, with the summary posted in the
room: everyone left the voice channel, the bot was taken out, or the round went quiet
(``bot.cypher.rounds.QUIET_S``).

Needs the ``voice`` extra and libopus (:func:`~bot.cypher.voice.missing_voice_support`);
without them ``/cypher start`` in voice says so and a round of voice notes still works.
Audio is in memory only, from the packet to the verse's analysis.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from i18n import say

from ...cypher import CypherDesk
from ...cypher import replies as words
from ...cypher.desk import Post
from ...cypher.voice import Verse, VerseOptions, missing_voice_support
from ...member import Member
from ...reply import Reply
from ...service import RapService
from ..common import APOLOGY, PLATFORM, clip, member_of, message_kwargs

if TYPE_CHECKING:
    from ...cypher.voice.session import VoiceCypher

__all__ = ["VoiceRounds"]

log = logging.getLogger(__name__)

WATCH_S = 10.0  # how often a cypher checks that its round still runs (it may go quiet)
VoiceChannel = discord.VoiceChannel | discord.StageChannel
_ENDINGS = {"empty": words.LEFT_EMPTY, "disconnected": words.LEFT_KICKED}


@dataclass
class _Cypher:
    cypher: VoiceCypher
    room: str  # the text channel of the round: its cards and summary
    language: str  # of whoever started it: the notice, the buttons, the summary
    post: Post
    by_command: bool = False  # /cypher stop ends it (and posts the summary itself)
    watcher: asyncio.Task[None] | None = None


class VoiceRounds:
    """The voice channel cyphers of one bot, one per server at most."""

    def __init__(
        self,
        bot: commands.Bot,
        service: RapService,
        desk: CypherDesk,
        options: VerseOptions | None = None,
    ) -> None:
        self.bot = bot
        self.service = service
        self.desk = desk
        self.options = options or VerseOptions()
        self._guilds: dict[int, _Cypher] = {}

    # ---- where ---------------------------------------------------------------------------
    @staticmethod
    def channel_for(interaction: discord.Interaction) -> VoiceChannel | None:
        """The voice channel a ``/cypher start`` is about: the channel it was used in when
        that is a voice channel (its text chat), else the one its user is in, if any."""
        if isinstance(interaction.channel, discord.VoiceChannel | discord.StageChannel):
            return interaction.channel
        user = interaction.user
        if isinstance(user, discord.Member) and user.voice is not None:
            channel = user.voice.channel
            if isinstance(channel, discord.VoiceChannel | discord.StageChannel):
                return channel
        return None

    def running(self, room: str) -> bool:
        """Whether the round in text channel ``room`` is a voice channel cypher."""
        return any(c.room == room for c in self._guilds.values())

    def refusal(
        self, interaction: discord.Interaction, channel: VoiceChannel, language: str
    ) -> str | None:
        """Why a cypher cannot start in ``channel`` now, or None (checked again by
        :meth:`start`; asked before deferring, so a refusal reaches the caller only)."""
        missing = missing_voice_support()
        if missing is not None:
            return say(words.NO_VOICE, language).format(why=missing)
        taken = self._guilds.get(channel.guild.id)
        if taken is not None:
            where = taken.cypher.channel.mention
            return say(words.VOICE_TAKEN, language).format(channel=where)
        if self.desk.running(PLATFORM, str(interaction.channel_id)):
            return say(words.ALREADY, language)
        return None

    # ---- start and stop ------------------------------------------------------------------
    async def start(
        self,
        interaction: discord.Interaction,
        channel: VoiceChannel,
        member: Member,
        language: str,
        post: Post,
    ) -> tuple[Reply, discord.ui.View | None]:
        """Opens the round in the interaction's channel and joins ``channel``. The notice
        and its opt-in buttons, or a refusal (``ok=False``, no view). Takes seconds: defer
        the interaction first."""
        refusal = self.refusal(interaction, channel, language)
        if refusal is not None:
            return Reply(refusal, ok=False), None
        guild = channel.guild
        room = str(interaction.channel_id)
        opened = await self.desk.start(member, room, post, language)
        if not opened.ok:
            return opened, None
        from ...cypher.voice.session import OptInView, VoiceCypher  # the voice extra

        holder: list[_Cypher] = []

        async def on_verse(who: discord.Member, verse: Verse) -> None:
            await self._verse(holder[0], who, verse)

        async def on_end(reason: str) -> None:
            await self._ended(holder[0], reason)

        cypher = VoiceCypher(self.bot, channel, on_verse, self.options, on_end=on_end)
        state = _Cypher(cypher, room, language, post)
        holder.append(state)
        self._guilds[guild.id] = state
        try:
            await cypher.start()
        except Exception:  # a timeout, no permission, a voice server gone: the caller is told
            log.warning("cypher: could not join %s", channel.id, exc_info=True)
            state.by_command = True  # nobody to tell but the caller
            await cypher.stop("failed")
            self._guilds.pop(guild.id, None)
            await self.desk.stop(PLATFORM, room, language)  # the round never had a verse
            failed = say(words.JOIN_FAILED, language).format(channel=channel.mention)
            return Reply(failed, ok=False), None
        state.watcher = asyncio.create_task(self._watch(state), name=f"cypher-voice-{room}")
        text = words.voice_started(
            channel.mention, self.options.silence_s, self.desk.quiet_s, language
        )
        view = OptInView(
            cypher,
            join_label=say(words.JOIN_LABEL, language),
            leave_label=say(words.LEAVE_LABEL, language),
            joined=say(words.JOINED, language).format(silence=f"{self.options.silence_s:.0f}"),
            left=say(words.LEFT, language),
            ended=say(words.ENDED, language),
        )
        return Reply(text), view

    async def stop(self, room: str) -> bool:
        """Leaves the voice channel of the round in ``room`` once its last verses are cut
        (their cards follow); the caller then ends the round on the desk. False: no voice
        cypher there."""
        state = next((c for c in self._guilds.values() if c.room == room), None)
        if state is None:
            return False
        state.by_command = True
        await state.cypher.stop("stopped")
        return True

    async def close(self) -> None:
        """Leave every voice channel (the cog is unloading)."""
        for state in list(self._guilds.values()):
            state.by_command = True
            await state.cypher.stop("stopped")

    # ---- inside --------------------------------------------------------------------------
    async def _verse(self, state: _Cypher, who: discord.Member, verse: Verse) -> None:
        guild = who.guild
        member = member_of(who, guild.id, guild_locale=guild.preferred_locale)
        try:
            lang = await self.service.language_of(member)
            reply = await self.desk.verse(
                member, verse.audio, verse.filename, state.room, mime="audio/wav", language=lang
            )
        except Exception:
            # The boundary of a verse: log the traceback, apologise, keep the cypher going.
            log.exception("failed to answer a verse of %s", who.id)
            lang = self.service.settings.language or "en"
            reply = Reply(say(APOLOGY, lang), ok=False)
        head = say(words.VERSE_HEAD, lang).format(
            name=who.display_name, seconds=f"{verse.seconds:.0f}"
        )
        card = Reply(f"{head}\n{reply.text}", reply.image_png, ok=reply.ok)
        channel = self.bot.get_partial_messageable(int(state.room))
        try:
            await channel.send(**message_kwargs(card))
        except discord.HTTPException as e:
            log.warning("could not post the card of a verse in %s: %s", state.room, e)

    async def _ended(self, state: _Cypher, reason: str) -> None:
        """The bot left the voice channel: by command, or by itself (post why, and the
        summary of the round if it still runs)."""
        if self._guilds.get(state.cypher.guild.id) is state:
            del self._guilds[state.cypher.guild.id]
        if state.watcher is not None and state.watcher is not asyncio.current_task():
            state.watcher.cancel()
        if state.by_command:
            return
        channel = state.cypher.channel.mention
        why = say(_ENDINGS.get(reason, words.LEFT_QUIET), state.language).format(channel=channel)
        text = why
        if self.desk.running(PLATFORM, state.room):
            summary = await self.desk.stop(PLATFORM, state.room, state.language)
            text = f"{why}\n{summary.text}"
        try:
            await state.post(clip(text))
        except Exception:
            log.warning("could not post the end of the cypher in %s", state.room, exc_info=True)

    async def _watch(self, state: _Cypher) -> None:
        """Leaves when the round is over without the bot (it went quiet: the desk posted
        the summary)."""
        while state.cypher.ended is None:
            await asyncio.sleep(WATCH_S)
            if state.cypher.ended is None and not self.desk.running(PLATFORM, state.room):
                await state.cypher.stop("quiet")
                return
