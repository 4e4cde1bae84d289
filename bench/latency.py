"""Latency and memory benchmark: a 30 s ogg/opus voice note, warm, in-process.

Cold start (imports, model and catalogue load, warm-up) is measured once in this fresh
process; then ``--runs`` analyses of the same note give per-stage and end-to-end p50/p95
(image included). Peak RSS is the process's maximum resident set size at the end.

    python -m bench.latency --runs 30 [--catalog DIR] [--out bench/out/latency.json]
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import argparse  # noqa: E402  (the clock starts before the imports it measures)
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from bench.table import emit  # noqa: E402


def make_note(seconds: float, into: Path) -> Path:
    """The bundled sample note looped to ``seconds``, as 48 kHz mono ogg/opus 32 kbit/s."""
    import soundfile as sf

    from inference import SAMPLE_NOTE, decode

    wav = decode(SAMPLE_NOTE).wav
    wav = np.tile(wav, int(np.ceil(seconds * 16000 / wav.size)))[: int(seconds * 16000)]
    raw = into / "note.wav"
    sf.write(raw, wav, 16000)
    out = into / "note.ogg"
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(raw),
            "-ar",
            "48000",
            "-ac",
            "1",
            "-c:a",
            "libopus",
            "-b:a",
            "32k",
            str(out),
        ],
        check=True,
    )
    return out


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--catalog", help="catalogue folder (default: the demo catalogue)")
    ap.add_argument("--encoder", default="resemblyzer")
    ap.add_argument("--threads", type=int, help="torch threads (default: all usable cores)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)

    t = time.perf_counter()
    from inference import Analyzer, Catalog, Pipeline, PipelineOptions, demo_catalog, load_encoder

    cold = {"import_s": time.perf_counter() - t}
    t = time.perf_counter()
    pipeline = Pipeline(load_encoder(args.encoder), PipelineOptions(threads=args.threads))
    catalog = Catalog.load(args.catalog) if args.catalog else demo_catalog(pipeline)
    analyzer = Analyzer(catalog, pipeline)
    cold["load_s"] = time.perf_counter() - t
    t = time.perf_counter()
    analyzer.warmup()
    cold["warmup_s"] = time.perf_counter() - t
    cold["total_s"] = time.perf_counter() - T_START
    rss_after_load = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    stages: dict[str, list[float]] = {}
    total: list[float] = []
    png_kb = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        note = make_note(args.seconds, Path(tmp))
        for _ in range(args.runs):
            t = time.perf_counter()
            result = analyzer.analyze(note)
            total.append((time.perf_counter() - t) * 1000)
            for k, v in result.timings_ms.items():
                stages.setdefault(k, []).append(v)
            png_kb = len(result.image_png or b"") / 1024
    out = {
        "note_seconds": args.seconds,
        "runs": args.runs,
        "encoder": f"{catalog.encoder['name']} {catalog.encoder['version']}",
        "catalog_clips": len(catalog.clips),
        "torch_threads": args.threads or "all cores",
        "end_to_end_ms": {"p50": pct(total, 50), "p95": pct(total, 95)},
        "stages_ms_p50": {k: pct(v, 50) for k, v in stages.items()},
        "stages_ms_p95": {k: pct(v, 95) for k, v in stages.items()},
        "png_kb": round(png_kb, 1),
        "cold_start_s": {k: round(v, 2) for k, v in cold.items()},
        "peak_rss_mb": {
            "after_warmup": round(rss_after_load),
            "end": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        },
    }
    emit(out, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
