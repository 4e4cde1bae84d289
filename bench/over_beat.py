"""Notes over a real beat: refusals, style measured on the voice, and the cost.

For each beat family of ``bench.music`` (numpy, gm-a, gm-b):

- **beat alone**: every beat of the family's mixed pool (full beats, chords + melody only,
  drums only), 20 s, through the member pipeline: the share refused as "no voice";
- **style over the beat vs the same take clean**: the corpus's clean test clips (no drum
  loop in the source), decoded from their ogg/opus copy like a member's note, then mixed
  over a beat at 0-5 dB; median relative error of syllable rate, pitch median and pitch
  range, median absolute error of the pause ratio, and the share of notes whose tempo is
  within 4 % of the beat's BPM (or half/double); voice notes wrongly refused;
- **cost**: median ms of the pipeline (prepare, embed, style, mel) per 30 s note, clean
  and over a beat, measured alternately in one run on one thread.

    python -m bench.over_beat --corpus /tmp/bench/corpus --out bench/out/over_beat-A.json
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

from bench.accuracy import read_manifest
from bench.music import FAMILIES, beat_only, mix_music
from bench.table import emit
from inference import Pipeline, PipelineOptions, RapsimError, StyleProfile, load_encoder
from inference.constants import SAMPLE_RATE

log = logging.getLogger("bench.over_beat")

TEMPO_TOLERANCE = 0.04
RELATIVE = ("syllable_rate", "pitch_median_hz", "pitch_range_semitones")
COST_SECONDS = 30.0


def _style(pipeline: Pipeline, wav: np.ndarray) -> StyleProfile | None:
    try:
        return pipeline.features_from_wav(wav).style
    except RapsimError:
        return None


def _tempo_ok(measured: float, bpm: float) -> bool:
    if not np.isfinite(measured):
        return False
    return any(abs(measured / (bpm * k) - 1.0) <= TEMPO_TOLERANCE for k in (0.5, 1.0, 2.0))


def _median(values: list[float]) -> float | None:
    finite = [v for v in values if np.isfinite(v)]
    return round(float(np.median(finite)), 4) if finite else None


def refusals(pipeline: Pipeline, family: str, seconds: float = 20.0) -> dict:
    beats = beat_only(family, seconds)
    refused = sum(_style(pipeline, b) is None for b in beats)
    return {"beats": len(beats), "refused": refused, "share": round(refused / len(beats), 3)}


def style_errors(pipeline: Pipeline, clips: list[np.ndarray], family: str, seed: int) -> dict:
    errors: dict[str, list[float]] = {k: [] for k in (*RELATIVE, "pause_ratio")}
    tempo_ok, refused, measured = 0, 0, 0
    for i, clean_wav in enumerate(clips):
        clean = _style(pipeline, clean_wav)
        if clean is None:
            continue
        rng = np.random.default_rng([seed, i, FAMILIES.index(family)])
        mixed, beat = mix_music(clean_wav, rng, family)
        over = _style(pipeline, mixed)
        if over is None:
            refused += 1
            continue
        measured += 1
        for name in RELATIVE:
            a, b = getattr(clean, name), getattr(over, name)
            errors[name].append(abs(b - a) / abs(a) if a else float("nan"))
        errors["pause_ratio"].append(abs(over.pause_ratio - clean.pause_ratio))
        tempo_ok += _tempo_ok(over.tempo_bpm, beat.bpm)
    return {
        "notes": measured,
        "refused": refused,
        **{f"{k}_median_error": _median(v) for k, v in errors.items()},
        "tempo_within_4pct": round(tempo_ok / max(measured, 1), 3),
    }


def cost(pipeline: Pipeline, clips: list[np.ndarray], runs: int, seed: int) -> dict:
    """Median ms per 30 s note, clean vs over a numpy-family beat, alternating."""
    n = int(COST_SECONDS * SAMPLE_RATE)
    long = np.concatenate(clips)[: n * 2]
    notes = [long[:n], long[n : 2 * n]]
    rng = np.random.default_rng(seed)
    times: dict[str, list[float]] = {"clean": [], "beat": []}
    for r in range(runs):
        clean = notes[r % 2]
        beat = mix_music(clean, rng, "numpy")[0]
        for name, wav in (("clean", clean), ("beat", beat)):
            t = time.perf_counter()
            pipeline.features_from_wav(wav)
            times[name].append((time.perf_counter() - t) * 1000)
    out = {f"{k}_ms_p50": round(float(np.median(v)), 1) for k, v in times.items()}
    out["ratio"] = round(out["beat_ms_p50"] / out["clean_ms_p50"], 2)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=Path("/tmp/bench/corpus"))
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--limit", type=int, default=60, help="clean test clips used for style")
    ap.add_argument("--cost-runs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    pipeline = Pipeline(load_encoder(), PipelineOptions(threads=1))
    pipeline.warmup()
    rows = [r for r in read_manifest(args.corpus) if r["split"] == "test" and r["beat"] == "0"]
    rows = rows[:: max(1, len(rows) // args.limit)][: args.limit]
    clips = [pipeline.decode(args.corpus / r["opus_path"]).wav for r in rows]
    out: dict = {"corpus": str(args.corpus), "clips": len(clips), "families": {}}
    for family in args.families.split(","):
        out["families"][family] = {
            "beat_alone": refusals(pipeline, family),
            "style": style_errors(pipeline, clips, family, args.seed),
        }
        log.info("%s: %s", family, out["families"][family])
    if args.cost_runs:
        out["cost_one_thread"] = cost(pipeline, clips, args.cost_runs, args.seed)
    emit(out, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
