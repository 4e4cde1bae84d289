"""Building a catalogue from audio: one folder per artist, long files cut into windows.

``CLIPS_DIR/<Artist Name>/*.mp3|wav|ogg|opus|flac|m4a|aac|webm|mp4`` -> a :class:`Catalog`.
Each window goes through the same :class:`Pipeline` as a member's note. A file that
cannot be read, or a window without voice (an instrumental intro), is skipped and
reported, never fatal; a catalogue with no usable clip is.
"""

from __future__ import annotations

import logging
import shutil
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .augment import AUGMENT_SETS, DEFAULT_AUGMENT, augment_set_of
from .catalog import Catalog, Clip, make_index
from .constants import CATALOG_MIN_WINDOW_SECONDS, CATALOG_WINDOW_SECONDS, SAMPLE_RATE
from .errors import CatalogError, RapsimError
from .matching import (
    DEFAULT_PROJECTION,
    DEFAULT_TOP_N,
    HEAD_PREFIX,
    PROJECTIONS,
    Matcher,
    fit_matching,
)
from .pipeline import Features, Pipeline
from .resemblance import REFERENCE_FOLDS

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = frozenset(
    {".mp3", ".wav", ".ogg", ".oga", ".opus", ".flac", ".m4a", ".aac", ".webm", ".mp4"}
)
CATALOG_MAX_FILE_SECONDS = 20 * 60.0  # a catalogue clip may be a whole song; 20 min at most

Progress = Callable[[Iterable[Path], int], Iterable[Path]]


@dataclass
class BuildReport:
    clips: int = 0
    skipped: list[str] = field(default_factory=list)  # "file: why"


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

    def add(self, artist: str, source: str, start: float, feats: Features) -> None:
        a = self.artist_id(artist)
        self.clips.append(Clip(a, source, round(start, 2), round(feats.voiced_seconds, 2)))
        self.embeddings.append(feats.embedding)
        self.styles.append(feats.style.as_array())
        if feats.voiced_seconds > self.refs.get(a, (-1.0, None))[0]:
            self.refs[a] = (feats.voiced_seconds, feats.mel)

    def add_variant(self, variant: str, embedding: np.ndarray) -> None:
        """A gallery augmentation of the clip added last (same artist, source, style)."""
        base = self.clips[-1]
        self.clips.append(Clip(base.artist, base.source, base.start, base.seconds, variant))
        self.embeddings.append(embedding)
        self.styles.append(self.styles[-1])


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


def windows(wav: np.ndarray) -> Iterable[tuple[float, np.ndarray]]:
    """(start seconds, audio) windows of CATALOG_WINDOW_SECONDS; a short tail is dropped."""
    size = int(CATALOG_WINDOW_SECONDS * SAMPLE_RATE)
    min_size = int(CATALOG_MIN_WINDOW_SECONDS * SAMPLE_RATE)
    for start in range(0, max(wav.size, 1), size):
        chunk = wav[start : start + size]
        if chunk.size >= min_size or start == 0:
            yield start / SAMPLE_RATE, chunk


def _add_variants(
    rows: _Rows, pipeline: Pipeline, chunk: np.ndarray, seed: str, augment: str
) -> None:
    rng = np.random.default_rng(zlib.crc32(seed.encode()))
    for name, make in AUGMENT_SETS[augment].items():
        try:
            rows.add_variant(name, pipeline.embedding_from_wav(make(chunk, rng)))
        except RapsimError as e:  # e.g. a stretched window that lost its voice
            log.debug("variant %s of %s skipped: %s", name, seed, e)


def _add_file(
    rows: _Rows,
    pipeline: Pipeline,
    artist: str,
    path: Path,
    source: str,
    report: BuildReport,
    augment: str,
) -> None:
    try:
        decoded = pipeline.decode(path)
    except RapsimError as e:
        report.skipped.append(f"{source}: {e}")
        return
    for start, chunk in windows(decoded.wav):
        try:
            feats = pipeline.features_from_wav(chunk)
        except RapsimError as e:
            report.skipped.append(f"{source} @ {start:.0f} s: {e}")
            continue
        rows.add(artist, source, start, feats)
        report.clips += 1
        _add_variants(rows, pipeline, chunk, f"{source}@{start}", augment)


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
) -> tuple[Catalog, BuildReport]:
    """Embed every clip under ``clips_dir`` (one folder per artist), and each window's
    variants from the augmentation set ``augment`` (``inference.augment.AUGMENT_SETS``:
    "none", "gallery", "channel")."""
    settings = _Settings(projection, top_n, augment)
    settings.check()
    clips_dir = Path(clips_dir)
    folders = find_artist_folders(clips_dir)
    todo = [(artist, f) for artist, files in folders.items() for f in files]
    by_path = {f: artist for artist, f in todo}
    rows, report = _Rows(), BuildReport()
    paths: Iterable[Path] = [f for _, f in todo]
    for path in progress(paths, len(todo)) if progress else paths:
        artist = by_path[path]
        _add_file(rows, pipeline, artist, path, f"{artist}/{path.name}", report, augment)
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
) -> tuple[Catalog, BuildReport]:
    """A new catalogue: ``catalog`` plus ``files`` as clips of ``artist`` (same settings)."""
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
    report = BuildReport()
    paths = [Path(f) for f in files]
    for path in progress(paths, len(paths)) if progress else paths:
        _add_file(rows, pipeline, artist, path, f"{artist}/{path.name}", report, settings.augment)
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
