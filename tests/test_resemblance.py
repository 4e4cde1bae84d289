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
    REACH_TOP,
    Reach,
    Scale,
    artist_folds,
    artist_words,
    held_out_artists,
    nearest,
    pair_words,
    reach_reference,
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


# ---- reach: the target's practice score, with no floor -----------------------------------
def _matcher(x: np.ndarray, labels: np.ndarray, groups: np.ndarray):
    """An in-memory catalogue of ``x`` (every clip recorded) and its Matcher, as
    ``rapsim catalog build`` would fit them."""
    from inference.catalog.folder import Catalog, Clip, make_index
    from inference.catalog.matching import Matcher

    matching, proj = fit_matching(x, labels, groups)
    catalog = Catalog(
        encoder={"name": "test", "version": "0", "dim": x.shape[1]},
        artists=[f"A{i}" for i in range(int(labels.max()) + 1)],
        demo_artists=set(),
        clips=[Clip(int(a), f"s{g}", 0.0, 10.0) for a, g in zip(labels, groups, strict=True)],
        embeddings=x,
        styles=np.zeros((len(x), 8), np.float32),
        refs={},
        matching=matching,
        projection=proj,
    )
    matcher = Matcher(catalog)
    catalog.index = make_index(matcher.project(x))
    return matcher


def test_reach_is_a_line_from_the_least_alike_pair_to_where_resemblance_reads_99() -> None:
    scale = Scale.of(np.linspace(0.2, 0.8, 1001))
    reach = Reach.fit(np.array([-0.3, 0.1, np.nan, 0.5]), scale)
    assert reach.low == pytest.approx(-0.3) and reach.high == scale.points[REACH_TOP]
    assert reach.score(-0.3) == 0.0 and reach.score(reach.high) == pytest.approx(100.0)
    mid = (reach.low + reach.high) / 2
    assert reach.score(mid) == pytest.approx(50.0)
    assert reach.score(-1.0) == 0.0 and reach.score(1.0) == 100.0  # clipped, never past
    values = reach.score(np.linspace(-1, 1, 41))
    assert np.all(np.diff(values) >= 0)
    # nothing to place it from (one artist) or upside down: cosine 0 -> 0, 1 -> 100
    assert Reach.fit(np.empty(0), Scale.of(np.array([-0.5, -0.4]))) == Reach(0.0, 1.0)


def test_reach_reference_is_every_clip_against_every_other_artist() -> None:
    x, labels, _ = _voices(5, clips=4)

    def agg(sims: np.ndarray, gl: np.ndarray, n: int) -> np.ndarray:
        return aggregate_rows(sims, gl, n, 1)

    ref = reach_reference(x, labels, np.ones(len(x), bool), agg, chunk=3)
    assert ref.size == len(x) * 4  # each of the 20 clips vs the 4 artists that are not its own
    best_other = max(float((x[i] @ x[labels != labels[i]].T).max()) for i in range(len(x)))
    assert ref.max() == pytest.approx(best_other, abs=1e-6)  # never its own artist (~1)
    sampled = reach_reference(x, labels, np.ones(len(x), bool), agg, sample=6)
    assert sampled.size == 6 * 4 and set(sampled.tolist()) <= set(ref.tolist())
    recorded = np.arange(len(x)) % 2 == 0  # augmentations are gallery, never queries
    assert reach_reference(x, labels, recorded, agg).size == recorded.sum() * 4


def test_far_targets_move_with_reach_where_resemblance_reads_0() -> None:
    """The issue's check on voices the catalogue never saw: two takes of different voices
    toward the same far target (outside both takes' top 10) read different whole-point
    reach on >= 90 % of pairs, where resemblance reads 0 for (nearly) all of them; two
    takes of one voice move too (the practice flow's signed change)."""
    x, labels, groups = _voices(40, seed=3, clips=4)
    catalogue = labels < 32  # voices 32..39 are members, 4 takes each
    m = _matcher(x[catalogue], labels[catalogue], groups[catalogue])
    reach, resemblance, rank = [], [], []
    for take in x[~catalogue]:
        sims = m.artist_similarities(take)
        found = [m.standing(sims, a) for a in m.catalog.artists]
        reach.append([round(t.reach) for t, _ in found])
        resemblance.append([round(t.score) for t, _ in found])
        rank.append([r for _, r in found])
    reach_, res_, rank_ = (np.array(v) for v in (reach, resemblance, rank))
    who = labels[~catalogue]
    differ, moved, floored = [], [], []
    for i in range(len(who)):
        for j in range(i + 1, len(who)):
            far = (rank_[i] > 10) & (rank_[j] > 10)
            (differ if who[i] != who[j] else moved).append(reach_[i, far] != reach_[j, far])
            floored.append((res_[i, far] == 0) & (res_[j, far] == 0))
    assert np.concatenate(differ).mean() >= 0.9
    assert np.concatenate(moved).mean() >= 0.8
    assert np.concatenate(floored).mean() >= 0.9  # what members saw before reach
    # reach follows rank over the whole range: the closest high, the farthest low
    by_rank = [np.median(reach_[rank_ == r]) for r in (1, 10, 20, 32)]
    assert by_rank == sorted(by_rank, reverse=True) and by_rank[0] - by_rank[-1] > 40


def test_a_target_none_of_whose_clips_was_fetched_is_measured_exactly(monkeypatch) -> None:
    """In a catalogue bigger than the search (``MAX_SEARCH`` clips), a far artist has no
    clip among those fetched: -1, reach 0. Given the note's embedding, ``standing``
    measures it, as an exhaustive search would."""
    from inference.catalog import matching

    x, labels, groups = _voices(12, seed=4)
    m = _matcher(x, labels, groups)
    query = x[0] + 0.5 * x[-1]
    exact = m.artist_similarities(query)  # every clip fetched
    monkeypatch.setattr(matching, "MAX_SEARCH", 6)
    sims = m.artist_similarities(query)
    far = next(m.catalog.artists[i] for i in np.argsort(exact) if sims[i] == -1.0)
    blind, _ = m.standing(sims, far)
    assert blind.similarity == -1.0 and blind.reach == 0.0
    seen, _ = m.standing(sims, far, query)
    i = m.catalog.artists.index(far)
    assert seen.similarity == pytest.approx(exact[i], abs=1e-5)
    assert seen.reach == pytest.approx(float(m.reach.score(exact[i])), abs=1e-3)


def test_the_shipped_demo_catalogue_places_reach_without_a_rebuild() -> None:
    from inference.catalog.folder import Catalog
    from inference.catalog.matching import Matcher
    from inference.demo import SHIPPED_CATALOG

    catalog = Catalog.load(SHIPPED_CATALOG)
    assert "reach" not in catalog.matching  # nothing stored: placed from its clips
    m = Matcher(catalog)
    assert -1.0 <= m.reach.low < m.reach.high <= 1.0
    sims = m.artist_similarities(catalog.embeddings[0])
    matches = m.ranked(sims, top_k=len(catalog.artists))
    assert all(0.0 <= t.reach <= 100.0 for t in matches)
    assert [t.reach for t in matches] == sorted((t.reach for t in matches), reverse=True)
