"""The artist catalogue on disk: clip embeddings, styles, reference spectrograms, an index.

Layout of a catalogue folder::

    manifest.json    format version, encoder (name, version, dim), artists, matching
                     calibration, and the sha256 of every other file
    embeddings.npy   float32 (n_clips, dim), L2-normalised encoder embeddings
    clips.json       per clip: artist index, source file name, window start, seconds, and
                     the gallery augmentation it is ("" for the recording itself)
    styles.npy       float32 (n_clips, 8), StyleProfile.feature_names() order
    refs.npz         uint8 mel spectrogram per artist ("a0", "a1", ...) for images
    projection.npz   the matching-space transform fitted on the catalogue ("mean", "matrix")
    index.faiss      faiss index over the matching-space vectors

Every file is written to a temp file and moved into place (``os.replace``); the manifest
is written last and holds the other files' checksums, so a catalogue cut off mid-write
or damaged later fails validation with a clear CatalogError instead of giving garbage.
Building from audio lives in ``inference.build``; ranking in ``inference.matching``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from ..errors import CatalogError
from ..types import StyleProfile

log = logging.getLogger(__name__)

FORMAT = "rapsim-catalog"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATA_FILES = (
    "embeddings.npy",
    "clips.json",
    "styles.npy",
    "refs.npz",
    "projection.npz",
    "index.faiss",
)
EXACT_INDEX_MAX_CLIPS = 50_000  # past this, an HNSW graph (approximate) replaces brute force
HNSW_NEIGHBOURS = 32


@dataclass(frozen=True)
class ArtistInfo:
    name: str
    clips: int
    seconds: float
    demo: bool


@dataclass(frozen=True)
class Clip:
    artist: int  # index into Catalog.artists
    source: str  # file name the clip came from (recordings group clips for calibration)
    start: float  # seconds into the source
    seconds: float  # voiced seconds used
    variant: str = ""  # "" for the clip as recorded, else its gallery augmentation's name


class Catalog:
    """An in-memory catalogue. Make one with ``inference.build`` or ``Catalog.load``."""

    def __init__(
        self,
        *,
        encoder: dict[str, Any],
        artists: list[str],
        demo_artists: set[str],
        clips: list[Clip],
        embeddings: np.ndarray,
        styles: np.ndarray,
        refs: dict[int, np.ndarray],
        matching: dict[str, Any],
        projection: dict[str, np.ndarray] | None = None,
        path: Path | None = None,
    ) -> None:
        if embeddings.shape != (len(clips), int(encoder["dim"])):
            raise CatalogError(f"embeddings {embeddings.shape} do not fit {len(clips)} clips")
        if styles.shape != (len(clips), len(StyleProfile.feature_names())):
            raise CatalogError(f"styles {styles.shape} do not fit {len(clips)} clips")
        self.encoder = dict(encoder)
        self.artists = list(artists)
        self.demo_artists = set(demo_artists)
        self.clips = list(clips)
        self.embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        self.styles = np.ascontiguousarray(styles, dtype=np.float32)
        self.refs = dict(refs)
        self.matching = dict(matching)
        self.projection = dict(projection or {})  # {"mean", "matrix"} or empty: identity
        self.path = path
        self.clip_artist = np.array([c.artist for c in clips], dtype=np.int64)
        self.original = np.array([not c.variant for c in clips], dtype=bool)
        self.index: faiss.Index | None = None

    # ---- facts -------------------------------------------------------------------------
    def artist_infos(self) -> list[ArtistInfo]:
        seconds = np.zeros(len(self.artists))
        counts = np.zeros(len(self.artists), dtype=int)
        for c in self.clips:
            if c.variant:
                continue
            seconds[c.artist] += c.seconds
            counts[c.artist] += 1
        return [
            ArtistInfo(a, int(counts[i]), float(seconds[i]), a in self.demo_artists)
            for i, a in enumerate(self.artists)
        ]

    def artist_style(self, artist: int) -> StyleProfile:
        """Median style over the artist's clips (nan-aware)."""
        rows = self.styles[(self.clip_artist == artist) & self.original]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-nan column gives nan
            return StyleProfile.from_array(np.nanmedian(rows, axis=0))

    def check_encoder(self, name: str, version: str) -> None:
        """CatalogError unless this catalogue was built with that exact encoder."""
        mine = (self.encoder.get("name"), self.encoder.get("version"))
        if mine != (name, version):
            raise CatalogError(
                f"this catalogue was built with encoder {mine[0]} {mine[1]}, not {name} "
                f"{version}; rebuild it with 'rapsim catalog build' or pick that encoder"
            )

    # ---- saving ------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        if self.index is None:
            raise CatalogError("the catalogue has no index yet")
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        clips = [c.__dict__ for c in self.clips]
        blobs = {
            "embeddings.npy": _npy_bytes(self.embeddings),
            "clips.json": json.dumps(clips, ensure_ascii=False).encode(),
            "styles.npy": _npy_bytes(self.styles),
            "refs.npz": _npz_bytes({f"a{k}": v for k, v in self.refs.items()}),
            "projection.npz": _npz_bytes(self.projection),
            "index.faiss": faiss.serialize_index(self.index).tobytes(),
        }
        for name, blob in blobs.items():
            atomic_write(folder / name, blob)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "encoder": self.encoder,
            "artists": [
                {"name": a.name, "clips": a.clips, "seconds": round(a.seconds, 2), "demo": a.demo}
                for a in self.artist_infos()
            ],
            "matching": self.matching,
            "files": {n: hashlib.sha256(b).hexdigest() for n, b in blobs.items()},
        }
        atomic_write(folder / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False).encode())
        self.path = folder
        return folder

    # ---- loading -----------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Catalog:
        folder = Path(path)
        manifest = _read_manifest(folder)
        blobs = {}
        for name in DATA_FILES:
            try:
                blob = (folder / name).read_bytes()
            except OSError as e:
                raise CatalogError(f"catalogue {folder} is missing {name}") from e
            if hashlib.sha256(blob).hexdigest() != manifest["files"].get(name):
                raise CatalogError(f"catalogue {folder} is damaged: {name} fails its checksum")
            blobs[name] = blob
        try:
            cat = cls._from_blobs(manifest, blobs, folder)
        except (ValueError, KeyError, TypeError, OSError, RuntimeError) as e:
            raise CatalogError(f"catalogue {folder} is damaged ({e})") from e
        log.info(
            "loaded catalogue %s: %d artists, %d clips", folder, len(cat.artists), len(cat.clips)
        )
        return cat

    @classmethod
    def _from_blobs(cls, manifest: dict, blobs: dict[str, bytes], folder: Path) -> Catalog:
        names = [a["name"] for a in manifest["artists"]]
        with np.load(io.BytesIO(blobs["refs.npz"])) as z:
            refs = {int(k[1:]): z[k] for k in z.files}
        with np.load(io.BytesIO(blobs["projection.npz"])) as z:
            projection = {k: z[k] for k in z.files}
        cat = cls(
            encoder=manifest["encoder"],
            artists=names,
            demo_artists={a["name"] for a in manifest["artists"] if a.get("demo")},
            clips=[Clip(**c) for c in json.loads(blobs["clips.json"])],
            embeddings=np.load(io.BytesIO(blobs["embeddings.npy"]), allow_pickle=False),
            styles=np.load(io.BytesIO(blobs["styles.npy"]), allow_pickle=False),
            refs=refs,
            matching=manifest["matching"],
            projection=projection,
            path=folder,
        )
        cat.index = faiss.deserialize_index(np.frombuffer(blobs["index.faiss"], dtype=np.uint8))
        if cat.index.ntotal != len(cat.clips):
            raise ValueError(f"index holds {cat.index.ntotal} vectors for {len(cat.clips)} clips")
        return cat


def make_index(vectors: np.ndarray) -> faiss.Index:
    """Inner-product index: exact up to EXACT_INDEX_MAX_CLIPS vectors, HNSW past that."""
    dim = vectors.shape[1]
    index: faiss.Index
    if len(vectors) <= EXACT_INDEX_MAX_CLIPS:
        index = faiss.IndexFlatIP(dim)
    else:
        hnsw = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efSearch = 128
        index = hnsw
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def _read_manifest(folder: Path) -> dict:
    if not folder.is_dir():
        raise CatalogError(f"no catalogue at {folder} (not a folder)")
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise CatalogError(f"{folder} is not a catalogue (no {MANIFEST})") from e
    except (OSError, ValueError) as e:
        raise CatalogError(f"catalogue {folder} is damaged: {MANIFEST} is unreadable") from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CatalogError(f"{folder}/{MANIFEST} is not a rapsim catalogue manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise CatalogError(
            f"catalogue {folder} has format version {manifest.get('format_version')}; this "
            f"rapsim reads version {FORMAT_VERSION}: rebuild it"
        )
    for key in ("encoder", "artists", "matching", "files"):
        if key not in manifest:
            raise CatalogError(f"catalogue {folder} is damaged: manifest lacks {key!r}")
    return manifest


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename over ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]  # numpy's stub is too narrow
    return buf.getvalue()
