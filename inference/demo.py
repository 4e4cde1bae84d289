"""The bundled demo: nine synthetic "artists" (freely licensed Debian TTS voices) and a
sample member note by a tenth voice that is not in the catalogue (no member is), so
``rapsim demo`` works on a fresh clone with no data and no token and shows what a member
sees.

The clips ship in ``inference/demo_data`` (see its ATTRIBUTION.md), and so does their
catalogue, built (``demo_data/catalog``, with ``built_from.json`` saying from what), so
the first ``rapsim demo`` loads it in a second instead of embedding minutes of audio. It
is used only when its recipe (encoder, catalogue format, augmentation, projection, the
clips' bytes) is the one this code would build; otherwise (another encoder, changed
clips) the catalogue is built from the clips on first use into the user's cache folder,
keyed by that recipe, and loaded from there afterwards. ``demo_data/make_demo_catalog.py``
rebuilds the shipped one; a test fails when it is stale.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .build.augment import AUGMENT_SETS, DEFAULT_AUGMENT
from .build.builder import Progress, build_catalog
from .catalog.folder import FORMAT_VERSION, Catalog, atomic_write
from .catalog.matching import DEFAULT_PROJECTION, DEFAULT_TOP_N
from .errors import CatalogError
from .pipeline import Pipeline

log = logging.getLogger(__name__)

DEMO_DATA = Path(__file__).resolve().parent / "demo_data"
DEMO_CLIPS = DEMO_DATA / "clips"
SAMPLE_NOTE = DEMO_DATA / "sample_note.ogg"
SHIPPED_CATALOG = DEMO_DATA / "catalog"
BUILT_FROM = "built_from.json"  # the recipe of the shipped catalogue, beside its manifest
REGENERATE = "python inference/demo_data/make_demo_catalog.py"


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


def demo_recipe(pipeline: Pipeline, augment: str = DEFAULT_AUGMENT) -> dict[str, Any]:
    """Everything a demo catalogue depends on: encoder, format, build settings, clips."""
    enc = pipeline.encoder
    return {
        "encoder": {"name": enc.name, "version": enc.version, "dim": enc.dim},
        "format_version": FORMAT_VERSION,
        "augment": sorted(AUGMENT_SETS[augment]),
        "projection": DEFAULT_PROJECTION,
        "top_n": DEFAULT_TOP_N,
        "clips": _clips_digest(),
        "separator": pipeline.separator.digest if pipeline.separator else "",
    }


def demo_catalog_path(pipeline: Pipeline) -> Path:
    """Cache folder of a demo catalogue built here, keyed by its recipe."""
    recipe = demo_recipe(pipeline, demo_augment())
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:8]
    return cache_dir() / f"demo-catalog-{recipe['encoder']['name']}-{key}-{recipe['clips']}"


def shipped_differences(pipeline: Pipeline, folder: Path = SHIPPED_CATALOG) -> list[str]:
    """How the shipped catalogue's recipe differs from the one this code builds ([]: none)."""
    try:
        shipped = json.loads((folder / BUILT_FROM).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [f"{folder / BUILT_FROM} is missing or unreadable"]
    wanted = demo_recipe(pipeline)
    return [
        f"{key}: shipped {shipped.get(key)!r}, this code builds {value!r}"
        for key, value in wanted.items()
        if shipped.get(key) != value
    ]


def shipped_catalog(pipeline: Pipeline) -> Catalog | None:
    """The demo catalogue shipped in the package, if it is the one this code would build."""
    differences = shipped_differences(pipeline)
    if differences:
        log.info("the shipped demo catalogue does not fit: %s", "; ".join(differences))
        return None
    try:
        return Catalog.load(SHIPPED_CATALOG)
    except CatalogError as e:
        log.warning("the shipped demo catalogue is unusable (%s): building one", e)
        return None


def demo_catalog(pipeline: Pipeline, progress: Progress | None = None, jobs: int = 1) -> Catalog:
    """The shipped demo catalogue when it fits this encoder; else the one built into the
    cache (built from the clips first, with ``jobs`` processes, if it is not there)."""
    if not DEMO_CLIPS.is_dir():
        raise CatalogError(f"the demo clips are missing from {DEMO_CLIPS}")
    shipped = shipped_catalog(pipeline)
    if shipped is not None:
        return shipped
    path = demo_catalog_path(pipeline)
    if (path / "manifest.json").is_file():
        try:
            return Catalog.load(path)
        except CatalogError as e:
            log.warning("rebuilding the demo catalogue: %s", e)
    log.info("building the demo catalogue into %s", path)
    catalog = _build(pipeline, demo_augment(), progress, jobs)
    catalog.save(path)
    return catalog


def _build(
    pipeline: Pipeline,
    augment: str,
    progress: Progress | None,
    jobs: int,
    build_cache: Path | None = None,
) -> Catalog:
    catalog, report = build_catalog(
        DEMO_CLIPS,
        pipeline,
        demo=True,
        augment=augment,
        progress=progress,
        jobs=jobs,
        cache_dir=build_cache,
    )
    for line in report.skipped:
        log.warning("demo clip skipped: %s", line)
    return catalog


def write_shipped_catalog(
    pipeline: Pipeline, jobs: int, progress: Progress | None = None, folder: Path | None = None
) -> Path:
    """Build the demo catalogue with the default recipe (needs ffmpeg) into ``folder``
    (default: the package's), replacing what is there only once the new one is whole.
    Files already embedded by an earlier run with the same code are reused."""
    if shutil.which("ffmpeg") is None:
        raise CatalogError("the shipped demo catalogue has phone variants: install ffmpeg")
    folder = folder or SHIPPED_CATALOG
    catalog = _build(pipeline, DEFAULT_AUGMENT, progress, jobs, cache_dir() / "demo-build-cache")
    new = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    old = folder.with_name(f".{folder.name}.old")
    try:
        catalog.save(new)
        recipe = json.dumps(demo_recipe(pipeline), indent=1, sort_keys=True) + "\n"
        atomic_write(new / BUILT_FROM, recipe.encode())
        for p in (new, *new.iterdir()):  # package data: readable by whoever installs it
            p.chmod(0o755 if p.is_dir() else 0o644)
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        new.rename(folder)
    finally:
        shutil.rmtree(new, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return folder
