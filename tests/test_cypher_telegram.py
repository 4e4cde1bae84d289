"""Cypher rounds on Telegram, end to end: real aiogram against the fake Bot API, the real
service and a real worker process with the 3-voice test catalogue (espeak-ng notes in
voices that are not in it, as ``tests.test_practice_telegram`` makes them).

Covered: a round where two members send verses (one sends two): each verse gets the
usual card, ``/cypher stop`` posts the summary with both and the right counts, the
verses' history rows carry the round and a note after the round does not; /forget takes
a member out of the round's history; stop without a round, a second start, usage and a
private chat are refused; a busy pool is said once in the chat, not per verse, and every
verse still gets its card; a Korean member's round ends by itself after its quiet time
with a Korean summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.app import create_service
from bot.cypher import CypherDesk
from bot.cypher import replies as words
from bot.errors import PoolBusy
from bot.service import RapService
from bot.settings import Settings
from bot.telegram_bot import build_dispatcher, make_bot, serve
from tests.conftest import needs_espeak, needs_ffmpeg
from tests.fakes.telegram_server import ApiCall, FakeTelegram
from tests.test_practice_telegram import TARGET
from tests.test_practice_telegram import takes as takes  # the members' voices
from tests.test_telegram_bot import GROUP, TOKEN, answer_to, dm, person, voice

pytestmark = [needs_ffmpeg, needs_espeak, pytest.mark.asyncio(loop_scope="module")]
HANGUL = re.compile(r"[\uac00-\ud7a3]")


@dataclass
class Rig:
    fake: FakeTelegram
    service: RapService
    desk: CypherDesk


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(catalog_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    """The pieces of ``run_telegram``, kept at hand: the service (its pool and store) and
    the dispatcher's cypher desk."""
    fake = FakeTelegram(TOKEN)
    await fake.start()
    settings = Settings(
        telegram_token=TOKEN,
        telegram_api_url=fake.url,
        catalog=str(catalog_dir),
        data_dir=tmp_path_factory.mktemp("cypher-tg"),
        workers=1,
        queue_size=4,
        job_timeout_s=60,
        notes_per_minute=100,
    )
    bot = make_bot(settings)
    service = create_service(settings)
    await service.start()
    dp = build_dispatcher(service, settings)
    task = asyncio.create_task(serve(dp, bot, polling_timeout=1, handle_signals=False))
    try:
        await fake.wait_for("getUpdates")
        yield Rig(fake, service, dp["cypher"])
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 30)
        await service.close()
        await bot.session.close()
        await fake.close()


async def say_to(rig: Rig, chat: dict, user: dict, text: str) -> ApiCall:
    since = len(rig.fake.calls)
    return await answer_to(rig.fake, rig.fake.message(chat, user, text=text), since)


def send(rig: Rig, user: dict, data: bytes, chat: dict = GROUP) -> dict[str, Any]:
    return rig.fake.message(chat, user, voice=voice(rig.fake, data))


async def card(rig: Rig, msg: dict[str, Any], since: int) -> str:
    """The caption of the card answering ``msg`` (a voice note)."""
    call = await answer_to(rig.fake, msg, since)
    assert call.method == "sendPhoto", call.params.get("text")
    return call.params["caption"]


async def test_a_round_two_members_summary_history_and_forget(rig: Rig, takes: dict[str, bytes]):
    ann, bob = person(2101, "Ann", "ann"), person(2102, "Bob", "bob")
    await say_to(rig, GROUP, bob, "/target Bravo")
    notice = (await say_to(rig, GROUP, ann, "/cypher start")).params["text"]
    assert notice.startswith("Cypher round open!") and "30 min without a verse" in notice
    assert "only members who send one appear in the summary" in notice
    captions = []
    for user, who in ((ann, "m3"), (bob, "f4"), (ann, "f4")):
        since = len(rig.fake.calls)
        captions.append(await card(rig, send(rig, user, takes[who]), since))
    assert captions[0].startswith("Ann, you sound most like")
    found = TARGET.match(captions[1].splitlines()[0])  # Bob's target line, as on any note
    assert found and found.group(1) == "Bravo", captions[1]

    summary = (await say_to(rig, GROUP, bob, "/cypher stop")).params["text"]
    lines = summary.splitlines()
    assert re.fullmatch(r"Cypher round over: 3 verses from 2 members in \d+ min\.", lines[0])
    assert lines[1:3] == ["- Ann: 2 verses", "- Bob: 1 verse"], summary
    assert lines[3].startswith("Rode the beat tightest: ") or "nobody's timing" in lines[3]
    reach = found.group(2)
    assert lines[4] == f"Closest to their target: Bob, reach {reach} toward Bravo.", summary

    history = rig.service.store.history
    ann_takes = history.takes("telegram", "2101")
    (round_id,) = {t.round_id for t in ann_takes}
    assert round_id is not None and len(ann_takes) == 2
    since = len(rig.fake.calls)
    after = await card(rig, send(rig, ann, takes["m3"]), since)  # no round now: a plain note
    assert after.startswith("Ann, you sound most like")
    assert history.takes("telegram", "2101")[-1].round_id is None
    assert not rig.fake.calls_to("sendMessage", since)  # no notice, no summary

    gone = (await say_to(rig, GROUP, ann, "/forget")).params["text"]
    assert "Deleted 3 takes from your practice history." in gone
    rounds = rig.service.store.rounds
    assert [t.display_name for t in rounds.takes(round_id)] == ["Bob"]
    await say_to(rig, GROUP, bob, "/forget")
    assert rounds.takes(round_id) == [] and rounds.count("telegram") == 0


async def test_refusals_stop_without_a_round_second_start_usage_private(rig: Rig):
    cy = person(2201, "Cy", "cy")
    assert (await say_to(rig, GROUP, cy, "/cypher stop")).params["text"] == words.NO_ROUND
    assert (await say_to(rig, GROUP, cy, "/cypher")).params["text"] == words.USAGE
    assert (await say_to(rig, dm(cy), cy, "/cypher start")).params["text"] == words.GROUP_ONLY
    await say_to(rig, GROUP, cy, "/cypher start")
    dee = person(2202, "Dee", "dee")
    assert (await say_to(rig, GROUP, dee, "/cypher start")).params["text"] == words.ALREADY
    empty = (await say_to(rig, GROUP, dee, "/cypher stop")).params["text"]
    assert empty == "Cypher round over: nobody sent a verse."
    assert rig.service.store.rounds.count("telegram") == 0  # an empty round is not kept


async def test_a_busy_pool_is_said_once_and_every_verse_is_answered(
    rig: Rig, takes: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
):
    pool = rig.service.pool
    real = pool.analyze
    refusals = iter(range(3))

    async def busy_at_first(job: Any) -> Any:
        if next(refusals, None) is not None:
            raise PoolBusy("queue full")
        return await real(job)

    monkeypatch.setattr(pool, "analyze", busy_at_first)
    monkeypatch.setattr(rig.desk, "retry_s", 0.2)
    eve, fay, gus = (person(2300 + i, n, n.lower()) for i, n in enumerate(("Eve", "Fay", "Gus")))
    await say_to(rig, GROUP, eve, "/cypher start")
    since = len(rig.fake.calls)
    notes = [send(rig, user, takes[who]) for user, who in ((eve, "m3"), (fay, "f4"), (gus, "m3"))]
    captions = [await card(rig, msg, since) for msg in notes]
    for caption, name in zip(captions, ("Eve", "Fay", "Gus"), strict=True):
        assert caption.startswith(f"{name}, you sound most like"), caption
    sent = rig.fake.calls_to("sendMessage", since)
    told = [c for c in sent if "analysis is busy" in c.params["text"]]
    assert len(told) == 1 and told[0].params["text"] == words.BUSY
    assert told[0].reply_to is None and int(told[0].params["chat_id"]) == GROUP["id"]
    summary = (await say_to(rig, GROUP, fay, "/cypher stop")).params["text"]
    assert "3 verses from 3 members" in summary
    for user in (eve, fay, gus):
        await say_to(rig, GROUP, user, "/forget")


async def test_a_korean_round_ends_by_itself_with_a_korean_summary(
    rig: Rig, takes: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
):
    minsu: dict[str, Any] = {**person(2401, "민수", "minsu"), "language_code": "ko"}
    monkeypatch.setattr(rig.desk, "quiet_s", 2.5)
    notice = (await say_to(rig, GROUP, minsu, "/cypher 시작")).params["text"]
    assert notice.startswith("사이퍼 라운드 시작!") and "/forget" in notice
    since = len(rig.fake.calls)
    caption = await card(rig, send(rig, minsu, takes["f4"]), since)
    assert "민수님과 가장 닮은 아티스트는" in caption
    ended = await rig.fake.wait_for(
        "sendMessage", lambda c: c.params["text"].startswith("벌스 없이"), since=since, timeout=15
    )
    text = ended.params["text"]
    head = r"벌스 없이 \d+분이 지나 사이퍼 라운드가 끝났어요\. \d+분 동안 멤버 1명이 벌스 1개를"
    assert re.match(head, text), text
    assert "- 민수: 벌스 1개" in text and ended.reply_to is None
    assert not re.search(r"\b(verse|member|nobody)\b", text), text
    assert not rig.desk.running("telegram", str(GROUP["id"]))
    await say_to(rig, GROUP, minsu, "/forget")
