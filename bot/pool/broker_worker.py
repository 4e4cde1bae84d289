"""``rapsim worker``: takes jobs from Redis (taskiq), runs them, answers; any machine.

A worker loads its catalogue and encoder once and warms up (through a runner of
:mod:`bot.runners`), then checks that it serves the fleet the bot serves (catalogue,
encoder, job schema): if not, it says so in one log line and exits with code 2 without
taking a job. Otherwise it announces itself every second (a :class:`~bot.jobs.WorkerInfo`
with a 4 s TTL: the bot counts its job slots, and notices at once when it dies) and
consumes its fleet's stream with taskiq's receiver, ``slots`` jobs at a time.

Per job it takes the note with one atomic GETDEL (a message delivered twice runs once),
runs it, answers on the job's result list, and logs one line: ``job <id> <kind> <ms> ms
<outcome>``. Counts and job times are in the heartbeat (``rapsim status``) and, with
``--metrics-port``, on a Prometheus text endpoint.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError
from taskiq.api import run_receiver_task
from taskiq.kicker import AsyncKicker

from ..errors import JobError, JobRejected, JobTimedOut, WorkerCrashed
from ..jobs import AnalyzeJob, CatalogInfo, CompareJob, JobFailure, WorkerInfo
from . import wire
from .broker import (
    HEARTBEAT_S,
    TASK_NAME,
    WORKER_TTL_S,
    Fleet,
    Keys,
    ListResultBackend,
    StreamBroker,
    connect,
)
from .local import WorkerConfig
from .runners import BatchRunner, JobTimes, ProcessRunner, Runner, now_ms

log = logging.getLogger("rapsim.worker")

EXIT_REFUSED = 2
FAILED = "Something went wrong on our side while analysing that; please try again."
_TAKE = """
local job = redis.call('GETDEL', KEYS[1])
if job then redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2]) end
return job
"""


@dataclass(frozen=True)
class BrokerWorkerConfig:
    url: str
    worker: WorkerConfig
    concurrency: int = 1  # worker processes (CPU); ignored when batching
    batch_size: int = 1  # > 1: one process, notes embedded in batches (GPU)
    batch_wait_ms: float = 20.0
    job_timeout_s: float = 60.0
    namespace: str = "rapsim"
    metrics_port: int = 0  # 0: no Prometheus endpoint
    max_job_bytes: int = 64 * 1024 * 1024

    @property
    def slots(self) -> int:
        # a batching worker holds two batches: one on the GPU, the next one gathering
        return 2 * self.batch_size if self.batch_size > 1 else self.concurrency


class BrokerWorker:
    def __init__(self, config: BrokerWorkerConfig, runner: Runner | None = None) -> None:
        self.config = config
        self.keys = Keys(config.namespace)
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.times = JobTimes()
        self.runner: Runner = runner or (
            BatchRunner(config.worker, config.batch_size, config.batch_wait_ms)
            if config.batch_size > 1
            else ProcessRunner(config.worker, config.concurrency, config.job_timeout_s)
        )
        self._ttl = int(config.job_timeout_s * 2 + 60)
        self._redis = connect(config.url)
        self._stop = asyncio.Event()
        self._exit = 0
        self._running = 0
        self._broker: StreamBroker | None = None
        self._metrics: Any = None
        self.fleet: Fleet | None = None
        self.catalog: CatalogInfo | None = None

    async def run(self) -> int:
        """Load, check the fleet, serve until SIGTERM/SIGINT; the process exit code."""
        self.catalog = await self.runner.start()
        self.fleet = Fleet(self.runner.catalog_id, self.catalog.encoder)
        tasks: list[asyncio.Task[Any]] = []
        try:
            if not await self._fleet_matches_at_start():
                return EXIT_REFUSED
            self._metrics = _metrics(self.config.metrics_port)
            broker = StreamBroker(self.config.url, self.keys.stream(self.fleet.key), self.worker_id)
            broker.with_result_backend(ListResultBackend(self._redis, self.keys, self._ttl))
            self._broker = broker

            async def run_job(job_id: str) -> bytes | None:  # taskiq renames what it registers
                return await self._run(job_id)

            broker.register_task(run_job, task_name=TASK_NAME)
            await self._beat()
            tasks = [
                asyncio.create_task(self._heartbeat(), name="rapsim-heartbeat"),
                asyncio.create_task(
                    run_receiver_task(
                        broker, max_async_tasks=self.config.slots, max_prefetch=0, run_startup=True
                    ),
                    name="rapsim-receiver",
                ),
            ]
            log.info(
                "worker %s serving %s with %d slot(s)",
                self.worker_id,
                self.fleet.describe(),
                self.config.slots,
            )
            self._on_signals()
            await self._stop.wait()
            await self._drain()
            return self._exit
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._leave()
            await self.runner.close()

    def stop(self, code: int = 0) -> None:
        self._exit = code
        self._stop.set()

    async def _drain(self) -> None:
        """Finish the jobs running now; jobs delivered from here on go back to the queue."""
        deadline = time.monotonic() + self.config.job_timeout_s + 5
        while self._running and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self._running:
            log.error("stopping with %d job(s) still running", self._running)

    # ---- one job ---------------------------------------------------------------------
    async def _run(self, job_id: str) -> bytes | None:
        if self._stop.is_set():  # stopping: hand the job to another worker, untouched
            assert self._broker is not None
            kicker: AsyncKicker[Any, Any] = AsyncKicker(TASK_NAME, self._broker, {})
            await kicker.with_task_id(job_id).kiq(job_id)
            log.info("job %s handed back to the queue (stopping)", job_id[:8])
            return None
        self._running += 1
        try:
            return await self._run_job(job_id)
        finally:
            self._running -= 1

    async def _run_job(self, job_id: str) -> bytes | None:
        t = time.perf_counter()
        keys = (self.keys.job(job_id), self.keys.taken(job_id))
        payload = await self._redis.eval(_TAKE, 2, *keys, self.worker_id, self._ttl)  # type: ignore[misc]
        if payload is None:
            log.info("job %s dropped: already taken, answered or expired", job_id[:8])
            return None
        try:
            job = wire.decode(payload, max_bytes=self.config.max_job_bytes)
            if not isinstance(job, AnalyzeJob | CompareJob):
                raise wire.WireError(f"a {type(job).__name__} is not a job")
        except wire.WireError as e:
            log.warning("job %s: dropped a malformed job (%s)", job_id[:8], e)
            return self._done(job_id, "?", t, "malformed", JobFailure("error", FAILED))
        kind = "analyze" if isinstance(job, AnalyzeJob) else "compare"
        try:
            answer: Any = await self.runner.run(job)
            outcome = "ok"
        except JobRejected as e:
            answer, outcome = JobFailure("rejected", str(e)), "rejected"
        except WorkerCrashed:
            answer, outcome = JobFailure("crashed", ""), "crashed"
        except JobTimedOut:
            answer, outcome = JobFailure("timeout", ""), "timeout"
        except JobError as e:
            answer, outcome = JobFailure("error", str(e) or FAILED), "error"
        return self._done(job_id, kind, t, outcome, answer)

    def _done(self, job_id: str, kind: str, t: float, outcome: str, answer: Any) -> bytes:
        ms = now_ms(t)
        self.times.add(ms, failed=outcome not in ("ok", "rejected"))
        log.info("job %s %s %.0f ms %s", job_id[:8], kind, ms, outcome)
        if self._metrics is not None:
            self._metrics["jobs"].labels(kind=kind, outcome=outcome).inc()
            self._metrics["seconds"].observe(ms / 1000)
        return wire.encode(answer)

    # ---- presence --------------------------------------------------------------------
    async def _fleet_matches_at_start(self) -> bool:
        try:
            return await self._fleet_matches()
        except (RedisError, OSError) as e:
            log.warning("broker unreachable at start (%s); going on", str(e)[:120])
            return True

    async def _fleet_matches(self) -> bool:
        """False (and one log line) when the bot serves another catalogue/encoder/schema."""
        assert self.fleet is not None
        blob: Any = await self._redis.get(self.keys.identity)
        if blob is None:
            return True
        try:
            bot = Fleet.from_bytes(blob)
        except wire.WireError as e:
            log.error("refused: the broker's fleet identity is unreadable (%s)", e)
            return False
        if bot != self.fleet:
            log.error(
                "refused: this worker serves %s but the bot serves %s; it takes no jobs",
                self.fleet.describe(),
                bot.describe(),
            )
            return False
        return True

    async def _heartbeat(self) -> None:
        down = False
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self._beat()
                matches = await self._fleet_matches()
            except (RedisError, OSError) as e:
                if not down:
                    log.error("broker unreachable (%s); retrying", str(e).splitlines()[0][:120])
                down = True
                continue
            if down:
                log.warning("broker reachable again")
                down = False
            if not matches:
                self.stop(EXIT_REFUSED)
                return

    async def _beat(self) -> None:
        assert self.fleet is not None and self.catalog is not None
        info = WorkerInfo(
            worker_id=self.worker_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            concurrency=self.config.slots,
            device=self.config.worker.device,
            catalog_id=self.fleet.catalog_id,
            catalog=self.catalog,
            jobs=self.times.jobs,
            failures=self.times.failures,
            p50_ms=round(self.times.quantile(50), 1),
            p95_ms=round(self.times.quantile(95), 1),
        )
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self.keys.worker(self.worker_id), wire.encode(info), ex=WORKER_TTL_S)
            pipe.sadd(self.keys.workers, self.worker_id)
            pipe.zcard(self.keys.pending(self.fleet.key))
            depth = (await pipe.execute())[2]
        if self._metrics is not None:
            self._metrics["queue"].set(depth)

    async def _leave(self) -> None:
        try:
            await self._redis.delete(self.keys.worker(self.worker_id))
            await self._redis.srem(self.keys.workers, self.worker_id)
        except (RedisError, OSError):
            pass
        await self._redis.aclose()

    def _on_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)


def _metrics(port: int) -> dict[str, Any] | None:
    """Prometheus counters on ``port`` (text format at /metrics), or None."""
    if not port:
        return None
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

    registry = CollectorRegistry()
    metrics = {
        "jobs": Counter("rapsim_jobs", "Jobs answered", ["kind", "outcome"], registry=registry),
        "seconds": Histogram(
            "rapsim_job_seconds",
            "Time to run one job",
            buckets=(0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60),
            registry=registry,
        ),
        "queue": Gauge("rapsim_queue_depth", "Jobs admitted and not answered", registry=registry),
    }
    start_http_server(port, addr="0.0.0.0", registry=registry)
    log.info("metrics on :%d/metrics", port)
    return metrics


def run_worker(config: BrokerWorkerConfig) -> int:
    """Run a broker worker until stopped; returns the exit code."""
    return asyncio.run(BrokerWorker(config).run())
