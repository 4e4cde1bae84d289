"""Bot pieces without worker processes: settings, limits, the profile store, reply wording."""

from __future__ import annotations

import logging
import math
import sqlite3

import numpy as np
import pytest

from bot import replies
from bot.errors import JobRejected, JobTimedOut, PoolBusy, SettingsError, WorkerCrashed
from bot.jobs import Analysis, ArtistEntry, Comparison, MatchOut, StyleLine, Voice
from bot.limits import MemberLimiter
from bot.member import Member
from bot.settings import Settings, TokenFilter, load_settings
from bot.store.history import Forgotten
from bot.store.profiles import ProfileStore, StoreError

DISCORD_TOKEN = "MTA1NjY3ODkwMTIzNDU2Nzg5MA.GAbCdE.abcdefghijklmnopqrstuvwxyz0123456789AB"
TELEGRAM_TOKEN = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-bs"


# ---- settings ----------------------------------------------------------------------------
def test_settings_defaults_and_env_over_dotenv(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("RAPSIM_WORKERS=3\nRAPSIM_QUEUE_SIZE=7\nDISCORD_CHANNELS=1, 22\n")
    s = load_settings({"RAPSIM_WORKERS": "4"}, dotenv=env_file)
    assert s.workers == 4  # the environment wins
    assert s.queue_size == 7
    assert s.discord_channels == frozenset({1, 22})
    assert load_settings({}, dotenv=None).workers == 2


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("RAPSIM_WORKERS", "two", "RAPSIM_WORKERS must be a number"),
        ("RAPSIM_WORKERS", "0", "within 1..64"),
        ("RAPSIM_QUEUE_SIZE", "2.5", "whole number"),
        ("TELEGRAM_API_URL", "localhost:8081", "http(s) URL"),
        ("DISCORD_CHANNELS", "12,general", "numeric ids"),
        ("RAPSIM_BROKER_URL", "http://localhost:6379", "redis://, rediss:// or unix://"),
    ],
)
def test_bad_settings_name_the_key(key, value, needle):
    with pytest.raises(SettingsError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        load_settings({key: value}, dotenv=None)


def test_tokens_are_checked_and_never_shown():
    with pytest.raises(SettingsError, match="DISCORD_TOKEN is not set"):
        Settings().require_discord_token()
    bad = Settings(discord_token="hunter2", telegram_token="12:short")
    for check in (bad.require_discord_token, bad.require_telegram_token):
        with pytest.raises(SettingsError, match="malformed") as err:
            check()
        assert "hunter2" not in str(err.value) and "short" not in str(err.value)
    good = Settings(discord_token=DISCORD_TOKEN, telegram_token=TELEGRAM_TOKEN)
    assert good.require_discord_token() == DISCORD_TOKEN
    assert good.require_telegram_token() == TELEGRAM_TOKEN
    assert DISCORD_TOKEN not in repr(good) and TELEGRAM_TOKEN not in repr(good)


def test_broker_url_switches_the_pool_and_its_password_is_never_shown():
    from bot.app import create_pool
    from bot.pool.distributed import DistributedPool
    from bot.pool.local import ProcessPool

    url = "rediss://:s3cret-pw@redis.example:6380/0"
    settings = load_settings({"RAPSIM_BROKER_URL": url}, dotenv=None)
    assert settings.broker_url == url and "s3cret-pw" not in repr(settings)
    assert "s3cret-pw" in settings.secrets()
    assert isinstance(create_pool(settings), DistributedPool)
    assert isinstance(create_pool(load_settings({}, dotenv=None)), ProcessPool)
    record = logging.LogRecord("bot", logging.INFO, __file__, 1, "connecting to %s", (url,), None)
    TokenFilter(settings.secrets()).filter(record)
    assert "s3cret-pw" not in record.getMessage()


def test_token_filter_scrubs_messages_args_and_tracebacks():
    flt = TokenFilter((TELEGRAM_TOKEN,))
    rec = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "GET /bot%s/getMe", (TELEGRAM_TOKEN,), None
    )
    assert flt.filter(rec)
    assert TELEGRAM_TOKEN not in rec.getMessage() and "/bot***/getMe" in rec.getMessage()
    try:
        raise RuntimeError(f"url https://api.telegram.org/bot{TELEGRAM_TOKEN}/getUpdates")
    except RuntimeError:
        import sys

        rec = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    flt.filter(rec)
    assert rec.exc_text and TELEGRAM_TOKEN not in rec.exc_text and "bot***" in rec.exc_text


# ---- limits ------------------------------------------------------------------------------
def test_limiter_one_in_flight_and_per_minute():
    now = [0.0]
    lim = MemberLimiter(per_minute=2, clock=lambda: now[0])
    assert lim.try_acquire("a") is None
    wait = lim.try_acquire("a")
    assert wait is not None and wait.in_flight
    assert lim.try_acquire("b") is None  # other members are not affected
    lim.release("a")
    now[0] = 10.0
    assert lim.try_acquire("a") is None
    lim.release("a")
    wait = lim.try_acquire("a")  # third note within a minute
    assert wait is not None and not wait.in_flight and wait.seconds == pytest.approx(50.0)
    now[0] = 60.5  # the first note left the window
    assert lim.try_acquire("a") is None


def test_limiter_busy_refusal_gives_the_slot_back_and_forgets_idle_members():
    now = [0.0]
    lim = MemberLimiter(per_minute=1, clock=lambda: now[0])
    assert lim.try_acquire("a") is None
    lim.release("a", counted=False)
    assert lim.try_acquire("a") is None  # not counted: may send again at once
    lim.release("a")
    for i in range(50):
        assert lim.try_acquire(i) is None
        lim.release(i)
    now[0] = 120.0
    assert lim.tracked() == 0


# ---- store -------------------------------------------------------------------------------
def _voice(seed: int, encoder: str = "resemblyzer 0.1.4", frames: int = 375) -> Voice:
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal(256).astype(np.float32)
    mel = rng.integers(0, 256, (64, frames), dtype=np.uint8)
    return Voice(emb / np.linalg.norm(emb), (1.0, float("nan"), *range(6)), mel, encoder)


def _store(tmp_path, clock, **kw) -> ProfileStore:
    store = ProfileStore(tmp_path / "p.sqlite3", clock=clock, **kw)
    store.open()
    return store


def test_store_round_trip_keeps_latest_and_no_audio(tmp_path):
    now = [1000.0]
    store = _store(tmp_path, lambda: now[0], per_member=2)
    m = Member("discord", "g1", "u1", "Ann", "ann")
    for seed in range(3):
        now[0] += 1
        store.save(m, _voice(seed), f"Artist {seed}")
    assert store.count() == 2  # only per_member rows are kept
    p = store.latest(m)
    assert p is not None and p.top_artist == "Artist 2"
    v = _voice(2)
    np.testing.assert_array_equal(p.voice.embedding, v.embedding)
    np.testing.assert_array_equal(p.voice.mel, v.mel)
    assert p.voice.style[0] == 1.0 and math.isnan(p.voice.style[1])
    assert p.member == m
    cols = {r[1] for r in sqlite3.connect(store.path).execute("PRAGMA table_info(profiles)")}
    assert not {"audio", "wav", "bytes"} & cols
    assert store.latest(Member("discord", "g2", "u1", "Ann")) is None  # another scope


def test_store_forget_every_scope_and_expiry(tmp_path):
    now = [0.0]
    store = _store(tmp_path, lambda: now[0], retention_days=1)
    for scope in ("g1", "g2", "dm:u1"):
        store.save(Member("discord", scope, "u1", "Ann"), _voice(1), "X")
    store.save(Member("telegram", "c1", "u1", "Ann"), _voice(2), "X")  # another platform
    store.save(Member("discord", "g1", "u2", "Bob", "bob"), _voice(3), "Y")
    assert store.find_member("discord", "g1", "@Bob").member_id == "u2"
    assert store.forget("discord", "u1").profiles == {"g1": 1, "g2": 1, "dm:u1": 1}
    assert store.count("discord", "u1") == 0 and store.count("telegram", "u1") == 1
    now[0] = 2 * 86400.0
    assert store.latest(Member("discord", "g1", "u2", "Bob")) is None  # expired: not served
    assert store.purge_expired() == 2 and store.count() == 0


def test_store_refuses_newer_schema_and_garbage(tmp_path):
    newer = tmp_path / "newer.sqlite3"
    sqlite3.connect(newer).execute("PRAGMA user_version=99")
    with pytest.raises(StoreError, match="newer"):
        ProfileStore(newer).open()
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a usable"):
        ProfileStore(garbage).open()


# ---- replies -----------------------------------------------------------------------------
def _line(name: str, mine: float, theirs: float, span: float) -> StyleLine:
    return StyleLine(name, name, mine, theirs, f"{mine:g}", f"{theirs:g}", span)


def test_analysis_text_order_runners_up_and_tips():
    matches = tuple(MatchOut(a, s, False) for a, s in [("MC Top", 91.2), ("B", 40), ("C", 9)])
    lines = (
        _line("syllable_rate", 3.1, 4.6, 7.0),  # 21 % of span: first tip, "speed up"
        _line("pitch_median_hz", 150, 140, 280),  # 3.6 %: not worth a tip
        _line("tempo_bpm", 120, 90, 120),  # 25 %: the biggest, "slower beat"
        _line("pause_ratio", 0.2, float("nan"), 0.8),  # unmeasured: skipped
    )
    a = Analysis(matches, lines, _voice(0), b"png", 30.0, 25.0, ("input was clipped",))
    text = replies.analysis("Ann", a)
    first = text.splitlines()[0]
    assert first == "Ann, you sound most like MC Top: 91/100."
    assert "Runners-up: B 40, C 9" in text
    tips = [t for t in text.splitlines() if t.startswith("- ")]
    assert len(tips) == 2
    assert tips[0].startswith("- Tempo") and "slower beat" in tips[0]
    assert "Flow: you rap at 3.1; MC Top raps at 4.6" in tips[1] and "speed up" in tips[1]
    assert text.endswith("Note: input was clipped")


def test_failure_texts_are_distinct_and_readable():
    texts = {
        replies.job_failed(e)
        for e in (
            PoolBusy("x"),
            JobRejected("no voice found"),
            WorkerCrashed("x"),
            JobTimedOut("x"),
        )
    }
    assert len(texts) == 4 and replies.BUSY in texts
    assert any("no voice found" in t for t in texts)
    assert "2 servers or chats" in replies.forgotten(Forgotten({"g1": 2, "g2": 1}))
    assert "nothing saved" in replies.forgotten(Forgotten({}))
    alike = "more alike than most pairs of different artists in the catalogue"
    cmp = replies.comparison("Ann", "Bob", Comparison(83.4, ("X", "Y"), b"", False, alike))
    assert cmp.splitlines()[0] == f"Ann and Bob: 83/100 alike, {alike}."
    assert "same person" not in cmp and "of Ann: X; of Bob: Y" in cmp
    same = replies.comparison("Ann", "Bob", Comparison(99.0, ("X", "X"), b"", True, alike))
    assert "may be the same person" in same


def test_identity_is_said_only_when_it_fires():
    """A member (identity low) is told the resemblance in words; a note that matches an
    artist's own recordings says so instead."""
    words = "closer than most neighbouring artists in this catalogue"
    member = MatchOut("MC Top", 72.0, False, identity=3.0, maybe_self=False, meaning=words)
    artist = MatchOut("MC Top", 99.6, False, identity=97.0, maybe_self=True, meaning=words)
    for top, says_self in ((member, False), (artist, True)):
        a = Analysis((top, MatchOut("B", 40, False)), (), _voice(0), b"png", 30.0, 25.0, ())
        text = replies.analysis("Ann", a)
        assert ("themself" in text) is says_self
        assert (words in text) is not says_self
        assert text.startswith(f"Ann, you sound most like MC Top: {top.score:.0f}/100")


def test_artist_pages():
    entries = [ArtistEntry(f"A{i:02d}", 3, 100.0, i == 0) for i in range(45)]
    pages = replies.artist_pages(entries, 20)
    assert len(pages) == 3 and pages[2].count("\n") == 5
    assert pages[0].startswith("Artists (45), page 1/3") and "(demo voice)" in pages[0]
    assert "45. A44" in pages[2]


def test_help_text_states_the_platforms_lower_upload_limit():
    settings = Settings(max_upload_mb=25)
    assert "Files up to 25 MB" in replies.help_text(settings)
    assert "Files up to 20 MB" in replies.help_text(settings, 20.0)  # Telegram's public API
    assert "Files up to 25 MB" in replies.help_text(settings, 50.0)
