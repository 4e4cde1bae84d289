"""The service and the worker pool with real worker processes and the real encoder.

A shared service (2 workers, a small queue) runs for the module. Covered: a note gets a
reply with a PNG and a stored profile; /compare and /forget; bad uploads; a burst of 200
notes from 50 members (every accepted job answered, the rest told to wait, memory bounded);
a worker SIGKILLed mid-job (only that member gets an error, the next note works); a job
past its time limit; a catalogue that cannot load.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from pathlib import Path

import pytest
import pytest_asyncio

from bot import replies
from bot.app import create_service
from bot.errors import JobTimedOut, PoolClosed
from bot.jobs import AnalyzeJob
from bot.member import Member
from bot.pool.local import ProcessPool, WorkerConfig
from bot.service import RapService
from bot.settings import Settings
from tests.conftest import needs_ffmpeg, to_opus

pytestmark = [needs_ffmpeg, pytest.mark.asyncio(loop_scope="module")]
PNG = b"\x89PNG\r\n\x1a\n"


def _rss_mb(pid: int | None = None) -> float:
    for line in Path(f"/proc/{pid or os.getpid()}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@pytest.fixture(scope="module")
def note(speech_wav, tmp_path_factory) -> bytes:
    return to_opus(speech_wav, tmp_path_factory.mktemp("note") / "note.ogg").read_bytes()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def service(catalog_dir, tmp_path_factory):
    settings = Settings(
        catalog=str(catalog_dir),
        data_dir=tmp_path_factory.mktemp("data"),
        workers=2,
        queue_size=6,
        job_timeout_s=60,
        notes_per_minute=3,
    )
    svc = create_service(settings)
    await svc.start()
    yield svc
    await svc.close()


def member(i: int | str, scope: str = "g1") -> Member:
    return Member("test", scope, str(i), f"Member {i}", f"m{i}")


async def test_a_note_gets_matches_png_and_a_profile(service: RapService, note: bytes):
    reply = await service.analyze(member("ann"), note, "note.ogg", "audio/ogg")
    assert reply.ok, reply.text
    assert reply.image_png and reply.image_png.startswith(PNG)
    top = reply.matches[0][0]
    assert top in {"Alpha", "Bravo", "Charlie"}
    assert reply.text.startswith(f"Member ann, you sound most like {top}:")
    assert service.store.count("test", "ann") == 1
    names = [a.name for a in service.artists()]
    assert names == ["Alpha", "Bravo", "Charlie"]


async def test_compare_needs_profiles_then_works_then_forget(service: RapService, note: bytes):
    a, b = member("cat"), member("dan")
    first = await service.compare(a, b)
    assert not first.ok and "no recent voice note from Member cat and Member dan" in first.text
    for m in (a, b):
        assert (await service.analyze(m, note, "note.ogg", None)).ok
    found = await service.find_member("test", "g1", "@mDan")
    assert found is not None and found.member_id == "dan"
    same = await service.compare(a, found)
    assert same.ok and same.image_png.startswith(PNG)
    assert "Member cat and Member dan: " in same.text and "/100 alike" in same.text
    other_scope = await service.compare(a, member("eve", scope="g2"))
    assert not other_scope.ok and other_scope.text == replies.DIFFERENT_SCOPES
    gone = await service.forget("test", "cat")
    assert "Deleted 1 saved analysis" in gone.text
    after = await service.compare(a, b)
    assert not after.ok and "Member cat" in after.text and "Member dan" not in after.text


async def test_bad_uploads_get_clear_replies(service: RapService, note: bytes):
    m = member("fay")
    cases = {
        "doesn't look like audio": (b"just some lyrics\n" * 20, "lyrics.txt", "text/plain"),
        "is empty": (b"", "note.ogg", "audio/ogg"),
        "couldn't analyse that": (b"not really ogg" * 100, "note.ogg", "audio/ogg"),
    }
    for needle, (data, name, mime) in cases.items():
        reply = await service.analyze(m, data, name, mime)
        assert not reply.ok and needle in reply.text, reply.text
    big = service.check_upload(
        size=service.settings.max_upload_bytes + 1, filename="a.ogg", mime=None
    )
    assert big and "MB" in big
    long = service.check_upload(size=1000, filename="a.ogg", mime=None, duration=3600)
    assert long and "3600 s" in long
    assert service.check_upload(size=1000, filename="voice-message.ogg", mime=None) is None
    assert (await service.analyze(m, note, "note.ogg", "audio/ogg")).ok  # still up


async def test_burst_of_200_notes_from_50_members(service: RapService, note: bytes):
    pool = service.pool
    assert isinstance(pool, ProcessPool)
    before = pool.stats.completed, pool.stats.busy
    rss_before = _rss_mb()
    rng = random.Random(7)
    arrivals = sorted(rng.uniform(0, 4.0) for _ in range(200))

    async def send(i: int, at: float):
        await asyncio.sleep(at)
        return await service.analyze(member(f"load{i % 50}"), note, "note.ogg", "audio/ogg")

    t = time.perf_counter()
    answers = await asyncio.wait_for(
        asyncio.gather(*(send(i, at) for i, at in enumerate(arrivals))), timeout=240
    )
    elapsed = time.perf_counter() - t
    ok = [r for r in answers if r.ok]
    busy = [r for r in answers if r.text == replies.BUSY]
    waits = [r for r in answers if not r.ok and r.text != replies.BUSY]
    stats = pool.stats
    summary = f"{len(ok)} ok, {len(busy)} busy, waits {[r.text for r in waits][:3]}, {stats}"
    assert len(answers) == 200
    assert all(r.image_png and r.image_png.startswith(PNG) for r in ok)
    assert len(ok) == stats.completed - before[0], summary  # every accepted job answered
    assert len(busy) == stats.busy - before[1] and busy, summary  # the rest told at once
    assert all("One at a time" in r.text or "Try again in" in r.text for r in waits), summary
    assert stats.max_queued <= pool.queue_size and pool.queued() == 0, summary
    assert service.limiter.tracked() <= 50
    grown = _rss_mb() - rss_before
    assert grown < 150, f"the bot process grew {grown:.0f} MB: something is kept per job"
    print(
        f"burst: {len(ok)} analysed, {len(busy)} busy, {len(waits)} rate-limited, {elapsed:.1f} s"
    )


async def test_a_worker_killed_mid_job_fails_only_that_job(service: RapService, note: bytes):
    pool = service.pool
    assert isinstance(pool, ProcessPool)
    restarts = pool.stats.restarts
    victim = asyncio.create_task(service.analyze(member("gus"), note, "note.ogg", "audio/ogg"))
    deadline = time.monotonic() + 30
    while not pool.busy_pids():
        assert time.monotonic() < deadline, "the job never started"
        await asyncio.sleep(0.002)
    (pid,) = pool.busy_pids()
    os.kill(pid, signal.SIGKILL)
    reply = await victim
    assert not reply.ok and "crashed" in reply.text
    assert service.store.count("test", "gus") == 0
    # the dead worker is replaced at once, without waiting for the next job
    deadline = time.monotonic() + 60
    while pid in pool.worker_pids() or len(pool.worker_pids()) < 2:
        assert time.monotonic() < deadline, "the dead worker was not replaced"
        await asyncio.sleep(0.05)
    assert pool.stats.restarts == restarts + 1
    for i in range(3):  # and the next notes work, whichever worker takes them
        assert (await service.analyze(member(f"hal{i}"), note, "note.ogg", None)).ok


async def test_closing_the_pool_answers_the_jobs_in_flight_and_queued(catalog_dir, note):
    pool = ProcessPool(WorkerConfig(catalog=str(catalog_dir)), workers=1, queue_size=4)
    await pool.start()
    jobs = [asyncio.create_task(pool.analyze(AnalyzeJob(note, "note.ogg"))) for _ in range(3)]
    while not pool.busy_pids():
        await asyncio.sleep(0.002)
    await pool.close()
    done = await asyncio.wait_for(asyncio.gather(*jobs, return_exceptions=True), timeout=10)
    assert all(isinstance(d, PoolClosed) for d in done[1:]), done  # queued: told, not lost
    assert isinstance(done[0], PoolClosed), done[0]
    with pytest.raises(PoolClosed):
        await pool.analyze(AnalyzeJob(note, "note.ogg"))


async def test_a_job_past_its_time_limit_is_stopped_and_its_worker_replaced(catalog_dir, note):
    pool = ProcessPool(WorkerConfig(catalog=str(catalog_dir)), workers=1, job_timeout_s=0.01)
    await pool.start()
    try:
        (pid,) = pool.worker_pids()
        with pytest.raises(JobTimedOut) as err:
            await pool.analyze(AnalyzeJob(note, "note.ogg"))
        assert replies.job_failed(err.value).startswith("That took too long")
        pool.job_timeout_s = 60
        result = await pool.analyze(AnalyzeJob(note, "note.ogg"))  # on the replacement
        assert result.matches and pool.worker_pids() != [pid]
        assert pool.stats.timed_out == 1 and pool.stats.restarts == 1
    finally:
        await pool.close()


async def test_a_catalogue_that_cannot_load_fails_start_with_its_reason(tmp_path):
    pool = ProcessPool(WorkerConfig(catalog=str(tmp_path / "missing")), workers=1)
    with pytest.raises(PoolClosed, match=r"could not start.*missing"):
        await pool.start()
    await pool.close()
