"""The cypher desk: rounds running in chats and channels, their verses queued fairly on
the way to the pool, and their summaries.

One :class:`CypherDesk` per bot process, over its :class:`~bot.service.RapService`. A
platform calls :meth:`~CypherDesk.start` and :meth:`~CypherDesk.stop` for ``/cypher``
and hands every note sent in a room with a running round to :meth:`~CypherDesk.verse`.
A verse is analysed by ``service.analyze`` like any note (same reply, same limits, same
history row, marked with the round), but it waits in one :class:`FairQueue` first: at
most ``slots`` verses are in the pool at once (one per member), taken round-robin across
members. When the pool refuses one as busy the verse goes back to the front, the room is
told once (not per verse) and the desk tries again after ``retry_s``; a verse refused
for longer than ``MAX_WAIT_S`` gets the service's own busy answer.

A round ends on ``stop``, or by itself after ``quiet_s`` without a verse (its summary is
then posted with the ``post`` callback the platform gave at start). The summary is read
from the round's history rows once every verse sent before the end is answered, so a
member who used ``/forget`` is not in it.

It keeps no audio beyond a verse's wait in the queue and words nothing itself
(``bot.cypher.replies``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from i18n import say

from ..errors import PoolBusy
from ..member import Member
from ..reply import Reply
from ..service import RapService
from . import replies
from .rounds import QUIET_S, FairQueue, Round, summarise

log = logging.getLogger(__name__)

RETRY_S = 5.0  # after the pool refused a verse as busy, wait this long before the next try
MAX_WAIT_S = 300.0  # a verse refused as busy for this long gets the busy answer

Post = Callable[[str], Awaitable[None]]  # posts a text into the round's chat or channel
Key = tuple[str, str]  # (platform, room) of a round; (platform, member id) of a member


@dataclass
class _Live:
    round: Round
    post: Post
    started_epoch: float  # the store's clock, for the summary's length
    pending: set[asyncio.Future[Reply]] = field(default_factory=set)  # verses not answered
    watcher: asyncio.Task[None] | None = None


@dataclass
class _Verse:
    live: _Live
    member: Member
    audio: bytes = field(repr=False)
    filename: str
    mime: str | None
    language: str | None
    answer: asyncio.Future[Reply]
    queued_at: float


class CypherDesk:
    def __init__(
        self,
        service: RapService,
        *,
        slots: int | None = None,
        quiet_s: float = QUIET_S,
        retry_s: float = RETRY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.slots = slots or max(1, service.settings.workers)  # verses in the pool at once
        self.quiet_s = quiet_s
        self.retry_s = retry_s
        self.clock = clock
        self._rooms: dict[Key, _Live] = {}
        self._opening: set[Key] = set()
        self._queue: FairQueue[Key, _Verse] = FairQueue()
        self._resume_at = 0.0  # no verse goes to the pool before this (it said busy)
        self._wake: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting: set[asyncio.Future[Reply]] = set()  # every verse not answered yet

    def running(self, platform: str, room: str) -> bool:
        """Whether a round runs in this chat or channel."""
        return (platform, room) in self._rooms

    # ---- rounds --------------------------------------------------------------------------
    async def start(self, member: Member, room: str, post: Post, language: str) -> Reply:
        """Open a round in ``room`` (a chat or channel of ``member.scope``); the notice.
        ``post`` says things in the room later (the busy notice, a summary after quiet)."""
        key = (member.platform, room)
        if key in self._rooms or key in self._opening:
            return Reply(say(replies.ALREADY, language), ok=False)
        self._opening.add(key)
        try:
            store = self.service.store
            round_id = await asyncio.to_thread(
                store.rounds.open, member.platform, member.scope, room
            )
            now = self.clock()
            state = Round(
                round_id, member.platform, member.scope, room, language, now, self.quiet_s
            )
            live = _Live(state, post, store.clock())
            self._rooms[key] = live
        finally:
            self._opening.discard(key)
        live.watcher = asyncio.create_task(self._watch(key, live), name=f"cypher-{room}")
        log.info("cypher round %d open in %s %s", round_id, member.platform, room)
        return Reply(replies.started(self.quiet_s, language))

    async def stop(self, platform: str, room: str, language: str) -> Reply:
        """End the round in ``room``: its summary, once every verse sent is answered."""
        live = self._rooms.pop((platform, room), None)  # notes from now on are plain notes
        if live is None:
            return Reply(say(replies.NO_ROUND, language), ok=False)
        if live.watcher is not None:
            live.watcher.cancel()
        return Reply(await self._finish(live, language))

    async def _finish(self, live: _Live, language: str, *, quiet: bool = False) -> str:
        if live.pending:
            await asyncio.wait(set(live.pending))
        store = self.service.store
        takes = await asyncio.to_thread(store.rounds.takes, live.round.round_id)
        await asyncio.to_thread(store.rounds.close, live.round.round_id)
        figures = summarise(takes, live.started_epoch, store.clock())
        log.info("cypher round %d over: %d verses", live.round.round_id, figures.verses)
        return replies.summary(figures, language, quiet_s=self.quiet_s if quiet else None)

    async def _watch(self, key: Key, live: _Live) -> None:
        """End the round after its quiet time, and post the summary."""
        while self._rooms.get(key) is live:
            if live.pending:  # verses still waiting: the round is not quiet
                await asyncio.wait(set(live.pending))
                continue
            if not live.round.quiet(self.clock()):
                await asyncio.sleep(live.round.ends_at() - self.clock())
                continue
            del self._rooms[key]
            await self._say(live, await self._finish(live, live.round.language, quiet=True))

    async def close(self) -> None:
        """Stop the timers and the verses in flight (the bot is shutting down); whoever
        waits for a verse's answer is cancelled."""
        if self._wake is not None:
            self._wake.cancel()
        for answer in self._waiting:
            answer.cancel()
        tasks = [*self._tasks] + [
            live.watcher for live in self._rooms.values() if live.watcher is not None
        ]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._rooms.clear()

    # ---- verses --------------------------------------------------------------------------
    async def verse(
        self,
        member: Member,
        audio: bytes,
        filename: str,
        room: str,
        *,
        mime: str | None = None,
        language: str | None = None,
    ) -> Reply:
        """The answer to a note ``member`` sent in ``room``: a verse of its round (queued
        fairly, then analysed like any note), or a plain note when no round runs there.

        Audio need not come as a chat message: a verse cut from a voice channel is
        handed in the same way, and gets the same reply a note would."""
        live = self._rooms.get((member.platform, room))
        if live is None:
            return await self.service.analyze(member, audio, filename, mime, language=language)
        answer: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        live.round.verse(self.clock())
        live.pending.add(answer)
        self._waiting.add(answer)
        item = _Verse(live, member, audio, filename, mime, language, answer, self.clock())
        self._queue.push((member.platform, member.member_id), item)
        self._pump()
        try:
            return await answer
        finally:
            live.pending.discard(answer)
            self._waiting.discard(answer)

    def _pump(self) -> None:
        """Send queued verses to the pool while there is a free slot."""
        wait = self._resume_at - self.clock()
        if wait > 0:
            if self._wake is None:
                self._wake = asyncio.get_running_loop().call_later(wait, self._woken)
            return
        while self._queue.in_flight() < self.slots:
            nxt = self._queue.pop()
            if nxt is None:
                return
            key, item = nxt
            if item.answer.done():  # its sender stopped waiting (the bot is closing)
                self._queue.done(key)
                continue
            task = asyncio.create_task(self._run(key, item))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _woken(self) -> None:
        self._wake = None
        self._pump()

    async def _run(self, key: Key, item: _Verse) -> None:
        overdue = self.clock() - item.queued_at >= MAX_WAIT_S
        try:
            reply = await self.service.analyze(
                item.member,
                item.audio,
                item.filename,
                item.mime,
                language=item.language,
                round_id=item.live.round.round_id,
                busy_raises=not overdue,
            )
        except PoolBusy:
            self._queue.retry(key)
            self._resume_at = self.clock() + self.retry_s
            self._pump()  # schedules the next try
            await self._tell_busy(item.live)
            return
        except Exception as e:  # answered by the caller's own error handling
            self._answer(key, item, error=e)
            return
        self._answer(key, item, reply=reply)

    def _answer(
        self, key: Key, item: _Verse, *, reply: Reply | None = None, error: Exception | None = None
    ) -> None:
        self._queue.done(key)
        live = item.live
        live.pending.discard(item.answer)
        if not live.pending:
            live.round.busy_told = False  # the busy spell is over: tell the next one again
        if not item.answer.done():
            if error is not None:
                item.answer.set_exception(error)
            else:
                assert reply is not None
                item.answer.set_result(reply)
        self._pump()

    async def _tell_busy(self, live: _Live) -> None:
        if live.round.busy_told:
            return
        live.round.busy_told = True
        await self._say(live, say(replies.BUSY, live.round.language))

    async def _say(self, live: _Live, text: str) -> None:
        try:
            await live.post(text)
        except Exception:  # a chat that refuses the bot's message costs the notice only
            log.warning("could not post in cypher room %s", live.round.room, exc_info=True)
