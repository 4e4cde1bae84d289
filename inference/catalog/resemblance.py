"""Resemblance: how close a voice that is not in the catalogue is to each artist, on a
0..100 scale that the catalogue itself defines.

The people who send notes are never catalogue artists, so "how likely is this the same
voice" (the identity calibration in ``inference.matching``) is ~0 for nearly all of them.
Resemblance instead asks how this voice's closeness to an artist compares with how close
the catalogue's artists are to one another:

* **Artist resemblance** (``Matcher.rank``): whole artists are held out of the catalogue
  (``REFERENCE_FOLDS`` folds over artists; the matching space is refitted without them),
  each of their recorded clips is ranked against the artists left in, and its similarity
  to its ``NEIGHBOURS`` nearest artists is kept. A member's score for an artist is the
  percentage of that reference sample their similarity beats. 50 means "as close as a
  typical artist of this catalogue is to its nearest fellow artists", 90+ "as close as
  the closest pairs of artists here"; a note of the artist themself scores ~100.
* **Pair resemblance** (``Matcher.pair``, ``/compare``): the percentage of pairs of
  recordings of two *different* artists (held out together, in a space fitted without
  them) that are less alike than these two recordings.

Both are stored as a :class:`Scale` (the reference sample's percentiles) in the
catalogue's manifest and applied with one interpolation: no model work per note.

* **Reach** (:class:`Reach`, ``Match.reach``): the practice score of a member's target.
  Resemblance is a percentile of *close* pairs, so every artist outside a member's few
  nearest reads 0 and practising toward a far one shows nothing. Reach places the
  similarity on a straight line over the catalogue's whole range instead: 0 at the least
  alike a recorded voice of the catalogue is to another of its artists, 100 where
  resemblance reads 99. ``Matcher`` places it from the catalogue's own clips when the
  catalogue is loaded (``reach_reference``; nothing stored, no rebuild; sampled on big
  catalogues).

This module only fits and applies scales; it does not rank (``inference.matching``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from i18n import N_, say

REFERENCE_FOLDS = 10  # folds over artists (5, 10 or one per artist gave the same scale)
NEIGHBOURS = 3  # each held-out clip's nearest artists that enter the reference
PERCENTILES = np.linspace(0.0, 100.0, 101)
REACH_SAMPLE = 256  # recorded clips that place reach's 0 (sampled evenly past it: ~1 s at 50k)
REACH_TOP = 99  # the resemblance percentile where reach reads 100

Projection = dict[str, np.ndarray]
FitSpace = Callable[[np.ndarray, np.ndarray, np.ndarray], Projection]  # (x, labels, groups)
ApplySpace = Callable[[Projection, np.ndarray], np.ndarray]
Aggregate = Callable[[np.ndarray, np.ndarray, int], np.ndarray]
Project = Callable[[np.ndarray], np.ndarray]  # encoder embeddings -> unit matching vectors


class Clips(Protocol):
    """What reach is placed from: a catalogue's clips (``inference.catalog.Catalog``)."""

    embeddings: np.ndarray  # (n_clips, dim) encoder embeddings
    clip_artist: np.ndarray  # (n_clips,) artist index
    original: np.ndarray  # (n_clips,) recorded, not a gallery augmentation


@dataclass(frozen=True)
class Scale:
    """Similarity -> 0..100: the share of a reference sample that a similarity beats.

    ``points`` are the reference's percentiles 0, 1, ..., 100 (non-decreasing); between
    them the score is interpolated linearly, below the lowest it is 0, above the highest
    100."""

    points: tuple[float, ...]
    _x: np.ndarray = field(init=False, repr=False, compare=False)  # points, strictly rising

    def __post_init__(self) -> None:
        if len(self.points) != len(PERCENTILES) or any(
            b < a for a, b in zip(self.points, self.points[1:], strict=False)
        ):
            raise ValueError("a resemblance scale needs 101 non-decreasing percentiles")
        # np.interp wants increasing points: ties (a tiny sample) are spread by 1e-9
        x = np.asarray(self.points) + np.arange(len(self.points)) * 1e-9
        object.__setattr__(self, "_x", x)

    @classmethod
    def of(cls, sample: np.ndarray) -> Scale:
        sample = np.asarray(sample, dtype=np.float64)
        sample = sample[np.isfinite(sample)]
        if sample.size < 2:
            return NEUTRAL_SCALE
        return cls(tuple(float(v) for v in np.percentile(sample, PERCENTILES)))

    def score(self, similarity: float | np.ndarray) -> np.ndarray:
        return np.asarray(np.interp(similarity, self._x, PERCENTILES))

    def to_json(self) -> list[float]:
        return [round(v, 6) for v in self.points]

    @classmethod
    def from_json(cls, values: object) -> Scale:
        if not isinstance(values, list):
            raise ValueError("a resemblance scale is a list of 101 numbers")
        return cls(tuple(float(v) for v in values))


# Too few artists to hold any out: cosine 0 -> 0, cosine 1 -> 100, linearly.
NEUTRAL_SCALE = Scale(tuple(float(v) for v in np.linspace(0.0, 1.0, 101)))


@dataclass(frozen=True)
class Reach:
    """Similarity -> 0..100 on a straight line over a catalogue's whole range: 0 at
    ``low`` (the least alike a recorded voice of the catalogue is to another of its
    artists), 100 at ``high`` (where its resemblance scale reads ``REACH_TOP``); clipped
    outside. A fixed line per catalogue, so two takes read on the same ruler; straight,
    so a step toward the target moves it as much near as far (a percentile of all pairs
    would crowd a member's closest artists at 95-99)."""

    low: float
    high: float

    @classmethod
    def of(cls, clips: Clips, project: Project, aggregate: Aggregate, scale: Scale) -> Reach:
        """A catalogue's line: its clips projected into its matching space, aggregated per
        artist as a query's are, and its resemblance ``scale``."""
        ref = reach_reference(
            project(clips.embeddings), clips.clip_artist, clips.original, aggregate
        )
        return cls.fit(ref, scale)

    @classmethod
    def fit(cls, reference: np.ndarray, resemblance: Scale) -> Reach:
        """From ``reach_reference``'s sample and the catalogue's resemblance scale."""
        finite = np.asarray(reference, dtype=np.float64)
        finite = finite[np.isfinite(finite)]
        high = resemblance.points[REACH_TOP]
        low = float(finite.min()) if finite.size else 0.0
        if not high - low > 1e-3:  # a degenerate catalogue: cosine 0 -> 0, 1 -> 100
            low, high = 0.0, 1.0
        return cls(low, float(high))

    def score(self, similarity: float | np.ndarray) -> np.ndarray:
        x = (np.asarray(similarity, dtype=np.float64) - self.low) / (self.high - self.low)
        return np.clip(100.0 * x, 0.0, 100.0)


def reach_reference(
    vectors: np.ndarray,
    labels: np.ndarray,
    original: np.ndarray,
    aggregate: Aggregate,
    sample: int = REACH_SAMPLE,
    chunk: int = 128,
) -> np.ndarray:
    """How alike the catalogue's recorded clips are to every artist but their own, in its
    matching space (``vectors``: all clips, unit rows): the whole range of artist
    similarities, flattened. At most ``sample`` clips, spread evenly over the catalogue
    (stored artist by artist): about a second, once, for 50,000 clips of 1,000 artists."""
    n_artists = int(labels.max()) + 1 if len(labels) else 0
    rows = np.flatnonzero(original)
    if len(rows) > sample:
        rows = rows[np.linspace(0, len(rows) - 1, sample).round().astype(int)]
    found = [np.empty(0)]
    for start in range(0, len(rows), chunk):
        q = rows[start : start + chunk]
        sims = aggregate(vectors[q] @ vectors.T, labels, n_artists)
        sims[np.arange(len(q)), labels[q]] = np.nan  # its own artist: not how others meet it
        found.append(sims[np.isfinite(sims)])
    return np.concatenate(found)


def artist_folds(n_artists: int, folds: int = REFERENCE_FOLDS) -> list[np.ndarray]:
    """Artist indices in ``folds`` interleaved groups (deterministic: artist i in fold
    i % folds); at most one fold per artist, and none when there is a single artist."""
    k = min(folds, n_artists if n_artists > 1 else 0)
    return [np.arange(f, n_artists, k) for f in range(k)]


@dataclass(frozen=True)
class HeldOut:
    """How voices new to a catalogue meet it, simulated with its own artists."""

    sims: np.ndarray  # (n_clips, n_artists): held-out clip vs artist; nan for its fold
    clip_artist: np.ndarray  # (n_clips,) the held-out clips' artists
    same_pairs: np.ndarray  # similarities of two recordings of one held-out artist
    different_pairs: np.ndarray  # ... of two artists held out together


def held_out_artists(
    embeddings: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    original: np.ndarray,
    fit_space: FitSpace,
    apply_space: ApplySpace,
    aggregate: Aggregate,
    folds: int = REFERENCE_FOLDS,
) -> HeldOut:
    """For each fold of artists: the space is fitted on the other artists' clips (all
    variants); every recorded clip of a held-out artist is then compared with the
    artists left in (``sims``), and with the other held-out clips of its fold, in that
    space (``same_pairs`` across recordings of one artist, ``different_pairs`` across
    artists): what ``Matcher.rank`` and ``Matcher.pair`` do with members."""
    n_artists = int(labels.max()) + 1 if len(labels) else 0
    rows, who, same, different = [], [], [], []
    for held in artist_folds(n_artists, folds):
        out = np.isin(labels, held)
        if out.all():
            continue
        proj = fit_space(embeddings[~out], labels[~out], groups[~out])
        gallery = apply_space(proj, embeddings[~out])
        queries = apply_space(proj, embeddings[out & original])
        sims = aggregate(queries @ gallery.T, labels[~out], n_artists)
        sims[:, held] = np.nan
        rows.append(sims)
        lab, grp = labels[out & original], groups[out & original]
        who.append(lab)
        i, j = np.triu_indices(len(lab), k=1)
        pair = np.einsum("ij,ij->i", queries[i], queries[j])
        same.append(pair[(lab[i] == lab[j]) & (grp[i] != grp[j])])
        different.append(pair[lab[i] != lab[j]])
    if not rows:
        empty = np.empty(0)
        return HeldOut(np.empty((0, n_artists)), np.empty(0, dtype=int), empty, empty)
    return HeldOut(
        np.concatenate(rows),
        np.concatenate(who),
        np.concatenate(same),
        np.concatenate(different),
    )


def nearest(sims: np.ndarray, neighbours: int = NEIGHBOURS) -> np.ndarray:
    """The ``neighbours`` highest finite values of each row, flattened (the reference)."""
    if not sims.size:
        return np.empty(0)
    filled = np.where(np.isfinite(sims), sims, -np.inf)
    top = -np.sort(-filled, axis=1)[:, :neighbours]
    return top[np.isfinite(top)]


# What a score means, in words a member can read (the README defines the scale); marked
# for the i18n catalogue, said in the member's language.
_ARTIST_WORDS = (
    (90.0, N_("as close as the closest artists in this catalogue are to each other")),
    (65.0, N_("closer than most neighbouring artists in this catalogue")),
    (35.0, N_("as close as neighbouring artists in this catalogue typically are")),
    (0.0, N_("a distant resemblance, by this catalogue's standards")),
)
_PAIR_WORDS = (
    (90.0, N_("more alike than nearly every pair of different artists in the catalogue")),
    (65.0, N_("more alike than most pairs of different artists in the catalogue")),
    (35.0, N_("as alike as a typical pair of different artists in the catalogue")),
    (0.0, N_("less alike than most pairs of different artists in the catalogue")),
)


def artist_words(score: float, language: str = "en") -> str:
    """What an artist resemblance score means, e.g. 'closer than most neighbouring ...'."""
    words = next((t for floor, t in _ARTIST_WORDS if score >= floor), _ARTIST_WORDS[-1][1])
    return say(words, language)


def pair_words(score: float, language: str = "en") -> str:
    """What a /compare resemblance score means."""
    return say(
        next((t for floor, t in _PAIR_WORDS if score >= floor), _PAIR_WORDS[-1][1]), language
    )
