"""Held-out details for the plots (known answers), the plots themselves, ``--plots``."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from models.evaluate import SpaceDetails, evaluate_kfold
from models.metrics import threshold_curve, threshold_curve_from_pairs
from models.plots import PLOTS, mel_page, write_plots
from tests.test_models_metrics import kfold_data

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def at(*degrees: float) -> np.ndarray:
    r = np.radians(degrees)
    return np.stack([np.cos(r), np.sin(r)], axis=1)


def test_space_details_known_answers():
    d = SpaceDetails(n_artists=3)
    # training centroids at 0 and 90 degrees; artist 2 never trained on
    zt, yt = at(0, 0, 90, 90), np.array([0, 0, 1, 1])
    zq, yq = at(10, 80, 60, 30), np.array([0, 0, 1, 2])
    d.add_fold(zt, yt, zq, yq)
    conf = d.confusion()
    assert conf.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]  # 30 deg goes to artist 0
    sims, same = d.pairs()
    assert len(sims) == 6 and same.sum() == 1
    assert sims[same][0] == pytest.approx(np.cos(np.radians(70)))
    sim = d.similarity()
    # artist 0 with itself: only the pair (10, 80); 0 with 1: (10, 60) and (80, 60)
    assert sim[0, 0] == pytest.approx(np.cos(np.radians(70)))
    assert sim[0, 1] == pytest.approx(np.mean(np.cos(np.radians([50, 20]))))
    assert sim[1, 0] == pytest.approx(sim[0, 1])
    assert np.isnan(sim[1, 1]) and np.isnan(sim[2, 2])  # one clip each: no pair
    per = d.silhouette_by_artist()
    assert set(per) == {0, 1, 2} and per[1] == 0.0 and per[2] == 0.0  # singletons score 0
    assert d.first_fold["test"].shape == (4, 2)
    # a second fold adds to the counts, not replaces them
    d.add_fold(zt, yt, at(5, 85), np.array([0, 1]))
    assert d.confusion().sum() == 6 and d.confusion()[1, 1] == 2
    assert d.first_fold["test"].shape == (4, 2)


def test_threshold_curve_from_pairs_matches_the_embedding_version():
    z, y = at(0, 10, 50, 90, 100), np.array([0, 0, 1, 1, 1])
    ts = np.array([-1.0, 0.5, 0.9, 1.1])
    from models.metrics import pair_scores

    got = threshold_curve_from_pairs(*pair_scores(z, y), ts)
    for a, b in zip(got, threshold_curve(z, y, ts), strict=True):
        np.testing.assert_allclose(a, b)


@pytest.fixture(scope="module")
def collected():
    X, y, groups, original, styles = kfold_data(artists=9, recordings=4, clips=3)
    return evaluate_kfold(
        X, y, groups, styles, original=original, folds=3, head_epochs=3, collect=True
    )


def test_collect_gives_every_method_details_over_all_held_out_clips(collected):
    details = collected["details"]
    assert list(details) == list(collected["methods"])
    n_test = collected["n_groups"] * 2  # 2 original clips of each recording, each tested once
    for method, d in details.items():
        assert d.confusion().sum() == n_test, method
        acc = np.trace(d.confusion()) / n_test
        assert 0.0 <= acc <= 1.0
    # with 9 artists LDA is a real projection: 8 dimensions, unit rows
    lda = details["lda"].first_fold["train"]
    assert lda.shape[1] == 8
    np.testing.assert_allclose(np.linalg.norm(lda, axis=1), 1.0, atol=1e-5)


def test_write_plots_draws_every_plot_as_a_png(collected, tmp_path):
    names = [f"Artist {i}" for i in range(9)]
    files = write_plots(collected["details"], names, tmp_path)
    assert len(files) == len(PLOTS) * len(collected["details"])
    assert (tmp_path / "raw_style" / "tsne.png") in files
    for f in files:
        with Image.open(f) as im:
            assert im.format == "PNG" and im.width > 300 and im.height > 200
            # not a blank canvas
            assert len(set(np.asarray(im.convert("L")).ravel().tolist())) > 20


def test_write_plots_skips_what_has_nothing_to_show(tmp_path):
    empty = SpaceDetails(n_artists=2)
    assert write_plots({"raw": empty}, ["a", "b"], tmp_path) == []


def test_mel_page(tmp_path):
    rng = np.random.default_rng(0)
    refs = {0: rng.integers(0, 255, (64, 100), dtype=np.uint8), 2: np.zeros((64, 0), np.uint8)}
    page = mel_page(refs, ["A", "B", "C"], tmp_path / "mel.png", 30.0)
    assert page is not None and Image.open(page).format == "PNG"
    assert mel_page({}, ["A"], tmp_path / "none.png", 30.0) is None
