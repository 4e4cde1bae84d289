"""Scores of an embedding space: pair verification, nearest centroid, retrieval, clustering.

Every function takes plain numpy arrays: ``Z`` float (n, d) with L2-normalised rows (so
cosine similarity is the inner product), ``y`` int (n,) artist ids. They serve the k-fold
evaluation (``models.evaluate``) and any script comparing spaces: raw encoder embeddings,
a head's output, a fused space.

Pure numpy and scikit-learn: nothing here trains, loads a catalogue or touches torch.
Degenerate inputs (no pairs of one kind, an empty test set, a single artist) give ``nan``
rather than raising, so a fold that happens to be thin does not end a whole evaluation.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score, silhouette_samples, silhouette_score

QUERY_CHUNK = 1024  # query rows per similarity block in the retrieval metrics


def _rows(Z: np.ndarray) -> np.ndarray:
    z = np.asarray(Z, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"embeddings must be a 2-d array (n, d), not shape {z.shape}")
    return z


def _labels(y: np.ndarray, n: int) -> np.ndarray:
    labels = np.asarray(y)
    if labels.shape != (n,):
        raise ValueError(f"need one label per row ({n}); got shape {labels.shape}")
    return labels


# ---- pairs (verification: "same artist or not?") ----------------------------------------
def pair_scores(Z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarity and same-artist flag of every unordered pair i < j.

    Z: (n, d) unit rows; y: (n,) labels. Returns (similarities float64 (m,), same bool
    (m,)) with m = n (n - 1) / 2, pairs in row-major order of the upper triangle.
    """
    z = _rows(Z)
    labels = _labels(y, len(z))
    n = len(z)
    if n < 2:
        return np.zeros(0), np.zeros(0, dtype=bool)
    sims = z @ z.T
    same = labels[:, None] == labels[None, :]
    s = np.concatenate([sims[i, i + 1 :] for i in range(n - 1)])
    t = np.concatenate([same[i, i + 1 :] for i in range(n - 1)])
    return s, t


def roc_auc(Z: np.ndarray, y: np.ndarray) -> float:
    """ROC AUC of cosine similarity as a same-artist score over all pairs (Z (n, d), y (n,)):
    the chance that a random same-artist pair scores above a random different-artist pair
    (ties count half). nan without pairs of both kinds."""
    s, same = pair_scores(Z, y)
    if not same.any() or same.all():
        return float("nan")
    return float(roc_auc_score(same, s))


def best_threshold_accuracy(Z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(accuracy, threshold): the best share of pairs classified right by the rule "same
    artist iff cosine >= threshold", over all cut points between the pairs' scores.

    Z: (n, d) unit rows; y: (n,). The threshold returned is the midpoint between the lowest
    accepted and the highest rejected score (the lowest score when every pair is accepted,
    just above the highest when none is). (nan, nan) without pairs.
    """
    s, same = pair_scores(Z, y)
    m = len(s)
    if m == 0:
        return float("nan"), float("nan")
    order = np.argsort(-s, kind="stable")
    s_sorted, same_sorted = s[order], same[order]
    # accepting the top j pairs (j = 0..m): right = same among them + different among the rest
    same_top = np.concatenate([[0], np.cumsum(same_sorted)])
    diff_rest = (~same).sum() - np.concatenate([[0], np.cumsum(~same_sorted)])
    right = same_top + diff_rest
    # a cut can only fall between distinct scores: j valid when j in {0, m} or s[j-1] > s[j]
    valid = np.ones(m + 1, dtype=bool)
    valid[1:m] = s_sorted[:-1] > s_sorted[1:]
    j = int(np.argmax(np.where(valid, right, -1)))
    if j == 0:
        threshold = float(np.nextafter(s_sorted[0], np.inf))
    elif j == m:
        threshold = float(s_sorted[-1])
    else:
        threshold = float((s_sorted[j - 1] + s_sorted[j]) / 2.0)
    return float(right[j] / m), threshold


def threshold_curve(
    Z: np.ndarray, y: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Verification at each threshold t (pair called "same" iff cosine >= t).

    Z: (n, d) unit rows; y: (n,); thresholds: (t,). Returns float64 (t,) arrays
    (accuracy, false-accept rate = share of different-artist pairs accepted, false-reject
    rate = share of same-artist pairs rejected); a rate is nan when its pair kind is absent.
    """
    s, same = pair_scores(Z, y)
    return threshold_curve_from_pairs(s, same, thresholds)


def threshold_curve_from_pairs(
    s: np.ndarray, same: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``threshold_curve`` from pair similarities s (m,) and same-artist flags (m,)."""
    s = np.asarray(s, dtype=np.float64)
    same = np.asarray(same, dtype=bool)
    t = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    pos, neg = np.sort(s[same]), np.sort(s[~same])
    rejected_pos = np.searchsorted(pos, t, side="left")  # same pairs with score < t
    accepted_neg = len(neg) - np.searchsorted(neg, t, side="left")  # diff pairs >= t
    with np.errstate(invalid="ignore", divide="ignore"):
        far = accepted_neg / len(neg) if len(neg) else np.full(len(t), np.nan)
        frr = rejected_pos / len(pos) if len(pos) else np.full(len(t), np.nan)
        right = (len(pos) - rejected_pos) + (len(neg) - accepted_neg)
        acc = right / len(s) if len(s) else np.full(len(t), np.nan)
    return np.asarray(acc, float), np.asarray(far, float), np.asarray(frr, float)


# ---- classification ---------------------------------------------------------------------
def centroid_accuracy(
    Z_train: np.ndarray, y_train: np.ndarray, Z_test: np.ndarray, y_test: np.ndarray
) -> float:
    """Top-1 accuracy of nearest centroid: each test row (Z_test (m, d), y_test (m,)) goes to
    the artist whose L2-normalised mean of training rows (Z_train (n, d), y_train (n,)) has
    the highest cosine. Artists missing from training are never predicted (their test rows
    count as wrong). nan for an empty test set or training set."""
    zt, zq = _rows(Z_train), _rows(Z_test)
    yt, yq = _labels(y_train, len(zt)), _labels(y_test, len(zq))
    if len(zq) == 0 or len(zt) == 0:
        return float("nan")
    return float(np.mean(nearest_centroid(zt, yt, zq) == yq))


def nearest_centroid(Z_train: np.ndarray, y_train: np.ndarray, Z_test: np.ndarray) -> np.ndarray:
    """(m,) predicted artist of each test row: the training artist whose L2-normalised mean
    row has the highest cosine (Z_train (n, d) with n >= 1, y_train (n,), Z_test (m, d))."""
    zt, zq = _rows(Z_train), _rows(Z_test)
    yt = _labels(y_train, len(zt))
    artists = np.unique(yt)
    centroids = np.stack([zt[yt == a].mean(axis=0) for a in artists])
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    return artists[np.argmax(zq @ centroids.T, axis=1)]


def softmax_accuracy(proba: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy of class probabilities: proba (n, n_classes), column c = label c;
    y (n,) int labels. nan when n == 0."""
    p = np.asarray(proba)
    labels = _labels(y, len(p))
    if len(p) == 0:
        return float("nan")
    return float(np.mean(np.argmax(p, axis=1) == labels))


# ---- clustering -------------------------------------------------------------------------
def silhouette_defined(labels: np.ndarray) -> bool:
    """Whether a cosine silhouette exists for these labels (see ``cosine_silhouette``)."""
    counts = np.unique(np.asarray(labels), return_counts=True)[1]
    # sklearn needs 2 <= n_labels <= n_samples - 1; all singletons carry no cohesion signal
    return 2 <= len(counts) <= len(labels) - 1 and bool((counts > 1).any())


def cosine_silhouette(Z: np.ndarray, y: np.ndarray) -> float:
    """Mean silhouette with cosine distance (sklearn ``silhouette_score(metric="cosine")``),
    Z (n, d), y (n,): near 1 for tight, well separated artists, near 0 for overlap. nan
    with fewer than 2 artists, or when every artist has a single row."""
    z = _rows(Z)
    labels = _labels(y, len(z))
    if not silhouette_defined(labels):
        return float("nan")
    return float(silhouette_score(z, labels, metric="cosine"))


def silhouette_by_artist(Z: np.ndarray, y: np.ndarray) -> dict[int, float]:
    """{artist id: mean cosine silhouette of its rows} (Z (n, d), y (n,)); every value nan
    when the silhouette is undefined (see ``cosine_silhouette``). An artist with one row
    scores 0, as in sklearn."""
    z = _rows(Z)
    labels = _labels(y, len(z))
    artists = np.unique(labels)
    if not silhouette_defined(labels):
        return {int(a): float("nan") for a in artists}
    per_row = silhouette_samples(z, labels, metric="cosine")
    return {int(a): float(per_row[labels == a].mean()) for a in artists}


# ---- retrieval --------------------------------------------------------------------------
def _neighbour_hits(
    Z_query: np.ndarray,
    y_query: np.ndarray,
    Z_gallery: np.ndarray,
    y_gallery: np.ndarray,
    k: int,
    exclude_self: bool,
) -> np.ndarray | None:
    """bool (n_query, k') : does the i-th query's j-th nearest gallery row share its label;
    k' = min(k, gallery rows available). None when there is no query or no neighbour."""
    zq, zg = _rows(Z_query), _rows(Z_gallery)
    yq, yg = _labels(y_query, len(zq)), _labels(y_gallery, len(zg))
    if k < 1:
        raise ValueError(f"k must be >= 1, not {k}")
    if exclude_self and len(zq) != len(zg):
        raise ValueError("exclude_self needs the query set to be the gallery set")
    k_eff = min(k, len(zg) - (1 if exclude_self else 0))
    if len(zq) == 0 or k_eff < 1:
        return None
    out = np.empty((len(zq), k_eff), dtype=bool)
    for start in range(0, len(zq), QUERY_CHUNK):
        stop = min(start + QUERY_CHUNK, len(zq))
        sims = zq[start:stop] @ zg.T
        if exclude_self:
            rows = np.arange(stop - start)
            sims[rows, rows + start] = -np.inf
        top = np.argsort(-sims, axis=1, kind="stable")[:, :k_eff]
        out[start:stop] = yg[top] == yq[start:stop, None]
    return out


def precision_at_k(
    Z_query: np.ndarray,
    y_query: np.ndarray,
    Z_gallery: np.ndarray,
    y_gallery: np.ndarray,
    k: int = 5,
    exclude_self: bool = False,
) -> float:
    """Mean over queries of the share of the k most cosine-similar gallery rows that have
    the query's artist. Z_query (m, d), y_query (m,), Z_gallery (n, d), y_gallery (n,).
    ``exclude_self=True`` (query set is the gallery set, row i = row i) keeps a row from
    retrieving itself. k shrinks to the gallery size; nan with no query or no neighbour."""
    hits = _neighbour_hits(Z_query, y_query, Z_gallery, y_gallery, k, exclude_self)
    return float("nan") if hits is None else float(hits.mean())


def hit_at_k(
    Z_query: np.ndarray,
    y_query: np.ndarray,
    Z_gallery: np.ndarray,
    y_gallery: np.ndarray,
    k: int = 5,
    exclude_self: bool = False,
) -> float:
    """Share of queries with at least one of their k nearest gallery rows of their artist;
    arguments as in ``precision_at_k``."""
    hits = _neighbour_hits(Z_query, y_query, Z_gallery, y_gallery, k, exclude_self)
    return float("nan") if hits is None else float(hits.any(axis=1).mean())
