"""Cypher rounds without a chat or a worker: the round-robin queue, the quiet time, the
summary's figures and words (English and Korean), the rounds in the store (the upgrade of
a schema-3 database, /forget, the purge), and the desk over a stub service (fair order,
one busy notice, a round ending by itself).

``tests/data/profiles-v3.sqlite3`` was written by the schema-3 store code (commit
2dea07d, before rounds): Ann's two timed takes toward Bravo (her target) in a Discord
server where she shares, 김민수's one take on Telegram (locale ko, timing goal "tight").
"""

from __future__ import annotations

import asyncio
import math
import re
import shutil
import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from bot.cypher import CypherDesk
from bot.cypher import replies as words
from bot.cypher.rounds import FairQueue, Round, summarise
from bot.errors import PoolBusy
from bot.member import Member
from bot.reply import Reply
from bot.service import RapService
from bot.store.history import NewTake
from bot.store.profiles import ProfileStore
from bot.store.rounds import RoundTake, in_round
from bot.store.schema import SCHEMA_VERSION

V3 = Path(__file__).parent / "data" / "profiles-v3.sqlite3"
V3_TIME = 1_790_000_000.0  # its first take; one an hour after
ARTISTS = ("Alpha", "Bravo", "Charlie")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
nan = math.nan


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def open_store(path: Path, clock: Clock) -> ProfileStore:
    store = ProfileStore(path, clock=clock, retention_days=3650)
    store.open()
    return store


def new_take(target: str = "", reach: float = nan, tightness: float = nan) -> NewTake:
    reaches = tuple(reach if a == target else nan for a in ARTISTS) if target else ()
    return NewTake(
        target=target,
        target_score=10.0 if target else None,
        target_rank=2 if target else None,
        top_artist="Alpha",
        top_score=70.0,
        style=(95.0, 3.1, 150.0, 4.0, -20.0, 12.0, nan, 0.2),
        artists=ARTISTS,
        scores=(70.0, 10.0, 2.0),
        reaches=reaches,
        grid="beat" if math.isfinite(tightness) else "",
        tightness_ms=tightness,
    )


def verse(member: str, name: str, *, grid: str = "", tight: float = nan, target: str = "",
          reach: int | None = None, score: float | None = None) -> RoundTake:  # fmt: skip
    return RoundTake(member, name, 0.0, grid, tight, target, score, reach)


# ---- the pure parts ----------------------------------------------------------------------
def test_fair_queue_takes_everyone_s_first_verse_before_anyone_s_second():
    q: FairQueue[str, str] = FairQueue()
    for member, item in (("ann", "a1"), ("ann", "a2"), ("ann", "a3"), ("bob", "b1"), ("cy", "c1")):
        q.push(member, item)
    got = []
    while (nxt := q.pop()) is not None:
        got.append(nxt[1])
        q.done(nxt[0])
    assert got == ["a1", "b1", "c1", "a2", "a3"]


def test_fair_queue_holds_one_verse_per_member_in_flight_and_retries_at_the_front():
    q: FairQueue[str, str] = FairQueue()
    q.push("ann", "a1")
    assert q.pop() == ("ann", "a1")
    q.push("ann", "a2")
    assert q.pop() is None  # ann's first is still in the pool
    q.push("bob", "b1")
    assert q.pop() == ("bob", "b1") and q.in_flight() == 2
    q.retry("bob")  # the pool said busy: back where it was, at the front
    q.push("cy", "c1")
    q.done("ann")
    # Cy's first before Ann's second, though it came later
    assert [q.pop(), q.pop(), q.pop()] == [("bob", "b1"), ("cy", "c1"), ("ann", "a2")]
    assert q.pop() is None and len(q) == 0


def test_fair_queue_a_member_back_from_quiet_joins_the_current_turn():
    q: FairQueue[str, str] = FairQueue()
    for item in ("a1", "a2", "a3"):  # Ann alone for a while
        q.push("ann", item)
        assert q.pop() == ("ann", item)
        q.done("ann")
    q.push("ann", "a4")
    assert q.pop() == ("ann", "a4")
    q.push("ann", "a5")
    q.push("bob", "b1")
    q.push("bob", "b2")
    q.done("ann")
    # Bob is not pushed behind Ann's three earlier verses, nor she behind his two
    assert [q.pop(), q.pop()] == [("bob", "b1"), ("ann", "a5")]
    q.done("bob")
    q.done("ann")
    assert q.pop() == ("bob", "b2")


def test_a_round_ends_after_its_quiet_time_from_the_last_verse():
    r = Round(7, "telegram", "-100", "-100", "en", started_at=100.0, quiet_s=60.0)
    assert r.ends_at() == 160.0 and not r.quiet(159.9) and r.quiet(160.0)
    r.verse(150.0)
    assert r.verses == 1 and r.ends_at() == 210.0 and not r.quiet(200.0)


def test_summary_counts_verses_and_finds_the_tightest_and_the_closest():
    takes = [
        verse("1", "Ann", grid="beat", tight=31.0, target="Bravo", reach=40),
        verse("2", "Bob", grid="own pulse", tight=22.4, target="Charlie", reach=72),
        verse("1", "Ann", grid="beat", tight=24.0, target="Bravo", reach=55),
        verse("3", "Cy"),  # too few syllables to time, no target
    ]
    s = summarise(takes, 1000.0, 1000.0 + 12 * 60)
    assert [(m.name, m.verses) for m in s.members] == [("Ann", 2), ("Bob", 1), ("Cy", 1)]
    assert s.verses == 4 and s.minutes == 12
    assert s.tightest is not None and (s.tightest.name, s.tightest.grid) == ("Bob", "own pulse")
    assert s.closest is not None and (s.closest.name, s.closest.reach) == ("Bob", 72.0)
    ann = s.members[0]
    assert (ann.tightness_ms, ann.grid, ann.target, ann.reach) == (24.0, "beat", "Bravo", 55.0)
    text = words.summary(s, "en")
    lines = text.splitlines()
    assert lines[0] == "Cypher round over: 4 verses from 3 members in 12 min."
    assert lines[1:4] == ["- Ann: 2 verses", "- Bob: 1 verse", "- Cy: 1 verse"]
    assert "Rode the beat tightest: Bob, 22 ms spread on their own pulse (no beat)." in lines
    assert "Closest to their target: Bob, reach 72 toward Charlie." in lines


def test_summary_of_a_quiet_or_empty_round_and_in_korean():
    empty = summarise([], 0.0, 1800.0)
    assert words.summary(empty, "en") == "Cypher round over: nobody sent a verse."
    one = summarise([verse("1", "민수", target="Bravo", score=33.0)], 0.0, 40 * 60.0)
    assert one.closest is not None and one.closest.reach == 33.0  # resemblance: no reach
    assert one.tightest is None
    en = words.summary(one, "en", quiet_s=1800.0)
    assert en.startswith("Cypher round over after 30 min without a verse: 1 verse from 1 member")
    assert "nobody's timing could be placed" in en
    ko = words.summary(one, "ko", quiet_s=1800.0)
    first = ko.splitlines()[0]
    assert first == "벌스 없이 30분이 지나 사이퍼 라운드가 끝났어요. " + (
        "40분 동안 멤버 1명이 벌스 1개를 보냈어요."
    )
    assert "- 민수: 벌스 1개" in ko and "목표에 가장 가까운 사람: 민수, Bravo 도달도 33." in ko
    assert not re.search(r"\b(verse|member|nobody|target)\b", ko), ko
    notice = words.started(1800.0, "ko")
    assert HANGUL.search(notice) and "30분" in notice and "/forget" in notice


# ---- the store ---------------------------------------------------------------------------
def test_schema_3_database_upgrades_to_rounds_keeping_every_take(tmp_path):
    path = tmp_path / "profiles.sqlite3"
    shutil.copy(V3, path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 3
    before = db.execute("SELECT * FROM takes ORDER BY id").fetchall()
    members = db.execute("SELECT * FROM members ORDER BY platform").fetchall()
    db.close()

    clock = Clock(V3_TIME + 86400)
    store = open_store(path, clock)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    after = db.execute("SELECT * FROM takes ORDER BY id").fetchall()
    assert [row[:-1] for row in after] == before and all(row[-1] is None for row in after)
    assert db.execute("SELECT * FROM members ORDER BY platform").fetchall() == members
    db.close()
    h = store.history
    takes = h.takes("discord", "900000000000000003")
    assert [t.tightness_ms for t in takes] == [31.0, 24.0] and all(
        t.round_id is None for t in takes
    )
    assert [t.reach_of("Bravo") for t in takes] == [47, 52]
    assert (
        h.timing_goal("telegram", "5550001") == "tight" and h.locale("telegram", "5550001") == "ko"
    )
    # a round works on the upgraded file
    ann = Member("discord", "910000000000000001", "900000000000000003", "Ann")
    rid = store.rounds.open("discord", ann.scope, "4242")
    with in_round(rid):
        h.record(ann, new_take("Bravo", 58.0, 27.0))
    assert store.rounds.takes(rid) == [
        RoundTake("900000000000000003", "Ann", clock.now, "beat", 27.0, "Bravo", 10.0, 58)
    ]
    assert h.takes("discord", ann.member_id)[-1].round_id == rid
    store.close()


def test_forget_takes_a_member_out_of_every_round_and_empty_rounds_go(tmp_path):
    clock = Clock(1000.0)
    store = open_store(tmp_path / "p.sqlite3", clock)
    ann, bob = Member("telegram", "-1", "1", "Ann"), Member("telegram", "-1", "2", "Bob")
    shared, alone, unused = (store.rounds.open("telegram", "-1", "-1") for _ in range(3))
    with in_round(shared):
        store.history.record(ann, new_take())
        store.history.record(bob, new_take())
    with in_round(alone):
        store.history.record(ann, new_take())
    store.history.record(ann, new_take())  # a plain note: no round
    assert [t.round_id for t in store.history.takes("telegram", "1")] == [shared, alone, None]
    assert store.rounds.close(shared) and store.rounds.close(alone)
    assert not store.rounds.close(unused)  # nobody sent a verse: not kept
    assert store.rounds.count() == 2

    gone = store.forget("telegram", "1")
    assert gone.takes == 3
    assert [t.member_id for t in store.rounds.takes(shared)] == ["2"]
    assert store.rounds.takes(alone) == [] and store.rounds.count() == 1  # hers alone: gone
    # a round still running keeps its row until it ends, even with nobody in it yet
    running = store.rounds.open("telegram", "-1", "-1")
    store.forget("telegram", "2")
    assert store.rounds.count() == 1 and store.rounds.takes(running) == []
    # past the history period, the purge takes rounds left without takes
    clock.now += 91 * 86400
    store.purge_expired()
    assert store.rounds.count() == 0
    store.close()


# ---- the desk over a stub service --------------------------------------------------------
class StubService:
    """What the desk uses of RapService: settings.workers, the store, and analyze (which
    keeps a history row in the verse's round, like the real one, and can say busy)."""

    def __init__(self, store: ProfileStore) -> None:
        self.settings = SimpleNamespace(workers=1)
        self.store = store
        self.sent: list[str] = []  # the audio of each call, in the order they reached it
        self.busy = 0  # refuse this many calls as busy

    async def analyze(self, member: Member, audio: bytes, filename: str, mime: Any = None, *,
                      language: Any = None, round_id: int | None = None,
                      busy_raises: bool = False) -> Reply:  # fmt: skip
        self.sent.append(audio.decode())
        await asyncio.sleep(0.01)
        if self.busy:
            self.busy -= 1
            if busy_raises:
                raise PoolBusy("busy")
            return Reply("busy", ok=False)
        with in_round(round_id):
            await asyncio.to_thread(self.store.history.record, member, new_take(tightness=30.0))
        return Reply(f"{member.display_name}: {audio.decode()}")


@pytest.fixture
def desk(tmp_path):
    store = open_store(tmp_path / "p.sqlite3", Clock(5000.0))
    service = StubService(store)
    yield CypherDesk(cast(RapService, service), retry_s=0.05)
    store.close()


def members(*names: str) -> list[Member]:
    return [Member("telegram", "-7", str(i), n) for i, n in enumerate(names, 1)]


@pytest.mark.asyncio
async def test_desk_answers_verses_fairly_and_summarises_the_round(desk: CypherDesk):
    ann, bob = members("Ann", "Bob")
    said: list[str] = []

    async def post(text: str) -> None:
        said.append(text)

    assert (await desk.start(ann, "-7", post, "en")).text.startswith("Cypher round open!")
    again = await desk.start(bob, "-7", post, "en")
    assert not again.ok and again.text == words.ALREADY
    answers = await asyncio.gather(
        desk.verse(ann, b"a1", "v.ogg", "-7"),
        desk.verse(ann, b"a2", "v.ogg", "-7"),
        desk.verse(bob, b"b1", "v.ogg", "-7"),
    )
    assert [a.text for a in answers] == ["Ann: a1", "Ann: a2", "Bob: b1"]
    stub = cast(StubService, desk.service)
    assert stub.sent == ["a1", "b1", "a2"]  # Bob's first before Ann's second
    summary = await desk.stop("telegram", "-7", "en")
    assert summary.text.startswith("Cypher round over: 3 verses from 2 members in 1 min.")
    assert "- Ann: 2 verses\n- Bob: 1 verse" in summary.text
    assert "Rode the beat tightest: Ann, 30 ms spread." in summary.text  # a tie: by name
    assert not (await desk.stop("telegram", "-7", "en")).ok
    plain = await desk.verse(ann, b"a3", "v.ogg", "-7")  # no round: a plain note
    assert plain.text == "Ann: a3" and said == []
    assert [t.round_id is None for t in desk.service.store.history.takes("telegram", "1")] == [
        False, False, True,
    ]  # fmt: skip


@pytest.mark.asyncio
async def test_desk_says_busy_once_and_every_verse_gets_its_answer(desk: CypherDesk):
    ann, bob, cy = members("Ann", "Bob", "Cy")
    said: list[str] = []

    async def post(text: str) -> None:
        said.append(text)

    await desk.start(ann, "-7", post, "ko")
    stub = cast(StubService, desk.service)
    stub.busy = 4
    answers = await asyncio.gather(
        *(desk.verse(m, m.display_name.encode(), "v.ogg", "-7") for m in (ann, bob, cy, ann))
    )
    assert [a.text for a in answers] == ["Ann: Ann", "Bob: Bob", "Cy: Cy", "Ann: Ann"]
    assert said == [words_in_korean(words.BUSY)]  # once, in the round's language
    assert stub.sent[:5] == ["Ann"] * 5  # the refused verse stays at the front
    await desk.close()


@pytest.mark.asyncio
async def test_a_quiet_round_ends_by_itself_and_posts_its_summary(desk: CypherDesk):
    (ann,) = members("Ann")
    posted = asyncio.Queue[str]()
    desk.quiet_s = 0.3
    await desk.start(ann, "-7", posted.put, "en")
    await desk.verse(ann, b"a1", "v.ogg", "-7")
    text = await asyncio.wait_for(posted.get(), 5)
    assert text.startswith("Cypher round over after 0 min without a verse: 1 verse from 1 member")
    assert not desk.running("telegram", "-7")


def words_in_korean(message: str) -> str:
    from i18n import say

    return say(message, "ko")


@pytest.mark.asyncio
async def test_closing_the_desk_cancels_whoever_waits_for_a_verse(desk: CypherDesk):
    (ann,) = members("Ann")

    async def post(text: str) -> None:
        pass

    await desk.start(ann, "-7", post, "en")
    cast(StubService, desk.service).busy = 10**6  # the pool never takes it
    waiting = asyncio.create_task(desk.verse(ann, b"a1", "v.ogg", "-7"))
    await asyncio.sleep(0.1)
    await desk.close()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiting, 2)
    assert not desk.running("telegram", "-7")
