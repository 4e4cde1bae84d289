"""The inference worker pool: jobs in, results out, inference never on the event loop.

:class:`InferencePool` is the small interface the service uses; :class:`ProcessPool` is
the local implementation (a queue spanning machines could implement it later without
touching the service or the adapters). ProcessPool keeps ``workers`` spawned processes
(``bot.worker``): each loads the encoder and the catalogue once and warms up before it
reports ready. Jobs wait in one bounded queue: when it is full a job is refused at once
(:class:`PoolBusy`). Each job has a time limit; a worker that dies (segfault, OOM kill) or
overruns fails only its own job and is replaced while the others keep working.

Each worker talks over its own pipe; a blocking ``recv`` runs in a thread so the event
loop never waits on a worker. The pool does not retry jobs: a crash may be the input's
fault, and the member is told to try again.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing as mp
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Protocol

from ..errors import JobError, JobRejected, JobTimedOut, PoolBusy, PoolClosed, WorkerCrashed
from ..jobs import Analysis, AnalyzeJob, CatalogInfo, CompareJob, Comparison

log = logging.getLogger(__name__)

START_TIMEOUT_S = 900.0  # first start may build the demo catalogue (about a minute)
RESPAWN_BACKOFF_S = 5.0
STOP_GRACE_S = 5.0


class InferencePool(Protocol):
    """What the service needs from whatever runs inference."""

    async def start(self) -> CatalogInfo: ...

    async def analyze(self, job: AnalyzeJob) -> Analysis: ...

    async def compare(self, job: CompareJob) -> Comparison: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class WorkerConfig:
    """What every worker process loads: picklable, sent to the process at spawn."""

    catalog: str = ""  # catalogue folder; "" is the bundled demo catalogue
    encoder: str = "resemblyzer"
    separator: str = ""  # "" the bundled separator, "demucs:<folder>" (rapsim[demucs])
    device: str = "cpu"  # torch device of the encoder ("cuda" on a GPU worker)
    max_note_seconds: float = 300.0
    threads: int = 1  # torch threads per worker: more than 1 oversubscribes the cores
    log_level: int = logging.INFO


@dataclass
class PoolStats:
    accepted: int = 0
    completed: int = 0
    rejected_input: int = 0  # the input was the problem (no voice, not audio)
    busy: int = 0  # refused because the queue was full
    offline: int = 0  # refused because no worker (or no broker) was there
    crashed: int = 0
    timed_out: int = 0
    restarts: int = 0
    max_queued: int = 0
    worker_pids: list[int] = field(default_factory=list)


class _Worker:
    """One worker process and its pipe. Not reused after a crash: a new one replaces it."""

    def __init__(self, ctx: Any, config: WorkerConfig, executor: ThreadPoolExecutor) -> None:
        from .worker import worker_main

        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(
            target=worker_main, args=(child, config), name="rapsim-worker", daemon=True
        )
        self.process.start()
        child.close()  # else the parent keeps the child's end open and never sees EOF
        self.executor = executor
        self.catalog_id = ""  # the catalogue's manifest digest, once ready

    @property
    def pid(self) -> int:
        return self.process.pid or 0

    async def recv(self, timeout: float | None) -> Any:
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(
            loop.run_in_executor(self.executor, _recv, self.conn), timeout
        )

    async def ready(self, timeout: float) -> CatalogInfo:
        try:
            tag, value = await self.recv(timeout)
        except (EOFError, OSError):
            code = await asyncio.to_thread(self._join)
            raise PoolClosed(f"a worker exited while loading (exit code {code})") from None
        except TimeoutError:
            self.kill()
            raise PoolClosed(f"a worker was not ready after {timeout:.0f} s") from None
        if tag != "ready":
            self.kill()
            raise PoolClosed(str(value))
        info, self.catalog_id = value
        return info

    def _join(self) -> int | None:
        self.process.join(STOP_GRACE_S)
        return self.process.exitcode

    def kill(self) -> None:
        if self.process.is_alive():
            os.kill(self.pid, signal.SIGKILL)
        self.process.join(STOP_GRACE_S)
        self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
            self.process.join(STOP_GRACE_S)
        except OSError:
            pass
        self.kill()


def _recv(conn: Connection) -> Any:
    return conn.recv()


class ProcessPool:
    """A fixed number of spawned worker processes behind one bounded queue."""

    def __init__(
        self,
        config: WorkerConfig,
        *,
        workers: int = 2,
        queue_size: int = 16,
        job_timeout_s: float = 60.0,
    ) -> None:
        if workers < 1 or queue_size < 1 or job_timeout_s <= 0:
            raise ValueError("workers, queue_size and job_timeout_s must be positive")
        self.config = config
        self.n_workers = workers
        self.queue_size = queue_size
        self.job_timeout_s = job_timeout_s
        self.stats = PoolStats()
        self._ctx = mp.get_context("spawn")
        self._executor = ThreadPoolExecutor(2 * workers + 1, thread_name_prefix="rapsim-pipe")
        self._queue: asyncio.Queue[tuple[str, Any, asyncio.Future[Any]]] | None = None
        self._workers: list[_Worker | None] = [None] * workers
        self._busy: dict[int, bool] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._ids = itertools.count(1)
        self._closed = False
        self.catalog: CatalogInfo | None = None
        self.catalog_id = ""

    # ---- lifecycle -------------------------------------------------------------------
    async def start(self) -> CatalogInfo:
        """Spawn every worker and wait until each is loaded and warm."""
        self._queue = asyncio.Queue(self.queue_size)
        # The first worker alone: on a fresh machine it builds the demo catalogue cache,
        # which the others then load instead of building it again in parallel.
        self.catalog = await self._spawn(0)
        await asyncio.gather(*(self._spawn(i) for i in range(1, self.n_workers)))
        self._tasks = [
            asyncio.create_task(self._serve(i), name=f"rapsim-slot-{i}")
            for i in range(self.n_workers)
        ]
        return self.catalog

    async def _spawn(self, slot: int) -> CatalogInfo:
        worker = _Worker(self._ctx, self.config, self._executor)
        self._workers[slot] = worker
        info = await worker.ready(START_TIMEOUT_S)
        self.catalog_id = worker.catalog_id
        log.info("worker %d ready (pid %d)", slot, worker.pid)
        self.stats.worker_pids = self.worker_pids()
        return info

    async def close(self) -> None:
        self._closed = True
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._queue is not None:
            while not self._queue.empty():
                _, _, fut = self._queue.get_nowait()
                if not fut.done():
                    fut.set_exception(PoolClosed("the bot is shutting down; try again soon"))
        workers = [w for w in self._workers if w is not None]
        await asyncio.gather(*(asyncio.to_thread(w.stop) for w in workers))
        self._executor.shutdown(wait=False, cancel_futures=True)

    def worker_pids(self) -> list[int]:
        return [w.pid for w in self._workers if w is not None]

    def busy_pids(self) -> list[int]:
        """Pids of workers running a job right now (for fault tests and monitoring)."""
        return [w.pid for i, w in enumerate(self._workers) if w and self._busy.get(i)]

    def queued(self) -> int:
        return self._queue.qsize() if self._queue else 0

    # ---- jobs ------------------------------------------------------------------------
    async def analyze(self, job: AnalyzeJob) -> Analysis:
        return await self._submit("analyze", job)

    async def compare(self, job: CompareJob) -> Comparison:
        return await self._submit("compare", job)

    async def _submit(self, kind: str, payload: Any) -> Any:
        if self._closed or self._queue is None:
            raise PoolClosed("the bot is not ready yet; try again in a minute")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait((kind, payload, fut))
        except asyncio.QueueFull:
            self.stats.busy += 1
            raise PoolBusy("busy") from None
        self.stats.accepted += 1
        self.stats.max_queued = max(self.stats.max_queued, self._queue.qsize())
        return await fut

    async def _serve(self, slot: int) -> None:
        assert self._queue is not None
        while True:
            await self._healthy(slot)  # a crashed worker is replaced before the next job
            kind, payload, fut = await self._queue.get()
            if fut.done():  # the caller gave up while the job waited
                continue
            worker = await self._healthy(slot)  # it may have died while idle (OOM killer)
            self._busy[slot] = True
            try:
                result = await self._run(worker, kind, payload)
                if not fut.done():  # the caller may have stopped waiting
                    fut.set_result(result)
            except JobError as e:
                if not fut.done():
                    fut.set_exception(e)
                if isinstance(e, WorkerCrashed | JobTimedOut):
                    await asyncio.to_thread(worker.kill)
                    self._workers[slot] = None
            except asyncio.CancelledError:  # close() while this job ran
                if not fut.done():
                    fut.set_exception(PoolClosed("the bot is shutting down; try again soon"))
                raise
            finally:
                self._busy[slot] = False

    async def _healthy(self, slot: int) -> _Worker:
        """This slot's worker, replacing a dead one first (retrying until one starts).

        While a slot cannot start a worker, it takes no jobs; the other slots go on.
        """
        while True:
            worker = self._workers[slot]
            if worker is not None and worker.process.is_alive():
                return worker
            if worker is not None:
                await asyncio.to_thread(worker.kill)
            self.stats.restarts += 1
            log.warning("replacing worker %d", slot)
            try:
                await self._spawn(slot)
            except PoolClosed as e:
                log.error("worker %d failed to start: %s; retrying", slot, e)
                await asyncio.sleep(RESPAWN_BACKOFF_S)

    async def _run(self, worker: _Worker, kind: str, payload: Any) -> Any:
        job_id = next(self._ids)
        try:
            worker.conn.send((job_id, kind, payload))
            got_id, status, value = await worker.recv(self.job_timeout_s)
        except TimeoutError:
            self.stats.timed_out += 1
            log.error(
                "job %d (%s) passed %.0f s; stopping pid %d",
                job_id,
                kind,
                self.job_timeout_s,
                worker.pid,
            )
            raise JobTimedOut("timeout") from None
        except (EOFError, OSError):
            self.stats.crashed += 1
            code = await asyncio.to_thread(worker._join)
            log.error("worker pid %d died during job %d (exit code %s)", worker.pid, job_id, code)
            raise WorkerCrashed("crashed") from None
        if got_id != job_id:  # cannot happen with one job per pipe; never mix up answers
            self.stats.crashed += 1
            raise WorkerCrashed(f"answer for job {got_id}, expected {job_id}")
        if status == "ok":
            self.stats.completed += 1
            return value
        if status == "rejected":
            self.stats.rejected_input += 1
            raise JobRejected(value)
        raise JobError(value)
