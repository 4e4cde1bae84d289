"""Cypher mode under load: N members in one voice channel, one worker, the whole bot.

The real ``RapBot`` (cypher cog, service, one worker process, the demo catalogue unless
``--catalog``) against the fake Discord voice server with DAVE on
(``tests.fakes.discord_voice``): every member opts in and raps one verse of
``--seconds`` (espeak-ng lines back to back, a voice each), played in real time. Two
layouts: ``together`` (all verses at once: the worst case for the receive thread) and
``turns`` (one after another, 2.5 s apart, as a cypher goes). Reported per layout:

- the receive thread's CPU time over the time the call was playing (share of a core:
  the issue's target is ≤ 10 % with 8 members), packets and frames it handled and its
  error counters;
- backlog: how long after a member's last packet their verse was cut (``silence_s`` when
  the thread keeps up);
- every verse answered once (a card each), and the delay of each card after its verse
  was cut (p50, max): with one worker, cards queue behind each other.

It lives in ``tests/`` because it drives the tests' fake Discord voice server (``bench/``
never imports ``tests/``). Needs the dev extras and espeak-ng; run it on its own core::

    taskset -c 1 .venv/bin/python -m tests.bench_cypher_receive --members 8 --seconds 12
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import soundfile as sf
import soxr

from bench.table import emit
from bot.cypher.voice import VerseOptions
from bot.discord_bot.client import RapBot
from bot.settings import Settings
from tests.conftest import LINES, speak
from tests.fakes.discord_server import Recorded
from tests.fakes.discord_voice import FakeVoiceDiscord, Take

TOKEN = "OTAwMDAwMDAwMDAwMDAwMDAy.GfAkEt.rapsim-bench-token-0123456789abcdefXYZ"
VOICES = ["en-us+m3", "en-us+f4", "en+m1", "en+f2", "en-us+m7", "en+f3", "en+m4", "en-us+f1"]
NAMES = ["ace", "bree", "cole", "dee", "eli", "fay", "gus", "hana", "ivo", "jun", "kai", "lou"]
OPTIONS = VerseOptions()  # the defaults members get: a verse ends after 2 s of silence


def verses(count: int, seconds: float, folder: Path) -> list[np.ndarray]:
    """One verse per member: their voice's lines back to back with 0.3 s breaths."""
    out = []
    breath = np.zeros(int(0.3 * 48_000), np.int16)
    for m in range(count):
        voice = VOICES[m % len(VOICES)]
        pieces = []
        for i, line in enumerate(LINES):
            wav, rate = sf.read(speak(line, voice, folder / f"{m}-{i}.wav", speed=185))
            pcm = soxr.resample(wav, rate, 48_000) * 0.7
            pieces.append(np.clip(pcm * 32767, -32768, 32767).astype(np.int16))
        parts: list[np.ndarray] = []
        i = 0
        while sum(len(p) for p in parts) < seconds * 48_000:
            parts += [pieces[i % len(pieces)], breath]
            i += 1
        out.append(np.concatenate(parts[:-1]))
    return out


async def run(layout: str, pcm: list[np.ndarray], catalog: str, data: Path) -> dict[str, Any]:
    fake = FakeVoiceDiscord(dave=True)
    ids = [910000000000004000 + i for i in range(len(pcm))]
    members = {}
    for i, user_id in enumerate(ids):
        fake.add_user(user_id, NAMES[i % len(NAMES)] + ("" if i < len(NAMES) else str(i)))
        members[user_id] = fake.seat(user_id, ssrc=500 + i)
    await fake.start()
    settings = Settings(
        discord_token=TOKEN,
        catalog=catalog,
        data_dir=data,
        workers=1,
        queue_size=4,
        notes_per_minute=30,
    )
    bot = RapBot(
        settings,
        guild_ready_timeout=0.1,
        connector=aiohttp.TCPConnector(ssl=fake.voice.client_ssl),
    )
    connection = None
    try:
        with fake.patched_discord():
            await bot.login(TOKEN)
            connection = asyncio.create_task(bot.connect(reconnect=False))
            await asyncio.wait_for(bot.wait_until_ready(), 60)
            return await _cypher(fake, bot, ids, members, pcm, layout)
    finally:
        await bot.close()
        if connection is not None:
            await asyncio.wait([connection], timeout=10)
            connection.cancel()
        await fake.close()


def _followup(r: Recorded) -> bool:
    return r.method in ("POST", "PATCH") and r.path.startswith("/webhooks/")


async def _cypher(fake, bot, ids, members, pcm, layout) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    mark = fake.mark()
    start = fake.command("cypher", [{"name": "start", "type": 1, "options": []}])
    await fake.interaction(ids[0], start, channel_id=fake.CHANNEL_ID)
    notice = await fake.wait_for(_followup, since=mark, timeout=60)
    await asyncio.wait_for(fake.voice.dave_ready.wait(), 30)
    button = notice.json["components"][0]["components"][0]["custom_id"]
    message = {**notice.response, "components": notice.json["components"]}
    for user_id in ids:
        mark = fake.mark()
        press = {"custom_id": button, "component_type": 2}
        await fake.interaction(user_id, press, type=3, message=message)
        await fake.wait_for(lambda r: "callback" in r.path, since=mark)
        await fake.voice.speaking(members[user_id])
    cog: Any = bot.get_cog("CypherCog")
    (state,) = cog.voice._guilds.values()
    cypher = state.cypher
    cut: dict[int, float] = {}  # user → when their verse was cut (wall clock)
    deliver = cypher.receiver._deliver

    def timed(verse: Any) -> None:
        cut[verse.user_id] = time.time()
        deliver(verse)

    cypher.receiver._deliver = timed
    takes, at = [], 0.0
    for user_id, audio in zip(ids, pcm, strict=True):
        takes.append(Take(members[user_id], at, audio))
        if layout == "turns":
            at += len(audio) / 48_000 + 2.5
    packets = fake.voice.packets(takes)
    last = {}  # user → their last packet's time on the call
    for p in packets:
        last[p.member.user_id] = p.at
    mark = fake.mark()
    cpu0, t0, wall0 = cypher.stats.thread_cpu_s, time.monotonic(), time.time()
    await fake.voice.play(packets, speed=1.0)
    played = time.monotonic() - t0
    card_path = f"/channels/{fake.CHANNEL_ID}/messages"
    async with asyncio.timeout(60 + 5 * len(ids)):
        while len([r for r in fake.requests[mark:] if r.path == card_path]) < len(ids):
            await asyncio.sleep(0.1)
    await asyncio.sleep(OPTIONS.silence_s + 1)  # and no card more
    cpu = cypher.stats.thread_cpu_s - cpu0
    cards = [r for r in fake.requests[mark:] if r.method == "POST" and r.path == card_path]
    per_member = {u: sum(_head(fake, u) in r.content.split("\n")[0] for r in cards) for u in ids}
    card_at = {}  # user → when their card was posted (wall clock, from the monotonic `at`)
    for r in cards:
        for u in ids:
            if _head(fake, u) in r.content.split("\n")[0]:
                card_at[u] = wall0 + (r.at - t0)
    backlog = [cut[u] - (wall0 + last[u]) for u in ids if u in cut]
    delays = [card_at[u] - cut[u] for u in ids if u in cut and u in card_at]
    stats = cypher.stats.as_dict()
    mark = fake.mark()
    stop = fake.command("cypher", [{"name": "stop", "type": 1, "options": []}])
    await fake.interaction(ids[0], stop, channel_id=fake.CHANNEL_ID)
    summary = await fake.wait_for(_followup, since=mark, timeout=120)
    return {
        "members": len(ids),
        "verse_s": round(float(np.mean([len(a) / 48_000 for a in pcm])), 1),
        "played_s": round(played, 1),
        "receive_thread_cpu_s": round(cpu, 3),
        "receive_thread_share_of_a_core": round(cpu / played, 4),
        "packets": stats["packets"],
        "frames": stats["frames"],
        "errors": {k: stats[k] for k in ("corrupt", "dave_failed", "opus_errors", "errors")},
        "cut_after_last_packet_s": _spread(backlog),
        "cards_per_member": sorted(set(per_member.values())),
        "card_after_cut_s": _spread(delays),
        "summary_head": summary.content.splitlines()[0],
    }


def _head(fake: FakeVoiceDiscord, user_id: int) -> str:
    return str(fake.users[user_id]["global_name"]) + "'s verse"


def _spread(xs: list[float]) -> dict[str, float]:
    if not xs:
        return {}
    return {
        "p50": round(statistics.median(xs), 2),
        "max": round(max(xs), 2),
        "n": len(xs),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--members", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=12.0, help="each member's verse")
    ap.add_argument("--layout", choices=["together", "turns", "both"], default="both")
    ap.add_argument("--catalog", default="", help="catalogue folder (default: the demo one)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    doc: dict[str, Any] = {"bench": "cypher_receive", "layouts": {}}
    with tempfile.TemporaryDirectory() as tmp:
        pcm = verses(args.members, args.seconds, Path(tmp))
        layouts = ["together", "turns"] if args.layout == "both" else [args.layout]
        for layout in layouts:
            data = Path(tmp) / layout
            data.mkdir()
            doc["layouts"][layout] = asyncio.run(run(layout, pcm, args.catalog, data))
    emit(doc, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
