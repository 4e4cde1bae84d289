"""Practice over time, as data: finding the artist a member names, what a progress chart
shows (reach and resemblance over takes, timing over takes, the style features furthest
from the target), leaderboards.

Pure functions over the history's takes and the catalogue the workers serve; no I/O,
no wording (``bot.practice_replies``) and no drawing (``bot.charts``).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..jobs import CatalogInfo, StyleFeature
from ..store.history import Take
from .timing import BEAT, TimingGoal

NOTICEABLE = 0.06  # as in the tips: a gap under 6 % of a feature's range is not one
RECENT_TAKES = 3  # the gap to the target is judged on the mean of the latest takes
MAX_CHART_TAKES = 200  # a chart shows the latest takes at most (a phone shows no more)


def find_artist(name: str, artists: Sequence[str]) -> str | None:
    """The catalogue artist called ``name`` (case and spacing ignored), else None."""
    key = _key(name)
    return next((a for a in artists if _key(a) == key), None)


def close_artists(name: str, artists: Sequence[str], n: int = 3) -> list[str]:
    """Up to ``n`` catalogue artists whose names look like ``name`` (typos, partial)."""
    keys = {_key(a): a for a in artists}
    found = difflib.get_close_matches(_key(name), list(keys), n=n, cutoff=0.5)
    partial = [a for k, a in keys.items() if _key(name) and _key(name) in k]
    return list(dict.fromkeys([*(keys[k] for k in found), *partial]))[:n]


def _key(name: str) -> str:
    return " ".join(name.casefold().split())


@dataclass(frozen=True)
class Track:
    """One style feature over the member's takes, and the artist's value."""

    feature: StyleFeature
    values: tuple[float, ...]  # per take; nan: not measured
    target: float


@dataclass(frozen=True)
class Timing:
    """The member's timing over their takes (nan: a take not timed)."""

    spreads: tuple[float, ...]  # tightness, ms: lower is tighter
    offsets: tuple[float, ...]  # ms from the beat, positive = behind (beat notes only)
    goal: TimingGoal | None  # the member's timing goal, if that is their target

    def best(self) -> int | None:
        """Index of the take closest to the goal (tightest without one; latest of equals)."""
        goal = self.goal if self.goal is not None else TimingGoal("tight", None)
        values = [
            (-v, i)
            for i, (off, spread) in enumerate(zip(self.offsets, self.spreads, strict=True))
            if (v := goal.measure(BEAT if math.isfinite(off) else "", off, spread)) is not None
        ]
        return max(values)[1] if values else None


@dataclass(frozen=True)
class Progress:
    """What a /progress chart shows."""

    artist: str
    times: tuple[float, ...]  # unix seconds, oldest first
    scores: tuple[float, ...]  # resemblance to the artist per take (nan: not scored)
    tracks: tuple[Track, ...]  # the 2-3 features furthest from the artist, furthest first
    reaches: tuple[float, ...] = ()  # reach toward the artist per take (nan: not scored)
    timing: Timing | None = None  # None: no take was timed and no timing goal is set

    @property
    def by_reach(self) -> bool:
        """Whether the chart leads with reach (some take has it) or resemblance."""
        return any(math.isfinite(r) for r in self.reaches)

    @property
    def headline(self) -> tuple[float, ...]:
        """The score the chart leads with, per take: reach, else resemblance."""
        return self.reaches if self.by_reach else self.scores

    @property
    def best(self) -> int:
        """Index of the best take by the headline score (the latest of equals)."""
        finite = [(s, i) for i, s in enumerate(self.headline) if math.isfinite(s)]
        return max(finite)[1] if finite else len(self.headline) - 1


def progress(
    takes: Sequence[Take],
    artist: str,
    catalog: CatalogInfo | None,
    goal: TimingGoal | None = None,
) -> Progress:
    """The chart's data for ``artist`` (and the timing ``goal``) from a member's takes
    (oldest first)."""
    takes = list(takes)[-MAX_CHART_TAKES:]
    return Progress(
        artist,
        tuple(t.created_at for t in takes),
        tuple(_score(t, artist) for t in takes),
        _tracks(takes, artist, catalog),
        tuple(_nan(t.reach_of(artist)) for t in takes),
        _timing(takes, goal),
    )


def _score(take: Take, artist: str) -> float:
    return _nan(take.target_score if take.target == artist else take.score_of(artist))


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _timing(takes: list[Take], goal: TimingGoal | None) -> Timing | None:
    spreads = tuple(t.tightness_ms for t in takes)
    if not any(math.isfinite(s) for s in spreads) and goal is None:
        return None
    offsets = tuple(t.offset_ms if t.grid == BEAT else math.nan for t in takes)
    return Timing(spreads, offsets, goal)


def _tracks(takes: list[Take], artist: str, catalog: CatalogInfo | None) -> tuple[Track, ...]:
    entry = next((a for a in (catalog.artists if catalog else ()) if a.name == artist), None)
    if catalog is None or entry is None or len(entry.style) != len(catalog.features):
        return ()  # the workers have not said how the artist sounds (yet)
    gaps = []
    for i, feature in enumerate(catalog.features):
        values = tuple(t.style[i] if i < len(t.style) else math.nan for t in takes)
        recent = [v for v in values[-RECENT_TAKES:] if math.isfinite(v)]
        target = entry.style[i]
        if not recent or not math.isfinite(target):
            continue
        gap = abs(sum(recent) / len(recent) - target) / (feature.hi - feature.lo)
        gaps.append((gap, Track(feature, values, target)))
    gaps.sort(key=lambda g: g[0], reverse=True)
    shown = [track for gap, track in gaps[:3] if gap >= NOTICEABLE]
    return tuple(shown if len(shown) >= 2 else [track for _, track in gaps[:2]])
