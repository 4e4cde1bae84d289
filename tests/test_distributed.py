"""The distributed pool end to end: a real redis-server, real ``rapsim worker`` processes.

One Redis and two workers (one inference process each, the 3-voice test catalogue) run
for the module, with the real service (``RAPSIM_BROKER_URL`` set). Covered: a note is
answered and leaves nothing in Redis; a burst of 200 notes from 50 members (every
accepted note answered once, the rest told "busy", Redis memory back where it started);
garbage pushed straight into the queue; a worker SIGKILLed mid-job (answered "crashed"
once, the other worker goes on); an inference process killed inside a worker; a worker
with another catalogue (refused, exits 2, never takes a job); Redis stopped and
restarted mid-run (clear replies, everyone reconnects); a bot with no worker ("offline"
within seconds).
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import pytest_asyncio

from bot import replies
from bot.app import create_service
from bot.member import Member
from bot.pool.distributed import OFFLINE, DistributedPool
from bot.service import RapService
from bot.settings import Settings
from tests.broker_rig import RedisServer, Worker, free_port, needs_redis
from tests.conftest import needs_ffmpeg, to_opus

pytestmark = [needs_redis, needs_ffmpeg, pytest.mark.asyncio(loop_scope="module")]
PNG = b"\x89PNG\r\n\x1a\n"
READY = "serving catalogue"


@pytest.fixture(scope="module")
def note(speech_wav, tmp_path_factory) -> bytes:
    return to_opus(speech_wav, tmp_path_factory.mktemp("note") / "note.ogg").read_bytes()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield srv
    srv.stop()


class Fleet:
    """The module's workers; tests may kill one, ``ensure`` brings the count back."""

    def __init__(self, server: RedisServer, catalog: Path, logs: Path) -> None:
        self.server, self.catalog, self.logs = server, catalog, logs
        self.workers: list[Worker] = []
        self.started = 0
        self.metrics_port = free_port()

    def add(self, catalog: Path | None = None, *extra: str) -> Worker:
        if self.started == 0:  # the first worker also serves Prometheus metrics
            extra = (*extra, "--metrics-port", str(self.metrics_port))
        self.started += 1
        log = self.logs / f"worker{self.started}.log"
        w = Worker(self.server.url, catalog or self.catalog, log, *extra)
        if catalog is None:
            self.workers.append(w)
        return w

    def ensure(self, n: int = 2) -> None:
        self.workers = [w for w in self.workers if w.process.poll() is None]
        fresh = [self.add() for _ in range(n - len(self.workers))]
        for w in fresh:
            w.wait_for(READY)

    def stop(self) -> None:
        for w in self.workers:
            w.stop()


@pytest.fixture(scope="module")
def fleet(server, catalog_dir, tmp_path_factory):
    f = Fleet(server, catalog_dir, tmp_path_factory.mktemp("logs"))
    f.ensure(2)
    yield f
    f.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def service(server, fleet, catalog_dir, tmp_path_factory):
    settings = Settings(
        catalog=str(catalog_dir),
        broker_url=server.url,
        data_dir=tmp_path_factory.mktemp("data"),
        queue_size=6,
        job_timeout_s=30,
        notes_per_minute=3,
    )
    svc = create_service(settings)
    await svc.start()
    await until(lambda: svc.pool.capacity() == 2, "the bot never saw both workers")
    yield svc
    await svc.close()


def member(i: int | str) -> Member:
    return Member("test", "g1", str(i), f"Member {i}", f"m{i}")


async def until(check, what, timeout: float = 30) -> None:
    """Wait for ``check()``; ``what``: the failure message, or a callable making it."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what() if callable(what) else what
        await asyncio.sleep(0.05)


def pool_of(service: RapService) -> DistributedPool:
    assert isinstance(service.pool, DistributedPool)
    return service.pool


async def test_a_note_is_answered_and_leaves_nothing_in_redis(service, server, note):
    reply = await service.analyze(member("ann"), note, "note.ogg", "audio/ogg")
    assert reply.ok, reply.text
    assert reply.image_png.startswith(PNG) and reply.matches[0][0] in {"Alpha", "Bravo", "Charlie"}
    assert [a.name for a in service.artists()] == ["Alpha", "Bravo", "Charlie"]
    await until(lambda: server.job_keys() == [], lambda: f"left: {server.job_keys()}", 5)
    # the worker acks (XACK + XDEL) after the answer is stored: under load a moment later
    await until(lambda: server.client().xlen(stream(server)) == 0, "jobs left in the stream", 5)


def stream(server: RedisServer) -> bytes:
    (key,) = server.client().keys("rapsim:jobs:*")
    return key


async def test_burst_of_200_notes_from_50_members(service, server, note):
    pool = pool_of(service)
    before = pool.stats.completed, pool.stats.busy
    stored_before = server.stored_bytes()
    rng = random.Random(7)
    arrivals = sorted(rng.uniform(0, 4.0) for _ in range(200))

    async def send(i: int, at: float):
        await asyncio.sleep(at)
        return await service.analyze(member(f"load{i % 50}"), note, "note.ogg", "audio/ogg")

    answers = await asyncio.wait_for(
        asyncio.gather(*(send(i, at) for i, at in enumerate(arrivals))), timeout=240
    )
    ok = [r for r in answers if r.ok]
    busy = [r for r in answers if r.text == replies.BUSY]
    waits = [r for r in answers if not r.ok and r.text != replies.BUSY]
    summary = f"{len(ok)} ok, {len(busy)} busy, {[r.text for r in waits][:3]}, {pool.stats}"
    assert all(r.image_png and r.image_png.startswith(PNG) for r in ok)
    assert len(ok) == pool.stats.completed - before[0], summary  # every accepted one answered
    assert len(busy) == pool.stats.busy - before[1] and busy, summary
    assert all("One at a time" in r.text or "Try again in" in r.text for r in waits), summary
    assert pool.stats.max_queued <= pool.queue_size + 2, summary
    await until(lambda: server.job_keys() == [], lambda: f"left: {server.job_keys()}", 5)
    # the worker acks (XACK + XDEL) after the answer is stored: under load a moment later
    await until(lambda: server.client().xlen(stream(server)) == 0, "jobs left in the stream", 5)
    peak = int(server.client().info("memory")["used_memory_peak"])
    # at most queue + slots notes (~45 KB each here) and answers (~150 KB) at once
    assert peak < 16 * 2**20, f"Redis peaked at {peak} bytes"
    (keys, stored), (keys_before, stored_before) = server.stored_bytes(), stored_before
    assert keys == keys_before, "a job left a key behind"
    # the stream keeps one (emptied) node of a few hundred bytes
    assert stored - stored_before < 4096, f"Redis holds {stored - stored_before} more bytes"
    print(f"burst: {len(ok)} analysed, {len(busy)} busy, {len(waits)} rate-limited")


async def test_status_and_metrics_count_the_jobs(service, server, fleet):
    out = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "rapsim", "status", "--broker-url", server.url, "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    doc = json.loads(out.stdout)
    assert doc["queued"] == 0 and len(doc["workers"]) == 2, doc
    jobs = sum(w["jobs"] for w in doc["workers"])
    assert jobs >= 2 and all(w["p95_ms"] >= w["p50_ms"] > 0 for w in doc["workers"]), doc
    url = f"http://127.0.0.1:{fleet.metrics_port}/metrics"
    resp = await asyncio.to_thread(urllib.request.urlopen, url, timeout=10)
    text = resp.read().decode()
    counted = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith('rapsim_jobs_total{kind="analyze",outcome="ok"}')
    )
    assert 1 <= counted <= jobs and "rapsim_queue_depth" in text, text[-1500:]


async def test_garbage_in_the_queue_is_dropped_and_never_unpickled(
    service, server, fleet, note, tmp_path
):
    marker = tmp_path / "pwned"

    class Boom:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    c = server.client()
    key = stream(server)
    c.xadd(key, {b"data": b"\x00\xffnot json at all"})
    c.xadd(key, {b"data": pickle.dumps(Boom())})
    c.xadd(key, {b"data": b"{" + b"x" * 100_000})  # oversized
    c.xadd(key, {b"junk": b"no data field"})
    c.set("rapsim:job:feedbeef", pickle.dumps(Boom()))  # a pickled "job" under a real id
    c.xadd(key, {b"data": b'{"task_id":"feedbeef","task_name":"rapsim.run","labels":{},'
                          b'"labels_types":{},"args":["feedbeef"],"kwargs":{}}'})  # fmt: skip
    reply = await service.analyze(member("bea"), note, "note.ogg", "audio/ogg")
    assert reply.ok, reply.text
    await until(lambda: c.xlen(key) == 0, "garbage left in the stream")
    logs = "".join(w.text() for w in fleet.workers)
    assert logs.count("dropped a malformed queue message") >= 3, logs[-2000:]
    assert "dropped a malformed job" in logs
    assert not marker.exists()


async def test_a_worker_killed_mid_job_is_answered_crashed_once(service, fleet, note):
    pool = pool_of(service)
    crashed = pool.stats.crashed
    victim = asyncio.create_task(service.analyze(member("gus"), note, "note.ogg", "audio/ogg"))
    job_id, owner = await taken_by(service)
    (worker,) = [w for w in fleet.workers if f"-{w.pid}-" in owner]
    t = time.monotonic()
    worker.kill()
    reply = await asyncio.wait_for(victim, 20)
    assert not reply.ok and "crashed" in reply.text, reply.text
    assert time.monotonic() - t < 8, "the crash took too long to notice"
    assert pool.stats.crashed == crashed + 1
    assert service.store.count("test", "gus") == 0
    assert await pool._redis.exists(f"rapsim:result:{job_id}") == 0  # no late second answer
    for i in range(2):  # the other worker goes on
        assert (await service.analyze(member(f"hal{i}"), note, "note.ogg", None)).ok
    fleet.ensure(2)
    await until(lambda: pool.capacity() == 2, "the new worker was not seen")


async def taken_by(service: RapService) -> tuple[str, str]:
    """The only job in flight and the worker id running it."""
    pool = pool_of(service)
    deadline = time.monotonic() + 30
    while True:
        keys = [k async for k in pool._redis.scan_iter("rapsim:taken:*")]
        if keys:
            owner = await pool._redis.get(keys[0])
            return keys[0].decode().rsplit(":", 1)[1], owner.decode()
        assert time.monotonic() < deadline, "the job was never taken"
        await asyncio.sleep(0.005)


async def test_an_inference_process_killed_inside_a_worker(service, fleet, note):
    victim = asyncio.create_task(service.analyze(member("ivy"), note, "note.ogg", "audio/ogg"))
    _, owner = await taken_by(service)
    (worker,) = [w for w in fleet.workers if f"-{w.pid}-" in owner]
    (child,) = worker.inference_processes()
    os.kill(child, signal.SIGKILL)
    reply = await asyncio.wait_for(victim, 20)
    assert not reply.ok and "crashed" in reply.text, reply.text
    worker.wait_for("died during job", timeout=10)
    worker.wait_for("replacing worker 0", timeout=10)  # replaced inside the worker
    await until(lambda: len(worker.inference_processes()) == 1, "not replaced", 60)
    assert worker.inference_processes() != [child]
    assert (await service.analyze(member("ivy2"), note, "note.ogg", None)).ok


async def test_a_worker_with_another_catalogue_is_refused(service, fleet, catalog_dir, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(catalog_dir, other)
    manifest = other / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"demo": false', '"demo": true', 1))
    stranger = fleet.add(other)
    assert stranger.process.wait(120) == 2, stranger.text()[-2000:]
    assert "refused: this worker serves catalogue" in stranger.text()
    assert "job " not in stranger.text().split("refused")[-1]
    assert pool_of(service).capacity() == 2


async def test_redis_stopped_and_restarted_mid_run(service, server, fleet, note):
    pool = pool_of(service)
    server.stop()
    await until(lambda: pool.broker_down, "the bot never noticed the broker was down", 10)
    t = time.monotonic()
    reply = await service.analyze(member("kim"), note, "note.ogg", "audio/ogg")
    assert not reply.ok and "can't reach the analysis service" in reply.text, reply.text
    assert time.monotonic() - t < 2
    server.start()  # same port, empty: no stream, no group, no workers, no identity
    logs = lambda: "\n".join(w.text()[-1500:] for w in fleet.workers)  # noqa: E731
    await until(lambda: pool.capacity() == 2, lambda: f"{pool.workers} {logs()}", 30)
    for i in range(2):
        assert (await service.analyze(member(f"kim{i}"), note, "note.ogg", None)).ok
    logs = "".join(w.text() for w in fleet.workers)
    assert logs.count("Traceback") == 0, logs[-3000:]


async def test_a_bot_with_no_worker_says_offline_at_once(catalog_dir, tmp_path, note):
    lonely = RedisServer(tmp_path).start()
    try:
        pool = DistributedPool(lonely.url, catalog=str(catalog_dir), queue_size=4)
        info = await pool.start()
        assert [a.name for a in info.artists] == ["Alpha", "Bravo", "Charlie"]
        settings = Settings(catalog=str(catalog_dir), broker_url=lonely.url, data_dir=tmp_path)
        from bot.store.profiles import ProfileStore

        svc = RapService(settings, pool, ProfileStore(tmp_path / "p.sqlite3"))
        svc.store.open()
        t = time.monotonic()
        reply = await svc.analyze(member("zed"), note, "note.ogg", "audio/ogg")
        assert not reply.ok and reply.text == OFFLINE
        assert time.monotonic() - t < 1
        await svc.close()
    finally:
        lonely.stop()


async def test_without_a_catalogue_the_bot_takes_the_first_workers_fleet(tmp_path, caplog):
    """The demo case (no catalogue on the bot): heartbeats as workers write them."""
    from bot.jobs import ArtistEntry, CatalogInfo, WorkerInfo
    from bot.pool import wire

    lonely = RedisServer(tmp_path).start()
    pool = DistributedPool(lonely.url)
    try:
        assert (await pool.start()).artists == ()
        c = lonely.client()
        catalog = CatalogInfo((ArtistEntry("Demo", 5, 60.0, True),), "resemblyzer 0.1.4")
        for wid, cat_id in (("w1", "aaaa"), ("w2", "bbbb"), ("w3", "aaaa")):
            info = WorkerInfo(wid, "host", 1, 2, "cpu", cat_id, catalog)
            c.set(f"rapsim:worker:{wid}", wire.encode(info), ex=4)
            c.sadd("rapsim:workers", wid)
        await pool._refresh()
        assert [w.worker_id for w in pool.workers] == ["w1", "w3"] and pool.capacity() == 4
        assert pool.catalog == catalog and pool.fleet.catalog_id == "aaaa"
        assert c.get("rapsim:identity") == pool.fleet.to_bytes()
        assert "refused worker w2: it serves catalogue bbbb" in caplog.text
        c.delete("rapsim:worker:w1", "rapsim:worker:w3")  # their heartbeats stop
        await pool._refresh()
        assert pool.capacity() == 0 and c.smembers("rapsim:workers") == {b"w2"}
    finally:
        await pool.close()
        lonely.stop()


async def test_worker_failures_become_the_local_pools_errors():
    from bot.errors import JobError, JobRejected, JobTimedOut, WorkerCrashed
    from bot.jobs import JobFailure

    pool = DistributedPool("redis://127.0.0.1:1/0")
    kinds = {"rejected": JobRejected, "crashed": WorkerCrashed, "timeout": JobTimedOut}
    for kind, error in kinds.items():
        assert type(pool._failure(JobFailure(kind, "no voice"))) is error
    assert str(pool._failure(JobFailure("rejected", "no voice"))) == "no voice"
    assert replies.job_failed(pool._failure(JobFailure("timeout", ""))).startswith("That took")
    assert type(pool._failure(JobFailure("error", "oops"))) is JobError
    assert (pool.stats.rejected_input, pool.stats.crashed, pool.stats.timed_out) == (2, 1, 2)
