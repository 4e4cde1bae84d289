"""Matching: from one embedding to a ranked, scored list of catalogue artists.

* Matching space: encoder embeddings passed through a transform fitted on the
  catalogue's recordings, then L2-normalised. Default ``lda`` (linear discriminant
  analysis with a shrunk within-artist covariance: the directions that tell this
  catalogue's artists apart); ``wccn`` (within-class covariance normalisation) and
  ``none`` are options. A trained head (``rapsim train``, ``models``) can replace it: its
  weights are stored as arrays in the catalogue (``HEAD_KEYS``) and applied here in
  numpy, so matching needs no torch. Member-to-member comparison (``pair``) uses the same
  space: between voices that are not in the catalogue, its scores are ~1.6x steadier
  from take to take than the encoder's own space (``bench.resemblance``).
* Artist similarity: the mean of the ``top_n`` best clip similarities of that artist,
  over the clips and their gallery augmentations (``inference.augment``).
* Two numbers per artist, 0..100 (``Match``):
  - ``score``, the **resemblance** (``inference.resemblance``): how this similarity
    compares with how close the catalogue's artists are to one another, with whole
    artists held out. It is what a member who is not in the catalogue is told.
  - ``identity``: a logistic fit, on the catalogue itself with each recording held out,
    of "is this the same artist" against the similarity: 80 means that, in the
    catalogue, 80 % of held-out clips this close were the same voice. Replies show it
    only when it fires (``Match.maybe_self``).

Fitting happens when a catalogue is built (``fit_matching``); ``Matcher`` only applies.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import numpy as np
import scipy.special

from ..types import Match
from ..voice.base import l2_normalize
from . import resemblance
from .folder import Catalog
from .resemblance import REFERENCE_FOLDS, FitSpace, HeldOut, Scale, held_out_artists, nearest

log = logging.getLogger(__name__)

DEFAULT_PROJECTION = "lda"
PROJECTIONS = ("none", "wccn", "lda", "lda+raw")
# "lda+raw": the LDA space and the encoder's own space side by side, weighted so that a
# similarity is (1 - RAW_WEIGHT) x the LDA cosine + RAW_WEIGHT x the raw cosine. On the
# benchmark corpus it ranked voices new to the catalogue more stably than LDA (top-1
# agreement 0.911 vs 0.876), on the second corpus less (0.899 vs 0.915), so LDA stays
# the default (bench.resemblance, README).
RAW_WEIGHT = 0.6
DEFAULT_TOP_N = 3
SHRINKAGE = 0.3  # blend of within-artist covariance with a scaled identity (0..1)
MIN_ARTISTS_FOR_PROJECTION = 8  # fewer artists: too few LDA dimensions (n - 1) to rank by
MAX_SEARCH = 4096  # clips fetched per query; artists with no clip among them score -1
_NEUTRAL_CALIBRATION = (10.0, -5.0)  # used when a catalogue is too small to fit one


HEAD_PREFIX = "head:"  # matching["projection"] of a catalogue that ranks with a trained head
HEAD_KEYS = ("w1", "b1", "ln_w", "ln_b", "ln_eps", "w2", "b2")  # a head's projection arrays


def apply_projection(projection: dict[str, np.ndarray], embeddings: np.ndarray) -> np.ndarray:
    """Encoder embeddings (n, dim) or (dim,) to unit vectors in a catalogue's matching space:
    {} is the identity; {"mean", "matrix"} a linear map; ``HEAD_KEYS`` a trained head's
    Linear -> LayerNorm -> GELU -> Linear (``models.heads``), in float32 numpy; with
    "raw_weight", that space's unit vector concatenated with the encoder's own, weighted
    so that inner products blend the two cosines."""
    raw = x = np.asarray(embeddings, dtype=np.float32)
    if "w1" in projection:
        p = projection
        h = x @ p["w1"].T + p["b1"]
        mu = h.mean(axis=-1, keepdims=True)
        var = ((h - mu) ** 2).mean(axis=-1, keepdims=True)
        h = (h - mu) / np.sqrt(var + p["ln_eps"]) * p["ln_w"] + p["ln_b"]
        h = 0.5 * h * (1.0 + scipy.special.erf(h / np.float32(np.sqrt(2.0))))  # exact GELU
        x = (h @ p["w2"].T + p["b2"]).astype(np.float32)
    elif "matrix" in projection:
        x = (x - projection["mean"]) @ projection["matrix"]
    if "raw_weight" in projection:  # a blend: the space's vector beside the encoder's own
        w = float(projection["raw_weight"])
        x = np.concatenate(
            [np.sqrt(1.0 - w) * l2_normalize(x), np.sqrt(w) * l2_normalize(raw)], axis=-1
        )
    return l2_normalize(x)


class Matcher:
    """Ranks artists for query embeddings against one catalogue."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        m = catalog.matching
        if "resemblance" not in m or "pair_resemblance" not in m:
            # a catalogue saved before resemblance scores: fit them now (seconds, nothing
            # is re-embedded); `rapsim catalog refit` stores them
            log.warning("catalogue %s has no resemblance scales; fitting them", catalog.path)
            m = refit_scores(catalog)
        self.top_n = int(m.get("top_n", DEFAULT_TOP_N))
        self.rank_calibration = tuple(m.get("rank_calibration", _NEUTRAL_CALIBRATION))
        self.pair_calibration = tuple(m.get("pair_calibration", _NEUTRAL_CALIBRATION))
        self._projection = catalog.projection
        self.resemblance = Scale.from_json(m["resemblance"])
        self.pair_resemblance = Scale.from_json(m["pair_resemblance"])
        agg = functools.partial(aggregate_rows, top_n=self.top_n)
        self.reach = resemblance.Reach.of(catalog, self.project, agg, self.resemblance)

    def project(self, embeddings: np.ndarray) -> np.ndarray:
        """Encoder embeddings (n, dim) or (dim,) to unit vectors in matching space."""
        return apply_projection(self._projection, embeddings)

    def artist_similarities(self, embedding: np.ndarray) -> np.ndarray:
        """(n_artists,) aggregated similarity of one query to every artist."""
        q = self.project(embedding)[None, :]
        k = min(len(self.catalog.clips), MAX_SEARCH)
        assert self.catalog.index is not None
        sims, idx = self.catalog.index.search(q, k)
        return aggregate(
            sims[0], self.catalog.clip_artist[idx[0]], len(self.catalog.artists), self.top_n
        )

    def rank(self, embedding: np.ndarray, top_k: int = 5) -> tuple[Match, ...]:
        return self.ranked(self.artist_similarities(embedding), top_k)

    def ranked(self, sims: np.ndarray, top_k: int = 5) -> tuple[Match, ...]:
        """The ``top_k`` artists of ``artist_similarities``' output, best first."""
        order = np.argsort(-sims)[: max(1, top_k)]
        return tuple(self._match(int(i), sims) for i in order)

    def standing(
        self, sims: np.ndarray, artist: str, embedding: np.ndarray | None = None
    ) -> tuple[Match, int]:
        """One artist's Match from the same similarities and its rank (1 = closest): a
        member's target, without another search; given the ``embedding``, an artist none
        of whose clips was fetched (-1: far, in a big catalogue) is measured exactly."""
        i = self.catalog.artists.index(artist)
        if sims[i] == -1.0 and embedding is not None:
            mine = self.project(self.catalog.embeddings[self.catalog.clip_artist == i])
            sims = sims.copy()
            sims[i] = np.sort(mine @ self.project(embedding))[-self.top_n :].mean()
        return self._match(i, sims), 1 + int(np.sum(sims > sims[i]))

    def _match(self, i: int, sims: np.ndarray) -> Match:
        return Match(
            self.catalog.artists[i],
            float(self.resemblance.score(float(sims[i]))),
            float(sims[i]),
            self.catalog.artists[i] in self.catalog.demo_artists,
            identity=score(float(sims[i]), self.rank_calibration),
            reach=float(self.reach.score(float(sims[i]))),
        )

    def pair(self, emb_a: np.ndarray, emb_b: np.ndarray) -> tuple[float, float, float]:
        """(resemblance 0..100, identity 0..100, cosine) of two recordings (encoder
        embeddings), compared in the matching space."""
        sim = float(self.project(emb_a) @ self.project(emb_b))
        resemblance = float(self.pair_resemblance.score(sim))
        return resemblance, score(sim, self.pair_calibration), sim


def aggregate(sims: np.ndarray, artists: np.ndarray, n_artists: int, top_n: int) -> np.ndarray:
    """Per artist, the mean of its ``top_n`` best similarities (sims sorted best first,
    as faiss returns them); artists with no clip get -1."""
    out = np.full(n_artists, -1.0)
    seen = np.zeros(n_artists, dtype=int)
    totals = np.zeros(n_artists)
    for s, a in zip(sims, artists, strict=True):
        if a < 0 or seen[a] >= top_n:
            continue
        totals[a] += s
        seen[a] += 1
    has = seen > 0
    out[has] = totals[has] / seen[has]
    return out


def aggregate_rows(sims: np.ndarray, labels: np.ndarray, n_artists: int, top_n: int) -> np.ndarray:
    """``aggregate`` for a (n_queries, n_clips) block of similarities to clips labelled
    ``labels``: (n_queries, n_artists), nan for artists with no clip."""
    out = np.full((sims.shape[0], n_artists), np.nan)
    for a in np.unique(labels):
        cols = sims[:, labels == a]
        n = min(top_n, cols.shape[1])
        out[:, a] = -np.sort(-cols, axis=1)[:, :n].mean(axis=1)
    return out


def score(similarity: float, calibration: tuple[float, ...]) -> float:
    a, b = calibration
    return float(100.0 / (1.0 + np.exp(-(a * similarity + b))))


# ---- fitting (catalogue build time) ---------------------------------------------------
def _shrunk_within(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    within = np.zeros((x.shape[1], x.shape[1]))
    for lab in np.unique(labels):
        d = x[labels == lab] - x[labels == lab].mean(axis=0)
        within += d.T @ d
    within /= len(x)
    # toward a scaled identity, so few clips per artist cannot make it singular
    ident = np.trace(within) / len(within) * np.eye(len(within))
    return (1 - SHRINKAGE) * within + SHRINKAGE * ident


def fit_projection(embeddings: np.ndarray, labels: np.ndarray, kind: str) -> dict[str, np.ndarray]:
    """{"mean", "matrix"} for ``kind``; {} (identity) for 'none' or too few artists."""
    if kind not in PROJECTIONS:
        raise ValueError(f"unknown projection {kind!r}: use one of {', '.join(PROJECTIONS)}")
    classes = np.unique(labels)
    if kind == "none" or len(classes) < MIN_ARTISTS_FOR_PROJECTION:
        return {}
    if kind == "lda+raw":
        return {**fit_projection(embeddings, labels, "lda"), **blend()}
    x = np.asarray(embeddings, dtype=np.float64)
    mean = x.mean(axis=0)
    within = _shrunk_within(x, labels)
    if kind == "wccn":
        matrix = np.linalg.cholesky(np.linalg.inv(within))
    else:
        import scipy.linalg

        between = np.zeros_like(within)
        for lab in classes:
            d = x[labels == lab].mean(axis=0) - mean
            between += np.sum(labels == lab) * np.outer(d, d)
        between /= len(x)
        _, vecs = scipy.linalg.eigh(between, within)  # ascending eigenvalues
        matrix = vecs[:, ::-1][:, : len(classes) - 1]
    return {"mean": mean.astype(np.float32), "matrix": matrix.astype(np.float32)}


def blend(weight: float = RAW_WEIGHT) -> dict[str, np.ndarray]:
    """The projection entry that blends a space with the encoder's own (``apply_projection``)."""
    return {"raw_weight": np.asarray(weight, dtype=np.float32)}


def _logistic_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression  # deferred: build time only

    if len(np.unique(y)) < 2:
        return _NEUTRAL_CALIBRATION
    model = LogisticRegression(C=100.0, class_weight="balanced").fit(x[:, None], y)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def held_out_similarities(
    queries: np.ndarray,
    query_groups: np.ndarray,
    gallery: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    n_artists: int,
    top_n: int,
) -> np.ndarray:
    """(n_queries, n_artists) aggregated similarity of each query to each artist, with
    every gallery clip of the query's own recording (group) held out: how a new
    recording of that artist would score."""
    sims = queries @ gallery.T
    sims[query_groups[:, None] == groups[None, :]] = -np.inf
    out = np.empty((len(queries), n_artists))
    for i in range(len(queries)):
        order = np.argsort(-sims[i])
        keep = order[np.isfinite(sims[i, order])]
        out[i] = aggregate(sims[i, keep], labels[keep], n_artists, top_n)
    return out


def fit_matching(
    embeddings: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    original: np.ndarray | None = None,
    *,
    projection: str = DEFAULT_PROJECTION,
    top_n: int = DEFAULT_TOP_N,
    fixed: dict[str, np.ndarray] | None = None,
    refit: FitSpace | None = None,
    reference_folds: int = REFERENCE_FOLDS,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Fit the matching space, the resemblance scales and the identity calibrations;
    returns (manifest dict, projection).

    ``original`` marks the clips as recorded (the rest are gallery augmentations). The
    projection is fitted on all clips, so an artist's pitch-, tempo-, room- and
    noise-shifted versions count as within-artist variation that LDA learns to ignore
    (the benchmark: phone, low-bitrate and noisy queries gain 5-6 points over fitting on
    originals only). The scales and calibrations use recorded clips only. ``fixed`` is
    a projection to keep as it is (a trained head's arrays, labelled ``projection``)
    instead of fitting one; ``refit`` (embeddings, labels, groups) -> projection makes
    one like it without the artists held out for the scales (a head trained on fewer
    artists). Without it a fixed projection is kept for them too, which makes voices
    it was trained on look further apart than new voices will (scores read high).
    ``reference_folds``: how many folds of artists are held out in turn.

    Identity ("is this the artist themself") is a logistic fit of same-artist
    similarities (the clip's own recording held out) against the similarities of
    artists held out of the space to their nearest artist: the voices it must not
    claim are new voices, not the catalogue's other artists, which the space was
    fitted to push apart.
    """
    orig = np.ones(len(labels), bool) if original is None else np.asarray(original, bool)
    proj = dict(fixed) if fixed is not None else fit_projection(embeddings, labels, projection)
    vectors = apply_projection(proj, embeddings)
    n_artists = int(labels.max()) + 1 if len(labels) else 0
    held = held_out_similarities(
        vectors[orig], groups[orig], vectors, labels, groups, n_artists, top_n
    )
    own = held[np.arange(int(orig.sum())), labels[orig]]
    new = _held_out_artists(
        embeddings, labels, groups, orig, projection, top_n, fixed, refit, reference_folds
    )
    if new.different_pairs.size < 2:  # a catalogue too small to hold artists out together
        new = _pairs_in_catalogue(new, vectors[orig], labels[orig], groups[orig])
    matching = {
        "projection": projection if proj else "none",
        "top_n": top_n,
        "rank_calibration": list(_separate(own[own > -1], nearest(new.sims, 1))),
        "pair_calibration": list(_separate(new.same_pairs, new.different_pairs)),
        "resemblance": Scale.of(nearest(new.sims)).to_json(),
        "pair_resemblance": Scale.of(new.different_pairs).to_json(),
    }
    log.info(
        "matching fitted: %s",
        {k: v for k, v in matching.items() if not k.endswith("resemblance")},
    )
    return matching, proj


def _separate(same: np.ndarray, different: np.ndarray) -> tuple[float, float]:
    """Logistic calibration of "same voice" from similarities of same / different."""
    x = np.concatenate([same, different])
    y = np.concatenate([np.ones(len(same), int), np.zeros(len(different), int)])
    return _logistic_fit(x, y) if len(x) else _NEUTRAL_CALIBRATION


def _pairs_in_catalogue(
    held: HeldOut, vectors: np.ndarray, labels: np.ndarray, groups: np.ndarray
) -> HeldOut:
    """Pair references from the catalogue's own recordings, in its own space (biased
    toward "different", used only when too few artists can be held out together)."""
    i, j = np.triu_indices(len(labels), k=1)
    sims = np.einsum("ij,ij->i", vectors[i], vectors[j])
    same = (labels[i] == labels[j]) & (groups[i] != groups[j])
    return HeldOut(held.sims, held.clip_artist, sims[same], sims[labels[i] != labels[j]])


def _held_out_artists(
    embeddings: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    original: np.ndarray,
    projection: str,
    top_n: int,
    fixed: dict[str, np.ndarray] | None,
    refit: FitSpace | None = None,
    folds: int = REFERENCE_FOLDS,
) -> HeldOut:
    """How voices new to the catalogue meet it, simulated by holding whole artists out
    and refitting the space without them (``inference.resemblance.held_out_artists``).
    A fixed projection (a trained head) cannot be refitted here and is kept as it is."""

    def fit(x: np.ndarray, y: np.ndarray, g: np.ndarray) -> dict[str, np.ndarray]:
        if refit is not None:
            return refit(x, y, g)
        return dict(fixed) if fixed is not None else fit_projection(x, y, projection)

    def agg(sims: np.ndarray, gallery_labels: np.ndarray, n: int) -> np.ndarray:
        return aggregate_rows(sims, gallery_labels, n, top_n)

    return held_out_artists(
        np.asarray(embeddings, np.float32),
        labels,
        groups,
        original,
        fit,
        apply_projection,
        agg,
        folds,
    )


def refit_scores(catalog: Catalog) -> dict[str, Any]:
    """A catalogue's matching entries with the resemblance scales and the identity
    calibrations fitted anew in its own space (for catalogues saved before they
    existed; seconds, nothing is re-embedded, the space itself is unchanged)."""
    m = catalog.matching
    kind = str(m.get("projection", DEFAULT_PROJECTION))
    head = kind.startswith(HEAD_PREFIX)
    groups = np.unique([c.source for c in catalog.clips], return_inverse=True)[1]
    fitted, _ = fit_matching(
        catalog.embeddings,
        catalog.clip_artist,
        groups,
        catalog.original,
        projection=kind,
        top_n=int(m.get("top_n", DEFAULT_TOP_N)),
        fixed=catalog.projection if head else None,
    )
    keys = ("rank_calibration", "pair_calibration", "resemblance", "pair_resemblance")
    return {**m, **{k: fitted[k] for k in keys}}
