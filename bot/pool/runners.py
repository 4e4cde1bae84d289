"""How a broker worker runs the jobs it takes: local worker processes, or GPU batches.

* :class:`ProcessRunner` (CPU, the default): ``--concurrency`` worker processes of the
  local :class:`~bot.pool.ProcessPool` (each loads and warms up once; per-job time limit;
  a process that dies fails only its job and is replaced).
* :class:`BatchRunner` (``--batch-size`` > 1, for a GPU encoder): one
  :class:`~bot.worker.WorkerCore` in this process; the notes that are waiting (up to
  ``size`` or ``wait_ms``) are embedded in one forward pass, while decoding, preparation,
  style and image run on CPU threads (``Pipeline.features_batch``). The model is not
  thread-safe, so every call on the core runs on one dedicated thread.

Both give back the plain results of ``bot.jobs`` or raise a :class:`~bot.errors.JobError`.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from ..errors import JobError, JobRejected
from ..jobs import Analysis, AnalyzeJob, CatalogInfo, CompareJob, Comparison
from .local import ProcessPool, WorkerConfig


class Runner(Protocol):
    catalog_id: str

    async def start(self) -> CatalogInfo: ...

    async def run(self, job: AnalyzeJob | CompareJob) -> Analysis | Comparison: ...

    async def close(self) -> None: ...


class ProcessRunner:
    def __init__(self, config: WorkerConfig, concurrency: int, job_timeout_s: float) -> None:
        self.pool = ProcessPool(
            config, workers=concurrency, queue_size=concurrency, job_timeout_s=job_timeout_s
        )
        self.catalog_id = ""

    async def start(self) -> CatalogInfo:
        info = await self.pool.start()
        self.catalog_id = self.pool.catalog_id
        return info

    async def run(self, job: AnalyzeJob | CompareJob) -> Analysis | Comparison:
        if isinstance(job, AnalyzeJob):
            return await self.pool.analyze(job)
        return await self.pool.compare(job)

    async def close(self) -> None:
        await self.pool.close()


class BatchRunner:
    def __init__(self, config: WorkerConfig, size: int, wait_ms: float) -> None:
        if size < 1 or wait_ms < 0:
            raise ValueError("batch size must be at least 1 and the wait not negative")
        self.config = config
        self.size = size
        self.wait_s = wait_ms / 1000
        self.catalog_id = ""
        self.batches: deque[int] = deque(maxlen=1000)  # sizes of the latest batches
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="rapsim-model")
        self._queue: asyncio.Queue[tuple[AnalyzeJob, asyncio.Future[Any]]] = asyncio.Queue()
        self._core: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> CatalogInfo:
        from .worker import WorkerCore  # imports inference: only in a batching worker

        loop = asyncio.get_running_loop()
        self._core = await loop.run_in_executor(self._thread, WorkerCore, self.config)
        self.catalog_id = self._core.catalog_id()
        self._task = asyncio.create_task(self._serve(), name="rapsim-batcher")
        info: CatalogInfo = self._core.catalog_info()
        return info

    async def run(self, job: AnalyzeJob | CompareJob) -> Analysis | Comparison:
        loop = asyncio.get_running_loop()
        if isinstance(job, CompareJob):  # cheap (no encoder): not worth a batch
            status, value = await loop.run_in_executor(self._thread, self._core.handle_job, job)
            return _result(status, value)
        fut: asyncio.Future[Any] = loop.create_future()
        self._queue.put_nowait((job, fut))
        status, value = await fut
        return _result(status, value)

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            deadline = loop.time() + self.wait_s
            while len(batch) < self.size:
                try:
                    left = deadline - loop.time()
                    batch.append(await asyncio.wait_for(self._queue.get(), max(0.0, left)))
                except TimeoutError:
                    break
            self.batches.append(len(batch))
            jobs = [job for job, _ in batch]
            try:
                answers = await loop.run_in_executor(self._thread, self._core.handle_batch, jobs)
            except Exception as e:  # handle_batch answers per job; this is a bug or OOM
                answers = [("error", f"{type(e).__name__}")] * len(batch)
            for (_, fut), answer in zip(batch, answers, strict=True):
                if not fut.done():
                    fut.set_result(answer)

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._thread.shutdown(wait=False, cancel_futures=True)


def _result(status: str, value: Any) -> Any:
    if status == "ok":
        return value
    if status == "rejected":
        raise JobRejected(value)
    raise JobError(value)


class JobTimes:
    """Counts and recent job times of one worker (for its heartbeat and the metrics)."""

    def __init__(self, keep: int = 200) -> None:
        self.jobs = 0
        self.failures = 0
        self.recent: deque[float] = deque(maxlen=keep)

    def add(self, ms: float, failed: bool) -> None:
        self.jobs += 1
        self.failures += int(failed)
        self.recent.append(ms)

    def quantile(self, q: int) -> float:
        if len(self.recent) < 2:
            return float(self.recent[0]) if self.recent else 0.0
        return float(statistics.quantiles(self.recent, n=100, method="inclusive")[q - 1])


def now_ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000
