"""Notes per second of a batching GPU worker at batch 1, 8 and 32 (base-size HuBERT).

The model is ``HubertConfig()`` (HuBERT-base: 12 layers, 768-d) with random weights,
saved and loaded through ``HubertEncoder`` like a real checkpoint (random weights cost
exactly what trained ones do). Two measures per batch size:

* ``encoder``: ``embed_batch`` on 30 s of voiced audio per note (the GPU's part: conv
  feature encoder per note, one masked transformer pass for the batch);
* ``pipeline``: ``Pipeline.features_batch`` on the bundled 19 s ogg/opus sample note
  (decode, prepare, style and mel on ``--threads`` CPU threads, embeddings in one pass):
  what a ``rapsim worker --device cuda --batch-size N`` feeds the GPU with.

Prints JSON (median of ``--rounds`` after a warm-up). ``--device cuda`` falls back to
the CPU with a note in the output when no GPU is there (expect minutes, not seconds).

    python -m bench.gpu_batch --device cuda [--batches 1,8,32] [--out bench/out/gpu.json]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.table import emit

SR = 16_000
SAMPLE_NOTE = Path(__file__).resolve().parent.parent / "inference/demo_data/sample_note.ogg"


def pick_device(wanted: str) -> tuple[str, str]:
    import torch

    if wanted.startswith("cuda") and not torch.cuda.is_available():
        return "cpu", "no CUDA device: measured on the CPU instead"
    return wanted, ""


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn: Any, device: str, rounds: int) -> float:
    """Median seconds of ``fn()`` over ``rounds`` runs after one warm-up run."""
    fn()
    sync(device)
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=30.0, help="voiced audio per note")
    ap.add_argument("--threads", type=int, default=8, help="CPU threads of the pipeline")
    ap.add_argument("--skip-pipeline", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)

    import torch
    from transformers import HubertConfig, HubertModel

    from inference import Pipeline, PipelineOptions
    from inference.voice.hubert import HubertEncoder

    device, note = pick_device(args.device)
    batches = [int(b) for b in args.batches.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        HubertModel(HubertConfig()).save_pretrained(tmp)
        encoder = HubertEncoder(tmp, device=device)
    rng = np.random.default_rng(0)
    wav = (0.1 * rng.standard_normal(int(args.seconds * SR))).astype(np.float32)
    pipeline = Pipeline(encoder, PipelineOptions(threads=None))
    ogg = SAMPLE_NOTE.read_bytes()
    doc: dict[str, Any] = {
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if device.startswith("cuda") else "",
        "model": "HubertConfig() (base), random weights, layer 6, float32",
        "note": note,
        "seconds_per_note": args.seconds,
        "encoder": {},
        "pipeline": {},
    }
    for b in batches:
        wavs = [wav] * b
        s = timed(lambda wavs=wavs: encoder.embed_batch(wavs), device, args.rounds)
        doc["encoder"][str(b)] = {"notes_per_s": round(b / s, 1), "batch_ms": round(s * 1000)}
        if not args.skip_pipeline:
            notes = [ogg] * b
            s = timed(
                lambda notes=notes: pipeline.features_batch(notes, threads=args.threads),
                device,
                args.rounds,
            )
            doc["pipeline"][str(b)] = {"notes_per_s": round(b / s, 1), "batch_ms": round(s * 1000)}
        if device.startswith("cuda"):
            doc.setdefault("gpu_peak_mb", {})[str(b)] = round(
                torch.cuda.max_memory_allocated() / 2**20
            )
        print(f"batch {b}: {doc['encoder'][str(b)]}", file=sys.stderr)
    one = doc["encoder"][str(batches[0])]["notes_per_s"]
    doc["encoder_speedup_over_first"] = {
        k: round(v["notes_per_s"] / one, 2) for k, v in doc["encoder"].items()
    }
    emit(doc, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
