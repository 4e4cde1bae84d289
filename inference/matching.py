"""Matching: from one embedding to a ranked, calibrated list of catalogue artists.

* Matching space: encoder embeddings passed through a transform fitted on the
  catalogue's recordings, then L2-normalised. Default ``lda`` (linear discriminant
  analysis with a shrunk within-artist covariance: the directions that tell this
  catalogue's artists apart); ``wccn`` (within-class covariance normalisation) and
  ``none`` are options. The benchmark chose LDA (README). A trained head
  (``rapsim train``, ``models``) can replace it: its weights are stored as arrays in the
  catalogue (``HEAD_KEYS``) and applied here in numpy, so matching needs no torch.
  Member-to-member comparison (``pair``) stays in the encoder's own space: members are
  not catalogue artists.
* Artist score: the mean of the ``top_n`` best clip similarities of that artist, over the
  clips and their gallery augmentations (``inference.augment``).
* Calibration: the 0..100 score is a logistic fit, on the catalogue itself with each
  recording held out, of "is this the same artist" against the aggregated similarity.
  A score of 80 means that, in the catalogue, 80 % of held-out clips that close were
  the same artist: it is not raw cosine.

Fitting happens when a catalogue is built (``fit_matching``); ``Matcher`` only applies.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import scipy.special

from .catalog import Catalog
from .encoders import l2_normalize
from .types import Match

log = logging.getLogger(__name__)

DEFAULT_PROJECTION = "lda"
PROJECTIONS = ("none", "wccn", "lda")
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
    Linear -> LayerNorm -> GELU -> Linear (``models.heads``), in float32 numpy."""
    x = np.asarray(embeddings, dtype=np.float32)
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
    return l2_normalize(x)


class Matcher:
    """Ranks artists for query embeddings against one catalogue."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        m = catalog.matching
        self.top_n = int(m.get("top_n", DEFAULT_TOP_N))
        self.rank_calibration = tuple(m.get("rank_calibration", _NEUTRAL_CALIBRATION))
        self.pair_calibration = tuple(m.get("pair_calibration", _NEUTRAL_CALIBRATION))
        self._projection = catalog.projection

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
        sims = self.artist_similarities(embedding)
        order = np.argsort(-sims)[: max(1, top_k)]
        demo = self.catalog.demo_artists
        return tuple(
            Match(
                self.catalog.artists[i],
                score(float(sims[i]), self.rank_calibration),
                float(sims[i]),
                self.catalog.artists[i] in demo,
            )
            for i in order
        )

    def pair(self, emb_a: np.ndarray, emb_b: np.ndarray) -> tuple[float, float]:
        """(score 0..100, cosine) of two recordings, in the encoder's space."""
        sim = float(l2_normalize(emb_a) @ l2_normalize(emb_b))
        return score(sim, self.pair_calibration), sim


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
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Fit the matching space and both calibrations; returns (manifest dict, projection).

    ``original`` marks the clips as recorded (the rest are gallery augmentations). The
    projection is fitted on all clips, so an artist's pitch-, tempo-, room- and
    noise-shifted versions count as within-artist variation that LDA learns to ignore
    (the benchmark: phone, low-bitrate and noisy queries gain 5-6 points over fitting on
    originals only). The calibrations are fitted on held-out originals only. ``fixed``
    is a projection to keep as it is (a trained head's arrays, labelled ``projection``)
    instead of fitting one.
    """
    orig = np.ones(len(labels), bool) if original is None else np.asarray(original, bool)
    proj = dict(fixed) if fixed is not None else fit_projection(embeddings, labels, projection)
    vectors = apply_projection(proj, embeddings)
    n_artists = int(labels.max()) + 1 if len(labels) else 0
    held = held_out_similarities(
        vectors[orig], groups[orig], vectors, labels, groups, n_artists, top_n
    )
    valid = held > -1
    same = np.zeros_like(held, dtype=int)
    same[np.arange(int(orig.sum())), labels[orig]] = 1
    rank_cal = _logistic_fit(held[valid], same[valid])
    raw = l2_normalize(np.asarray(embeddings, dtype=np.float32)[orig])
    pairs = raw @ raw.T
    g, lab = groups[orig], labels[orig]
    upper = np.triu(g[:, None] != g[None, :], k=1)
    pair_cal = _logistic_fit(pairs[upper], (lab[:, None] == lab[None, :])[upper].astype(int))
    matching = {
        "projection": projection if proj else "none",
        "top_n": top_n,
        "rank_calibration": list(rank_cal),
        "pair_calibration": list(pair_cal),
    }
    log.info("matching fitted: %s", matching)
    return matching, proj
