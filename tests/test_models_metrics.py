"""Evaluation metrics with known answers, and the k-fold evaluation on generated data.

The hand-made examples use unit vectors in 2-d given by their angle, so every cosine is
easy to work out; each test's docstring or comments give the arithmetic. The k-fold data:
6 artists x 6 recordings x 4 clips in 32-d, each recording shifted by its own offset.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import silhouette_score

from models.evaluate import METRICS, evaluate_kfold, kfold_splits, markdown_table, style_fusion
from models.metrics import (
    best_threshold_accuracy,
    centroid_accuracy,
    cosine_silhouette,
    hit_at_k,
    pair_scores,
    precision_at_k,
    roc_auc,
    silhouette_by_artist,
    softmax_accuracy,
    threshold_curve,
)

torch.set_num_threads(1)


def at(*degrees: float) -> np.ndarray:
    """Unit vectors in 2-d at the given angles (degrees)."""
    r = np.radians(degrees)
    return np.stack([np.cos(r), np.sin(r)], axis=1)


def separated(per_artist: int = 6, artists: int = 3, dim: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = np.repeat(np.eye(dim)[:artists], per_artist, axis=0)
    x = x + 0.01 * rng.standard_normal(x.shape)
    return x / np.linalg.norm(x, axis=1, keepdims=True), np.repeat(np.arange(artists), per_artist)


# ---- pairs ------------------------------------------------------------------------------
def test_pair_scores_lists_each_unordered_pair_once():
    z = np.array([[1.0, 0.0], [0.6, 0.8], [0.8, 0.6]])
    s, same = pair_scores(z, np.array([0, 0, 1]))
    np.testing.assert_allclose(s, [0.6, 0.8, 0.96])  # (0,1), (0,2), (1,2)
    assert same.tolist() == [True, False, False]


def test_separated_clusters_score_perfectly():
    z, y = separated()
    assert roc_auc(z, y) == 1.0
    acc, threshold = best_threshold_accuracy(z, y)
    assert acc == 1.0 and 0.0 < threshold < 1.0
    assert precision_at_k(z, y, z, y, k=5, exclude_self=True) == 1.0
    assert hit_at_k(z, y, z, y, k=5, exclude_self=True) == 1.0
    assert centroid_accuracy(z, y, z, y) == 1.0
    assert cosine_silhouette(z, y) > 0.9


def test_auc_of_a_hand_made_example():
    # pairs: (0,1) same 0.6, (2,3) same 0.6; different: 0.8, 0.0, 0.96, 0.8.
    # each same pair beats only the 0.0 pair: AUC = (1/4 + 1/4) / 2 = 0.25
    z = np.array([[1.0, 0.0], [0.6, 0.8], [0.8, 0.6], [0.0, 1.0]])
    assert roc_auc(z, np.array([0, 0, 1, 1])) == pytest.approx(0.25)


def test_auc_is_nan_without_both_pair_kinds():
    assert math.isnan(roc_auc(at(0, 10), np.array([0, 0])))
    assert math.isnan(roc_auc(at(0, 10), np.array([0, 1])))


def test_best_threshold_accuracy_small_cases():
    # one same pair at 0.8 above two different ones (0.6, 0.0): cut between 0.8 and 0.6
    z = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    acc, threshold = best_threshold_accuracy(z, np.array([0, 0, 1]))
    assert acc == 1.0 and threshold == pytest.approx(0.7)
    # add [0.6, 0.8] of artist 0; sorted pairs: .96 s, .8 s, .8 d, .6 s, .6 d, 0 d.
    # right per cut: none 3, after .96 4, after both .8 4, after both .6 4, all 3. A cut
    # may not split the tie at .8 (which would give 5): best 4/6, the first at 0.88.
    z = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [0.6, 0.8]])
    y = np.array([0, 0, 1, 0])
    acc, threshold = best_threshold_accuracy(z, y)
    assert acc == pytest.approx(4 / 6) and threshold == pytest.approx(0.88)
    accuracy, far, frr = threshold_curve(z, y, np.array([0.88, 0.7, 2.0, -1.0]))
    np.testing.assert_allclose(accuracy, [4 / 6, 4 / 6, 3 / 6, 3 / 6])
    np.testing.assert_allclose(far, [0.0, 1 / 3, 0.0, 1.0])
    np.testing.assert_allclose(frr, [2 / 3, 1 / 3, 1.0, 0.0])


def test_best_threshold_when_all_or_none_should_be_accepted():
    acc, threshold = best_threshold_accuracy(at(0, 10, 20), np.array([0, 0, 0]))
    assert acc == 1.0 and threshold == pytest.approx(np.cos(np.radians(20)))
    acc, threshold = best_threshold_accuracy(at(0, 10), np.array([0, 1]))
    assert acc == 1.0 and threshold > np.cos(np.radians(10))


# ---- classification ---------------------------------------------------------------------
def test_centroid_accuracy_with_a_query_nearer_the_wrong_centroid():
    # centroids: artist 0 at 10 degrees, artist 1 at 80. The query at 50 degrees belongs
    # to artist 0 but is 30 degrees from artist 1's centroid and 40 from its own.
    train, y_train = at(0, 20, 70, 90), np.array([0, 0, 1, 1])
    test, y_test = at(30, 50, 85), np.array([0, 0, 1])
    assert centroid_accuracy(train, y_train, test, y_test) == pytest.approx(2 / 3)
    assert math.isnan(centroid_accuracy(train, y_train, np.zeros((0, 2)), np.zeros(0, int)))


def test_centroid_accuracy_counts_an_unseen_artist_wrong():
    assert centroid_accuracy(at(0, 90), np.array([0, 1]), at(0, 45), np.array([0, 2])) == 0.5


def test_softmax_accuracy():
    proba = np.array([[0.7, 0.3], [0.6, 0.4], [0.1, 0.9]])
    assert softmax_accuracy(proba, np.array([0, 1, 1])) == pytest.approx(2 / 3)


# ---- clustering -------------------------------------------------------------------------
def test_silhouette_matches_sklearn():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((30, 5))
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    y = rng.integers(0, 3, 30)
    expected = silhouette_score(z, y, metric="cosine")
    assert cosine_silhouette(z, y) == pytest.approx(expected)
    per = silhouette_by_artist(z, y)
    assert sorted(per) == [0, 1, 2]
    counts = np.bincount(y)
    weighted = sum(per[a] * counts[a] for a in per) / len(y)
    assert weighted == pytest.approx(expected)


def test_silhouette_nan_when_undefined():
    assert math.isnan(cosine_silhouette(at(0, 10, 20), np.array([0, 0, 0])))
    assert math.isnan(cosine_silhouette(at(0, 10, 20), np.array([0, 1, 2])))
    assert all(math.isnan(v) for v in silhouette_by_artist(at(0, 10), np.array([0, 1])).values())


# ---- retrieval --------------------------------------------------------------------------
def test_precision_at_k_with_exclude_self():
    # angles 0, 10, 25, 90; artists 0, 0, 1, 1. Nearest other row: 0 -> 10 (hit),
    # 10 -> 0 (hit), 25 -> 10 (miss), 90 -> 25 (hit).
    z, y = at(0, 10, 25, 90), np.array([0, 0, 1, 1])
    assert precision_at_k(z, y, z, y, k=1, exclude_self=True) == pytest.approx(3 / 4)
    assert precision_at_k(z, y, z, y, k=1) == 1.0  # each row finds itself
    # two nearest others: [10, 25] .5, [0, 25] .5, [10, 0] 0, [25, 10] .5
    assert precision_at_k(z, y, z, y, k=2, exclude_self=True) == pytest.approx(0.375)
    assert hit_at_k(z, y, z, y, k=2, exclude_self=True) == pytest.approx(0.75)
    # k past the gallery shrinks to what is there (3 others each)
    assert precision_at_k(z, y, z, y, k=10, exclude_self=True) == pytest.approx(1 / 3)


def test_precision_at_k_query_against_gallery():
    gallery, y_gallery = at(0, 5, 10, 80, 90), np.array([0, 0, 0, 1, 1])
    queries, y_queries = at(3, 85), np.array([0, 0])
    # the query at 3 degrees: 3 nearest are artist 0; the one at 85: none of its 2 nearest
    assert precision_at_k(queries, y_queries, gallery, y_gallery, k=2) == pytest.approx(0.5)
    assert hit_at_k(queries, y_queries, gallery, y_gallery, k=2) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        precision_at_k(queries, y_queries, gallery, y_gallery, exclude_self=True)


# ---- k-fold evaluation ------------------------------------------------------------------
def kfold_data(seed: int = 0, artists: int = 6, recordings: int = 6, clips: int = 4):
    """(X (144, 32) unit rows, artist ids, recording ids, original mask, styles)."""
    rng = np.random.default_rng(seed)
    dim = 32
    centres = rng.standard_normal((artists, dim))
    x, labels, groups = [], [], []
    for a in range(artists):
        for r in range(recordings):
            offset = 1.0 * rng.standard_normal(dim)  # the recording's nuisance
            for _ in range(clips):
                x.append(centres[a] + offset + 0.3 * rng.standard_normal(dim))
                labels.append(a)
                groups.append(f"a{a}-r{r}")
    X = np.asarray(x, dtype=np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.asarray(labels)
    original = np.arange(len(y)) % clips != clips - 1  # the last clip of each is a "copy"
    styles = (y[:, None] + rng.standard_normal((len(y), 8))).astype(np.float32)
    styles[rng.random(styles.shape) < 0.2] = np.nan
    return X, y, np.asarray(groups), original, styles


def test_kfold_splits_keep_recordings_on_one_side():
    _, y, groups, original, _ = kfold_data()
    splits = kfold_splits(y, groups, folds=3, seed=0, original=original)
    assert len(splits) == 3
    tested = np.concatenate([test for _, test in splits])
    assert sorted(tested.tolist()) == np.flatnonzero(original).tolist()  # each once
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])
        assert original[test].all()
        # augmented copies of test recordings are not trained on either
        assert not set(groups[train]) & set(groups[~original & np.isin(groups, groups[test])])


@pytest.fixture(scope="module")
def kfold_result():
    X, y, groups, original, styles = kfold_data()
    lines: list[str] = []
    result = evaluate_kfold(
        X, y, groups, styles, original=original, folds=3, head_epochs=5, progress=lines.append
    )
    return result, lines


def test_evaluate_kfold_reports_every_method_and_metric(kfold_result):
    result, lines = kfold_result
    assert (result["folds"], result["n_clips"], result["n_artists"], result["n_groups"]) == (
        3,
        144,
        6,
        36,
    )
    assert list(result["methods"]) == ["raw", "lda", "siamese", "classifier", "raw+style"]
    for name, per in result["methods"].items():
        assert set(per) == set(METRICS)
        for metric, summary in per.items():
            assert len(summary["values"]) == 3
            if metric == "softmax_test_acc" and name != "classifier":
                assert math.isnan(summary["mean"])
            else:
                assert np.isfinite(summary["mean"]) and np.isfinite(summary["std"]), (name, metric)
    for per in result["methods"].values():
        assert 0.5 < per["auc"]["mean"] <= 1.0
        assert 0.0 <= per["p_at_5_test"]["mean"] <= per["hit_at_5_test"]["mean"] <= 1.0
    assert 0.0 <= result["methods"]["classifier"]["softmax_test_acc"]["mean"] <= 1.0
    assert len(lines) == 3 * 5


def test_markdown_table(kfold_result):
    table = markdown_table(kfold_result[0]).splitlines()
    assert len(table) == 2 + 5
    assert "P@5 test" in table[0] and "hit@5 test" in table[0]
    raw = next(line for line in table if line.startswith("| raw |"))
    assert "±" in raw and "—" in raw  # raw has no softmax accuracy


def test_evaluate_kfold_without_styles_or_heads():
    X, y, groups, _, _ = kfold_data(seed=1)
    result = evaluate_kfold(X, y, groups, folds=3, heads=())
    assert list(result["methods"]) == ["raw", "lda"]
    with pytest.raises(ValueError):
        evaluate_kfold(X, y, groups, folds=3, heads=("nope",))


def test_style_fusion_is_unit_and_fitted_on_train():
    X = np.tile(np.array([[1.0, 0.0]], np.float32), (4, 1))
    styles = np.array([[0.0], [2.0], [100.0], [np.nan]], np.float32)
    fused = style_fusion(X, styles, np.array([0, 1]), weight=0.5)
    np.testing.assert_allclose(np.linalg.norm(fused, axis=1), 1.0, rtol=1e-6)
    # train mean 1, std 1: z = -1, 1, 99, nan -> 0; style column = 0.5 z before normalising
    raw = np.array([[1.0, 0, -0.5], [1.0, 0, 0.5], [1.0, 0, 49.5], [1.0, 0, 0.0]])
    np.testing.assert_allclose(fused, raw / np.linalg.norm(raw, axis=1, keepdims=True), rtol=1e-5)
