"""``rapsim train`` on a real (small) catalogue: heads land beside it and load back."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from rapsim.cli import main

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_train_writes_both_heads_that_load_for_this_encoder_only(catalog_dir, tmp_path, capsys):
    from inference import Catalog
    from models import HeadError, apply_head, load_head, predict_proba
    from models.data import CatalogData

    cat_dir = shutil.copytree(catalog_dir, tmp_path / "cat")
    assert main(["train", str(cat_dir), "--epochs", "3", "--use", "none"]) == 0
    out = capsys.readouterr().out
    assert "3 artists, 9 recordings" in out and "siamese: best epoch" in out
    catalog = Catalog.load(cat_dir)  # with --use none the matching space is untouched
    assert catalog.matching == Catalog.load(catalog_dir).matching
    data = CatalogData.from_catalog(catalog)
    head, config, meta = load_head(cat_dir / "heads/siamese.pt", expect_encoder=catalog.encoder)
    assert config.loss == "supcon" and meta["encoder"]["name"] == catalog.encoder["name"]
    z = apply_head(head, data.X)
    assert z.shape == (len(data.y), config.output_dim)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-5)
    clf, clf_config, _ = load_head(cat_dir / "heads/classifier.pt", expect_encoder=catalog.encoder)
    assert clf_config.artists == tuple(catalog.artists)
    assert predict_proba(clf, data.X).shape == (len(data.y), 3)
    other = {**catalog.encoder, "version": "9.9"}
    with pytest.raises(HeadError):
        load_head(cat_dir / "heads/siamese.pt", expect_encoder=other)


def test_train_on_a_missing_catalogue_is_one_line(tmp_path, capsys):
    assert main(["train", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.startswith("rapsim: no catalogue at")


def test_evaluate_prints_the_table_and_writes_json(catalog_dir, tmp_path, capsys):
    import json

    out = tmp_path / "eval.json"
    plots = tmp_path / "plots"
    args = ["evaluate", str(catalog_dir), "--folds", "3", "--epochs", "3", "--json", str(out)]
    assert main([*args, "--plots", str(plots)]) == 0
    table = capsys.readouterr().out
    assert table.startswith("| method | AUC |")
    for method in ("raw", "lda", "siamese", "classifier", "raw+style"):
        assert f"\n| {method} |" in table
    # one clip per artist in each held-out fold: no same-artist pair to draw
    assert "wrote 16 plots" in table and "not drawn: silhouette, threshold" in table
    assert (plots / "mel_by_artist.png").stat().st_size > 10_000
    assert (plots / "classifier" / "confusion.png").is_file()
    result = json.loads(out.read_text())
    assert "details" not in result
    assert result["folds"] == 3 and result["n_artists"] == 3 and result["n_groups"] == 9
    cosine = result["methods"]["raw"]["cosine_test_acc"]
    assert len(cosine["values"]) == 3 and 0.0 <= cosine["mean"] <= 1.0
