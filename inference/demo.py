"""The bundled demo: nine synthetic "artists" (freely licensed Debian TTS voices) and a
sample member note by a tenth voice that is not in the catalogue (no member is), so
``rapsim demo`` works on a fresh clone with no data and no token and shows what a member
sees.

The clips ship in ``inference/demo_data`` (see its ATTRIBUTION.md). The catalogue is built
from them on first use into the user's cache folder, keyed by the encoder and a hash of
the clips, and loaded from there afterwards.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path

from .augment import AUGMENT_SETS, DEFAULT_AUGMENT
from .build import Progress, build_catalog
from .catalog import FORMAT_VERSION, Catalog
from .errors import CatalogError
from .matching import DEFAULT_PROJECTION, DEFAULT_TOP_N
from .pipeline import Pipeline

log = logging.getLogger(__name__)

DEMO_DATA = Path(__file__).resolve().parent / "demo_data"
DEMO_CLIPS = DEMO_DATA / "clips"
SAMPLE_NOTE = DEMO_DATA / "sample_note.ogg"


def cache_dir() -> Path:
    base = os.environ.get("RAPSIM_CACHE") or os.environ.get("XDG_CACHE_HOME")
    return Path(base).expanduser() / "rapsim" if base else Path.home() / ".cache" / "rapsim"


def _clips_digest() -> str:
    h = hashlib.sha256()
    for p in sorted(DEMO_CLIPS.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(DEMO_CLIPS)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:12]


def demo_augment() -> str:
    """The default augmentation set, or "gallery" where ffmpeg (opus) is missing."""
    if DEFAULT_AUGMENT == "channel" and shutil.which("ffmpeg") is None:
        log.warning("ffmpeg is not installed: the demo catalogue is built without phone variants")
        return "gallery"
    return DEFAULT_AUGMENT


def demo_catalog_path(pipeline: Pipeline) -> Path:
    """Cache folder keyed by everything the catalogue depends on: encoder, format, build
    recipe (augmentations, projection, top_n) and the clips themselves."""
    enc = pipeline.encoder
    recipe = (
        f"{enc.name}|{enc.version}|{FORMAT_VERSION}|{sorted(AUGMENT_SETS[demo_augment()])}|"
        f"{DEFAULT_PROJECTION}|{DEFAULT_TOP_N}"
    )
    key = hashlib.sha256(recipe.encode()).hexdigest()[:8]
    return cache_dir() / f"demo-catalog-{enc.name}-{key}-{_clips_digest()}"


def demo_catalog(pipeline: Pipeline, progress: Progress | None = None) -> Catalog:
    """Load the demo catalogue for this encoder from the cache, building it if needed."""
    if not DEMO_CLIPS.is_dir():
        raise CatalogError(f"the demo clips are missing from {DEMO_CLIPS}")
    path = demo_catalog_path(pipeline)
    if (path / "manifest.json").is_file():
        try:
            return Catalog.load(path)
        except CatalogError as e:
            log.warning("rebuilding the demo catalogue: %s", e)
    log.info("building the demo catalogue into %s", path)
    catalog, report = build_catalog(
        DEMO_CLIPS, pipeline, demo=True, augment=demo_augment(), progress=progress
    )
    for line in report.skipped:
        log.warning("demo clip skipped: %s", line)
    catalog.save(path)
    return catalog
