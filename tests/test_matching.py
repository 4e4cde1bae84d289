"""Matching maths on small arrays with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from inference.catalog.matching import (
    aggregate,
    fit_matching,
    fit_projection,
    held_out_similarities,
    score,
)
from inference.voice.base import l2_normalize


def test_aggregate_mean_of_best_n() -> None:
    sims = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    artists = np.array([0, 1, 0, 0, 1])
    out = aggregate(sims, artists, 3, top_n=2)
    np.testing.assert_allclose(out, [(0.9 + 0.7) / 2, (0.8 + 0.5) / 2, -1.0])
    np.testing.assert_allclose(aggregate(sims, artists, 2, top_n=1), [0.9, 0.8])


def test_score_is_monotonic_and_bounded() -> None:
    cal = (20.0, -12.0)
    values = [score(s, cal) for s in np.linspace(-1, 1, 21)]
    assert values == sorted(values) and 0 <= values[0] < 1 and 99 < values[-1] <= 100
    assert score(0.6, cal) == pytest.approx(50.0)


def _clusters(seed: int = 0, nuisance: float = 3.0, artists: int = 4):
    """``artists`` artists x 3 recordings x 2 windows in 16-d; a shared nuisance direction varies
    strongly inside each artist (like a recording channel)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((artists, 16)) * 2
    channel = np.zeros(16)
    channel[0] = 1.0
    x, labels, groups = [], [], []
    for a in range(artists):
        for rec in range(3):
            shift = rng.standard_normal() * nuisance * channel
            for _ in range(2):
                x.append(centres[a] + shift + 0.3 * rng.standard_normal(16))
                labels.append(a)
                groups.append(a * 3 + rec)
    return l2_normalize(np.array(x)), np.array(labels), np.array(groups)


def test_held_out_similarities_never_use_the_same_recording() -> None:
    x, labels, groups = _clusters()
    x[1] = x[0]  # a duplicate inside one recording must not count
    held = held_out_similarities(x, groups, x, labels, groups, 4, top_n=1)
    own = held[0, labels[0]]
    others = x[(groups != groups[0]) & (labels == labels[0])] @ x[0]
    assert own == pytest.approx(float(others.max()), abs=1e-6)


def test_calibration_separates_same_from_different() -> None:
    x, labels, groups = _clusters()
    matching, proj = fit_matching(x, labels, groups)
    assert proj == {} and matching["projection"] == "none"  # 4 artists: no LDA
    a, b = matching["rank_calibration"]
    assert a > 0
    held = held_out_similarities(x, groups, x, labels, groups, 4, 3)
    same = held[np.arange(len(labels)), labels]
    other = np.where(np.eye(4, dtype=bool)[labels], -np.inf, held).max(axis=1)
    assert np.mean([score(s, (a, b)) for s in same]) > 80
    assert np.mean([score(s, (a, b)) for s in other]) < 30


@pytest.mark.parametrize("kind", ["wccn", "lda"])
def test_projection_shrinks_the_nuisance_direction(kind: str) -> None:
    from sklearn.metrics import silhouette_score

    x, labels, _ = _clusters(nuisance=4.0, artists=10)
    proj = fit_projection(x, labels, kind)
    y = l2_normalize((x - proj["mean"]) @ proj["matrix"])
    assert y.shape[1] == (9 if kind == "lda" else 16)
    before = silhouette_score(x, labels, metric="cosine")
    after = silhouette_score(y, labels, metric="cosine")
    assert after > before + 0.1


def test_projection_needs_enough_artists() -> None:
    x, labels, _ = _clusters(artists=4)
    assert fit_projection(x, labels, "lda") == {}
    with pytest.raises(ValueError, match="unknown projection"):
        fit_projection(x, labels, "pca")
