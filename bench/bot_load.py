"""Bot throughput benchmark: 30 s voice notes through the real service and worker pool.

``--clients`` members each send a note, wait for the reply, and send the next, until
``--notes`` replies came back (a closed loop that keeps every worker busy and the queue
non-empty). Reports notes per minute, reply latency p50/p95 as a member sees it (queue
wait included), the workers' own time per note, and each worker's RSS (current and peak).
The bot process never imports ``inference``: the notes are made with ffmpeg alone.

``--pool redis`` runs the same load through the distributed pool: a redis-server started
here and ``--workers`` ``rapsim worker`` processes (one inference process each), and adds
Redis's peak memory; ``--pool both`` runs the local pool and then the distributed one in
the same invocation and reports their throughput ratio.

    python -m bench.bot_load --workers 2 --notes 120 [--catalog DIR] [--out bench/out/bot.json]
    python -m bench.bot_load --pool both --workers 2 --notes 120 --catalog DIR
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.table import emit
from bot.app import create_service
from bot.member import Member
from bot.settings import Settings

SAMPLE_NOTE = Path(__file__).resolve().parent.parent / "inference/demo_data/sample_note.ogg"


def make_notes(into: Path, seconds: float, count: int) -> list[bytes]:
    """``count`` different 30 s ogg/opus notes: the sample note looped from other offsets."""
    notes = []
    for i in range(count):
        out = into / f"note{i}.ogg"
        loop = ["-stream_loop", "-1", "-ss", f"{i * 1.7:.1f}", "-i", str(SAMPLE_NOTE)]
        opus = ["-t", str(seconds), "-ar", "48000", "-ac", "1", "-c:a", "libopus", "-b:a", "32k"]
        cmd = ["ffmpeg", "-loglevel", "error", "-y", *loop, *opus, str(out)]
        subprocess.run(cmd, check=True)
        notes.append(out.read_bytes())
    return notes


def rss_mb(pid: int) -> dict[str, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(rest.split()[0]) / 1024, 1)
    return {"rss": fields["VmRSS"], "peak": fields["VmHWM"]}


def tree_rss_mb(pid: int) -> dict[str, float]:
    """RSS of a process and its children (a ``rapsim worker`` and its inference process)."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    parts = [rss_mb(p) for p in (pid, *map(int, out.stdout.split()))]
    return {k: round(sum(p[k] for p in parts), 1) for k in ("rss", "peak")}


def pct(values: list[float], q: float) -> float:
    return float(statistics.quantiles(values, n=100, method="inclusive")[q - 1])


async def run(
    args: argparse.Namespace, notes: list[bytes], data_dir: Path, broker_url: str = ""
) -> dict:
    settings = Settings(
        catalog=args.catalog or "",
        data_dir=data_dir,
        workers=args.workers,
        queue_size=max(args.clients, 1),
        notes_per_minute=1000,
        job_timeout_s=120,
        broker_url=broker_url,
    )
    service = create_service(settings)
    t = time.perf_counter()
    await service.start()
    pool: Any = service.pool
    while broker_url and pool.capacity() < args.workers:  # rapsim worker processes loading
        await asyncio.sleep(0.1)
    start_s = time.perf_counter() - t
    latencies: list[float] = []
    failures: list[str] = []
    remaining = args.notes

    async def client(c: int) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            note = notes[(c + remaining) % len(notes)]
            member = Member("bench", "g", f"m{remaining}", f"Member {remaining}")
            t0 = time.perf_counter()
            reply = await service.analyze(member, note, "note.ogg", "audio/ogg")
            latencies.append(time.perf_counter() - t0)
            if not reply.ok:
                failures.append(reply.text)

    t = time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(args.clients)))
    elapsed = time.perf_counter() - t
    workers = {str(pid): tree_rss_mb(pid) for pid in pool.worker_pids()}
    stats = pool.stats
    await service.close()
    return {
        "workers": args.workers,
        "clients": args.clients,
        "notes": len(latencies),
        "note_seconds": args.seconds,
        "failed": len(failures),
        "failure_examples": failures[:3],
        "notes_per_minute": round(60 * len(latencies) / elapsed, 1),
        "reply_latency_s": {
            "p50": round(pct(latencies, 50), 3),
            "p95": round(pct(latencies, 95), 3),
            "max": round(max(latencies), 3),
        },
        "pool_start_s": round(start_s, 1),
        "worker_rss_mb": workers,
        "bot_process_rss_mb": rss_mb(os.getpid()),
        "pool_stats": {k: v for k, v in vars(stats).items() if k != "worker_pids"},
        "cpu_count": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--clients", type=int, default=8, help="members sending at once")
    ap.add_argument("--notes", type=int, default=120)
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each note")
    ap.add_argument("--catalog", help="catalogue folder (default: the demo catalogue)")
    ap.add_argument("--pool", choices=("local", "redis", "both"), default="local")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    doc: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        notes = make_notes(Path(tmp), args.seconds, 4)
        if args.pool in ("local", "both"):
            doc["local"] = asyncio.run(run(args, notes, Path(tmp) / "data"))
        if args.pool in ("redis", "both"):
            doc["redis"] = run_distributed(args, notes, Path(tmp))
    assert "inference" not in sys.modules, "the bot process imported inference"
    if args.pool == "both":
        ratio = doc["redis"]["notes_per_minute"] / doc["local"]["notes_per_minute"]
        doc["redis_over_local_throughput"] = round(ratio, 3)
    emit(doc if args.pool == "both" else doc[args.pool], args.out)
    return 0


def run_distributed(args: argparse.Namespace, notes: list[bytes], tmp: Path) -> dict:
    """The same load through a local redis-server and ``--workers`` rapsim worker processes."""
    import redis

    port = 16400 + os.getpid() % 1000
    url = f"redis://127.0.0.1:{port}/0"
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp),
        ],
        stdout=subprocess.DEVNULL,
    )
    worker = [sys.executable, "-m", "rapsim", "worker", "--broker-url", url]
    worker += ["--catalog", args.catalog] if args.catalog else []
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    workers = [subprocess.Popen(worker, env=env) for _ in range(args.workers)]
    try:
        doc = asyncio.run(run(args, notes, tmp / "data-redis", broker_url=url))
        info = redis.Redis.from_url(url).info("memory")
        doc["redis_peak_mb"] = round(int(info["used_memory_peak"]) / 2**20, 2)
        doc["redis_used_mb_after"] = round(int(info["used_memory"]) / 2**20, 2)
        return doc
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(30)
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    sys.exit(main())
