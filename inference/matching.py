"""Matching: from one embedding to a ranked, calibrated list of catalogue artists.

* Matching space: encoder embeddings, optionally passed through a linear transform fitted
  on the catalogue (``wccn``: within-class covariance normalisation, a classic speaker
  verification back end that shrinks directions where one artist's clips vary, such as
  the recording channel), then L2-normalised. The benchmark picks the default.
* Artist score: the mean of the ``top_n`` best clip similarities of that artist (best
  clip alone is noisy, a centroid blurs artists with varied clips; the benchmark decides).
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

from .catalog import Catalog
from .encoders import l2_normalize
from .types import Match

log = logging.getLogger(__name__)

DEFAULT_PROJECTION = "none"
DEFAULT_TOP_N = 3
WCCN_SHRINKAGE = 0.1  # blend of within-class covariance with the identity (0..1)
_NEUTRAL_CALIBRATION = (10.0, -5.0)  # used when a catalogue is too small to fit one


class Matcher:
    """Ranks artists for query embeddings against one catalogue."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        m = catalog.matching
        self.top_n = int(m.get("top_n", DEFAULT_TOP_N))
        self.rank_calibration = tuple(m.get("rank_calibration", _NEUTRAL_CALIBRATION))
        self.pair_calibration = tuple(m.get("pair_calibration", _NEUTRAL_CALIBRATION))
        self._mean = catalog.projection.get("mean")
        self._matrix = catalog.projection.get("matrix")
        self._clip_vectors = self.project(catalog.embeddings)

    def project(self, embeddings: np.ndarray) -> np.ndarray:
        """Encoder embeddings (n, dim) or (dim,) to unit vectors in matching space."""
        x = np.asarray(embeddings, dtype=np.float32)
        if self._matrix is not None and self._mean is not None:
            x = (x - self._mean) @ self._matrix
        return l2_normalize(x)

    def artist_similarities(self, embedding: np.ndarray) -> np.ndarray:
        """(n_artists,) aggregated similarity of one query to every artist."""
        q = self.project(embedding)[None, :]
        k = len(self.catalog.clips)
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
        """(score 0..100, cosine) of two recordings in matching space."""
        va, vb = self.project(np.stack([emb_a, emb_b]))
        sim = float(va @ vb)
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
def fit_projection(embeddings: np.ndarray, labels: np.ndarray, kind: str) -> dict[str, np.ndarray]:
    """{"mean", "matrix"} for ``kind`` ('none' gives {}, identity)."""
    if kind == "none" or len(np.unique(labels)) < 2:
        return {}
    if kind != "wccn":
        raise ValueError(f"unknown projection {kind!r}: use 'none' or 'wccn'")
    x = np.asarray(embeddings, dtype=np.float64)
    mean = x.mean(axis=0)
    within = np.zeros((x.shape[1], x.shape[1]))
    for lab in np.unique(labels):
        d = x[labels == lab] - x[labels == lab].mean(axis=0)
        within += d.T @ d
    within /= len(x)
    # shrink toward a scaled identity so few clips per artist cannot make it singular
    within = (1 - WCCN_SHRINKAGE) * within + WCCN_SHRINKAGE * np.trace(within) / len(
        within
    ) * np.eye(len(within))
    matrix = np.linalg.cholesky(np.linalg.inv(within))
    return {"mean": mean.astype(np.float32), "matrix": matrix.astype(np.float32)}


def _logistic_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression  # deferred: build time only

    if len(np.unique(y)) < 2:
        return _NEUTRAL_CALIBRATION
    model = LogisticRegression(C=100.0, class_weight="balanced").fit(x[:, None], y)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def held_out_similarities(
    vectors: np.ndarray, labels: np.ndarray, groups: np.ndarray, n_artists: int, top_n: int
) -> np.ndarray:
    """(n_clips, n_artists) aggregated similarity of each clip to each artist, with every
    clip of the same recording (group) held out: how a new recording would score."""
    sims = vectors @ vectors.T
    same_group = groups[:, None] == groups[None, :]
    sims[same_group] = -np.inf
    out = np.empty((len(vectors), n_artists))
    for i in range(len(vectors)):
        order = np.argsort(-sims[i])
        keep = order[np.isfinite(sims[i, order])]
        out[i] = aggregate(sims[i, keep], labels[keep], n_artists, top_n)
    return out


def fit_matching(
    embeddings: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    *,
    projection: str = DEFAULT_PROJECTION,
    top_n: int = DEFAULT_TOP_N,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Fit the matching space and both calibrations; returns (manifest dict, projection)."""
    proj = fit_projection(embeddings, labels, projection)
    vectors = l2_normalize(
        (embeddings - proj["mean"]) @ proj["matrix"] if proj else np.asarray(embeddings)
    )
    n_artists = int(labels.max()) + 1 if len(labels) else 0
    held = held_out_similarities(vectors, labels, groups, n_artists, top_n)
    valid = held > -1
    same = np.zeros_like(held, dtype=int)
    same[np.arange(len(labels)), labels] = 1
    rank_cal = _logistic_fit(held[valid], same[valid])
    pairs = vectors @ vectors.T
    upper = np.triu(groups[:, None] != groups[None, :], k=1)
    pair_cal = _logistic_fit(pairs[upper], (labels[:, None] == labels[None, :])[upper].astype(int))
    matching = {
        "projection": projection,
        "top_n": top_n,
        "rank_calibration": list(rank_cal),
        "pair_calibration": list(pair_cal),
    }
    log.info("matching fitted: %s", matching)
    return matching, proj
