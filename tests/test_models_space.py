"""A trained head as a catalogue's matching space: numpy equals torch, analysis uses it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from inference import Analyzer, AnalyzerOptions, Catalog, add_clips
from inference.catalog.matching import HEAD_KEYS, Matcher, apply_projection
from models import HeadConfig, HeadError, apply_head, build_head, train_head
from models.data import CatalogData
from models.space import drop_head, head_projection, use_head
from tests.conftest import LINES, speak

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.mark.parametrize("kind", ["siamese", "classifier"])
def test_numpy_projection_equals_the_torch_head(kind: str) -> None:
    torch.manual_seed(3)
    config = HeadConfig(input_dim=40, kind=kind, artists=("a", "b", "c"))
    head = build_head(config).eval()
    with torch.no_grad():  # move LayerNorm off its identity start so the test can fail
        head.trunk[1].weight.uniform_(0.5, 1.5)
        head.trunk[1].bias.uniform_(-0.2, 0.2)
    x = np.random.default_rng(0).standard_normal((50, 40)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    arrays = head_projection(head)
    assert set(arrays) == set(HEAD_KEYS)
    got = apply_projection(arrays, x)
    np.testing.assert_allclose(got, apply_head(head, x), atol=2e-5)
    np.testing.assert_allclose(apply_projection(arrays, x[0]), got[0], atol=1e-6)  # one row


def _trained(catalog: Catalog):
    data = CatalogData.from_catalog(catalog)
    config = HeadConfig(input_dim=data.X.shape[1], loss="supcon", epochs=5)
    result = train_head(config, data.X, data.y, data.groups, encoder=data.encoder)
    return result.head, config, {"encoder": result.encoder}


def test_a_catalogue_ranks_in_its_head_space(
    catalog_dir: Path, clips_dir: Path, pipeline, tmp_path: Path
) -> None:
    base = Catalog.load(catalog_dir)
    head, config, meta = _trained(base)
    cat = use_head(base, head, config, meta, file="heads/siamese.pt")
    assert cat.matching["projection"] == "head:siamese/supcon"
    assert cat.matching["head"]["file"] == "heads/siamese.pt"
    assert cat.matching["augment"] == base.matching["augment"]
    assert cat.matching["rank_calibration"] != base.matching["rank_calibration"]
    saved = Catalog.load(cat.save(tmp_path / "headcat"))
    vectors = Matcher(saved).project(saved.embeddings)
    assert vectors.shape == (len(saved.clips), config.output_dim)
    np.testing.assert_allclose(vectors, apply_head(head, saved.embeddings), atol=2e-5)
    # the index holds head-space vectors: a catalogue clip finds itself first
    sims, idx = saved.index.search(vectors[:5], 1)
    assert idx[:, 0].tolist() == list(range(5)) and np.allclose(sims[:, 0], 1.0, atol=1e-4)
    analyzer = Analyzer(saved, pipeline)
    for artist in ("Alpha", "Bravo", "Charlie"):
        r = analyzer.analyze(clips_dir / artist / "0.wav", AnalyzerOptions(image=False))
        assert r.matches[0].artist == artist
    back = drop_head(saved)
    assert back.matching["projection"] == "none"  # 3 artists: too few for LDA
    assert "head" not in back.matching and back.projection == {}


def test_a_head_for_another_encoder_is_refused(catalog_dir: Path) -> None:
    base = Catalog.load(catalog_dir)
    head, config, _ = _trained(base)
    other = {"encoder": {"name": base.encoder["name"], "version": "9.9", "dim": 256}}
    with pytest.raises(HeadError, match=r"trained on resemblyzer 9\.9"):
        use_head(base, head, config, other)


def test_adding_an_artist_keeps_the_head(catalog_dir: Path, pipeline, tmp_path: Path) -> None:
    base = Catalog.load(catalog_dir)
    head, config, meta = _trained(base)
    cat = use_head(base, head, config, meta)
    files = [speak(LINES[0] + " " + LINES[1], "en-us+f4", tmp_path / "d.wav")]
    bigger, report = add_clips(cat, pipeline, "Delta", files)
    assert report.clips == 1
    assert bigger.matching["projection"] == "head:siamese/supcon"
    for k in HEAD_KEYS:
        np.testing.assert_array_equal(bigger.projection[k], cat.projection[k])
    r = Analyzer(bigger, pipeline).analyze(files[0], AnalyzerOptions(image=False))
    assert r.matches[0].artist == "Delta"


def test_rapsim_train_switches_the_catalogue_and_back(catalog_dir: Path, tmp_path, capsys):
    from rapsim.cli import main

    cat_dir = shutil.copytree(catalog_dir, tmp_path / "cat")
    before = Catalog.load(cat_dir).matching["projection"]
    assert main(["train", str(cat_dir), "--epochs", "3", "--head", "siamese"]) == 0
    assert Catalog.load(cat_dir).matching["projection"] == before  # heads are opt-in now
    assert (cat_dir / "heads" / "siamese.pt").is_file()
    capsys.readouterr()
    args = ["train", str(cat_dir), "--epochs", "3", "--head", "siamese", "--use", "siamese"]
    assert main(args) == 0
    assert "ranks artists in the siamese head's space (supcon)" in capsys.readouterr().out
    assert Catalog.load(cat_dir).matching["projection"] == "head:siamese/supcon"
    args = ["train", str(cat_dir), "--epochs", "2", "--head", "classifier", "--use", "none"]
    assert main(args) == 0
    assert "LDA space again" in capsys.readouterr().out
    assert Catalog.load(cat_dir).matching["projection"] == "none"
    assert main(["train", str(cat_dir), "--head", "classifier", "--use", "siamese"]) == 2
