"""K-fold comparison of matching spaces on recordings never seen in training.

``evaluate_kfold`` splits a catalogue's clips into folds by recording (a
``StratifiedGroupKFold`` over recording ids), so no recording is on both sides, and for
each fold scores several spaces on the held-out clips with ``models.metrics``:

* ``raw``: the encoder embeddings themselves;
* ``lda``: the catalogue's own matching space (``inference.catalog.matching.fit_projection``,
  shrunk LDA) fitted on the training fold, the baseline a head has to beat;
* ``siamese``: a metric-learning head trained on the training fold;
* ``classifier``: a softmax head trained on the training fold (its embedding for the
  cosine metrics, its probabilities for softmax accuracy);
* ``raw+style``: the embeddings fused with z-scored style features (when styles are given).

The gallery for centroid and retrieval metrics is the training fold (every row, augmented
copies included, as in a catalogue); queries are the test fold's original clips. Training
P@k / hit@k query the training fold's original clips against themselves (never a row
against itself) and show how much a space memorises recordings.

With ``collect=True`` the result also holds ``details`` (``SpaceDetails`` per method:
held-out predictions, pair similarities, silhouettes, artist-by-artist similarity, and
the first fold's vectors) for ``models.plots``; they are not JSON and not in the table.

This module does not read catalogues or audio, save heads, or pick a winner; the caller
passes arrays (``Catalog.embeddings``, ``clip_artist``, ``clips[i].source``, ``original``,
``styles``) and reads the returned dict or ``markdown_table``.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import metrics
from .heads import HeadConfig, apply_head, predict_proba
from .train import train_head

log = logging.getLogger(__name__)

STYLE_WEIGHT = 0.5  # weight of the z-scored style block against the unit embedding
TOP_K = 5
METRICS = (
    "auc",
    "acc_best_threshold",
    "cosine_test_acc",
    "softmax_test_acc",
    "silhouette",
    "p_at_5_train",
    "p_at_5_test",
    "hit_at_5_train",
    "hit_at_5_test",
)
TABLE_COLUMNS = (
    ("AUC", "auc"),
    ("acc@best thr", "acc_best_threshold"),
    ("cosine test acc", "cosine_test_acc"),
    ("softmax test acc", "softmax_test_acc"),
    ("silhouette", "silhouette"),
    ("P@5 train", "p_at_5_train"),
    ("P@5 test", "p_at_5_test"),
    ("hit@5 test", "hit_at_5_test"),
)


@dataclass
class SpaceDetails:
    """What the plots need from one method's space, gathered over the held-out folds.

    Each fold's head is a different space, so nothing here mixes vectors of two folds:
    pairs, silhouettes and similarities are computed within a fold, then pooled.
    """

    n_artists: int
    true: list[np.ndarray] = field(default_factory=list)  # test artist ids, per fold
    predicted: list[np.ndarray] = field(default_factory=list)  # nearest-centroid ids
    pair_sims: list[np.ndarray] = field(default_factory=list)  # test pairs i < j
    pair_same: list[np.ndarray] = field(default_factory=list)
    silhouettes: list[np.ndarray] = field(default_factory=list)  # per test row (nan: none)
    sim_sum: np.ndarray = field(init=False, repr=False)  # (artists, artists)
    sim_count: np.ndarray = field(init=False, repr=False)
    first_fold: dict[str, np.ndarray] = field(default_factory=dict)  # train/test vectors

    def __post_init__(self) -> None:
        self.sim_sum = np.zeros((self.n_artists, self.n_artists))
        self.sim_count = np.zeros((self.n_artists, self.n_artists))

    def add_fold(self, zt: np.ndarray, yt: np.ndarray, zq: np.ndarray, yq: np.ndarray) -> None:
        """One fold: training rows (zt, yt) make the centroids, test rows (zq, yq) are scored."""
        if not len(zq):
            return
        self.true.append(yq)
        self.predicted.append(metrics.nearest_centroid(zt, yt, zq))
        sims, same = metrics.pair_scores(zq, yq)
        self.pair_sims.append(sims)
        self.pair_same.append(same)
        rows = np.full(len(yq), np.nan)
        if metrics.silhouette_defined(yq):
            from sklearn.metrics import silhouette_samples

            rows = silhouette_samples(zq, yq, metric="cosine")
        self.silhouettes.append(rows)
        onehot = np.zeros((len(yq), self.n_artists))
        onehot[np.arange(len(yq)), yq] = 1.0
        gram = np.asarray(zq, np.float64) @ np.asarray(zq, np.float64).T
        np.fill_diagonal(gram, 0.0)  # a clip is not compared with itself
        counts = onehot.sum(axis=0)
        self.sim_sum += onehot.T @ gram @ onehot
        self.sim_count += np.outer(counts, counts) - np.diag(counts)
        if not self.first_fold:
            self.first_fold = {"train": zt, "train_y": yt, "test": zq, "test_y": yq}

    def confusion(self) -> np.ndarray:
        """(artists, artists) counts: row = true artist, column = predicted."""
        out = np.zeros((self.n_artists, self.n_artists), dtype=np.int64)
        if self.true:
            np.add.at(out, (np.concatenate(self.true), np.concatenate(self.predicted)), 1)
        return out

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.pair_sims:
            return np.zeros(0), np.zeros(0, dtype=bool)
        return np.concatenate(self.pair_sims), np.concatenate(self.pair_same)

    def silhouette_by_artist(self) -> dict[int, float]:
        """{artist id: mean held-out silhouette of its test rows} (artists with a value)."""
        if not self.true:
            return {}
        y, s = np.concatenate(self.true), np.concatenate(self.silhouettes)
        return {
            int(a): float(np.nanmean(s[y == a]))
            for a in np.unique(y)
            if np.isfinite(s[y == a]).any()
        }

    def similarity(self) -> np.ndarray:
        """(artists, artists) mean cosine between held-out clips of two artists (nan: no pair)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(
                self.sim_count > 0, self.sim_sum / np.maximum(self.sim_count, 1), np.nan
            )


def kfold_splits(
    y: np.ndarray,
    groups: np.ndarray,
    *,
    folds: int = 5,
    seed: int = 0,
    original: np.ndarray | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(train rows, test rows)] per fold: ``StratifiedGroupKFold(n_splits=folds,
    shuffle=True, random_state=seed)`` over recordings ``groups`` (n,), stratified by
    artist ``y`` (n,). No group is on both sides. With ``original`` (bool (n,)), test rows
    keep only original clips; augmented copies of test recordings are on neither side."""
    from sklearn.model_selection import StratifiedGroupKFold

    labels, grp = np.asarray(y), np.asarray(groups)
    if labels.shape != grp.shape or labels.ndim != 1:
        raise ValueError(f"need one label and one group per row; got {labels.shape}, {grp.shape}")
    keep = np.ones(len(labels), bool) if original is None else np.asarray(original, bool)
    if keep.shape != labels.shape:
        raise ValueError(f"original mask has shape {keep.shape}, not {labels.shape}")
    n_groups = len(np.unique(grp))
    if n_groups < folds:
        raise ValueError(f"{folds} folds need at least {folds} recordings; got {n_groups}")
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        raw = list(splitter.split(np.zeros(len(labels)), labels, grp))
    return [(np.sort(tr), np.sort(te[keep[te]])) for tr, te in raw]


def style_fusion(
    X: np.ndarray, styles: np.ndarray, train_rows: np.ndarray, weight: float = STYLE_WEIGHT
) -> np.ndarray:
    """Unit rows of [X, weight * z(styles)] (n, dim + n_styles): styles z-scored with mean
    and std of ``train_rows`` (nan ignored; a constant or unmeasured feature gets std 1),
    then nan set to 0 (the training mean)."""
    s = np.asarray(styles, dtype=np.float64)
    train = s[train_rows]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning)  # all-nan columns
        mean = np.nanmean(train, axis=0) if len(train) else np.zeros(s.shape[1])
        std = np.nanstd(train, axis=0) if len(train) else np.ones(s.shape[1])
    mean = np.where(np.isfinite(mean), mean, 0.0)
    std = np.where(np.isfinite(std) & (std > 1e-12), std, 1.0)
    z = np.nan_to_num((s - mean) / std, nan=0.0, posinf=0.0, neginf=0.0)
    fused = np.concatenate([np.asarray(X, dtype=np.float64), weight * z], axis=1)
    fused /= np.maximum(np.linalg.norm(fused, axis=1, keepdims=True), 1e-12)
    return fused.astype(np.float32)


def _score_space(
    Z: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, train_orig: np.ndarray
) -> dict[str, float]:
    """Every cosine metric of one space on one fold (softmax accuracy left nan)."""
    zt, yt, zq, yq = Z[train], y[train], Z[test], y[test]
    zo, yo = Z[train_orig], y[train_orig]
    return {
        "auc": metrics.roc_auc(zq, yq),
        "acc_best_threshold": metrics.best_threshold_accuracy(zq, yq)[0],
        "cosine_test_acc": metrics.centroid_accuracy(zt, yt, zq, yq),
        "softmax_test_acc": float("nan"),
        "silhouette": metrics.cosine_silhouette(zq, yq),
        "p_at_5_train": metrics.precision_at_k(zo, yo, zo, yo, TOP_K, exclude_self=True),
        "p_at_5_test": metrics.precision_at_k(zq, yq, zt, yt, TOP_K),
        "hit_at_5_train": metrics.hit_at_k(zo, yo, zo, yo, TOP_K, exclude_self=True),
        "hit_at_5_test": metrics.hit_at_k(zq, yq, zt, yt, TOP_K),
    }


def _summary(values: list[float]) -> dict[str, Any]:
    arr = np.asarray(values, dtype=np.float64)
    finite = arr[np.isfinite(arr)]
    return {
        "mean": float(finite.mean()) if len(finite) else float("nan"),
        "std": float(finite.std()) if len(finite) else float("nan"),
        "values": [float(v) for v in arr],
    }


def evaluate_kfold(
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    styles: np.ndarray | None = None,
    *,
    original: np.ndarray | None = None,
    artists: Sequence[str] | None = None,
    folds: int = 5,
    seed: int = 0,
    heads: Sequence[str] = ("siamese", "classifier"),
    head_epochs: int | None = None,
    progress: Callable[[str], None] | None = None,
    collect: bool = False,
    siamese_loss: str = "",
) -> dict[str, Any]:
    """Score raw embeddings, trained heads and the style fusion on k recording-disjoint folds.

    X: float32 (n, dim) unit rows; y: int (n,) artist ids (indices into ``artists``, names
    default to "artist<i>"); groups: (n,) recording ids; styles: (n, n_styles) or None
    (nan = unmeasured; no ``raw+style`` method without it); original: bool (n,), False
    marking augmented copies, which are never test queries. ``heads`` picks the trained
    kinds ("siamese", "classifier"); ``head_epochs`` overrides ``HeadConfig.epochs``.
    ``progress`` gets a short line per fold and method. ``siamese_loss`` picks the Siamese
    head's loss ("" = ``HeadConfig``'s default, contrastive).

    Returns {"folds": k, "methods": {method: {metric: {"mean", "std", "values"}}},
    "n_clips", "n_artists", "n_groups"}; means and stds skip nan folds. Metric names are
    ``METRICS``; softmax accuracy is nan except for the classifier. Methods: ``raw``,
    ``lda``, the trained heads, ``raw+style``. With ``collect``, also "details":
    {method: SpaceDetails} for ``models.plots``.
    """
    x = np.ascontiguousarray(X, dtype=np.float32)
    labels = np.asarray(y).astype(np.int64)
    grp = np.asarray(groups)
    if x.ndim != 2 or labels.shape != (len(x),) or grp.shape != (len(x),):
        raise ValueError(
            f"need X (n, dim) with one label and group per row; got {x.shape}, "
            f"{labels.shape}, {grp.shape}"
        )
    unknown = sorted(set(heads) - {"siamese", "classifier"})
    if unknown:
        raise ValueError(f"unknown head kinds: {', '.join(unknown)}")
    n_names = int(labels.max()) + 1 if len(labels) else 0
    names = tuple(artists) if artists is not None else tuple(f"artist{i}" for i in range(n_names))
    if len(names) < n_names:
        raise ValueError(f"artist id {n_names - 1} is past the {len(names)} artist names")
    orig = np.ones(len(x), bool) if original is None else np.asarray(original, bool)
    methods = ["raw", "lda", *[h for h in ("siamese", "classifier") if h in heads]]
    if styles is not None:
        if np.shape(styles)[0] != len(x):
            raise ValueError(f"styles has {np.shape(styles)[0]} rows, not {len(x)}")
        methods.append("raw+style")
    encoder = {"name": "kfold-evaluation", "version": "0", "dim": x.shape[1]}
    splits = kfold_splits(labels, grp, folds=folds, seed=seed, original=orig)
    scores: dict[str, dict[str, list[float]]] = {m: {k: [] for k in METRICS} for m in methods}
    details = {m: SpaceDetails(len(names)) for m in methods} if collect else {}

    def say(line: str) -> None:
        log.info("%s", line)
        if progress is not None:
            progress(line)

    for f, (train, test) in enumerate(splits, 1):
        train_orig = train[orig[train]]
        for method in methods:
            say(f"fold {f}/{len(splits)}: {method} ({len(train)} train, {len(test)} test rows)")
            if method == "raw":
                Z, fold = x, _score_space(x, labels, train, test, train_orig)
            elif method == "lda":
                Z = _lda_space(x, labels, train)
                fold = _score_space(Z, labels, train, test, train_orig)
            elif method == "raw+style":
                Z = style_fusion(x, np.asarray(styles), train)
                fold = _score_space(Z, labels, train, test, train_orig)
            else:
                Z, fold = _score_head(
                    method,
                    x,
                    labels,
                    grp,
                    train,
                    test,
                    train_orig,
                    names,
                    encoder,
                    seed,
                    head_epochs,
                    siamese_loss,
                )
            for k in METRICS:
                scores[method][k].append(fold[k])
            if collect:
                details[method].add_fold(Z[train], labels[train], Z[test], labels[test])
    result: dict[str, Any] = {
        "folds": len(splits),
        "methods": {m: {k: _summary(v) for k, v in per.items()} for m, per in scores.items()},
        "n_clips": len(x),
        "n_artists": len(np.unique(labels)),
        "n_groups": len(np.unique(grp)),
    }
    if collect:
        result["details"] = details
    return result


def _lda_space(x: np.ndarray, labels: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Every row in the shrunk-LDA space fitted on the training rows (the catalogue's
    default matching space; identity with fewer than 8 artists), unit rows."""
    from inference.catalog.matching import fit_projection
    from inference.voice.base import l2_normalize

    proj = fit_projection(x[train], labels[train], "lda")
    return l2_normalize((x - proj["mean"]) @ proj["matrix"]) if proj else x


def _score_head(
    kind: str,
    x: np.ndarray,
    labels: np.ndarray,
    grp: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    train_orig: np.ndarray,
    names: tuple[str, ...],
    encoder: dict[str, Any],
    seed: int,
    head_epochs: int | None,
    siamese_loss: str = "",
) -> tuple[np.ndarray, dict[str, float]]:
    """Train a ``kind`` head on the training rows and score its space on the fold. The
    classifier is trained over the artists present in training (labels remapped to
    0..k-1); its probability columns map back to the original ids, so a test artist it
    never saw always counts as wrong. Returns (every row in the head's space, scores)."""
    present = np.unique(labels[train])
    local = np.searchsorted(present, labels[train])
    config = HeadConfig(
        input_dim=x.shape[1],
        kind=kind,
        loss=siamese_loss if kind == "siamese" else "",
        seed=seed,
        artists=tuple(names[a] for a in present) if kind == "classifier" else (),
    )
    if head_epochs is not None:
        config = dataclasses.replace(config, epochs=head_epochs)
    result = train_head(config, x[train], local, grp[train], encoder=encoder)
    Z = apply_head(result.head, x)
    fold = _score_space(Z, labels, train, test, train_orig)
    if kind == "classifier" and len(test):
        full = np.zeros((len(test), len(names)), dtype=np.float32)  # columns = artist ids
        full[:, present] = predict_proba(result.head, x[test])
        fold["softmax_test_acc"] = metrics.softmax_accuracy(full, labels[test])
    return Z, fold


def markdown_table(result: dict[str, Any]) -> str:
    """A markdown table of ``evaluate_kfold``'s result: one row per method, "mean ± std"
    cells (3 decimals, "—" for a metric a method lacks)."""
    head = "| method | " + " | ".join(title for title, _ in TABLE_COLUMNS) + " |"
    rule = "|---|" + "---:|" * len(TABLE_COLUMNS)
    lines = [head, rule]
    for method, per in result["methods"].items():
        cells = []
        for _, key in TABLE_COLUMNS:
            s = per.get(key)
            ok = s is not None and np.isfinite(s["mean"])
            cells.append(f"{s['mean']:.3f} ± {s['std']:.3f}" if ok and s else "—")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
