"""One cypher in one voice channel: join, show the recording mark, hear, leave.

:class:`VoiceCypher` joins the channel (:class:`~bot.cypher.voice.client.CypherVoiceClient`),
renames the bot in the guild to a visible recording mark ("🔴 cypher · RapSim") and puts
the old nickname back when it leaves; it hears only members who opted in
(:class:`OptInView`, a button under a notice) and hands each verse, with its member, to
``on_verse`` on the event loop. It leaves on :meth:`VoiceCypher.stop`, when the channel
has no human left, or when the bot is disconnected from outside.

Wording is the caller's: labels and replies come in as arguments (English defaults), so
the cog can translate them. It does not analyse verses, post cards or keep rounds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from .client import CypherVoiceClient
from .receive import ReceiveStats, VerseReceiver
from .verses import Verse, VerseOptions

__all__ = ["RECORDING_NICK", "OptInView", "VoiceCypher"]

log = logging.getLogger(__name__)

RECORDING_NICK = "🔴 cypher · RapSim"
VerseHandler = Callable[[discord.Member, Verse], Awaitable[None]]
EndHandler = Callable[[str], Awaitable[None]]


class VoiceCypher:
    """The bot in one voice channel for one cypher."""

    def __init__(
        self,
        client: discord.Client,
        channel: discord.VoiceChannel | discord.StageChannel,
        on_verse: VerseHandler,
        options: VerseOptions | None = None,
        *,
        nickname: str = RECORDING_NICK,
        on_end: EndHandler | None = None,
        connect_timeout: float = 30.0,
    ) -> None:
        """``on_verse(member, verse)`` gets every verse of a member who opted in;
        ``on_end(reason)`` runs once when the bot has left ("stopped", "empty",
        "disconnected")."""
        self.client = client
        self.channel = channel
        self.options = options or VerseOptions()
        self.nickname = nickname
        self.voice: CypherVoiceClient | None = None
        self.receiver: VerseReceiver | None = None
        self.ended: str | None = None
        self._on_verse = on_verse
        self._on_end = on_end
        self._timeout = connect_timeout
        self._old_nick: str | None = None
        self._renamed = False  # whether the nickname must be put back
        self._tasks: set[asyncio.Task[None]] = set()  # verse handlers
        # stops spawned from events (the channel emptied, the bot was disconnected): kept
        # apart, since a stop waits for the verse handlers and two of them may race
        self._stops: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Lock()
        # members who opted in: a member who hangs up may drop out of discord.py's cache
        # (without the members intent it keeps only members in voice) before their last
        # verse is cut
        self._members: dict[int, discord.Member] = {}

    @property
    def guild(self) -> discord.Guild:
        return self.channel.guild

    @property
    def stats(self) -> ReceiveStats | None:
        return self.receiver.stats if self.receiver else None

    def humans(self) -> list[discord.Member]:
        """The members in the channel who are not bots."""
        return [m for m in self.channel.members if not m.bot]

    # ---- start and stop -----------------------------------------------------------------
    async def start(self) -> None:
        """Joins, renames the bot, starts hearing. Raises what ``connect`` raises."""
        client = self.client
        voice = await self.channel.connect(
            cls=CypherVoiceClient, timeout=self._timeout, self_deaf=False, self_mute=True
        )
        assert isinstance(voice, CypherVoiceClient)
        self.voice = voice
        if hasattr(client, "add_listener"):  # commands.Bot: follow members leaving
            client.add_listener(self.voice_state_changed, "on_voice_state_update")
        self._old_nick = self.guild.me.nick
        self._renamed = await self._set_nick(self.nickname)
        self.receiver = VerseReceiver(
            client.loop,
            self._verse_ready,
            self.options,
            dave_session=voice.dave_session,
            keepalive=voice.send_keepalive,
        )
        voice.listen_verses(self.receiver)
        log.info("cypher: listening in %s (%s)", self.channel.id, self.guild.id)

    async def stop(self, reason: str = "stopped") -> None:
        """Delivers the verses in progress that are long enough, leaves, restores the
        nickname. Safe to call twice."""
        async with self._stopping:
            if self.ended is not None:
                return
            self.ended = reason
            if hasattr(self.client, "remove_listener"):
                self.client.remove_listener(self.voice_state_changed, "on_voice_state_update")
            if self.voice is not None:
                self.voice.stop_listening()
            if self.receiver is not None:
                await self.receiver.wait_closed()
                await asyncio.sleep(0)  # let the last call_soon_threadsafe deliveries run
            if self.voice is not None and self.voice.is_connected():
                await self.voice.disconnect()
            if self._renamed:
                await self._set_nick(self._old_nick)
            if self._tasks:  # the verse handlers still running
                await asyncio.gather(*self._tasks, return_exceptions=True)
            log.info("cypher: left %s (%s)", self.channel.id, reason)
        if self._on_end is not None:
            await self._on_end(reason)

    # ---- members ------------------------------------------------------------------------
    async def post_notice(
        self, channel: discord.abc.Messageable, text: str, **labels: str
    ) -> discord.Message:
        """Posts ``text`` with the opt-in buttons (``labels``: see :class:`OptInView`)."""
        return await channel.send(text, view=OptInView(self, **labels))

    def opt_in(self, member: discord.abc.Snowflake) -> None:
        if isinstance(member, discord.Member):
            self._members[member.id] = member
        if self.receiver is not None:
            self.receiver.opt_in(member.id)

    def opt_out(self, member: discord.abc.Snowflake) -> None:
        if self.receiver is not None:
            self.receiver.opt_out(member.id)

    def is_opted_in(self, member: discord.abc.Snowflake) -> bool:
        return self.receiver is not None and member.id in self.receiver.opted_in

    async def voice_state_changed(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        """discord.py's ``on_voice_state_update``: registered by :meth:`start` on a
        ``commands.Bot``; call it yourself from a plain ``discord.Client``."""
        if self.ended is not None or member.guild.id != self.guild.id:
            return
        here = self.channel.id
        if member.id == self.guild.me.id:
            if after.channel is None and not self._stopping.locked():
                self._spawn_stop("disconnected")
            return
        was_here = before.channel is not None and before.channel.id == here
        if was_here and (after.channel is None or after.channel.id != here):
            if self.receiver is not None:
                self.receiver.member_left(member.id)
            if not self.humans():
                self._spawn_stop("empty")

    # ---- inside -------------------------------------------------------------------------
    def _verse_ready(self, verse: Verse) -> None:
        """On the event loop: find the member and hand the verse on."""
        member = self.guild.get_member(verse.user_id) or self._members.get(verse.user_id)
        if member is None:
            log.info("cypher: a verse of %s, who is no longer in the guild", verse.user_id)
            return
        self._spawn(self._on_verse(member, verse))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _spawn_stop(self, reason: str) -> None:
        task = asyncio.ensure_future(self.stop(reason))
        self._stops.add(task)
        task.add_done_callback(self._stops.discard)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("cypher: a verse handler failed", exc_info=task.exception())

    async def _set_nick(self, nick: str | None) -> bool:
        try:
            await self.guild.me.edit(nick=nick)
        except discord.HTTPException as e:  # no Change Nickname permission: go on unmarked
            log.warning("cypher: could not set the nickname to %r: %s", nick, e)
            return False
        return True


class OptInView(discord.ui.View):
    """The buttons under the cypher's notice: opt in (be heard) and opt out."""

    def __init__(
        self,
        cypher: VoiceCypher,
        *,
        join_label: str = "Hear my verses",
        leave_label: str = "Stop hearing me",
        joined: str = "You're in: each verse you rap in the channel gets a card.",
        left: str = "You're out: the bot no longer hears you.",
        ended: str = "This cypher has ended.",
    ) -> None:
        super().__init__(timeout=None)
        self.cypher = cypher
        self._texts = {"joined": joined, "left": left, "ended": ended}
        self.join.label = join_label
        self.leave.label = leave_label
        self.join.custom_id = f"cypher:in:{cypher.channel.id}"
        self.leave.custom_id = f"cypher:out:{cypher.channel.id}"

    async def _answer(self, interaction: discord.Interaction, key: str) -> None:
        await interaction.response.send_message(self._texts[key], ephemeral=True)

    @discord.ui.button(style=discord.ButtonStyle.success, emoji="🎤")
    async def join(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        if self.cypher.ended is not None:
            return await self._answer(interaction, "ended")
        self.cypher.opt_in(interaction.user)
        await self._answer(interaction, "joined")

    @discord.ui.button(style=discord.ButtonStyle.secondary)
    async def leave(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        self.cypher.opt_out(interaction.user)
        await self._answer(interaction, "left" if self.cypher.ended is None else "ended")
