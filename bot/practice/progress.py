"""Practice over time, as data: finding the artist a member names, what a progress chart
shows (scores over takes, the style features furthest from the target), leaderboards.

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
class Progress:
    """What a /progress chart shows."""

    artist: str
    times: tuple[float, ...]  # unix seconds, oldest first
    scores: tuple[float, ...]  # resemblance to the artist per take (nan: not scored)
    tracks: tuple[Track, ...]  # the 2-3 features furthest from the artist, furthest first

    @property
    def best(self) -> int:
        """Index of the best take (the latest of equals)."""
        finite = [(s, i) for i, s in enumerate(self.scores) if math.isfinite(s)]
        return max(finite)[1] if finite else len(self.scores) - 1


def progress(takes: Sequence[Take], artist: str, catalog: CatalogInfo | None) -> Progress:
    """The chart's data for ``artist`` from a member's takes (oldest first)."""
    takes = list(takes)[-MAX_CHART_TAKES:]
    scores = tuple(_score(t, artist) for t in takes)
    return Progress(
        artist, tuple(t.created_at for t in takes), scores, _tracks(takes, artist, catalog)
    )


def _score(take: Take, artist: str) -> float:
    value = take.target_score if take.target == artist else take.score_of(artist)
    return float("nan") if value is None else float(value)


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
