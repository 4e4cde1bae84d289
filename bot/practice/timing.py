"""Timing goals: a target that is not an artist, and how far each take is from it.

A member sets one with ``/target tight`` (as tight as they can: the spread of their
syllables around the grid, lower is better), ``/target tight 20`` (a spread to reach, in
ms) or ``/target pocket 60`` (to sit 60 ms behind the beat; negative: ahead). The
history keeps the goal as it was typed (``TimingGoal.text``) and every take's timing;
this module parses goals and measures takes against them. Pure functions: no I/O, no
wording (``bot.practice.replies``).

Pockets are measured only on notes timed against a beat: against the member's own pulse
(a cappella) the offset is ~0 by construction, so it says nothing about a pocket.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..jobs import RhythmOut
from ..store.history import Take

TIGHT_WORDS = frozenset({"tight", "타이트"})
POCKET_WORDS = frozenset({"pocket", "포켓"})
BEAT = "beat"  # RhythmOut.grid when a beat was tracked (else "own pulse")
TIGHT_RANGE = (5.0, 200.0)  # a spread to reach, ms
POCKET_RANGE = (-250.0, 250.0)  # an offset to sit at, ms (pros: 40-100 behind)
POCKET_TOLERANCE_MS = 10.0  # a take this close to its pocket has reached it
_NUMBER = re.compile(r"^([+-]?\d+(?:\.\d+)?)\s*(?:ms)?$")


@dataclass(frozen=True)
class TimingGoal:
    kind: str  # "tight" or "pocket"
    ms: float | None  # tight: the spread to reach (None: as tight as you can);
    # pocket: the offset to sit at, positive = behind the beat

    @property
    def text(self) -> str:
        """As the history keeps it, and as it parses back: "tight 20", "pocket -15"."""
        return self.kind if self.ms is None else f"{self.kind} {self.ms:g}"

    def measure(self, grid: str, offset_ms: float, tightness_ms: float) -> float | None:
        """How far a take is from this goal, in ms (lower is better): its spread, or its
        distance from the pocket (beat notes only); None when not measured."""
        if self.kind == "tight":
            return tightness_ms if math.isfinite(tightness_ms) else None
        if grid != BEAT or not math.isfinite(offset_ms) or self.ms is None:
            return None
        return abs(offset_ms - self.ms)

    def reached(self, value: float) -> bool:
        """Whether ``measure``'s value meets a goal with a number (a pocket: within 10 ms)."""
        if self.ms is None:
            return False
        return value <= (self.ms if self.kind == "tight" else POCKET_TOLERANCE_MS)


def is_timing(text: str) -> bool:
    """Whether ``text`` starts like a timing goal (to answer a malformed one with usage)."""
    words = text.casefold().split()
    return bool(words) and words[0] in TIGHT_WORDS | POCKET_WORDS


def parse_goal(text: str) -> TimingGoal | None:
    """ "tight", "tight 20", "tight 20ms", "pocket 60", "pocket -15 ms" (and the Korean
    words) to a goal; None for anything else, a pocket without a number included, or a
    number out of range."""
    words = text.casefold().split()
    if not words or not is_timing(text):
        return None
    kind = "tight" if words[0] in TIGHT_WORDS else "pocket"
    rest = "".join(words[1:])
    if not rest:
        return TimingGoal(kind, None) if kind == "tight" else None
    found = _NUMBER.match(rest)
    if found is None:
        return None
    ms = float(found.group(1))
    lo, hi = TIGHT_RANGE if kind == "tight" else POCKET_RANGE
    return TimingGoal(kind, ms) if lo <= ms <= hi else None


@dataclass(frozen=True)
class TimingStanding:
    """Where a member stood with their timing goal before this take (ms from it, lower
    is better; None: no earlier take measured)."""

    previous: float | None
    best: float | None


def standing(takes: Sequence[Take], goal: TimingGoal) -> TimingStanding:
    """From the member's earlier takes, oldest first: the latest measured and the best."""
    values = [
        v for t in takes if (v := goal.measure(t.grid, t.offset_ms, t.tightness_ms)) is not None
    ]
    return TimingStanding(values[-1] if values else None, min(values) if values else None)


def measure_note(goal: TimingGoal, rhythm: RhythmOut | None) -> float | None:
    """This note's distance from the goal (None: not timed, or no beat for a pocket)."""
    if rhythm is None:
        return None
    return goal.measure(rhythm.grid, rhythm.offset_ms, rhythm.tightness_ms)
