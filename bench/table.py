"""Benchmark JSON output, and the README's Markdown tables made from it.

python -m bench.table bench/out/accuracy.json bench/out/latency.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def emit(doc: dict, out: Path | None) -> None:
    """Print a benchmark's JSON and, when asked, write it to ``out``."""
    text = json.dumps(doc, indent=1)
    print(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")


def accuracy_table(doc: dict) -> str:
    """One row per condition; with a ``--head`` run, the head's columns come first."""
    head = bool(doc.get("head"))
    title = "| condition | "
    if head:
        title += "head top-1 | head hit@5 | head AUC | head silhouette | "
    lines = [
        title + "top-1 | hit@5 | AUC | silhouette | worst engine (top-1) "
        "| naive top-1 | naive AUC | naive silhouette |",
        "|---|" + "---|" * (8 + 4 * head),
    ]
    for name, s in doc["conditions"].items():
        worst = min(s["top1_by_engine"].items(), key=lambda kv: kv[1])
        nan = float("nan")
        naive = {k: s.get("naive_baseline", {}).get(k, nan) for k in ("top1", "auc", "silhouette")}
        row = f"| {name} | "
        if head:
            h = s["head"]
            row += f"{h['top1']:.3f} | {h['hit5']:.3f} | {h['auc']:.4f} | {h['silhouette']:.3f} | "
        lines.append(
            row + f"{s['top1']:.3f} | {s['hit5']:.3f} | {s['auc']:.4f} | "
            f"{s['silhouette']:.3f} | {worst[0]} {worst[1]:.3f} | {naive['top1']:.3f} | "
            f"{naive['auc']:.4f} | {naive['silhouette']:.3f} |"
        )
    return "\n".join(lines)


def heads_table(doc: dict) -> str:
    """``bench.heads``: top-1 per method and condition."""
    conds = doc["conditions"]
    lines = [
        "| method | " + " | ".join(conds) + " | mean |",
        "|---|" + "---:|" * (len(conds) + 1),
    ]
    for name, r in doc["methods"].items():
        top1 = [r["conditions"][c]["top1"] for c in conds]
        lines.append(
            f"| {name} | " + " | ".join(f"{v:.3f}" for v in top1) + f" | {np.mean(top1):.3f} |"
        )
    return "\n".join(lines)


def latency_table(doc: dict) -> str:
    stages = ", ".join(f"{k} {v:.0f}" for k, v in doc["stages_ms_p50"].items())
    cold = doc["cold_start_s"]
    return (
        f"| 30 s ogg/opus note, warm | p50 {doc['end_to_end_ms']['p50']:.0f} ms, "
        f"p95 {doc['end_to_end_ms']['p95']:.0f} ms |\n"
        f"| stages, p50 (ms) | {stages} |\n"
        f"| cold start | {cold['total_s']:.1f} s (imports {cold['import_s']:.1f}, load "
        f"{cold['load_s']:.1f}, warm-up {cold['warmup_s']:.1f}) |\n"
        f"| peak RSS | {doc['peak_rss_mb']['end']} MB |\n"
        f"| PNG | {doc['png_kb']:.0f} KB |"
    )


def bot_table(doc: dict) -> str:
    rss = ", ".join(f"{r['peak']:.0f}" for r in doc["worker_rss_mb"].values())
    lat = doc["reply_latency_s"]
    return (
        f"| {doc['workers']} workers, {doc['clients']} members sending at once, "
        f"{doc['notes']} notes of {doc['note_seconds']:.0f} s | "
        f"{doc['notes_per_minute']:.0f} notes/min, {doc['failed']} failed |\n"
        f"| reply latency under that load (queue wait included) | p50 {lat['p50']:.2f} s, "
        f"p95 {lat['p95']:.2f} s |\n"
        f"| RSS per worker (peak) | {rss} MB |\n"
        f"| bot process RSS | {doc['bot_process_rss_mb']['peak']:.0f} MB |\n"
        f"| pool start (load + warm-up, all workers) | {doc['pool_start_s']:.1f} s |"
    )


def main(argv: list[str]) -> int:
    for path in argv:
        doc = json.loads(Path(path).read_text())
        if "methods" in doc:
            print(heads_table(doc))
        elif "conditions" in doc:
            print(accuracy_table(doc))
        elif "notes_per_minute" in doc:
            print(bot_table(doc))
        else:
            print(latency_table(doc))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
