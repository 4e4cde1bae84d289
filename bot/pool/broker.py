"""What the bot and the broker workers share: Redis keys, the fleet identity, taskiq pieces.

The engine is taskiq with taskiq-redis's Redis Streams broker (consumer group, explicit
acks), chosen over Celery by measurement (``docs/distributed.md``). What travels through
taskiq is only a job id (JSON); the job itself (a ~300 KB note) waits under its own key
with a TTL, encoded by :mod:`bot.wire` (msgpack, never pickle), and a worker takes it with
one atomic GETDEL: a job is run at most once even if the stream delivers its message twice
(a reclaimed message of a killed worker), and the note leaves Redis the moment a worker
takes it. Results go back on a per-job list that the bot waits on with BLPOP (no polling).

Redis layout (``<ns>`` is ``rapsim`` unless set; ``<fleet>`` names catalogue + encoder +
job schema, so a worker of another catalogue listens on another stream and can never take
the bot's jobs):

=============================  ==================================================
``<ns>:jobs:<fleet>``          the taskiq stream (messages: job ids); group ``workers``
``<ns>:pending:<fleet>``       sorted set of admitted job ids, score = deadline
``<ns>:job:<id>``              the job (wire bytes), TTL; deleted when taken
``<ns>:taken:<id>``            the worker id running it, TTL
``<ns>:result:<id>``           list holding the answer (wire bytes), TTL
``<ns>:worker:<worker id>``    a live worker's :class:`~bot.jobs.WorkerInfo`, TTL 4 s
``<ns>:workers``               set of worker ids (dead ones are removed by the bot)
``<ns>:identity``              the fleet the bot serves (msgpack map)
=============================  ==================================================
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgpack
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError, ResponseError
from taskiq import AckableMessage, AsyncResultBackend, TaskiqResult
from taskiq_redis import RedisStreamBroker

from . import wire

log = logging.getLogger(__name__)

TASK_NAME = "rapsim.run"
GROUP = "workers"
HEARTBEAT_S = 1.0
WORKER_TTL_S = 4  # a worker silent this long is dead: its running jobs are answered "crashed"
MAX_QUEUE_MESSAGE = 4096  # a stream message holds a job id; anything bigger is garbage
# A message delivered this long ago and not acked is claimed by another worker: it ran it
# (the first worker died before taking the job) or drops it (already taken: GETDEL is None).
RECLAIM_IDLE_MS = 5_000
RECLAIM_EVERY_S = 2.0
RECONNECT_MAX_S = 5.0


@dataclass(frozen=True)
class Keys:
    ns: str = "rapsim"

    def stream(self, fleet: str) -> str:
        return f"{self.ns}:jobs:{fleet}"

    def pending(self, fleet: str) -> str:
        return f"{self.ns}:pending:{fleet}"

    def job(self, job_id: str) -> str:
        return f"{self.ns}:job:{job_id}"

    def taken(self, job_id: str) -> str:
        return f"{self.ns}:taken:{job_id}"

    def result(self, job_id: str) -> str:
        return f"{self.ns}:result:{job_id}"

    def worker(self, worker_id: str) -> str:
        return f"{self.ns}:worker:{worker_id}"

    @property
    def workers(self) -> str:
        return f"{self.ns}:workers"

    @property
    def identity(self) -> str:
        return f"{self.ns}:identity"


@dataclass(frozen=True)
class Fleet:
    """What must match between the bot and a worker: catalogue, encoder, job schema."""

    catalog_id: str
    encoder: str
    schema: str = wire.schema()

    @property
    def key(self) -> str:
        text = f"{self.catalog_id}|{self.encoder}|{self.schema}"
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def describe(self) -> str:
        return f"catalogue {self.catalog_id or '?'}, encoder {self.encoder}, schema {self.schema}"

    def to_bytes(self) -> bytes:
        doc = {"catalog_id": self.catalog_id, "encoder": self.encoder, "schema": self.schema}
        return msgpack.packb(doc)

    @classmethod
    def from_bytes(cls, data: bytes) -> Fleet:
        """Plain msgpack (not :mod:`bot.wire`): readable by code of any job schema."""
        try:
            doc = msgpack.unpackb(data, raw=False)
            return cls(str(doc["catalog_id"]), str(doc["encoder"]), str(doc["schema"]))
        except (ValueError, TypeError, KeyError, msgpack.UnpackException) as e:
            raise wire.WireError(f"malformed fleet identity ({e})") from None


MAX_CONNECTIONS = 64  # a burst waits for a free connection instead of opening hundreds


def connect(url: str) -> Redis:
    """A Redis client: short connect timeout, so a broker that is down is said at once.

    Password and TLS come with the URL (``redis://:pw@host:6379/0``, ``rediss://...``).
    At most ``MAX_CONNECTIONS`` connections; more callers wait up to 10 s for one.
    """
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=10,
        socket_connect_timeout=2.0,
        socket_timeout=10.0,
        health_check_interval=15,
    )
    return Redis.from_pool(pool)


class ListResultBackend(AsyncResultBackend[Any]):
    """taskiq result backend: each answer goes on its own short-lived list (wire bytes).

    The bot BLPOPs that list, so an answer wakes it at once instead of after a polling
    interval (taskiq-redis's own backend is polled: 200 ms by default).
    """

    def __init__(self, redis: Redis, keys: Keys, ttl_s: int) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl_s = ttl_s

    async def set_result(self, task_id: str, result: TaskiqResult[Any]) -> None:
        value = result.return_value
        if not isinstance(value, bytes):  # a dropped job: nobody waits for an answer
            return
        key = self.keys.result(task_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, value)
            pipe.expire(key, self.ttl_s)
            pipe.delete(self.keys.taken(task_id))  # answered: nobody runs it any more
            await pipe.execute()

    async def is_result_ready(self, task_id: str) -> bool:
        return bool(await self.redis.exists(self.keys.result(task_id)))

    async def get_result(self, task_id: str, with_logs: bool = False) -> TaskiqResult[Any]:
        value = await self.redis.lpop(self.keys.result(task_id))
        return TaskiqResult(is_err=value is None, return_value=value, execution_time=0.0)


class StreamBroker(RedisStreamBroker):
    """taskiq-redis's stream broker with the guarantees the bot needs added.

    * One message read at a time (taskiq-redis reads 100), so an idle worker is never
      starved by a busy one that fetched the whole queue.
    * Acked messages are deleted too (XACK + XDEL): the stream does not grow.
    * Messages that are not a small rapsim job message are dropped with one log line,
      never handed to taskiq (which would log their whole content).
    * A broker that goes away (restart, network) is waited for, with one log line, and
      the consumer group is declared again after a restart that lost it.
    """

    def __init__(self, url: str, queue: str, consumer: str | None = None) -> None:
        super().__init__(
            url,
            queue_name=queue,
            consumer_group_name=GROUP,
            consumer_name=consumer,
            consumer_id="0",  # a group made after jobs were queued still gets them
            xread_block=1000,
            xread_count=1,
            idle_timeout=RECLAIM_IDLE_MS,
            socket_connect_timeout=2.0,
        )

    def _ack_generator(self, id: str, queue_name: str) -> Callable[[], Awaitable[None]]:
        async def ack() -> None:
            async with Redis(connection_pool=self.connection_pool) as r, r.pipeline() as pipe:
                pipe.xack(queue_name, self.consumer_group_name, id)
                pipe.xdel(queue_name, id)
                await pipe.execute()

        return ack

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        down_since: float | None = None
        last_claim = time.monotonic()
        async with Redis(connection_pool=self.connection_pool) as redis:
            while True:
                claim = time.monotonic() - last_claim > RECLAIM_EVERY_S
                try:
                    batch = await self._read(redis, claim)
                except (RedisError, OSError) as e:
                    if isinstance(e, ResponseError) and "NOGROUP" in str(e):
                        await self._declare_consumer_group()
                        continue
                    if down_since is None:
                        down_since = time.monotonic()
                        log.error("broker unreachable (%s); retrying", _first_line(e))
                    await asyncio.sleep(min(RECONNECT_MAX_S, 0.2 + time.monotonic() - down_since))
                    continue
                if down_since is not None:
                    log.warning(
                        "broker reachable again after %.0f s", time.monotonic() - down_since
                    )
                    down_since = None
                    await self._declare_consumer_group()
                if claim:
                    last_claim = time.monotonic()
                for msg_id, fields in batch:
                    data = fields.get(b"data") if isinstance(fields, dict) else None
                    ack = self._ack_generator(id=msg_id, queue_name=self.queue_name)
                    if not _plausible(data):
                        log.warning("dropped a malformed queue message %s", _describe(msg_id, data))
                        await ack()
                        continue
                    yield AckableMessage(data=data, ack=ack)  # type: ignore[arg-type]

    async def _read(self, redis: Redis, claim: bool) -> list[Any]:
        """New messages; every few seconds instead, messages left pending by dead consumers."""
        if claim:
            got: Any = await redis.xautoclaim(
                self.queue_name, GROUP, self.consumer_name, self.idle_timeout, count=10
            )
            return list(got[1])
        fetched: Any = await redis.xreadgroup(
            GROUP, self.consumer_name, {self.queue_name: ">"}, block=self.block, count=1
        )
        return [m for _, msgs in fetched for m in msgs] if fetched else []


def _plausible(data: Any) -> bool:
    """A taskiq JSON message of a few hundred bytes naming our task."""
    return (
        isinstance(data, bytes)
        and len(data) <= MAX_QUEUE_MESSAGE
        and data.startswith(b"{")
        and TASK_NAME.encode() in data
    )


def _describe(msg_id: Any, data: Any) -> str:
    size = len(data) if isinstance(data, bytes) else 0
    head = data[:32] if isinstance(data, bytes) else type(data).__name__
    return f"{msg_id!r} ({size} bytes, starts {head!r})"


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:120]
