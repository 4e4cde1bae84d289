"""Practice benchmark: the /progress chart and what a target costs a reply.

1. Chart: ``bot.practice.charts.render_progress`` for a member with ``--takes`` takes (default 100),
   in English and Korean, the first render in the process and the median of ``--runs``
   after it, and the PNG's size. The takes are a seeded random walk inside each feature's
   usual range: drawing costs the same whatever the numbers are.
2. Target: the same 30 s note analysed with and without a target (an artist outside its
   top 5, so the image shows the target instead of the top match), in alternating rounds
   in one warm process; end to end (decode, embed, match, style, image) and from the
   features on (what a target could change), medians and their ratio.

    python -m bench.practice [--takes 100] [--runs 30] [--rounds 15] [--out FILE]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.table import emit


def _takes(n: int, seed: int = 0):
    """A Progress of ``n`` daily takes, with the three feature panels the chart can show."""
    from bot.pool.worker import _features
    from bot.practice.progress import Progress, Track

    rng = np.random.default_rng(seed)
    start = time.time() - n * 86_400
    times = tuple(start + i * 86_400 for i in range(n))
    scores = tuple(float(v) for v in np.clip(40 + np.cumsum(rng.normal(0.3, 3, n)), 0, 100))
    tracks = []
    for f in _features()[:3]:
        span = f.hi - f.lo
        walk = f.lo + span * np.clip(0.4 + np.cumsum(rng.normal(0, 0.03, n)), 0, 1)
        tracks.append(Track(f, tuple(float(v) for v in walk), f.lo + 0.7 * span))
    return Progress("Kendrick (demo)", times, scores, tuple(tracks))


def chart(takes: int, runs: int) -> dict:
    from bot.practice.charts import render_progress

    data = _takes(takes)
    out = {}
    for language in ("en", "ko"):
        t = time.perf_counter()
        png = render_progress(data, language)
        first = (time.perf_counter() - t) * 1000
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            png = render_progress(data, language)
            times.append((time.perf_counter() - t) * 1000)
        out[language] = {
            "first_ms": round(first, 1),
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(float(np.percentile(times, 95)), 1),
            "png_kb": round(len(png) / 1024, 1),
        }
    return {"takes": takes, "runs": runs, **out}


def target(rounds: int) -> dict:
    from bench.latency import make_note
    from inference import Analyzer, AnalyzerOptions, Pipeline, PipelineOptions, load_encoder
    from inference.demo import demo_catalog

    pipeline = Pipeline(load_encoder("resemblyzer"), PipelineOptions())
    analyzer = Analyzer(demo_catalog(pipeline), pipeline)
    analyzer.warmup()
    with tempfile.TemporaryDirectory() as tmp:
        note = make_note(30.0, Path(tmp))
        plain = AnalyzerOptions()
        ranked = [m.artist for m in analyzer.analyze(note, AnalyzerOptions(top_k=50)).matches]
        aimed = AnalyzerOptions(target=ranked[-1])  # the farthest: not among the top 5
        feats = analyzer.features(note)
        full: dict[str, list[float]] = {"without": [], "with": []}
        after: dict[str, list[float]] = {"without": [], "with": []}
        for _ in range(rounds):
            for key, opts in (("without", plain), ("with", aimed)):
                t = time.perf_counter()
                result = analyzer.analyze(note, opts)
                full[key].append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                analyzer.analyze_features(feats, opts)
                after[key].append((time.perf_counter() - t) * 1000)
                if key == "with":
                    assert result.target is not None and result.target.artist == ranked[-1]

    def med(v: list[float]) -> float:
        return round(statistics.median(v), 1)

    return {
        "rounds": rounds,
        "target": ranked[-1],
        "end_to_end_p50_ms": {k: med(v) for k, v in full.items()},
        "from_features_p50_ms": {k: med(v) for k, v in after.items()},
        "ratio_end_to_end": round(med(full["with"]) / med(full["without"]), 3),
        "ratio_from_features": round(med(after["with"]) / med(after["without"]), 3),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--takes", type=int, default=100)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    emit({"chart": chart(args.takes, args.runs), "target": target(args.rounds)}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
