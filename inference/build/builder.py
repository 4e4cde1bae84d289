"""Building a catalogue from audio: one folder per artist, long files cut into windows.

``CLIPS_DIR/<Artist Name>/*.mp3|wav|ogg|opus|flac|m4a|aac|webm|mp4`` -> a :class:`Catalog`.
Each window goes through the same :class:`Pipeline` as a member's note. A file that
cannot be read, or a window without voice (an instrumental intro), is skipped and
reported, never fatal; a catalogue with no usable clip is. Embedding the files (in worker
processes, resumable from a per-file cache) is ``inference.build_jobs``'s part; this
module puts their rows together in file order and fits the matching space.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..catalog.folder import Catalog, Clip, make_index
from ..catalog.matching import (
    DEFAULT_PROJECTION,
    DEFAULT_TOP_N,
    HEAD_PREFIX,
    PROJECTIONS,
    Matcher,
    fit_matching,
)
from ..catalog.resemblance import REFERENCE_FOLDS
from ..errors import CatalogError
from ..pipeline import Pipeline
from .augment import AUGMENT_SETS, DEFAULT_AUGMENT, augment_set_of
from .jobs import FileRows, Progress, embed_files

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = frozenset(
    {".mp3", ".wav", ".ogg", ".oga", ".opus", ".flac", ".m4a", ".aac", ".webm", ".mp4"}
)
CATALOG_MAX_FILE_SECONDS = 20 * 60.0  # a catalogue clip may be a whole song; 20 min at most
BUILD_CACHE = ".build-cache"  # per-file rows, inside the catalogue folder being built


@dataclass
class BuildReport:
    clips: int = 0
    skipped: list[str] = field(default_factory=list)  # "file: why"
    cached: int = 0  # files read from the build cache instead of embedded again
    # per file embedded: (source, voiced seconds kept, windows kept, windows): how much
    # usable rapping a song gave once its instrumental parts and intro were left out
    voice: list[tuple[str, float, int, int]] = field(default_factory=list)


@dataclass
class _Rows:
    """Per-clip rows accumulated while building."""

    artists: list[str] = field(default_factory=list)
    clips: list[Clip] = field(default_factory=list)
    embeddings: list[np.ndarray] = field(default_factory=list)
    styles: list[np.ndarray] = field(default_factory=list)
    refs: dict[int, tuple[float, np.ndarray]] = field(default_factory=dict)  # voiced s, mel

    def artist_id(self, name: str) -> int:
        if name not in self.artists:
            self.artists.append(name)
        return self.artists.index(name)

    def add_file(self, artist: str, source: str, rows: FileRows) -> None:
        """A file's windows, each followed by its variants (same artist, source, style)."""
        if not len(rows.starts):
            return
        a = self.artist_id(artist)
        for w, (start, voiced) in enumerate(zip(rows.starts, rows.voiced, strict=True)):
            clip = Clip(a, source, round(float(start), 2), round(float(voiced), 2))
            self.clips.append(clip)
            self.embeddings.append(rows.embeddings[w])
            self.styles.append(rows.styles[w])
            for v in np.flatnonzero(rows.variant_of == w):
                variant = str(rows.variant_names[v])
                self.clips.append(Clip(a, source, clip.start, clip.seconds, variant))
                self.embeddings.append(rows.variant_embeddings[v])
                self.styles.append(rows.styles[w])
        best = float(rows.voiced.max())
        if best > self.refs.get(a, (-1.0, None))[0]:
            self.refs[a] = (best, rows.mel)


def audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def find_artist_folders(clips_dir: Path) -> dict[str, list[Path]]:
    if not clips_dir.is_dir():
        raise CatalogError(f"no such folder: {clips_dir}")
    found = {d.name: audio_files(d) for d in sorted(clips_dir.iterdir()) if d.is_dir()}
    found = {k: v for k, v in found.items() if v}
    if not found:
        raise CatalogError(
            f"{clips_dir} holds no artist folders with audio: expected "
            f"{clips_dir}/<Artist Name>/*.mp3|wav|ogg|flac|m4a"
        )
    return found


def _add_files(
    rows: _Rows,
    pipeline: Pipeline,
    files: list[tuple[str, Path]],
    augment: str,
    jobs: int,
    cache_dir: str | Path | None,
    progress: Progress | None,
) -> BuildReport:
    """Embed ``(artist, path)`` files (``jobs`` processes) into ``rows``, in their order."""
    report = BuildReport()
    named = [(f"{artist}/{path.name}", path) for artist, path in files]
    cache = Path(cache_dir) if cache_dir else None
    results = embed_files(named, pipeline, augment, jobs=jobs, cache_dir=cache, progress=progress)
    for (artist, _), result in zip(files, results, strict=True):
        if result.rows is None:
            report.skipped.append(result.error)
            continue
        rows.add_file(artist, result.source, result.rows)
        kept = len(result.rows.starts)
        voiced = float(result.rows.voiced.sum())
        report.voice.append((result.source, voiced, kept, kept + len(result.rows.skipped)))
        report.clips += kept
        report.skipped.extend(result.rows.skipped)
        report.cached += result.cached
    return report


@dataclass(frozen=True)
class _Settings:
    projection: str = DEFAULT_PROJECTION
    top_n: int = DEFAULT_TOP_N
    augment: str = DEFAULT_AUGMENT

    def check(self) -> None:
        """Before hours of work: the options exist and the tools they need are here."""
        if self.projection not in PROJECTIONS and not self.projection.startswith(HEAD_PREFIX):
            raise ValueError(
                f"unknown projection {self.projection!r}: use one of {', '.join(PROJECTIONS)}"
            )
        if self.augment not in AUGMENT_SETS:
            raise ValueError(
                f"unknown augmentation set {self.augment!r}: use one of {', '.join(AUGMENT_SETS)}"
            )
        if self.augment == "channel" and shutil.which("ffmpeg") is None:
            raise CatalogError(
                "the 'channel' augmentation (phone, opus) needs ffmpeg, which is not installed: "
                "apt-get install ffmpeg, or build with augment 'gallery'"
            )


def _encoder_id(pipeline: Pipeline) -> dict[str, Any]:
    enc = pipeline.encoder
    return {"name": enc.name, "version": enc.version, "dim": enc.dim}


def _finish(
    rows: _Rows,
    encoder: dict[str, Any],
    demo: set[str],
    settings: _Settings,
    head: dict[str, Any] | None = None,
) -> Catalog:
    if not rows.clips:
        raise CatalogError("no usable clip: every file was unreadable or had no voice")
    embeddings = np.stack(rows.embeddings).astype(np.float32)
    labels = np.array([c.artist for c in rows.clips])
    groups = np.unique([c.source for c in rows.clips], return_inverse=True)[1]
    original = np.array([not c.variant for c in rows.clips])
    matching, proj = fit_matching(
        embeddings,
        labels,
        groups,
        original,
        projection=settings.projection,
        top_n=settings.top_n,
        fixed=head["projection"] if head else None,
        refit=head.get("refit") if head else None,
        reference_folds=head.get("folds", REFERENCE_FOLDS) if head else REFERENCE_FOLDS,
    )
    matching["augment"] = sorted(AUGMENT_SETS[settings.augment])
    if head:
        matching["head"] = head["info"]
    catalog = Catalog(
        encoder=dict(encoder),
        artists=rows.artists,
        demo_artists=demo,
        clips=rows.clips,
        embeddings=embeddings,
        styles=np.stack(rows.styles),
        refs={a: mel for a, (_, mel) in rows.refs.items()},
        matching=matching,
        projection=proj,
    )
    catalog.index = make_index(Matcher(catalog).project(embeddings))
    return catalog


def _augment_of(names: list[str]) -> str:
    try:
        return augment_set_of(names)
    except ValueError as e:
        raise CatalogError(f"{e}: this catalogue comes from another version; rebuild it") from e


def build_catalog(
    clips_dir: str | Path,
    pipeline: Pipeline,
    *,
    demo: bool = False,
    projection: str = DEFAULT_PROJECTION,
    top_n: int = DEFAULT_TOP_N,
    augment: str = DEFAULT_AUGMENT,
    progress: Progress | None = None,
    jobs: int = 1,
    cache_dir: str | Path | None = None,
) -> tuple[Catalog, BuildReport]:
    """Embed every clip under ``clips_dir`` (one folder per artist), and each window's
    variants from the augmentation set ``augment`` (``inference.augment.AUGMENT_SETS``:
    "none", "gallery", "channel").

    ``jobs`` > 1 embeds in that many worker processes (one thread each); with
    ``cache_dir`` (``<catalogue>/.build-cache`` for the CLI) every embedded file is kept
    there, so a build that was stopped goes on where it stopped. The catalogue is the same
    for any ``jobs`` and cache state (with a one-thread ``pipeline`` for ``jobs`` = 1)."""
    settings = _Settings(projection, top_n, augment)
    settings.check()
    folders = find_artist_folders(Path(clips_dir))
    files = [(artist, f) for artist, paths in folders.items() for f in paths]
    rows = _Rows()
    report = _add_files(rows, pipeline, files, augment, jobs, cache_dir, progress)
    names = set(rows.artists) if demo else set()
    return _finish(rows, _encoder_id(pipeline), names, settings), report


def add_clips(
    catalog: Catalog,
    pipeline: Pipeline,
    artist: str,
    files: Sequence[str | Path],
    *,
    demo: bool = False,
    progress: Progress | None = None,
    jobs: int = 1,
    cache_dir: str | Path | None = None,
) -> tuple[Catalog, BuildReport]:
    """A new catalogue: ``catalog`` plus ``files`` as clips of ``artist`` (same settings;
    ``jobs`` and ``cache_dir`` as for :func:`build_catalog`)."""
    catalog.check_encoder(pipeline.encoder.name, pipeline.encoder.version)
    m = catalog.matching
    settings = _Settings(
        m.get("projection", DEFAULT_PROJECTION),
        int(m.get("top_n", DEFAULT_TOP_N)),
        _augment_of(m.get("augment", [])),
    )
    settings.check()
    rows = _Rows(
        list(catalog.artists),
        list(catalog.clips),
        list(catalog.embeddings),
        list(catalog.styles),
        {a: (float("inf"), mel) for a, mel in catalog.refs.items()},
    )
    named = [(artist, Path(f)) for f in files]
    report = _add_files(rows, pipeline, named, settings.augment, jobs, cache_dir, progress)
    demo_names = set(catalog.demo_artists) | ({artist} if demo else set())
    # A trained head is kept as it is (it works for artists it never saw); only the
    # calibration is refitted. Retraining with the new artist may still do better.
    head = None
    if settings.projection.startswith(HEAD_PREFIX):
        head = {"projection": catalog.projection, "info": m.get("head", {})}
    return _finish(rows, _encoder_id(pipeline), demo_names, settings, head), report


def refit_matching(
    catalog: Catalog,
    *,
    projection: str = DEFAULT_PROJECTION,
    head: dict[str, Any] | None = None,
) -> Catalog:
    """A new catalogue with the same clips and a new matching space: ``projection`` fitted
    anew (e.g. back to "lda"), or, with ``head`` = {"projection": arrays, "info": {...}},
    a trained head's space (``projection`` then names it, "head:<kind>/<loss>"; an
    optional "refit" trains one like it on fewer artists, for the resemblance scales:
    ``fit_matching``). The calibrations and the index are refitted either way; nothing
    is re-embedded."""
    m = catalog.matching
    settings = _Settings(
        projection, int(m.get("top_n", DEFAULT_TOP_N)), _augment_of(m.get("augment", []))
    )
    if head is None and projection.startswith(HEAD_PREFIX):
        raise ValueError(f"projection {projection!r} needs the head's arrays")
    if projection not in PROJECTIONS and not projection.startswith(HEAD_PREFIX):
        raise ValueError(f"unknown projection {projection!r}: use one of {', '.join(PROJECTIONS)}")
    refs = {a: (float("inf"), mel) for a, mel in catalog.refs.items()}
    rows = _Rows(
        list(catalog.artists),
        list(catalog.clips),
        list(catalog.embeddings),
        list(catalog.styles),
        refs,
    )
    return _finish(rows, catalog.encoder, set(catalog.demo_artists), settings, head)
