"""Bot throughput benchmark: 30 s voice notes through the real service and worker pool.

``--clients`` members each send a note, wait for the reply, and send the next, until
``--notes`` replies came back (a closed loop that keeps every worker busy and the queue
non-empty). Reports notes per minute, reply latency p50/p95 as a member sees it (queue
wait included), the workers' own time per note, and each worker's RSS (current and peak).
The bot process never imports ``inference``: the notes are made with ffmpeg alone.

``--pool redis`` runs the same load through the distributed pool: a redis-server started
here and ``--workers`` ``rapsim worker`` processes (one inference process each), and adds
Redis's peak memory; ``--pool both`` starts both pools and sends them the notes in
alternating rounds (``--round`` notes each), so a shared machine's changing load hits
both alike, and reports their throughput ratio.

    python -m bench.bot_load --workers 2 --notes 120 [--catalog DIR] [--out bench/out/bot.json]
    python -m bench.bot_load --pool both --workers 2 --notes 120 --catalog DIR
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

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


async def start_service(args: argparse.Namespace, data_dir: Path, broker_url: str = "") -> tuple:
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
    return service, time.perf_counter() - t


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    members: Iterator[int] = field(default_factory=itertools.count)


async def load(service: Any, notes: list[bytes], count: int, clients: int, tally: Tally) -> None:
    """``clients`` members each send a note as soon as their previous reply came."""
    remaining = count

    async def client(c: int) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            n = next(tally.members)  # a new member per note: the per-member limits stay out
            member = Member("bench", "g", f"m{n}", f"Member {n}")
            t0 = time.perf_counter()
            reply = await service.analyze(member, notes[(c + n) % len(notes)], "n.ogg", "audio/ogg")
            tally.latencies.append(time.perf_counter() - t0)
            if not reply.ok:
                tally.failures.append(reply.text)

    t = time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(clients)))
    tally.elapsed += time.perf_counter() - t


def report(args: argparse.Namespace, service: Any, tally: Tally, start_s: float) -> dict:
    pool = service.pool
    lat = tally.latencies
    return {
        "workers": args.workers,
        "clients": args.clients,
        "notes": len(lat),
        "note_seconds": args.seconds,
        "failed": len(tally.failures),
        "failure_examples": tally.failures[:3],
        "notes_per_minute": round(60 * len(lat) / tally.elapsed, 1),
        "reply_latency_s": {
            "p50": round(pct(lat, 50), 3),
            "p95": round(pct(lat, 95), 3),
            "max": round(max(lat), 3),
        },
        "pool_start_s": round(start_s, 1),
        "worker_rss_mb": {str(pid): tree_rss_mb(pid) for pid in pool.worker_pids()},
        "bot_process_rss_mb": rss_mb(os.getpid()),
        "pool_stats": {k: v for k, v in vars(pool.stats).items() if k != "worker_pids"},
        "cpu_count": os.cpu_count(),
    }


async def run(args: argparse.Namespace, notes: list[bytes], tmp: Path, url: str) -> dict:
    """Every pool asked for is started; the notes go to them in alternating rounds of
    ``--round`` notes, so a shared machine's changing load hits each pool alike."""
    kinds = ("local", "redis") if args.pool == "both" else (args.pool,)
    services = {}
    for kind in kinds:
        services[kind] = await start_service(
            args, tmp / f"data-{kind}", url if kind == "redis" else ""
        )
    tallies = {kind: Tally() for kind in kinds}
    sent = 0
    while sent < args.notes:
        count = min(args.round, args.notes - sent)
        for kind in kinds:
            await load(services[kind][0], notes, count, args.clients, tallies[kind])
        sent += count
    doc = {k: report(args, services[k][0], tallies[k], services[k][1]) for k in kinds}
    for service, _ in services.values():
        await service.close()
    return doc


def redis_server(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = 16400 + os.getpid() % 1000
    args = f"--port {port} --bind 127.0.0.1 --appendonly no --dir {tmp}".split()
    server = subprocess.Popen(["redis-server", *args, "--save", ""], stdout=subprocess.DEVNULL)
    return server, f"redis://127.0.0.1:{port}/0"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--clients", type=int, default=8, help="members sending at once")
    ap.add_argument("--notes", type=int, default=120)
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each note")
    ap.add_argument("--catalog", help="catalogue folder (default: the demo catalogue)")
    ap.add_argument("--pool", choices=("local", "redis", "both"), default="local")
    ap.add_argument("--round", type=int, default=20, help="notes per pool per round (both)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        notes = make_notes(Path(tmp), args.seconds, 4)
        server, url = redis_server(Path(tmp)) if args.pool != "local" else (None, "")
        cmd = [sys.executable, "-m", "rapsim", "worker", "--broker-url", url]
        cmd += ["--catalog", args.catalog] if args.catalog else []
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        workers = [subprocess.Popen(cmd, env=env) for _ in range(args.workers if url else 0)]
        try:
            doc = asyncio.run(run(args, notes, Path(tmp), url))
            if url:
                info = redis.Redis.from_url(url).info("memory")
                doc["redis"]["redis_peak_mb"] = round(int(info["used_memory_peak"]) / 2**20, 2)
                doc["redis"]["redis_used_mb_after"] = round(int(info["used_memory"]) / 2**20, 2)
        finally:
            for w in workers:
                w.terminate()
                w.wait(30)
            if server:
                server.terminate()
                server.wait(10)
    assert "inference" not in sys.modules, "the bot process imported inference"
    if args.pool == "both":
        ratio = doc["redis"]["notes_per_minute"] / doc["local"]["notes_per_minute"]
        doc["redis_over_local_throughput"] = round(ratio, 3)
    emit(doc if args.pool == "both" else doc[args.pool], args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
