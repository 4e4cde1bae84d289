"""Catalogue build speed: today's one-process build against --jobs 1 and --jobs N.

Builds the same clips (default: the 50 bundled demo clips, one 30 s window or less each)
with the default augmentation, side by side in one run, in interleaved rounds, and prints
windows/min, audio minutes per wall minute and the extrapolated time for one hour of
audio (JSON). The modes:

* ``today``: what ``rapsim catalog build`` did before --jobs: one process, torch on every
  usable core, no cache (the same code path, byte-identical output);
* ``jobs1``: ``--jobs 1``, one process with one torch thread;
* ``jobsN``: ``--jobs N`` worker processes (default N: every usable core), one thread each;
  worker start-up (imports, model load) is included in its time.

The CPU seconds (this process and its workers) are printed too: on a machine shared with
other work, wall-clock ratios measured in one run are the figure to quote, and CPU time
shows whether a mode wastes work. ``jobs1`` and ``jobsN`` must build identical catalogues;
the script checks it.

    OMP_WAIT_POLICY=PASSIVE python -m bench.build_speed [--clips DIR] [--per-artist K]
        [--rounds R] [--jobs N] [--out FILE]

``OMP_WAIT_POLICY=PASSIVE`` (which ``rapsim`` now sets) keeps today's two torch threads
from spinning on a busy machine; without it today's build looks far slower than it is.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bench.table import emit

log = logging.getLogger("bench.build_speed")

REPO = Path(__file__).resolve().parent.parent


def _cpu_seconds() -> tuple[float, float]:
    """CPU seconds of this process, and of its children (workers once they have exited,
    and the ffmpeg processes they and this process waited for)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def _subset(clips: Path, per_artist: int | None, into: Path) -> Path:
    """``clips`` itself, or K files of each artist linked into ``into``."""
    if per_artist is None:
        return clips
    from inference.build.builder import find_artist_folders

    for artist, files in find_artist_folders(clips).items():
        (into / artist).mkdir(parents=True)
        for f in files[:per_artist]:
            (into / artist / f.name).symlink_to(f.resolve())
    return into


def _audio_seconds(clips: Path) -> float:
    from inference import decode
    from inference.build.builder import find_artist_folders

    folders = find_artist_folders(clips)
    return sum(decode(f).duration_seconds for files in folders.values() for f in files)


class _Clock:
    """A progress callback that notes when each file finishes."""

    def __init__(self) -> None:
        self.done: list[float] = []

    def __call__(self, items: Iterable[Any], total: int) -> Iterator[Any]:
        for item in items:
            self.done.append(time.perf_counter())
            yield item

    def steady_files_per_s(self) -> float:
        """Files per second between the first and the last file done: the rate once
        workers have started (their start-up is in the wall time, not in this)."""
        if len(self.done) < 2:
            return float("nan")
        return (len(self.done) - 1) / (self.done[-1] - self.done[0])


def _build(clips: Path, mode: str, jobs: int) -> tuple[float, tuple[float, float], float, Any, Any]:
    """(wall s, (own, children) CPU s, steady files/s, catalogue, report) of one fresh
    build (no cache)."""
    from inference import Pipeline, PipelineOptions, build_catalog, load_encoder

    threads = None if mode == "today" else 1
    pipeline = Pipeline(load_encoder("resemblyzer"), PipelineOptions(threads=threads))
    clock = _Clock()
    cpu, t = _cpu_seconds(), time.perf_counter()
    catalog, report = build_catalog(
        clips, pipeline, jobs=1 if mode != "jobsN" else jobs, progress=clock
    )
    wall, after = time.perf_counter() - t, _cpu_seconds()
    used = (after[0] - cpu[0], after[1] - cpu[1])
    return wall, used, clock.steady_files_per_s(), catalog, report


_Run = tuple[float, tuple[float, float], float]  # wall s, (own, children) CPU s, files/s


def _summary(runs: list[_Run], files: int, windows: int, audio_s: float) -> dict:
    """Medians over rounds. One hour of audio: the steady rate, plus this mode's start-up
    (its wall time beyond what the steady rate explains) once."""
    wall = statistics.median(r[0] for r in runs)
    steady = statistics.median(r[2] for r in runs)  # files/s
    startup = max(wall - files / steady, 0.0)
    hour_s = startup + 3600 / (audio_s / files) / steady
    return {
        "wall_s": [round(r[0], 1) for r in runs],
        "cpu_own_s": [round(r[1][0], 1) for r in runs],
        "cpu_children_s": [round(r[1][1], 1) for r in runs],
        "median_wall_s": round(wall, 1),
        "windows_per_min": round(windows / wall * 60, 2),
        "steady_windows_per_min": round(steady * windows / files * 60, 2),
        "audio_min_per_wall_min": round(audio_s / wall, 2),
        "one_hour_of_audio_min": round(hour_s / 60, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=Path, default=REPO / "inference" / "demo_data" / "clips")
    ap.add_argument("--per-artist", type=int, help="only the first K files of each artist")
    ap.add_argument("--rounds", type=int, default=1, help="interleaved rounds of all modes")
    ap.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory() as tmp:
        clips = _subset(args.clips, args.per_artist, Path(tmp))
        doc = {"clips_dir": str(args.clips), "per_artist": args.per_artist}
        doc.update(run(clips, args.rounds, args.jobs))
    emit(doc, args.out)
    return 0


def _warm_up(clips: Path, into: Path) -> None:
    """One file built untimed first, so no mode pays this process's lazy start-up
    (numba compilation, first torch calls); workers pay theirs, as in a real build."""
    from inference.build.builder import find_artist_folders

    artist, files = next(iter(find_artist_folders(clips).items()))
    (into / artist).mkdir(parents=True)
    (into / artist / files[0].name).symlink_to(files[0].resolve())
    _build(into, "jobs1", 1)


def run(clips: Path, rounds: int, jobs: int) -> dict:
    from inference.build.builder import find_artist_folders

    modes = ("today", "jobs1", "jobsN")
    with tempfile.TemporaryDirectory() as tmp:
        _warm_up(clips, Path(tmp))
    runs: dict[str, list[_Run]] = {m: [] for m in modes}
    embeddings: dict[str, np.ndarray] = {}
    windows = 0
    for r in range(rounds):
        for mode in modes:
            wall, cpu, steady, catalog, report = _build(clips, mode, jobs)
            log.info(
                "round %d %s: %.1f s wall, CPU %.1f s + children %.1f s", r + 1, mode, wall, *cpu
            )
            runs[mode].append((wall, cpu, steady))
            windows = report.clips
            embeddings[mode] = catalog.embeddings
    files = sum(len(v) for v in find_artist_folders(clips).values())
    audio_s = _audio_seconds(clips)
    summary = {m: _summary(runs[m], files, windows, audio_s) for m in modes}
    return {
        "files": files,
        "windows": windows,
        "vectors": len(embeddings["jobs1"]),
        "audio_seconds": round(audio_s, 1),
        "usable_cores": len(os.sched_getaffinity(0)),
        "jobs": jobs,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset: spin)"),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "modes": summary,
        "rate_vs_today": {
            m: round(summary[m]["windows_per_min"] / summary["today"]["windows_per_min"], 2)
            for m in modes[1:]
        },
        "steady_rate_vs_today": {
            m: round(
                summary[m]["steady_windows_per_min"] / summary["today"]["steady_windows_per_min"],
                2,
            )
            for m in modes[1:]
        },
        "jobs1_equals_jobsN": bool(np.array_equal(embeddings["jobs1"], embeddings["jobsN"])),
    }


if __name__ == "__main__":
    sys.exit(main())
