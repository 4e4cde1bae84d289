"""Resemblance scales on small arrays with known answers, and through the matcher."""

from __future__ import annotations

import numpy as np
import pytest

from inference.catalog.matching import (
    aggregate_rows,
    apply_projection,
    fit_matching,
    fit_projection,
    score,
)
from inference.catalog.resemblance import (
    NEUTRAL_SCALE,
    Scale,
    artist_folds,
    artist_words,
    held_out_artists,
    nearest,
    pair_words,
)
from inference.voice.base import l2_normalize


def test_scale_is_the_share_of_the_reference_beaten() -> None:
    scale = Scale.of(np.arange(1001) / 1000)  # uniform 0..1
    assert scale.score(0.25) == pytest.approx(25.0, abs=0.2)
    assert scale.score(0.5) == pytest.approx(50.0, abs=0.2)
    assert scale.score(-3.0) == 0.0 and scale.score(3.0) == 100.0
    values = scale.score(np.linspace(-1, 2, 50))
    assert np.all(np.diff(values) >= 0)
    assert Scale.from_json(scale.to_json()).score(0.7) == pytest.approx(70.0, abs=0.2)


def test_scale_survives_ties_and_tiny_samples() -> None:
    tied = Scale.of(np.array([0.5, 0.5, 0.5, 0.5]))
    assert tied.score(0.4) == 0.0 and tied.score(0.6) == 100.0
    assert Scale.of(np.array([0.3])) is NEUTRAL_SCALE
    assert Scale.of(np.array([np.nan, np.nan])) is NEUTRAL_SCALE


def test_scale_rejects_bad_points() -> None:
    with pytest.raises(ValueError):
        Scale((0.0, 1.0))
    with pytest.raises(ValueError):
        Scale(tuple(np.linspace(1, 0, 101)))
    with pytest.raises(ValueError):
        Scale.from_json("nope")


def test_artist_folds_cover_every_artist_once() -> None:
    folds = artist_folds(12, 5)
    assert sorted(np.concatenate(folds).tolist()) == list(range(12))
    assert len(artist_folds(3, 5)) == 3 and artist_folds(1, 5) == []


def test_nearest_takes_the_best_finite_values_per_row() -> None:
    sims = np.array([[0.1, np.nan, 0.5, 0.3], [np.nan, 0.2, np.nan, np.nan]])
    assert sorted(nearest(sims, 2).tolist()) == [0.2, 0.3, 0.5]


def _voices(n_artists: int, seed: int = 0, clips: int = 6, dim: int = 24):
    """Artists as random centres in ``dim``-d, clips scattered around them."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_artists, dim))
    x = np.repeat(centres, clips, axis=0) + 0.35 * rng.standard_normal((n_artists * clips, dim))
    labels = np.repeat(np.arange(n_artists), clips)
    groups = np.arange(n_artists * clips)  # one recording per clip
    return l2_normalize(x.astype(np.float32)), labels, groups


def test_held_out_artists_are_missing_from_their_own_fold() -> None:
    x, labels, groups = _voices(10)
    groups = groups // 2  # two clips per recording
    held = held_out_artists(
        x,
        labels,
        groups,
        np.ones(len(labels), bool),
        lambda a, b, _: fit_projection(a, b, "lda"),
        apply_projection,
        lambda s, gl, n: aggregate_rows(s, gl, n, 3),
        folds=5,
    )
    assert held.sims.shape == (len(labels), 10) and len(held.clip_artist) == len(labels)
    for row, artist in zip(held.sims, held.clip_artist, strict=True):
        assert np.isnan(row[artist])  # never compared with itself
        assert np.isfinite(row).sum() == 8  # 10 artists, folds of 2
    # per fold of 2 artists x 3 recordings x 2 clips: same artist, other recording
    # 2 x (15 - 3) pairs; different artists 6 x 6
    assert held.same_pairs.size == 5 * 2 * 12 and held.different_pairs.size == 5 * 36
    assert np.median(held.same_pairs) > np.median(held.different_pairs)


def test_a_new_voice_gets_graded_scores_and_the_artist_gets_about_100() -> None:
    """What a member meets: voices left out of the catalogue get spread-out scores (not
    0 for everyone), a clip of a catalogue artist scores ~100 for that artist."""
    x, labels, groups = _voices(24, seed=1)
    catalogue = labels < 16  # artists 16..23 are "members"
    matching, proj = fit_matching(x[catalogue], labels[catalogue], groups[catalogue])
    scale = Scale.from_json(matching["resemblance"])
    gallery = apply_projection(proj, x[catalogue])
    members = apply_projection(proj, x[~catalogue])
    sims = aggregate_rows(members @ gallery.T, labels[catalogue], 16, 3)
    top = scale.score(sims.max(axis=1))
    assert 25 < np.median(top) < 95 and np.percentile(top, 75) - np.percentile(top, 25) >= 5
    second = scale.score(np.sort(sims, axis=1)[:, -2])
    assert np.median(second) > 5  # runners-up are graded too
    own = aggregate_rows(gallery @ gallery.T - 2 * np.eye(len(gallery)), labels[catalogue], 16, 3)
    assert np.median(scale.score(own[np.arange(len(own)), labels[catalogue]])) > 95


def test_a_fixed_projection_is_kept_for_the_held_out_artists() -> None:
    """A trained head cannot be refitted per fold: the scales then use it as it is, which
    for an identity map is the same as fitting no projection at all."""
    x, labels, groups = _voices(9)
    plain, _ = fit_matching(x, labels, groups, projection="none")
    fixed = {"mean": np.zeros(24, np.float32), "matrix": np.eye(24, dtype=np.float32)}
    kept, proj = fit_matching(x, labels, groups, projection="head:test", fixed=fixed)
    assert proj is not fixed and set(proj) == {"mean", "matrix"}
    np.testing.assert_allclose(plain["resemblance"], kept["resemblance"], atol=1e-5)
    np.testing.assert_allclose(plain["rank_calibration"], kept["rank_calibration"], rtol=1e-3)


def test_identity_fires_for_the_artist_not_for_new_voices() -> None:
    x, labels, groups = _voices(24, seed=2)
    catalogue = labels < 16
    matching, proj = fit_matching(x[catalogue], labels[catalogue], groups[catalogue])
    cal = tuple(matching["rank_calibration"])
    gallery = apply_projection(proj, x[catalogue])
    members = aggregate_rows(
        apply_projection(proj, x[~catalogue]) @ gallery.T, labels[catalogue], 16, 3
    )
    assert np.mean([score(s, cal) >= 50 for s in members.max(axis=1)]) < 0.1
    own = aggregate_rows(gallery @ gallery.T - 2 * np.eye(len(gallery)), labels[catalogue], 16, 3)
    truth = own[np.arange(len(own)), labels[catalogue]]
    assert np.mean([score(s, cal) >= 50 for s in truth]) > 0.9


def test_words_cover_the_whole_scale() -> None:
    for value in (0.0, 20.0, 50.0, 80.0, 99.0, 100.0, float("nan")):
        assert artist_words(value) and pair_words(value)
    assert artist_words(95) != artist_words(10)
