"""The practice history in the profile store: the upgrades from schemas 1 and 2,
retention, /forget, leaderboards, reach and timing per take, timing goals, and two
processes writing one database at once.

``tests/data/profiles-v1.sqlite3`` was written by the schema-1 store code (commit
ee9579a, before schema 2 existed): two members, three analyses each.
``tests/data/profiles-v2.sqlite3`` was written by the schema-2 store code (before schema
3: reach, timing, timing goals): Ann's three takes (two toward Bravo, her target) in a
Discord server where she shares, 김민수's one take toward Charlie on Telegram (locale ko).
"""

from __future__ import annotations

import math
import multiprocessing as mp
import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from bot.member import Member
from bot.store.history import NewTake
from bot.store.profiles import ProfileStore
from bot.store.schema import SCHEMA_VERSION

V1 = Path(__file__).parent / "data" / "profiles-v1.sqlite3"
V1_TIME = 1_790_000_000.0  # when the fixture's rows were written (fake clock)
V2 = Path(__file__).parent / "data" / "profiles-v2.sqlite3"
V2_TIME = 1_790_000_000.0  # its first take; one an hour after
ARTISTS = ("Alpha", "Bravo", "Charlie")
DAY = 86400.0


def take(scores: tuple[float, ...], target: str = "", artists=ARTISTS) -> NewTake:
    top = max(range(len(scores)), key=lambda i: scores[i])
    t = artists.index(target) if target else None
    return NewTake(
        target=target,
        target_score=scores[t] if t is not None else None,
        target_rank=1 + sorted(scores, reverse=True).index(scores[t]) if t is not None else None,
        top_artist=artists[top],
        top_score=scores[top],
        style=(95.0, 3.1, 150.0, 4.0, -20.0, 12.0, float("nan"), 0.2),
        artists=artists,
        scores=scores,
    )


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def open_store(path: Path, clock: Clock, **kw) -> ProfileStore:
    store = ProfileStore(path, clock=clock, retention_days=3650, **kw)
    store.open()
    return store


def test_schema_1_database_upgrades_in_place_keeping_every_row(tmp_path):
    path = tmp_path / "profiles.sqlite3"
    shutil.copy(V1, path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"profiles"}
    before = db.execute("SELECT * FROM profiles ORDER BY id").fetchall()
    db.close()

    clock = Clock(V1_TIME + 7 * 3600)
    store = open_store(path, clock)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    assert db.execute("SELECT * FROM profiles ORDER BY id").fetchall() == before  # nothing lost
    alice = Member("discord", "900000000000000003", "910000000000000001", "Alice")
    latest = store.latest(alice)
    assert latest is not None and latest.top_artist == "Charlie"
    assert latest.voice.encoder == "resemblyzer 0.1.4" and math.isnan(latest.voice.style[7])
    minsu = store.find_member("telegram", "-1001234567", "@MinSu")
    assert minsu is not None and minsu.display_name == "김민수"
    # the new tables work on the upgraded file, and reopening upgrades nothing again
    store.history.record(alice, take((70.0, 61.0, 20.0), "Bravo"))
    store.close()
    store = open_store(path, clock)
    assert store.history.count() == 1 and store.count() == 6
    store.close()


def test_schema_2_database_upgrades_keeping_takes_targets_and_shares(tmp_path):
    """Reach and timing arrive as new columns: earlier takes read "not measured", and
    the member's target, locale and sharing are as they were."""
    path = tmp_path / "profiles.sqlite3"
    shutil.copy(V2, path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    before = db.execute("SELECT * FROM takes ORDER BY id").fetchall()
    db.close()

    clock = Clock(V2_TIME + DAY)
    store = open_store(path, clock)
    h = store.history
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    after = db.execute("SELECT * FROM takes ORDER BY id").fetchall()
    assert [row[: len(before[0])] for row in after] == before  # every column kept as it was
    takes = h.takes("discord", "900000000000000003")
    assert [t.score_of("Bravo") for t in takes] == [0, 3, 9]
    assert all(t.reach_of("Bravo") is None and t.grid == "" for t in takes)
    assert all(math.isnan(t.tightness_ms) and math.isnan(t.offset_ms) for t in takes)
    assert h.target("discord", "900000000000000003") == "Bravo"
    assert h.timing_goal("discord", "900000000000000003") == ""
    assert h.locale("telegram", "5550001") == "ko"
    assert h.shares(Member("discord", "910000000000000001", "900000000000000003", "Ann"))
    # before any reach: no earlier reach, so the first reach line has nothing to compare
    s = h.standing("discord", "900000000000000003", "Bravo", reach=True)
    assert (s.previous, s.best, s.takes) == (None, None, 3)
    store.close()


def test_reach_and_timing_are_kept_per_take(tmp_path):
    clock = Clock(1000.0)
    store = open_store(tmp_path / "p.sqlite3", clock)
    h, ann = store.history, Member("discord", "g1", "u1", "Ann")
    nan = float("nan")
    timed = dict(grid="beat", offset_ms=72.4, tightness_ms=24.0, on_grid_share=0.61)
    h.record(ann, replace(take((0.0, 61.0, 2.0), "Alpha"), reaches=(47.4, 84.0, nan), **timed))
    clock.now += 60
    h.record(ann, replace(take((0.0, 55.0, 1.0), "Alpha"), reaches=(52.0, 80.0, 49.6)))
    clock.now += 60
    h.record(ann, take((0.0, 50.0, 1.0)))  # an older worker: no reach, no timing
    first, second, third = h.takes("discord", "u1")
    assert [first.reach_of(a) for a in ARTISTS] == [47, 84, None]  # 255: not scored
    assert (first.grid, first.offset_ms, first.tightness_ms) == ("beat", 72.4, 24.0)
    assert first.on_grid_share == pytest.approx(0.61)
    assert second.grid == "" and math.isnan(second.offset_ms) and second.reach_of("Charlie") == 50
    assert third.reach_of("Alpha") is None and third.reaches == b""
    s = h.standing("discord", "u1", "Alpha", reach=True)
    assert (s.previous, s.best, s.takes) == (52, 52, 3)  # the latest take that has it
    assert h.standing("discord", "u1", "Alpha") == type(s)(0, 0, 3)  # resemblance: floored


def test_one_target_at_a_time_an_artist_or_a_timing_goal(tmp_path):
    store = open_store(tmp_path / "p.sqlite3", Clock(1000.0))
    h = store.history
    h.set_target("telegram", "u1", "Bravo")
    assert (h.target("telegram", "u1"), h.timing_goal("telegram", "u1")) == ("Bravo", "")
    h.set_target("telegram", "u1", "", "pocket 60")
    assert (h.target("telegram", "u1"), h.timing_goal("telegram", "u1")) == ("", "pocket 60")
    h.remember_locale("telegram", "u1", "ko")
    h.set_target("telegram", "u1", "Alpha")  # an artist replaces the goal; the locale stays
    assert (h.target("telegram", "u1"), h.timing_goal("telegram", "u1")) == ("Alpha", "")
    assert h.locale("telegram", "u1") == "ko"
    h.set_target("telegram", "u1", "", "tight")
    gone = store.forget("telegram", "u1")
    assert gone.target and h.timing_goal("telegram", "u1") == ""


def test_a_database_from_a_newer_version_is_refused(tmp_path):
    from bot.store.profiles import StoreError

    path = tmp_path / "newer.sqlite3"
    sqlite3.connect(path).execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer"):
        ProfileStore(path).open()


def test_standing_previous_best_and_a_changed_catalogue(tmp_path):
    clock = Clock(1000.0)
    store = open_store(tmp_path / "p.sqlite3", clock)
    h, ann = store.history, Member("discord", "g1", "u1", "Ann")
    assert h.standing("discord", "u1", "Bravo").previous is None
    for scores, target in (((50.0, 40.4, 1.0), ""), ((50.0, 61.0, 1.0), "Bravo")):
        clock.now += 60
        h.record(ann, take(scores, target))
    s = h.standing("discord", "u1", "Bravo")
    assert (s.previous, s.best, s.takes) == (61, 61, 2)
    # the catalogue grew: earlier takes still answer for the artists they knew
    clock.now += 60
    h.record(ann, take((10.0, 30.0, 5.0, 99.0), "", artists=(*ARTISTS, "Delta")))
    s = h.standing("discord", "u1", "Bravo")
    assert (s.previous, s.best, s.takes) == (30, 61, 3)
    assert h.standing("discord", "u1", "Delta") == type(s)(99, 99, 3)
    takes = h.takes("discord", "u1")
    assert [t.score_of("Delta") for t in takes] == [None, None, 99]
    assert takes[1].target == "Bravo" and takes[1].target_rank == 1
    assert math.isnan(takes[0].style[6]) and takes[0].style[1] == 3.1
    cols = {r[1] for r in sqlite3.connect(store.path).execute("PRAGMA table_info(takes)")}
    assert not {"audio", "embedding", "mel"} & cols  # no audio, no voice fingerprint


def test_history_outlives_profiles_and_expires_after_its_own_period(tmp_path):
    clock = Clock(0.0)
    store = ProfileStore(tmp_path / "p.sqlite3", clock=clock, retention_days=1, history_days=3)
    store.open()
    ann = Member("telegram", "c1", "u1", "Ann")
    store.history.record(ann, take((1.0, 2.0, 3.0)))
    clock.now = 2 * DAY  # past the profiles' retention, inside the history's
    assert len(store.history.takes("telegram", "u1")) == 1
    clock.now = 3 * DAY + 1
    assert store.history.takes("telegram", "u1") == []  # expired: never served
    assert store.history.count() == 1
    assert store.purge_expired() == 1 and store.history.count() == 0


def test_forget_deletes_history_target_locale_and_sharing_everywhere(tmp_path):
    clock = Clock(1000.0)
    store = open_store(tmp_path / "p.sqlite3", clock)
    h = store.history
    for scope in ("g1", "g2"):
        m = Member("discord", scope, "u1", "Ann")
        h.record(m, take((1.0, 2.0, 3.0)))
        h.share(m, True)
    bob = Member("discord", "g1", "u2", "Bob")
    h.record(bob, take((1.0, 2.0, 3.0)))
    h.share(bob, True)
    h.record(Member("telegram", "c1", "u1", "Ann"), take((1.0, 2.0, 3.0)))
    h.set_target("discord", "u1", "Bravo")
    h.remember_locale("discord", "u1", "ko")
    gone = store.forget("discord", "u1")
    assert (gone.takes, gone.target, gone.shares, gone.profiles) == (2, True, 2, {})
    assert h.takes("discord", "u1") == [] and h.target("discord", "u1") == ""
    assert h.locale("discord", "u1") == "" and not h.shares(Member("discord", "g1", "u1", "A"))
    assert len(h.takes("discord", "u2")) == 1 and len(h.takes("telegram", "u1")) == 1
    again = store.forget("discord", "u1")
    assert (again.takes, again.target, again.shares) == (0, False, 0)


def test_leaderboard_lists_only_members_who_share_in_this_scope_this_week(tmp_path):
    clock = Clock(100 * DAY)
    store = open_store(tmp_path / "p.sqlite3", clock)
    h = store.history
    ann, bob, cat = (
        Member("telegram", "g", u, n) for u, n in (("1", "Ann"), ("2", "Bob"), ("3", "Cat"))
    )
    old = Member("telegram", "g", "4", "Old")
    clock.now -= 8 * DAY
    h.record(old, take((1.0, 99.0, 1.0)))  # a great take, but last week
    clock.now += 8 * DAY
    h.record(ann, take((1.0, 55.0, 1.0)))
    h.record(ann, take((1.0, 72.0, 1.0)))
    h.record(bob, take((1.0, 90.0, 1.0)))  # the best, but Bob does not share
    h.record(cat, take((1.0, 40.0, 1.0)))
    h.record(Member("telegram", "other", "3", "Cat"), take((1.0, 95.0, 1.0)))  # elsewhere
    for m in (ann, cat, old):
        h.share(m, True)
    board = h.leaderboard("telegram", "g", "Bravo")
    assert [(e.display_name, e.best, e.takes) for e in board] == [("Ann", 72, 2), ("Cat", 40, 1)]
    assert h.share(bob, True) is False and h.share(bob, True) is True  # on; already on
    assert next(e.display_name for e in h.leaderboard("telegram", "g", "Bravo")) == "Bob"
    h.share(bob, False)  # off: gone at once
    assert "Bob" not in [e.display_name for e in h.leaderboard("telegram", "g", "Bravo")]
    assert h.leaderboard("telegram", "g", "Nobody") == []


def _write_takes(path: str, who: str, n: int) -> None:
    """One bot process: its own store on the shared file, writing as fast as it can."""
    store = ProfileStore(path, retention_days=3650)
    store.open()
    for i in range(n):
        m = Member("discord", "g1", f"{who}-{i % 5}", who)
        store.history.record(m, take((1.0, float(i % 100), 2.0), "Bravo" if i % 2 else ""))
        store.history.set_target("discord", m.member_id, "Bravo")
        if i % 10 == 0:
            store.history.share(m, True)
    store.close()


def test_two_processes_and_threads_write_one_database_at_once(tmp_path):
    import threading

    path = tmp_path / "profiles.sqlite3"
    shutil.copy(V1, path)  # both processes find schema 1 and race to upgrade it
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_write_takes, args=(str(path), f"p{i}", 150)) for i in range(2)]
    for p in procs:
        p.start()
    threads = [
        threading.Thread(target=_write_takes, args=(str(path), f"t{i}", 50)) for i in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = open_store(path, Clock(V1_TIME))
    assert store.history.count() == 2 * 150 + 2 * 50
    assert store.count() == 6  # the schema-1 profiles survived the race
    rows = sqlite3.connect(path).execute("SELECT COUNT(*) FROM members").fetchone()[0]
    assert rows == 4 * 5
