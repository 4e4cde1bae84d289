"""Cypher mode's ears end to end: the real discord.py 2.7 voice client, discord-ext-voice-recv
and davey against a fake Discord voice server (``tests.fakes.discord_voice``).

The bot joins a voice channel, marks its nickname, posts the opt-in buttons; members rap
in turns (espeak-ng takes, sent as Discord clients send them, four times faster than
real time); only the member who pressed the button is heard. With DAVE on, every frame
is end-to-end encrypted by the member's own ``davey`` session inside an MLS group the
fake founds as Discord's external sender: the path that breaks in production. Faults: a
corrupt packet, a frame libopus refuses, an SSRC that SPEAKING names late, members who
hang up mid-verse (delivered if at least ``min_s`` long, else dropped), and the last human
leaving (the bot leaves and restores its nickname). The verse cutter has unit tests too.
"""

from __future__ import annotations

import asyncio
import io
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np
import pytest
import pytest_asyncio

from bot.cypher.voice import VerseOptions, missing_voice_support
from tests.conftest import LINES, needs_espeak, speak

pytestmark = pytest.mark.skipif(
    missing_voice_support() is not None, reason=str(missing_voice_support())
)

if missing_voice_support() is None:
    import aiohttp
    import discord
    from discord.ext import commands

    from bot.cypher.voice.session import RECORDING_NICK, VoiceCypher
    from bot.cypher.voice.verses import Verse, VerseCutter
    from tests.fakes.discord_voice import FakeMember, FakeVoiceDiscord, Take

TOKEN = "OTAwMDAwMDAwMDAwMDAwMDAy.GfAkEt.rapsim-test-token-0123456789abcdefXYZ"
ALICE, BOB, CARL, DANA = (910000000000000000 + i for i in (1, 2, 3, 4))
SPEED = 4.0  # the fake sends the call this many times faster than real time
OPTIONS = VerseOptions(silence_s=1.0, min_s=1.5, max_s=30.0)
QUIET = -45.0  # dBFS, as OPTIONS.quiet_dbfs


def _dbfs(x: np.ndarray) -> float:
    x = x.astype(np.float64)
    return 10 * np.log10(np.mean(x * x) / 32768.0**2 + 1e-12)


def _voiced_seconds(pcm: np.ndarray, rate: int) -> float:
    """From the first to the end of the last 20 ms frame above the quiet level."""
    frame = rate // 50
    loud = [i for i in range(len(pcm) // frame) if _dbfs(pcm[i * frame : (i + 1) * frame]) > QUIET]
    return (loud[-1] + 1 - loud[0]) * frame / rate if loud else 0.0


def _samples(verse: Verse) -> np.ndarray:
    with wave.open(io.BytesIO(verse.audio)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        assert w.getframerate() == verse.sample_rate
        return np.frombuffer(w.readframes(w.getnframes()), np.int16)


@pytest.fixture(scope="module")
def takes(tmp_path_factory: pytest.TempPathFactory) -> list[np.ndarray]:
    """Four espeak-ng takes, 48 kHz mono int16, a few seconds each."""
    import soundfile as sf
    import soxr

    folder = tmp_path_factory.mktemp("takes")
    out = []
    for i, line in enumerate(LINES):
        wav, rate = sf.read(speak(line, "en-us+m3", folder / f"{i}.wav", speed=190))
        pcm = soxr.resample(wav, rate, 48_000) * 0.7
        out.append(np.clip(pcm * 32767, -32768, 32767).astype(np.int16))
    return out


# ---- the harness: a fake Discord with a voice channel, a bot, a cypher ------------------
@dataclass
class Cypher:
    fake: FakeVoiceDiscord
    bot: commands.Bot
    cypher: VoiceCypher
    members: dict[int, FakeMember]
    verses: list[tuple[int, Verse]] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)

    async def opt_in(self, user_id: int) -> None:
        """Presses the notice's opt-in button as ``user_id`` and waits for the answer."""
        notice = next(
            r
            for r in reversed(self.fake.requests)
            if r.method == "POST" and r.path.endswith("/messages") and r.json.get("components")
        )
        buttons = notice.response["components"][0]["components"]
        since = self.fake.mark()
        data = {"custom_id": buttons[0]["custom_id"], "component_type": 2}
        await self.fake.interaction(user_id, data, type=3, message=notice.response)
        await self.fake.wait_for(lambda r: "callback" in r.path, since=since, timeout=10)
        assert self.cypher.is_opted_in(discord.Object(user_id))

    async def wait_verses(self, count: int, timeout: float = 20.0) -> list[tuple[int, Verse]]:
        async with asyncio.timeout(timeout):
            while len(self.verses) < count:
                await asyncio.sleep(0.05)
        await asyncio.sleep(OPTIONS.silence_s + 0.3)  # and no more than that
        return self.verses


async def _cypher(dave: bool, seated: list[int]) -> AsyncIterator[Cypher]:
    fake = FakeVoiceDiscord(dave=dave)
    for user_id, name in zip(
        (ALICE, BOB, CARL, DANA), ("alice", "bob", "carl", "dana"), strict=True
    ):
        fake.add_user(user_id, name)
    members = {u: fake.seat(u, ssrc=100 + i) for i, u in enumerate(seated)}
    await fake.start()
    connector = aiohttp.TCPConnector(ssl=fake.voice.client_ssl)
    bot = commands.Bot(
        command_prefix="!",
        intents=discord.Intents.default(),
        connector=connector,
        guild_ready_timeout=0.1,
    )
    task = None
    try:
        with fake.patched_discord():
            await bot.login(TOKEN)
            task = asyncio.create_task(bot.connect(reconnect=False))
            await asyncio.wait_for(bot.wait_until_ready(), 20)
            channel = bot.get_channel(fake.VOICE_CHANNEL_ID)
            assert isinstance(channel, discord.VoiceChannel)
            harness: Cypher

            async def on_verse(member: discord.Member, verse: Verse) -> None:
                harness.verses.append((member.id, verse))

            async def on_end(reason: str) -> None:
                harness.ended.append(reason)

            cypher = VoiceCypher(bot, channel, on_verse, OPTIONS, on_end=on_end)
            harness = Cypher(fake, bot, cypher, members)
            await cypher.start()
            await asyncio.wait_for(fake.voice.dave_ready.wait(), 10)
            await cypher.post_notice(bot.get_channel(fake.CHANNEL_ID), "cypher on")
            yield harness
            await cypher.stop()
    finally:
        await bot.close()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        await fake.close()


@pytest_asyncio.fixture(params=[False, True], ids=["dave-off", "dave-on"])
async def turns(request: pytest.FixtureRequest) -> AsyncIterator[Cypher]:
    async for harness in _cypher(request.param, [ALICE, BOB]):
        yield harness


@pytest_asyncio.fixture
async def faults() -> AsyncIterator[Cypher]:
    async for harness in _cypher(True, [ALICE, BOB, CARL, DANA]):
        yield harness


# ---- end to end ---------------------------------------------------------------------------
@needs_espeak
@pytest.mark.asyncio
async def test_two_members_in_turns_only_the_one_who_opted_in_is_heard(turns, takes):
    h = turns
    alice, bob = h.members[ALICE], h.members[BOB]
    assert h.fake.nicks == [RECORDING_NICK]
    await h.opt_in(ALICE)
    await h.fake.voice.speaking(alice)
    await h.fake.voice.speaking(bob)
    a1, b1, a2 = takes[0], takes[1], takes[2]
    t_b = len(a1) / 48_000 + 2.0
    t_a2 = t_b + len(b1) / 48_000 + 2.0
    script = [Take(alice, 0.0, a1), Take(bob, t_b, b1), Take(alice, t_a2, a2)]
    packets = h.fake.voice.packets(script)
    bob_packets = sum(1 for p in packets if p.member is bob)
    await h.fake.voice.play(packets, speed=SPEED)
    verses = await h.wait_verses(2)

    assert [uid for uid, _ in verses] == [ALICE, ALICE]
    for (_, verse), take in zip(verses, (a1, a2), strict=True):
        pcm = _samples(verse)
        expected = _voiced_seconds(take, 48_000)
        assert verse.reason == "silence" and verse.sample_rate == 16_000
        assert abs(verse.seconds - expected) < 0.25, (verse.seconds, expected)
        assert abs(len(pcm) / verse.sample_rate - verse.seconds) < 1e-3
        assert _dbfs(pcm) > -35, "the verse is silent"
    stats = h.cypher.stats
    assert stats.not_opted_in == bob_packets  # all of Bob's, dropped before decrypting
    assert stats.corrupt == stats.dave_failed == stats.opus_errors == stats.errors == 0
    voice = h.cypher.voice
    if h.fake.voice.dave:
        assert voice.dave_session() is not None and voice.dave_session().ready
        assert all(m.dave.ready for m in h.members.values())
    else:
        assert voice.dave_session() is None

    await h.cypher.stop()
    assert h.ended == ["stopped"]
    assert h.fake.nicks == [RECORDING_NICK, None]  # the old nickname (none) is back
    assert h.fake.BOT_ID not in h.fake.in_voice
    assert not voice.is_connected()


@needs_espeak
@pytest.mark.asyncio
async def test_faults_never_stop_the_receiver(faults, takes):
    h = faults
    alice, carl, dana = h.members[ALICE], h.members[CARL], h.members[DANA]
    for user_id in (ALICE, CARL, DANA):
        await h.opt_in(user_id)
    await h.fake.voice.speaking(carl)
    await h.fake.voice.speaking(dana)
    a, c, d = takes[0], takes[1], takes[3]
    # Alice: SPEAKING comes 0.4 s (call time) after her first packet; a corrupt packet and
    # a frame libopus refuses in the middle of her take.
    # Carl hangs up 2.5 s into his take, Dana 0.5 s into hers (under min_s).
    t_c = len(a) / 48_000 + 2.0
    t_d = t_c + 4.0
    script = [Take(alice, 0.0, a), Take(carl, t_c, c[: int(2.5 * 48_000)])]
    script.append(Take(dana, t_d, d[: int(0.5 * 48_000)]))
    packets = h.fake.voice.packets(script, corrupt=[(alice, 1.0)], bad_opus=[(alice, 1.5)])

    async def late_speaking() -> None:
        await asyncio.sleep(0.4 / SPEED)
        await h.fake.voice.speaking(alice)

    async def hang_ups() -> None:
        await asyncio.sleep((t_c + 2.5) / SPEED + 0.05)
        await h.fake.leave_voice(CARL)
        await asyncio.sleep((t_d + 0.5 - t_c - 2.5) / SPEED + 0.05)
        await h.fake.leave_voice(DANA)

    await asyncio.gather(h.fake.voice.play(packets, speed=SPEED), late_speaking(), hang_ups())
    verses = await h.wait_verses(2)

    assert sorted((uid, v.reason) for uid, v in verses) == [(ALICE, "silence"), (CARL, "left")]
    by_user = {uid: v for uid, v in verses}
    assert abs(by_user[ALICE].seconds - _voiced_seconds(a, 48_000)) < 0.25  # nothing lost
    assert abs(by_user[CARL].seconds - _voiced_seconds(c[: int(2.5 * 48_000)], 48_000)) < 0.25
    stats = h.cypher.stats
    assert stats.held > 0 and stats.corrupt == 1 and stats.opus_errors == 1
    assert stats.too_short == 1 and stats.dave_failed == 0 and stats.errors == 0
    assert h.cypher.receiver.running

    # The last humans hang up: the bot leaves by itself and takes its mark off.
    await h.fake.leave_voice(ALICE)
    await h.fake.leave_voice(BOB)
    async with asyncio.timeout(10):
        while not h.ended:
            await asyncio.sleep(0.05)
    assert h.ended == ["empty"]
    assert h.fake.nicks == [RECORDING_NICK, None]
    assert h.fake.BOT_ID not in h.fake.in_voice


# ---- the verse cutter alone ---------------------------------------------------------------
def _cutter(**options: float) -> tuple[VerseCutter, list[Verse]]:
    out: list[Verse] = []
    return VerseCutter(7, VerseOptions(**options), out.append), out


def _tone(seconds: float, rate: int = 16_000, level: float = 8000) -> list[np.ndarray]:
    t = np.arange(int(seconds * rate)) / rate
    pcm = (np.sin(2 * np.pi * 220 * t) * level).astype(np.int16)
    return [pcm[i : i + rate // 50] for i in range(0, len(pcm), rate // 50)]


def test_a_verse_ends_after_the_members_silence_and_keeps_its_pauses():
    cutter, out = _cutter(silence_s=2.0, min_s=1.0)
    ts = 2**32 - 960 * 30  # the RTP clock wraps in the middle of the verse
    for frame in _tone(1.0) + [np.zeros(320, np.int16)] * 50 + _tone(1.0):  # a 1 s pause
        cutter.push(ts, frame, 0.0)
        ts = (ts + 960) % 2**32
    assert not out
    for _ in range(100):  # 2 s of quiet frames (an open mic): the verse ends
        cutter.push(ts, np.zeros(320, np.int16), 0.0)
        ts += 960
    assert len(out) == 1 and out[0].reason == "silence"
    assert abs(out[0].seconds - 3.0) < 0.03


def test_a_gap_in_timestamps_or_in_arrivals_ends_a_verse():
    cutter, out = _cutter(silence_s=2.0, min_s=1.0)
    for i, frame in enumerate(_tone(1.5)):
        cutter.push(i * 960, frame, 10.0)
    cutter.idle(11.0)
    assert not out
    cutter.push(960 * 75 + 48_000 * 3, _tone(0.02)[0], 11.5)  # back after 3 s (DTX)
    assert len(out) == 1 and abs(out[0].seconds - 1.5) < 0.03
    cutter.idle(13.6)  # and nothing more for 2 s: that short take is dropped
    assert len(out) == 1 and cutter.too_short == 1 and not cutter.open


def test_long_verses_are_cut_at_max_and_go_on_and_late_packets_land_in_place():
    cutter, out = _cutter(silence_s=2.0, min_s=1.0, max_s=5.0)
    frames = _tone(7.0)
    order = list(range(len(frames)))
    order[10], order[11] = order[11], order[10]  # one packet arrives late
    for i in order:
        cutter.push(i * 960, frames[i], 0.0)
    assert [v.reason for v in out] == ["max_length"] and abs(out[0].seconds - 5.0) < 0.03
    cutter.finish("stopped")
    assert [v.reason for v in out] == ["max_length", "stopped"]
    first = np.frombuffer(out[0].audio[44:], np.int16)
    assert np.array_equal(first[: 320 * 20], np.concatenate(frames[:20]))


def test_options_are_checked():
    for bad in ({"silence_s": 0}, {"min_s": 9, "max_s": 5}, {"sample_rate": 44_100}):
        with pytest.raises(ValueError):
            VerseOptions(**bad)
