"""The receive hook: UDP datagrams in, one member's verses out on the event loop.

Two threads touch a :class:`VerseReceiver`:

* discord.py's socket reader calls :meth:`VerseReceiver.on_packet` with every datagram.
  It only reads the clear RTP header: a packet whose SSRC belongs to a member who did
  not opt in is dropped there, before any decryption or decoding; one whose SSRC no
  SPEAKING event has named yet is held (``hold_unmapped_s``, 100 packets at most) and
  replayed once SPEAKING names it; the rest go on a queue. It never blocks.
* the receiver's own thread (``cypher-verses``) takes the queue: transport decryption,
  RTP padding, DAVE (``packets.py``), Opus decoding (one libopus decoder per member),
  then each member's :class:`~bot.cypher.voice.verses.VerseCutter`. A corrupt packet, a
  DAVE or Opus error is counted in :attr:`VerseReceiver.stats`, logged (rate-limited)
  and skipped: nothing a member sends can stop the thread.

Finished verses go to ``deliver`` on the event loop (``call_soon_threadsafe``).
It does not talk to Discord itself: ``client.py`` feeds it SPEAKING, disconnects and keys.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from discord.opus import OpusError

from .opus import MonoDecoder
from .packets import OPUS_SILENCE, BadPacket, Transport, dave_decrypt, peek
from .verses import Verse, VerseCutter, VerseOptions

__all__ = ["ReceiveStats", "VerseReceiver"]

log = logging.getLogger(__name__)

TICK_S = 0.1  # how often the thread looks for members gone quiet (no packets at all)
HOLD_PACKETS = 100  # per unnamed SSRC: 2 s of 20 ms packets
HOLD_SSRCS = 64  # unnamed SSRCs held at once (video streams, strangers)
KEEPALIVE_S = 5.0  # a UDP keepalive this often keeps the NAT path to the bot open
LOG_EVERY = 100  # log the 1st, 101st, 201st... error of a kind


@dataclass
class ReceiveStats:
    """Counters since the receiver started (read them from any thread)."""

    packets: int = 0  # RTP packets seen
    not_opted_in: int = 0  # dropped unread: their member did not opt in
    held: int = 0  # held while their SSRC had no member yet
    held_dropped: int = 0  # ... and never named in time, or over the hold limits
    corrupt: int = 0  # transport decryption, header or padding failed
    dave_failed: int = 0  # the end-to-end layer refused the frame
    opus_errors: int = 0  # libopus could not decode the frame
    errors: int = 0  # anything else, logged with a traceback
    frames: int = 0  # frames decoded (or silence frames) and cut into verses
    verses: int = 0  # verses delivered
    too_short: int = 0  # takes under min_s, dropped
    thread_cpu_s: float = 0.0  # CPU time of the decoder thread

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class VerseReceiver:
    """Cuts the verses of opted-in members out of one voice connection's packets."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        deliver: Callable[[Verse], Any],
        options: VerseOptions | None = None,
        *,
        dave_session: Callable[[], Any] = lambda: None,
        keepalive: Callable[[bytes], None] | None = None,
    ) -> None:
        """``deliver(verse)`` runs on ``loop``; ``dave_session()`` returns the connection's
        current davey session or None (asked per packet: discord.py replaces it on
        transitions); ``keepalive(bytes)`` sends a datagram to the voice server."""
        self.options = options or VerseOptions()
        self.stats = ReceiveStats()
        self._loop = loop
        self._deliver = deliver
        self._dave_session = dave_session
        self._keepalive = keepalive
        self._ssrc_user: dict[int, int] = {}
        self._opted: frozenset[int] = frozenset()
        self._held: dict[int, deque[tuple[float, bytes]]] = {}
        self._held_lock = threading.Lock()
        self._queue: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._transport: Transport | None = None
        self._thread = threading.Thread(target=self._run, name="cypher-verses", daemon=True)
        self._done = threading.Event()
        # the decoder thread's own state
        self._cutters: dict[int, VerseCutter] = {}
        self._decoders: dict[int, MonoDecoder] = {}
        self._short_before = 0  # too_short of the cutters already let go

    # ---- from the event loop ------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Asks the thread to deliver what is long enough and end (does not wait)."""
        if self._thread.is_alive():
            self._queue.put(("stop",))

    async def wait_closed(self, timeout: float = 5.0) -> None:
        if self._thread.is_alive():
            await asyncio.to_thread(self._done.wait, timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._done.is_set()

    @property
    def opted_in(self) -> frozenset[int]:
        return self._opted

    def set_transport(self, mode: str, secret_key: bytes) -> None:
        """The connection's encryption mode and key (again after a reconnect)."""
        self._transport = Transport(mode, secret_key)

    def opt_in(self, user_id: int) -> None:
        self._opted = self._opted | {user_id}
        ssrcs = [s for s, u in self._ssrc_user.items() if u == user_id]
        for ssrc in ssrcs:
            self._release(ssrc, user_id)

    def opt_out(self, user_id: int) -> None:
        """Stops hearing the member; a verse in progress is dropped, not delivered."""
        self._opted = self._opted - {user_id}
        self._queue.put(("forget", user_id))

    def map_ssrc(self, ssrc: int, user_id: int) -> None:
        """SPEAKING named the member behind ``ssrc``: held packets are replayed."""
        self._ssrc_user[ssrc] = user_id
        self._release(ssrc, user_id)

    def unmap_ssrc(self, ssrc: int) -> None:
        self._ssrc_user.pop(ssrc, None)

    def member_left(self, user_id: int) -> None:
        """The member left the channel: their verse so far is delivered if it is long
        enough (``min_s``), else dropped."""
        self._queue.put(("left", user_id))

    # ---- from discord.py's socket reader thread -----------------------------------------
    def on_packet(self, data: bytes) -> None:
        try:
            head = peek(data)
            if head is None:
                return
            self.stats.packets += 1
            user_id = self._ssrc_user.get(head[0])
            if user_id is None:
                self._hold(head[0], data)
            elif user_id in self._opted:
                self._queue.put(("rtp", user_id, data, time.monotonic()))
            else:
                self.stats.not_opted_in += 1
        except Exception:
            self._count("errors", "packet hook failed", exc_info=True)

    def _hold(self, ssrc: int, data: bytes) -> None:
        now = time.monotonic()
        with self._held_lock:
            held = self._held.get(ssrc)
            if held is None:
                if len(self._held) >= HOLD_SSRCS:
                    self.stats.held_dropped += 1
                    return
                held = self._held[ssrc] = deque(maxlen=HOLD_PACKETS)
            if len(held) == HOLD_PACKETS:
                self.stats.held_dropped += 1
            held.append((now, data))
            self.stats.held += 1

    def _release(self, ssrc: int, user_id: int) -> None:
        with self._held_lock:
            held = self._held.pop(ssrc, None)
        if not held:
            return
        if user_id not in self._opted:
            self.stats.not_opted_in += len(held)
            return
        oldest = time.monotonic() - self.options.hold_unmapped_s
        for arrival, data in held:
            if arrival >= oldest:
                self._queue.put(("rtp", user_id, data, arrival))
            else:
                self.stats.held_dropped += 1

    def _prune_held(self, now: float) -> None:
        oldest = now - self.options.hold_unmapped_s
        with self._held_lock:
            for ssrc in list(self._held):
                held = self._held[ssrc]
                while held and held[0][0] < oldest:
                    held.popleft()
                    self.stats.held_dropped += 1
                if not held:
                    del self._held[ssrc]

    # ---- the decoder thread -------------------------------------------------------------
    def _run(self) -> None:
        next_tick = next_keepalive = time.monotonic()
        try:
            while True:
                try:
                    item = self._queue.get(timeout=TICK_S)
                except queue.Empty:
                    item = None
                try:
                    if item is not None and item[0] == "stop":
                        break
                    if item is not None:
                        self._handle(item)
                    now = time.monotonic()
                    if now >= next_tick:
                        next_tick = now + TICK_S
                        self._tick(now)
                    if self._keepalive is not None and now >= next_keepalive:
                        next_keepalive = now + KEEPALIVE_S
                        self._send_keepalive()
                except Exception:
                    self._count("errors", "verse receiver step failed", exc_info=True)
        finally:
            for user_id in list(self._cutters):
                self._end_member(user_id, "stopped")
            self.stats.thread_cpu_s = time.thread_time()
            self._done.set()

    def _handle(self, item: tuple[Any, ...]) -> None:
        kind = item[0]
        if kind == "rtp":
            _, user_id, data, arrival = item
            if user_id in self._opted:  # not if they opted out since
                self._packet(user_id, data, arrival)
        elif kind == "left":
            self._end_member(item[1], "left")
        elif kind == "forget":
            cutter = self._cutters.pop(item[1], None)
            self._decoders.pop(item[1], None)
            if cutter is not None:
                self._short_before += cutter.too_short

    def _packet(self, user_id: int, data: bytes, arrival: float) -> None:
        head = peek(data)
        transport = self._transport
        if head is None or transport is None:
            self._count("corrupt", "packet before the session key")
            return
        try:
            frame = transport.payload(data)
            frame = dave_decrypt(self._dave_session(), user_id, frame)
        except BadPacket as e:
            kind = "dave_failed" if str(e).startswith("DAVE") else "corrupt"
            self._count(kind, f"dropped a packet of {user_id}: {e}")
            return
        pcm = None
        if frame != OPUS_SILENCE and (pcm := self._decode(user_id, frame)) is None:
            return
        cutter = self._cutters.get(user_id)
        if cutter is None:
            cutter = self._cutters[user_id] = VerseCutter(user_id, self.options, self._emit)
        self.stats.frames += 1
        cutter.push(head[2], pcm, arrival)

    def _decode(self, user_id: int, frame: bytes) -> np.ndarray | None:
        """Mono int16 samples of one Opus frame, or None when libopus refused it."""
        decoder = self._decoders.get(user_id)
        if decoder is None:
            decoder = self._decoders[user_id] = MonoDecoder(self.options.sample_rate)
        try:
            return decoder.decode_mono(frame)
        except OpusError as e:
            self._count("opus_errors", f"Opus could not decode a frame of {user_id}: {e}")
            return None

    def _tick(self, now: float) -> None:
        for cutter in self._cutters.values():
            cutter.idle(now)
        if self._held:
            self._prune_held(now)
        self.stats.too_short = self._short_before + sum(c.too_short for c in self._cutters.values())
        self.stats.thread_cpu_s = time.thread_time()

    def _end_member(self, user_id: int, reason: str) -> None:
        cutter = self._cutters.pop(user_id, None)
        self._decoders.pop(user_id, None)
        if cutter is not None:
            cutter.finish(reason)
            self._short_before += cutter.too_short
            self.stats.too_short = self._short_before + sum(
                c.too_short for c in self._cutters.values()
            )

    def _emit(self, verse: Verse) -> None:
        self.stats.verses += 1
        try:
            self._loop.call_soon_threadsafe(self._deliver, verse)
        except RuntimeError:  # the loop is closed: the bot is shutting down
            log.warning("a verse of %s was cut after the event loop closed", verse.user_id)

    def _send_keepalive(self) -> None:
        try:
            self._keepalive(int(time.time()).to_bytes(8, "big"))  # type: ignore[misc]
        except OSError as e:
            log.debug("voice keepalive not sent: %s", e)

    def _count(self, kind: str, message: str, *, exc_info: bool = False) -> None:
        n = getattr(self.stats, kind) + 1
        setattr(self.stats, kind, n)
        if n % LOG_EVERY == 1:
            log.warning("%s (%s #%d)", message, kind, n, exc_info=exc_info)
