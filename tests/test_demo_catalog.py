"""The demo catalogue shipped in the package: current, loadable, small, used without a
build, and what its clips still embed to.

Every failure here means the shipped catalogue is stale; the message says how to
regenerate it. Tolerance for re-embedded vectors: TOLERANCE (1e-5) per value (the vectors are
unit-norm, 256 values of about 0.06); on the machine that built it the difference is 0.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from inference import Catalog, demo_catalog, refit_matching
from inference.build.jobs import windows
from inference.demo import DEMO_CLIPS, REGENERATE, SHIPPED_CATALOG, shipped_differences

STALE = f"the shipped demo catalogue is stale: regenerate it with `{REGENERATE}`"
TOLERANCE = 1e-5  # per value; measured: 0 with one torch thread, 6e-8 with two
MAX_BYTES = 3_000_000  # "a few MB at most" in the package


@pytest.fixture(scope="module")
def shipped() -> Catalog:
    return Catalog.load(SHIPPED_CATALOG)  # format version, checksums, index size


def test_recipe_is_the_one_this_code_builds(pipeline) -> None:
    differences = shipped_differences(pipeline)
    assert not differences, f"{STALE}: " + "; ".join(differences)


def test_it_is_small(shipped: Catalog) -> None:
    size = sum(p.stat().st_size for p in SHIPPED_CATALOG.iterdir())
    assert size < MAX_BYTES
    assert shipped.demo_artists == set(shipped.artists)
    assert sorted(shipped.artists) == sorted(p.name for p in DEMO_CLIPS.iterdir())


def test_matching_is_what_this_code_fits(shipped: Catalog) -> None:
    """Refitting the matching space on the stored vectors gives the stored one back."""
    refit = refit_matching(shipped, projection=shipped.matching["projection"])
    assert refit.matching.keys() == shipped.matching.keys(), STALE
    for key, value in shipped.matching.items():
        numeric = isinstance(value, float) or (
            isinstance(value, list) and all(isinstance(v, float) for v in value)
        )
        expected = pytest.approx(value, rel=1e-5, abs=1e-6) if numeric else value
        assert refit.matching[key] == expected, f"{STALE} ({key})"
    assert refit.projection.keys() == shipped.projection.keys(), STALE
    for key, array in shipped.projection.items():
        np.testing.assert_allclose(
            refit.projection[key], array, rtol=1e-4, atol=1e-6, err_msg=STALE
        )


def test_clips_embed_to_their_stored_vectors(shipped: Catalog, pipeline) -> None:
    """The first clip of three artists, embedded now, against its stored vector (the
    variants' seeds are checked by tests/test_build_jobs.py)."""
    for artist in shipped.artists[:3]:
        path = sorted((DEMO_CLIPS / artist).iterdir())[0]
        source = f"{artist}/{path.name}"
        (window,) = windows(pipeline.decode(path).wav)  # demo clips are one window each
        fresh = pipeline.embedding_from_wav(window[1])
        stored = [i for i, c in enumerate(shipped.clips) if c.source == source and not c.variant]
        assert len(stored) == 1, f"{STALE}: no clip {source}"
        np.testing.assert_allclose(
            fresh, shipped.embeddings[stored[0]], atol=TOLERANCE, rtol=0, err_msg=STALE
        )


def test_demo_catalog_loads_it_without_a_build(pipeline, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("RAPSIM_CACHE", str(tmp_path))
    catalog = demo_catalog(pipeline)
    assert catalog.path == SHIPPED_CATALOG
    assert not any(tmp_path.iterdir())  # nothing built into the cache


def test_another_encoder_gets_a_catalogue_of_its_own() -> None:
    encoder = SimpleNamespace(name="hubert", version="x", dim=768)
    hubert = SimpleNamespace(encoder=encoder, separator=None)
    differences = shipped_differences(hubert)  # type: ignore[arg-type]
    assert differences[0].startswith("encoder: shipped")
    assert {d.split(":")[0] for d in differences} <= {"encoder", "separator"}
    missing = shipped_differences(hubert, SHIPPED_CATALOG.parent / "nowhere")  # type: ignore[arg-type]
    assert missing and "missing" in missing[0]
