"""Two task engines on the same round trip: taskiq + taskiq-redis against Celery.

A 300 KB note goes in; a 110 KB PNG and a whole analysis (the ``bot.jobs`` dataclasses,
encoded by ``bot.pool.wire`` on both engines) come back; two worker processes; one local
redis-server started here. The workers answer with a fixed analysis instead of running
inference, so the figures are the engine's and the transport's own cost: the broker
round trip per note, sequential (p50/p95) and with 8 notes in flight (notes/s), and
Redis's peak memory.

* taskiq: the real ``DistributedPool`` against real ``BrokerWorker`` processes (only
  their runner answers at once), so admission, GETDEL, heartbeats, result lists count.
* Celery 5.7: redis broker and result backend, msgpack, ``acks_late`` and
  ``reject_on_worker_lost``, prefork with 2 processes, prefetch 1; the bot side waits on
  ``AsyncResult.get`` in a thread (Celery has no asyncio client).

Celery is not a rapsim dependency: ``pip install 'celery[redis]==5.7.*'`` first.

    python -m bench.broker_compare --jobs 200 --out bench/out/brokers.json
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.canned import PNG_BYTES, canned_analysis
from bench.table import emit
from bot.jobs import Analysis, AnalyzeJob, ArtistEntry, CatalogInfo
from bot.pool import wire

ROOT = Path(__file__).resolve().parent.parent
NOTE_BYTES = 300_000


class EchoRunner:
    """A broker worker's runner that answers every job at once with the canned analysis."""

    catalog_id = "echo"

    def __init__(self) -> None:
        self.answer = canned_analysis()

    async def start(self) -> CatalogInfo:
        return CatalogInfo(artists=(ArtistEntry("Echo", 1, 1.0, True),), encoder="echo 0")

    async def run(self, job: Any) -> Any:
        return self.answer

    async def close(self) -> None:
        pass


def serve_taskiq(url: str) -> int:
    from bot.pool.broker_worker import BrokerWorker, BrokerWorkerConfig
    from bot.pool.local import WorkerConfig

    config = BrokerWorkerConfig(url=url, worker=WorkerConfig(), concurrency=1)
    return asyncio.run(BrokerWorker(config, runner=EchoRunner()).run())


# ---- measuring ----------------------------------------------------------------------------
async def measure(send, jobs: int, clients: int) -> dict[str, Any]:
    """Sequential round trips, then ``clients`` at once."""
    times = []
    for _ in range(jobs):
        t = time.perf_counter()
        await send()
        times.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    remaining = jobs

    async def client() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await send()

    await asyncio.gather(*(client() for _ in range(clients)))
    return {
        "round_trip_ms": {
            "p50": round(float(np.percentile(times, 50)), 2),
            "p95": round(float(np.percentile(times, 95)), 2),
        },
        f"notes_per_s_{clients}_in_flight": round(jobs / (time.perf_counter() - t), 1),
    }


async def run_taskiq(url: str, note: bytes, jobs: int, clients: int) -> dict[str, Any]:
    from bot.pool.distributed import DistributedPool

    workers = [spawn([sys.executable, "-m", "bench.broker_compare", "--serve-taskiq", url])]
    workers.append(spawn([sys.executable, "-m", "bench.broker_compare", "--serve-taskiq", url]))
    pool = DistributedPool(url, queue_size=64, job_timeout_s=30)
    await pool.start()
    try:
        while pool.capacity() < 2:
            await asyncio.sleep(0.1)
        job = AnalyzeJob(note, "note.ogg")

        async def send() -> None:
            assert (await pool.analyze(job)).image_png

        await measure(send, 20, 1)  # warm-up
        return await measure(send, jobs, clients)
    finally:
        await pool.close()
        stop(workers)


async def run_celery(url: str, note: bytes, jobs: int, clients: int) -> dict[str, Any]:
    env = {**os.environ, "ECHO_BROKER": url}
    cmd = [sys.executable, "-m", "celery", "-A", "bench.celery_echo", "worker", "-c", "2"]
    workers = [spawn([*cmd, "--pool", "prefork", "--loglevel", "WARNING"], env)]
    os.environ["ECHO_BROKER"] = url
    from bench.celery_echo import app

    try:
        while not app.control.ping(timeout=0.5):
            await asyncio.sleep(0.2)

        def call() -> None:
            result = app.send_task("echo", args=[note])
            value = wire.decode(result.get(timeout=30), Analysis)
            result.forget()
            assert value.image_png

        async def send() -> None:
            await asyncio.to_thread(call)

        await measure(send, 20, 1)
        return await measure(send, jobs, clients)
    finally:
        stop(workers)


def spawn(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, cwd=ROOT, env=env or {**os.environ, "OMP_NUM_THREADS": "1"})


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for p in processes:
        p.terminate()
    for p in processes:
        p.wait(20)


def redis_server(folder: Path, port: int) -> subprocess.Popen[bytes]:
    args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", ""]
    proc = subprocess.Popen(
        ["redis-server", *args, "--appendonly", "no"], stdout=subprocess.DEVNULL
    )
    time.sleep(0.5)
    return proc


def peak_memory(url: str) -> float:
    import redis

    return round(int(redis.Redis.from_url(url).info("memory")["used_memory_peak"]) / 2**20, 2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--engines", default="taskiq,celery")
    ap.add_argument("--serve-taskiq", metavar="URL", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    if args.serve_taskiq:
        return serve_taskiq(args.serve_taskiq)
    note = np.random.default_rng(1).bytes(NOTE_BYTES)
    doc: dict[str, Any] = {"note_bytes": NOTE_BYTES, "png_bytes": PNG_BYTES, "workers": 2}
    runs = {"taskiq": run_taskiq, "celery": run_celery}
    for i, engine in enumerate(args.engines.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            port = 16379 + i
            server = redis_server(Path(tmp), port)
            url = f"redis://127.0.0.1:{port}/0"
            try:
                doc[engine] = asyncio.run(runs[engine](url, note, args.jobs, args.clients))
                doc[engine]["redis_peak_mb"] = peak_memory(url)
            finally:
                server.terminate()
                server.wait(10)
    emit(doc, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
