"""Parallel, resumable catalogue builds: N jobs, an interrupted build resumed, and a
damaged cache all give the catalogue one job gives, byte for byte; a bad file is
reported and left out without losing the rest."""

from __future__ import annotations

import logging
import multiprocessing
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inference import Catalog, CatalogError, Pipeline, PipelineOptions, build_catalog
from inference.build.jobs import _Cache, embed_files, recipe_digest

AUGMENT = "gallery"  # random draws (room, noise) seeded per clip; no ffmpeg needed


@pytest.fixture(scope="module")
def small_clips(clips_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two artists, two clips each, and a file that is not audio."""
    root = tmp_path_factory.mktemp("small")
    for artist in ("Alpha", "Bravo"):
        (root / artist).mkdir()
        for name in ("0.wav", "1.wav"):
            shutil.copy(clips_dir / artist / name, root / artist / name)
    (root / "Bravo" / "broken.wav").write_text("not audio at all\n" * 100)
    return root


@pytest.fixture(scope="module")
def one_thread(encoder) -> Iterator[Pipeline]:
    """A pipeline on one torch thread, as every build worker runs (restored after)."""
    import torch

    threads = torch.get_num_threads()
    yield Pipeline(encoder, PipelineOptions(threads=1))
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def reference(small_clips: Path, one_thread: Pipeline):
    return build_catalog(small_clips, one_thread, augment=AUGMENT)


def assert_same(a: Catalog, b: Catalog) -> None:
    assert a.artists == b.artists and a.clips == b.clips
    np.testing.assert_array_equal(a.embeddings, b.embeddings)
    np.testing.assert_array_equal(a.styles, b.styles)
    assert a.refs.keys() == b.refs.keys()
    for k in a.refs:
        np.testing.assert_array_equal(a.refs[k], b.refs[k])
    assert a.matching == b.matching
    assert a.projection.keys() == b.projection.keys()
    for k in a.projection:
        np.testing.assert_array_equal(a.projection[k], b.projection[k])


def stop_after(n: int):
    """A progress callback that presses Ctrl-C once ``n`` files are done."""

    def progress(items: Iterable[Any], total: int) -> Iterator[Any]:
        for done, item in enumerate(items):
            if done == n:
                raise KeyboardInterrupt
            yield item

    return progress


def test_reference_build_reports_the_bad_file(reference) -> None:
    catalog, report = reference
    assert report.clips == 4 and report.cached == 0
    assert len(report.skipped) == 1 and report.skipped[0].startswith("Bravo/broken.wav: ")
    assert catalog.artists == ["Alpha", "Bravo"]
    assert len(catalog.clips) == 4 * (1 + 6)  # each window and its six gallery variants


def test_two_jobs_interrupted_and_resumed_build_the_same_catalogue(
    small_clips: Path, one_thread: Pipeline, reference, tmp_path: Path, caplog
) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(KeyboardInterrupt):
        build_catalog(
            small_clips,
            one_thread,
            augment=AUGMENT,
            jobs=2,
            cache_dir=cache,
            progress=stop_after(2),
        )
    assert not multiprocessing.active_children()  # the workers were ended, not left running
    kept = len(list(cache.glob("*.npz")))
    assert 2 <= kept <= 4

    resumed, report = build_catalog(
        small_clips, one_thread, augment=AUGMENT, jobs=2, cache_dir=cache
    )
    assert report.cached == kept and report.clips == 4
    assert_same(resumed, reference[0])
    assert report.skipped == reference[1].skipped
    assert len(list(cache.glob("*.npz"))) == 4  # the bad file is not cached: tried again

    # a cache file cut off mid-write (or damaged later) is embedded again, with a warning
    damaged = sorted(cache.glob("*.npz"))[0]
    damaged.write_bytes(damaged.read_bytes()[:100])
    with caplog.at_level(logging.WARNING, logger="inference.build.jobs"):
        again, report = build_catalog(small_clips, one_thread, augment=AUGMENT, cache_dir=cache)
    assert report.cached == 3 and "unreadable" in caplog.text
    assert_same(again, reference[0])


def test_cache_key_covers_name_and_recipe(small_clips: Path, one_thread: Pipeline, tmp_path):
    """Variant draws are seeded by the clip's name: the same bytes under another name are
    another entry; so is another augmentation set."""
    wav = small_clips / "Alpha" / "0.wav"
    cache = _Cache(tmp_path, recipe_digest(one_thread, AUGMENT))
    assert cache.path_for("Alpha/0.wav", wav) == cache.path_for("Alpha/0.wav", wav)
    assert cache.path_for("Alpha/0.wav", wav) != cache.path_for("Bravo/0.wav", wav)
    other = _Cache(tmp_path, recipe_digest(one_thread, "none"))
    assert cache.path_for("Alpha/0.wav", wav) != other.path_for("Alpha/0.wav", wav)
    assert cache.path_for("Alpha/x.wav", tmp_path / "missing.wav") is None


def test_jobs_are_checked(small_clips: Path, one_thread: Pipeline) -> None:
    with pytest.raises(ValueError, match="jobs must be at least 1"):
        list(
            embed_files([("A/0.wav", small_clips / "Alpha" / "0.wav")], one_thread, AUGMENT, jobs=0)
        )
    with pytest.raises(CatalogError, match="no such folder"):
        build_catalog(small_clips / "nowhere", one_thread, jobs=2)


def test_an_unexpected_error_leaves_out_that_file_only(
    small_clips: Path, one_thread: Pipeline, monkeypatch, caplog
) -> None:
    """A library failing on one odd file (not a RapsimError) is reported with its
    traceback in the log; the build goes on with the other files."""
    import inference.build.jobs as jobs

    real = jobs.embed_file

    def fails_on_alpha(pipeline, path, source, augment):
        if source.startswith("Alpha/"):
            raise ValueError("odd file")
        return real(pipeline, path, source, augment)

    monkeypatch.setattr(jobs, "embed_file", fails_on_alpha)
    files = [("Alpha/0.wav", small_clips / "Alpha" / "0.wav")]
    files.append(("Bravo/0.wav", small_clips / "Bravo" / "0.wav"))
    with caplog.at_level(logging.ERROR, logger="inference.build.jobs"):
        first, second = embed_files(files, one_thread, "none")
    assert (
        first.rows is None and first.error == "Alpha/0.wav: unexpected error (ValueError: odd file)"
    )
    assert "Traceback" in caplog.text
    assert second.rows is not None and len(second.rows.starts) == 1
