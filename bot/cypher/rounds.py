"""The pure parts of a cypher round: its state, the fair queue of verses, the summary.

Nothing here waits, talks to a chat or touches the store: :class:`Round` is one round's
state over an injected clock (when it started, its last verse, when it ends by itself),
:class:`FairQueue` orders verses round-robin across members (a member's second verse
waits behind everyone else's first; one verse per member in flight), and
:func:`summarise` turns a round's kept verses (``bot.store.rounds.RoundTake``) into the
figures of its summary: verses per member, who rode the grid tightest, who came closest
to their target. The desk (``bot.cypher.desk``) drives them; the words are in
``bot.cypher.replies``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ..store.rounds import RoundTake

QUIET_S = 30 * 60.0  # a round with no verse for this long ends by itself

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


@dataclass
class Round:
    """One round running in one room (a chat or a channel)."""

    round_id: int
    platform: str
    scope: str  # the guild or chat, as members' scope
    room: str  # the chat or channel id the round runs in
    language: str  # of its notices: whoever started it
    started_at: float  # monotonic seconds
    quiet_s: float = QUIET_S
    last_verse_at: float = field(default=math.nan)
    verses: int = 0  # sent (queued or answered) since the start
    busy_told: bool = False  # the "pool is busy" notice was posted in this busy spell

    def __post_init__(self) -> None:
        if math.isnan(self.last_verse_at):
            self.last_verse_at = self.started_at

    def verse(self, now: float) -> None:
        """A verse arrived: the quiet time starts again."""
        self.verses += 1
        self.last_verse_at = max(self.last_verse_at, now)

    def ends_at(self) -> float:
        """When the round ends by itself unless another verse comes."""
        return self.last_verse_at + self.quiet_s

    def quiet(self, now: float) -> bool:
        return now >= self.ends_at()


class FairQueue(Generic[K, T]):
    """Verses waiting for the pool, round-robin across members.

    Each verse gets a turn number when it is queued: one past its member's previous
    verse, but never below the turn being served now (so a member who was quiet joins
    the current turn instead of jumping every queue). ``pop`` gives the lowest turn
    (first come first within a turn) among members with no verse in flight; ``done``
    frees the member's slot. So with A's two verses and B's one, B's goes before A's
    second, and a member never has two verses in the pool at once (the service's
    one-note-in-flight rule never has to refuse one).
    """

    def __init__(self) -> None:
        self._pending: dict[K, deque[tuple[int, int, T]]] = {}  # (turn, arrival, verse)
        self._flying: dict[K, tuple[int, int, T]] = {}  # popped, not done
        self._last: dict[K, int] = {}  # each member's latest turn
        self._serving = 0  # the turn of the verse popped last
        self._arrivals = 0

    def __len__(self) -> int:
        return sum(len(q) for q in self._pending.values())

    def push(self, key: K, item: T) -> None:
        turn = max(self._last.get(key, 0) + 1, self._serving)
        self._last[key] = turn
        self._arrivals += 1
        self._pending.setdefault(key, deque()).append((turn, self._arrivals, item))

    def retry(self, key: K) -> None:
        """Put the member's popped verse back where it was (the pool refused it for now)."""
        entry = self._flying.pop(key)
        self._pending.setdefault(key, deque()).appendleft(entry)

    def pop(self) -> tuple[K, T] | None:
        """The next verse to send and its member (now in flight), or None."""
        ready = [(q[0], k) for k, q in self._pending.items() if k not in self._flying]
        if not ready:
            return None
        entry, key = min(ready, key=lambda r: r[0][:2])
        pending = self._pending[key]
        pending.popleft()
        if not pending:
            del self._pending[key]
        self._flying[key] = entry
        self._serving = max(self._serving, entry[0])
        return key, entry[2]

    def done(self, key: K) -> None:
        """The member's verse in flight is answered: their next one may go."""
        self._flying.pop(key, None)
        if key not in self._pending and key not in self._flying:
            self._last.pop(key, None)  # forget idle members: the serving turn places them

    def in_flight(self) -> int:
        return len(self._flying)


@dataclass(frozen=True)
class MemberLine:
    """One member's round: their verses and their best figures in it."""

    member_id: str
    name: str
    verses: int
    tightness_ms: float = math.nan  # their tightest verse's spread (nan: none timed)
    grid: str = ""  # that verse's grid: "beat" or "own pulse"
    target: str = ""  # the artist of their best verse toward a target ("" none)
    reach: float = math.nan  # its reach (or resemblance when reach was not measured)


@dataclass(frozen=True)
class Summary:
    members: tuple[MemberLine, ...]  # most verses first, then by name
    verses: int
    minutes: float  # from the start to the end
    tightest: MemberLine | None  # lowest spread of all timed verses
    closest: MemberLine | None  # highest reach toward their own target


def summarise(takes: Sequence[RoundTake], started_at: float, ended_at: float) -> Summary:
    """The figures of a round from its kept verses (``started_at``, ``ended_at``: epoch s)."""
    by_member: dict[str, list[RoundTake]] = {}
    for take in takes:
        by_member.setdefault(take.member_id, []).append(take)
    lines = [_member_line(member_id, verses) for member_id, verses in by_member.items()]
    lines.sort(key=lambda m: (-m.verses, m.name.casefold()))
    timed = [m for m in lines if math.isfinite(m.tightness_ms)]
    aimed = [m for m in lines if m.target and math.isfinite(m.reach)]
    return Summary(
        tuple(lines),
        len(takes),
        max(0.0, ended_at - started_at) / 60.0,
        min(timed, key=lambda m: (m.tightness_ms, m.name.casefold())) if timed else None,
        min(aimed, key=lambda m: (-m.reach, m.name.casefold())) if aimed else None,
    )


def _member_line(member_id: str, verses: list[RoundTake]) -> MemberLine:
    name = verses[-1].display_name  # the name they go by now
    timed = [v for v in verses if v.grid and math.isfinite(v.tightness_ms)]
    tight = min(timed, key=lambda v: v.tightness_ms) if timed else None
    aimed = [(v.target, _reach(v)) for v in verses if v.target and math.isfinite(_reach(v))]
    target, reach = max(aimed, key=lambda a: a[1]) if aimed else ("", math.nan)
    return MemberLine(
        member_id,
        name,
        len(verses),
        tight.tightness_ms if tight else math.nan,
        tight.grid if tight else "",
        target,
        reach,
    )


def _reach(take: RoundTake) -> float:
    """Reach toward the take's target; its resemblance from a worker without reach."""
    if take.target_reach is not None:
        return float(take.target_reach)
    return float(take.target_score) if take.target_score is not None else math.nan
