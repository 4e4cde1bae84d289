"""Per-member fairness: one note in flight per member, and a few notes per minute.

In-memory and per process (a restart forgets the counts, which is harmless). It does not
limit the whole bot; the pool's bounded queue does that.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

WINDOW_SECONDS = 60.0
PRUNE_ABOVE = 1000  # members remembered before idle ones are dropped


@dataclass(frozen=True)
class Wait:
    """Why a member must wait: a note still in flight, or the per-minute limit."""

    in_flight: bool
    seconds: float  # until the per-minute limit lets the next note in (0 when in flight)


class MemberLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self._clock = clock
        self._in_flight: set[Hashable] = set()
        self._recent: dict[Hashable, deque[float]] = {}

    def try_acquire(self, key: Hashable) -> Wait | None:
        """Take a slot for ``key`` (None), or say why not; call ``release`` when done."""
        if key in self._in_flight:
            return Wait(in_flight=True, seconds=0.0)
        now = self._clock()
        if len(self._recent) > PRUNE_ABOVE:
            self._prune(now)
        recent = self._recent.setdefault(key, deque())
        while recent and recent[0] <= now - WINDOW_SECONDS:
            recent.popleft()
        if len(recent) >= self.per_minute:
            return Wait(in_flight=False, seconds=recent[0] + WINDOW_SECONDS - now)
        recent.append(now)
        self._in_flight.add(key)
        return None

    def release(self, key: Hashable, *, counted: bool = True) -> None:
        """End ``key``'s job; ``counted=False`` gives back its per-minute slot (e.g. busy)."""
        self._in_flight.discard(key)
        recent = self._recent.get(key)
        if not counted and recent:
            recent.pop()

    def tracked(self) -> int:
        """How many members the limiter remembers (stays bounded: idle members are dropped)."""
        self._prune(self._clock())
        return len(self._recent)

    def _prune(self, now: float) -> None:
        for key in [k for k, q in self._recent.items() if not q or q[-1] <= now - WINDOW_SECONDS]:
            if key not in self._in_flight:
                del self._recent[key]
