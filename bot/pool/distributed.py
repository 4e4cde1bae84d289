"""The distributed inference pool: the bot's side of taskiq + Redis (``RAPSIM_BROKER_URL``).

:class:`DistributedPool` implements :class:`~bot.pool.InferencePool` with the same
guarantees as the local :class:`~bot.pool.ProcessPool`, across machines:

* a bounded queue: jobs admitted and not yet answered live in a sorted set in Redis; past
  ``queue_size`` + the live workers' capacity a job is refused at once (:class:`PoolBusy`);
* one answer per job: the bot waits on the job's own result list and answers once;
  a worker that dies while running it (its heartbeat stops) fails only that job
  ("crashed", no retry: a note that kills a worker would kill the next one too), and a
  job nobody took or that overran its limit is answered "too long" after the bot deletes
  it, so a late worker finds nothing to run;
* no worker alive: "offline" at once; broker down: a clear reply, one log line, and the
  client reconnects by itself;
* workers of another catalogue, encoder or job schema are refused (one log line each)
  and never share the bot's stream (see :mod:`bot.broker`).

Notes wait in Redis under a TTL and leave it when a worker takes them; answers are
deleted when read. The bot never imports ``inference`` or torch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable
from typing import Any

from redis.exceptions import RedisError
from taskiq import TaskiqMessage

from ..errors import (
    BrokerUnavailable,
    JobError,
    JobRejected,
    JobTimedOut,
    PoolBusy,
    PoolClosed,
    PoolOffline,
    WorkerCrashed,
)
from ..jobs import Analysis, AnalyzeJob, CatalogInfo, CompareJob, Comparison, JobFailure, WorkerInfo
from . import wire
from .broker import TASK_NAME, Fleet, Keys, StreamBroker, connect
from .catalog_id import CatalogIdError, catalog_id, catalog_info
from .local import PoolStats

log = logging.getLogger(__name__)

MONITOR_S = 0.5  # how often the worker list is refreshed
WAIT_SLICE_S = 0.5  # between checks on the job's worker while waiting for its answer
BACKSTOP_GRACE_S = 5.0  # the worker stops an overrunning job itself; the bot waits this longer
TTL_MARGIN_S = 60  # jobs and answers outlive the job's time limit by this much, then expire
OFFLINE = "Analysis is offline right now (no inference worker is running). Please try later."
UNREACHABLE = "I can't reach the analysis service right now. Please try again in a minute."
LOST = "I lost contact with the analysis service while working on that; please send it again."
FAILED = "Something went wrong on our side while analysing that; please try again."

# Admission, the job and taskiq's message in one atomic step (one round trip): a job is
# either refused, or queued with its note; never admitted and lost between two calls.
_ADMIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('SET', KEYS[2], ARGV[5], 'EX', ARGV[6])
redis.call('XADD', KEYS[3], '*', 'data', ARGV[7])
return redis.call('ZCARD', KEYS[1])
"""


class DistributedPool:
    """Jobs go to ``rapsim worker`` processes on any machine through one Redis."""

    def __init__(
        self,
        url: str,
        *,
        catalog: str = "",
        queue_size: int = 16,
        job_timeout_s: float = 60.0,
        namespace: str = "rapsim",
        max_result_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        if queue_size < 1 or job_timeout_s <= 0:
            raise ValueError("queue_size and job_timeout_s must be positive")
        self.url = url
        self.catalog_dir = catalog
        self.queue_size = queue_size
        self.job_timeout_s = job_timeout_s
        self.keys = Keys(namespace)
        self.max_result_bytes = max_result_bytes
        self.stats = PoolStats()
        self.catalog: CatalogInfo | None = None
        self.fleet: Fleet | None = None
        self.workers: list[WorkerInfo] = []
        self.broker_down = False
        self._ttl = int(job_timeout_s * 2 + TTL_MARGIN_S)
        self._redis = connect(url)
        self._broker: StreamBroker | None = None
        self._monitor: asyncio.Task[None] | None = None
        self._refused: set[str] = set()
        self._tidying: set[asyncio.Task[None]] = set()
        self._in_flight = 0
        self._closed = False

    # ---- lifecycle -------------------------------------------------------------------
    async def start(self) -> CatalogInfo:
        """Connect and look for workers; never waits for one (the bot runs without)."""
        if self.catalog_dir:  # the bot knows its catalogue: workers must serve this one
            try:
                self.catalog = catalog_info(self.catalog_dir)
                self.fleet = Fleet(catalog_id(self.catalog_dir), self.catalog.encoder)
            except CatalogIdError as e:
                raise PoolClosed(f"{e} (RAPSIM_CATALOG: the bot reads its manifest.json)") from None
            log.info("distributed pool serves %s", self.fleet.describe())
        self._broker = StreamBroker(
            self.url, queue=self.keys.stream(self.fleet.key if self.fleet else "-")
        )
        await self._refresh()
        self._monitor = asyncio.create_task(self._watch(), name="rapsim-broker-monitor")
        if not self.workers:
            log.warning("no inference worker is connected yet: notes get the offline reply")
        return self.catalog or CatalogInfo(artists=(), encoder="")

    async def close(self) -> None:
        """Jobs still waiting are answered "shutting down" (within one wait slice)."""
        self._closed = True
        if self._monitor:
            self._monitor.cancel()
            await _bounded(self._monitor, "the worker monitor")
        deadline = time.monotonic() + 2 * WAIT_SLICE_S + 1
        while self._in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for task in list(self._tidying):
            await _bounded(task, "deleting an answered job's keys")
        if self._broker is not None:
            await _bounded(self._broker.connection_pool.disconnect(), "the broker's connections")
        await _bounded(self._redis.aclose(), "the Redis client")

    def worker_pids(self) -> list[int]:
        return [w.pid for w in self.workers]

    def capacity(self) -> int:
        return sum(w.concurrency for w in self.workers)

    def queued(self) -> int:
        return self._in_flight

    # ---- jobs ------------------------------------------------------------------------
    async def analyze(self, job: AnalyzeJob) -> Analysis:
        result: Analysis = await self._submit(job, Analysis)
        return result

    async def compare(self, job: CompareJob) -> Comparison:
        result: Comparison = await self._submit(job, Comparison)
        return result

    async def _submit(self, job: AnalyzeJob | CompareJob, expected: type) -> Any:
        if self._closed or self._broker is None:
            raise PoolClosed("the bot is not ready yet; try again in a minute")
        fleet = self.fleet
        if self.broker_down or fleet is None or not self.workers:
            self.stats.offline += 1
            raise PoolOffline(UNREACHABLE if self.broker_down else OFFLINE)
        if self._in_flight >= self.queue_size + self.capacity():  # full: no need to ask Redis
            self.stats.busy += 1
            raise PoolBusy("busy")
        job_id = uuid.uuid4().hex
        try:
            await self._admit(job_id, job, fleet)
            self.stats.accepted += 1
            self._in_flight += 1
            try:
                return await self._answer(job_id, fleet, expected)
            finally:
                self._in_flight -= 1
                self._tidy(job_id, fleet)
        except (RedisError, OSError) as e:
            log.warning("job %s: broker error (%s)", job_id[:8], _first_line(e))
            raise BrokerUnavailable(LOST) from None

    async def _admit(self, job_id: str, job: AnalyzeJob | CompareJob, fleet: Fleet) -> None:
        assert self._broker is not None
        message = TaskiqMessage(
            task_id=job_id,
            task_name=TASK_NAME,
            labels={},
            labels_types={},
            args=[job_id],
            kwargs={},
        )
        queued = self._broker.formatter.dumps(message).message  # taskiq's own format
        now = time.time()
        limit = self.queue_size + self.capacity()
        keys = (self.keys.pending(fleet.key), self.keys.job(job_id), self.keys.stream(fleet.key))
        args = (now, now + self._ttl, limit, job_id, wire.encode(job), self._ttl, queued)
        depth = await self._redis.eval(_ADMIT, 3, *keys, *args)  # type: ignore[misc]
        if not depth:
            self.stats.busy += 1
            raise PoolBusy("busy")
        self.stats.max_queued = max(self.stats.max_queued, int(depth))

    async def _answer(self, job_id: str, fleet: Fleet, expected: type) -> Any:
        """Wait for the job's answer; meanwhile watch that its worker lives and its time."""
        waited_since = taken_at = time.monotonic()
        owner: Any = None
        while True:
            got: Any = await self._redis.blpop([self.keys.result(job_id)], timeout=WAIT_SLICE_S)
            if got is not None:
                return self._decode(job_id, got[1], expected)
            if self._closed:
                raise PoolClosed("the bot is shutting down; try again soon")
            now = time.monotonic()
            if owner is None:
                owner = await self._redis.get(self.keys.taken(job_id))
                taken_at = now
                late = owner is None and now - waited_since > self.job_timeout_s
                if late and await self._redis.delete(self.keys.job(job_id)):  # nobody took it
                    self.stats.timed_out += 1
                    raise JobTimedOut("timeout")
                continue
            if not await self._redis.exists(self.keys.worker(owner.decode())):
                self.stats.crashed += 1
                log.error("job %s: worker %s died while running it", job_id[:8], owner.decode())
                raise WorkerCrashed("crashed")
            if now - taken_at > self.job_timeout_s + BACKSTOP_GRACE_S:  # the worker's limit failed
                self.stats.timed_out += 1
                log.error(
                    "job %s passed %.0f s on worker %s", job_id[:8], self.job_timeout_s, owner
                )
                raise JobTimedOut("timeout")

    def _decode(self, job_id: str, data: bytes, expected: type) -> Any:
        try:
            value = wire.decode(data, max_bytes=self.max_result_bytes)
        except wire.WireError as e:
            log.error("job %s: dropped a malformed answer (%s)", job_id[:8], e)
            raise JobError(FAILED) from None
        if isinstance(value, JobFailure):
            raise self._failure(value)
        if not isinstance(value, expected):
            log.error("job %s: answer is a %s", job_id[:8], type(value).__name__)
            raise JobError(FAILED)
        self.stats.completed += 1
        return value

    def _failure(self, failure: JobFailure) -> JobError:
        if failure.kind == "rejected":
            self.stats.rejected_input += 1
            return JobRejected(failure.message)
        if failure.kind == "crashed":
            self.stats.crashed += 1
            return WorkerCrashed("crashed")
        if failure.kind == "timeout":
            self.stats.timed_out += 1
            return JobTimedOut("timeout")
        return JobError(failure.message or FAILED)

    def _tidy(self, job_id: str, fleet: Fleet) -> None:
        """Delete the job's keys after the member has the answer (off the reply's path)."""
        task = asyncio.create_task(self._forget(job_id, fleet), name="rapsim-forget")
        self._tidying.add(task)
        task.add_done_callback(self._tidying.discard)

    async def _forget(self, job_id: str, fleet: Fleet) -> None:
        """An answered job leaves no trace in Redis (else TTLs clean up)."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.zrem(self.keys.pending(fleet.key), job_id)
                pipe.delete(
                    self.keys.job(job_id), self.keys.taken(job_id), self.keys.result(job_id)
                )
                await pipe.execute()
        except (RedisError, OSError):
            pass  # the broker is down; the TTLs remove them

    # ---- workers ---------------------------------------------------------------------
    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(MONITOR_S)
            await self._refresh()

    async def _refresh(self) -> None:
        """Live, matching workers from their heartbeats; broker state changes logged once."""
        try:
            members: Any = await self._redis.smembers(self.keys.workers)
            ids = sorted(m.decode() for m in members)
            blobs: Any = await self._redis.mget([self.keys.worker(i) for i in ids]) if ids else []
            live = []
            for worker_id, blob in zip(ids, blobs, strict=True):
                if blob is None:
                    await self._redis.srem(self.keys.workers, worker_id)
                    continue
                info = self._accept(worker_id, blob)
                if info is not None:
                    live.append(info)
            if self.fleet is not None:
                await self._redis.set(self.keys.identity, self.fleet.to_bytes())
        except (RedisError, OSError) as e:
            if not self.broker_down:
                log.error("broker unreachable (%s): notes get a 'try later' reply", _first_line(e))
            self.broker_down, self.workers = True, []
            return
        if self.broker_down:
            log.warning("broker reachable again")
        if len(live) != len(self.workers):
            log.info(
                "%d inference worker(s) connected, %d job slots",
                len(live),
                sum(w.concurrency for w in live),
            )
        self.broker_down, self.workers = False, live

    def _accept(self, worker_id: str, blob: bytes) -> WorkerInfo | None:
        try:
            info: WorkerInfo = wire.decode(blob, WorkerInfo)
        except wire.WireError as e:
            self._refuse(worker_id, f"it runs other code ({e})")
            return None
        fleet = Fleet(info.catalog_id, info.catalog.encoder)
        if self.fleet is None:  # no catalogue on the bot's machine: the first worker sets it
            self.fleet, self.catalog = fleet, info.catalog
            assert self._broker is not None
            log.info("distributed pool serves %s (from worker %s)", fleet.describe(), worker_id)
        if fleet != self.fleet:
            self._refuse(
                worker_id, f"it serves {fleet.describe()}, the bot {self.fleet.describe()}"
            )
            return None
        if self.catalog is not None and not self.catalog.features:
            # the manifest lists the artists; a worker also knows their styles (/progress)
            self.catalog = info.catalog
        return info

    def _refuse(self, worker_id: str, why: str) -> None:
        if worker_id not in self._refused:
            self._refused.add(worker_id)
            log.error("refused worker %s: %s", worker_id, why)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:120]


async def _bounded(step: Awaitable[Any], what: str, seconds: float = 5.0) -> None:
    """Await a closing step for at most ``seconds``, then leave it behind (cancelled).

    Not ``asyncio.wait_for``: on a timeout it waits for the cancelled step to finish,
    and a step that does not end when cancelled would then hold the shutdown forever
    (the test suite's bot hung in its close now and then before this)."""
    task = asyncio.ensure_future(step)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        log.warning("closing: %s took over %.0f s; left behind", what, seconds)
        return
    with contextlib.suppress(RedisError, OSError, TimeoutError, asyncio.CancelledError):
        task.result()
