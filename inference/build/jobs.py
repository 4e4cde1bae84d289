"""Catalogue files to rows: every file embedded once, in worker processes, cached on disk.

:func:`embed_files` turns ``(source, path)`` pairs into one :class:`FileResult` per file,
in the order given, whatever the number of worker processes: the only random draws (the
augmentation variants) are seeded from the clip's name, never from the order of work,
and every worker runs one torch and one BLAS thread, so N jobs give the bytes one job
gives with a one-thread pipeline. Workers are spawned, not forked: a fork of a process
whose torch/OpenMP thread pools have run can hang.

With a cache folder, each finished file is saved there at once (atomically, a plain
``.npz`` read back with ``allow_pickle=False``) under a key made of its bytes, its name
and everything that shapes its rows (encoder, options, augmentation set, this package's
code, library versions); a build that was interrupted, or rerun with a few more files,
embeds only what is missing. A file that cannot be read is reported and left out, and
not cached: the next run tries it again. Assembling the catalogue is ``inference.build``'s.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import multiprocessing
import signal
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from ..catalog.folder import atomic_write
from ..constants import CATALOG_MIN_WINDOW_SECONDS, CATALOG_WINDOW_SECONDS, SAMPLE_RATE
from ..errors import CatalogError, EncoderError, RapsimError
from ..pipeline import Pipeline, PipelineOptions
from .augment import AUGMENT_SETS

log = logging.getLogger(__name__)

CACHE_FORMAT = 1  # bump when FileRows' fields change
_LIBRARIES = ("numpy", "scipy", "librosa", "soxr", "torch", "resemblyzer", "transformers")

Progress = Callable[[Iterable[Any], int], Iterable[Any]]  # (items, total) -> the same items


@dataclass(frozen=True)
class FileRows:
    """One file's windows and their augmentation variants, as the catalogue holds them."""

    starts: np.ndarray  # float64 (w,): seconds into the file
    voiced: np.ndarray  # float64 (w,): voiced seconds in each window
    embeddings: np.ndarray = field(repr=False)  # float32 (w, dim)
    styles: np.ndarray = field(repr=False)  # float32 (w, n_style)
    variant_of: np.ndarray = field(repr=False)  # int64 (v,): the window each variant is of
    variant_names: np.ndarray = field(repr=False)  # str (v,)
    variant_embeddings: np.ndarray = field(repr=False)  # float32 (v, dim)
    mel: np.ndarray = field(repr=False)  # uint8: the most voiced window's (first of equals)
    skipped: tuple[str, ...] = ()  # "source @ 30 s: why", one per window left out

    def to_bytes(self) -> bytes:
        arrays = {k: v for k, v in self.__dict__.items() if k != "skipped"}
        buf = io.BytesIO()
        np.savez_compressed(buf, skipped=np.array(self.skipped, dtype=str), **arrays)
        return buf.getvalue()

    @classmethod
    def from_file(cls, path: Path) -> FileRows:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        skipped = tuple(str(s) for s in arrays.pop("skipped"))
        rows = cls(**arrays, skipped=skipped)
        n, v = len(rows.starts), len(rows.variant_of)
        if len(rows.embeddings) != n or len(rows.styles) != n or len(rows.variant_embeddings) != v:
            raise ValueError("the arrays do not fit together")
        return rows


@dataclass(frozen=True)
class FileResult:
    source: str  # "<artist>/<file name>"
    rows: FileRows | None  # None: the file was left out, see error
    error: str = ""  # "source: why"
    cached: bool = False  # read from the build cache, not embedded by this run


def windows(wav: np.ndarray) -> Iterable[tuple[float, np.ndarray]]:
    """(start seconds, audio) windows of CATALOG_WINDOW_SECONDS; a short tail is dropped."""
    size = int(CATALOG_WINDOW_SECONDS * SAMPLE_RATE)
    min_size = int(CATALOG_MIN_WINDOW_SECONDS * SAMPLE_RATE)
    for start in range(0, max(wav.size, 1), size):
        chunk = wav[start : start + size]
        if chunk.size >= min_size or start == 0:
            yield start / SAMPLE_RATE, chunk


def embed_file(pipeline: Pipeline, path: Path, source: str, augment: str) -> FileRows:
    """Every window of one file, then its variants; RapsimError if it cannot be decoded."""
    decoded = pipeline.decode(path)
    found: dict[str, list[Any]] = {k: [] for k in ("start", "voiced", "emb", "style", "mel")}
    variants: list[tuple[int, str, np.ndarray]] = []
    skipped = []
    for start, chunk in windows(decoded.wav):
        try:
            feats = pipeline.features_from_wav(chunk, rhythm=False)
        except RapsimError as e:
            skipped.append(f"{source} @ {start:.0f} s: {e}")
            continue
        values = (start, feats.voiced_seconds, feats.embedding, feats.style.as_array(), feats.mel)
        for key, value in zip(found, values, strict=True):
            found[key].append(value)
        window = len(found["start"]) - 1
        seed = f"{source}@{start}"  # the draws depend on the clip, never on the run
        rng = np.random.default_rng(zlib.crc32(seed.encode()))
        for name, make in AUGMENT_SETS[augment].items():
            try:
                variants.append((window, name, pipeline.embedding_from_wav(make(chunk, rng))))
            except RapsimError as e:  # e.g. a stretched window that lost its voice
                log.debug("variant %s of %s skipped: %s", name, seed, e)
    return _file_rows(found, variants, skipped, pipeline.encoder.dim)


def _file_rows(
    found: dict[str, list[Any]],
    variants: list[tuple[int, str, np.ndarray]],
    skipped: list[str],
    dim: int,
) -> FileRows:
    n = len(found["start"])
    best = int(np.argmax(found["voiced"])) if n else -1  # argmax: the first of equals
    return FileRows(
        starts=np.array(found["start"], dtype=np.float64),
        voiced=np.array(found["voiced"], dtype=np.float64),
        embeddings=np.array(found["emb"], dtype=np.float32).reshape(n, dim),
        styles=np.array(found["style"], dtype=np.float32).reshape(n, -1),
        variant_of=np.array([v[0] for v in variants], dtype=np.int64),
        variant_names=np.array([v[1] for v in variants], dtype=str),
        variant_embeddings=np.array([v[2] for v in variants], dtype=np.float32).reshape(-1, dim),
        mel=found["mel"][best] if n else np.zeros((0, 0), np.uint8),
        skipped=tuple(skipped),
    )


# ---- the cache ----------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _code_digest() -> str:
    """Every module of this package: any change to how audio becomes rows misses the cache."""
    h = hashlib.sha256()
    for p in sorted(Path(__file__).resolve().parent.glob("*.py")):
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def _library_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return ""


def recipe_digest(pipeline: Pipeline, augment: str) -> str:
    """Everything besides the file itself that its rows depend on."""
    enc = pipeline.encoder
    recipe = {
        "format": CACHE_FORMAT,
        "encoder": [enc.name, enc.version, enc.dim],
        "options": [pipeline.options.max_decode_seconds, pipeline.options.suppress_beat],
        "separator": pipeline.separator.digest if pipeline.separator else "",
        "augment": sorted(AUGMENT_SETS[augment]),
        "code": _code_digest(),
        "libraries": {name: _library_version(name) for name in _LIBRARIES},
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class _Cache:
    folder: Path
    recipe: str

    def path_for(self, source: str, path: Path) -> Path | None:
        """Where this file's rows are kept (None: unreadable, the decoder will say why)."""
        try:
            with open(path, "rb") as f:
                content = hashlib.file_digest(f, "sha256").hexdigest()
        except OSError:
            return None
        key = hashlib.sha256(f"{self.recipe}\0{source}\0{content}".encode()).hexdigest()
        return self.folder / f"{key}.npz"

    @staticmethod
    def load(path: Path) -> FileRows | None:
        if not path.is_file():
            return None
        try:
            return FileRows.from_file(path)
        except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as e:
            # cut off or damaged: embed it again
            log.warning("build cache %s is unreadable (%s): embedding the file again", path, e)
            return None


def _embed_one(
    pipeline: Pipeline, path: Path, source: str, augment: str, keep: Path | None
) -> FileResult:
    """One file's rows (kept in ``keep`` when given), or why it was left out."""
    try:
        rows = embed_file(pipeline, path, source, augment)
    except RapsimError as e:
        return FileResult(source, None, f"{source}: {e}")
    except Exception as e:  # a bug or a library failing on one odd file: not the whole build
        log.exception("unexpected error embedding %s", source)
        return FileResult(source, None, f"{source}: unexpected error ({type(e).__name__}: {e})")
    if keep is not None:
        try:
            keep.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(keep, rows.to_bytes())
        except OSError as e:
            log.warning("could not write the build cache %s: %s", keep, e)
    return FileResult(source, rows)


# ---- running ------------------------------------------------------------------------------
_Task = tuple[int, str, Path, Path | None]  # index, source, file, cache file


def embed_files(
    files: Sequence[tuple[str, Path]],
    pipeline: Pipeline,
    augment: str,
    *,
    jobs: int = 1,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
) -> Iterator[FileResult]:
    """One FileResult per ``(source, path)``, in the order of ``files``.

    ``jobs`` > 1 embeds in that many spawned worker processes (one thread each) that make
    their own pipeline from ``pipeline.encoder.spec`` and ``pipeline.options``; ``jobs`` = 1
    uses ``pipeline`` here. ``progress`` sees the files as they finish, cached ones first.
    Spawned workers import the caller's main module: a script that builds with ``jobs``
    > 1 needs the ``if __name__ == "__main__":`` guard.
    """
    if jobs < 1:
        raise ValueError("jobs must be at least 1")
    cache = _Cache(Path(cache_dir), recipe_digest(pipeline, augment)) if cache_dir else None
    finished = _finished(files, pipeline, augment, jobs, cache)
    done = progress(finished, len(files)) if progress else finished
    waiting: dict[int, FileResult] = {}  # finished ahead of an earlier file
    nxt = 0
    try:
        for i, result in done:
            waiting[i] = result
            while nxt in waiting:
                yield waiting.pop(nxt)
                nxt += 1
    finally:
        finished.close()  # stops the workers now, even while a traceback holds this frame


def _finished(
    files: Sequence[tuple[str, Path]],
    pipeline: Pipeline,
    augment: str,
    jobs: int,
    cache: _Cache | None,
) -> Generator[tuple[int, FileResult], None, None]:
    """(index, result) as files finish: the cached ones at once, then the rest."""
    todo: list[_Task] = []
    for i, (source, path) in enumerate(files):
        keep = cache.path_for(source, path) if cache else None
        rows = _Cache.load(keep) if keep else None
        if rows is not None:
            yield i, FileResult(source, rows, cached=True)
        else:
            todo.append((i, source, path, keep))
    if jobs == 1 or len(todo) <= 1:  # not worth starting a worker for
        for i, source, path, keep in todo:
            yield i, _embed_one(pipeline, path, source, augment, keep)
    else:
        yield from _in_workers(todo, pipeline, augment, min(jobs, len(todo)))


# ---- worker processes ---------------------------------------------------------------------
_worker: Pipeline | None = None


def _start_worker(spec: str, options: PipelineOptions) -> None:
    global _worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's; it ends us
    from ..voice.encoders import load_encoder

    _worker = Pipeline(load_encoder(spec), replace(options, threads=1))


def _work(version: str, path: Path, source: str, augment: str, keep: Path | None) -> FileResult:
    assert _worker is not None, "not a build worker"
    if _worker.encoder.version != version:
        raise EncoderError(
            f"the build workers made encoder {_worker.encoder.spec} version "
            f"{_worker.encoder.version}, not {version}: build with jobs=1"
        )
    return _embed_one(_worker, path, source, augment, keep)


def _in_workers(
    todo: list[_Task], pipeline: Pipeline, augment: str, jobs: int
) -> Generator[tuple[int, FileResult], None, None]:
    enc = pipeline.encoder
    spec = getattr(enc, "spec", None)
    if not spec:
        raise ValueError("jobs > 1 needs an encoder made by load_encoder (one with a spec)")
    pool = ProcessPoolExecutor(
        jobs,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(spec, pipeline.options),
    )
    finished = False
    try:
        futures = {
            pool.submit(_work, enc.version, path, source, augment, keep): i
            for i, source, path, keep in todo
        }
        for future in as_completed(futures):
            yield futures[future], future.result()
        finished = True
    except BrokenProcessPool as e:
        why = "a build worker process died (out of memory?)"
        if todo[0][3] is not None:
            why += "; the files finished so far are cached: run the build again to go on"
        raise CatalogError(why) from e
    finally:
        if finished:
            pool.shutdown()
        else:
            _stop(pool)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Drop the queued files and end the workers now: after Ctrl-C or an error nobody wants
    to wait for a long song to finish. (A public way to do this comes in Python 3.14.)"""
    workers = dict(getattr(pool, "_processes", None) or {})
    pool.shutdown(wait=False, cancel_futures=True)
    # a worker may have been started while the pool was being shut down: end it too
    workers.update(getattr(pool, "_processes", None) or {})
    for proc in workers.values():
        proc.terminate()
    for proc in workers.values():
        proc.join()
