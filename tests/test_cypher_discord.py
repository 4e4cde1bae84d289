"""Cypher rounds in a Discord text channel, end to end: the real discord.py client against
the fake Discord, the real service and a real worker process (the ``harness`` of
``tests.test_discord_bot``, made once for this module; it listens in ``CHANNEL_ID``).

Covered: ``/cypher start`` posts the notice in the channel, a second start is refused to
the caller only; two members post voice messages (one posts two), each answered once
(by the cypher cog: the analyze cog, which also listens there, leaves verses alone);
``/cypher stop`` defers, then posts the summary with both and the right counts; /forget
takes a member out of the round's history; stop without a round says so; a note after
the round is a plain note; a round in a channel the bot does not listen in hears notes
without a mention; a Korean summary; the ``/cypher`` group as synced.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import pytest

from bot.cypher import replies as words
from tests.conftest import needs_espeak, needs_ffmpeg
from tests.fakes.discord_server import EPHEMERAL, VOICE_MESSAGE, Recorded
from tests.test_discord_bot import Harness, _is_callback, _is_followup
from tests.test_discord_bot import harness as harness  # the module's bot, service and worker
from tests.test_practice_telegram import HANGUL
from tests.test_practice_telegram import takes as takes  # the members' voices, ogg/opus

pytestmark = [needs_espeak, needs_ffmpeg, pytest.mark.asyncio(loop_scope="module")]

MEMBERS = {910000000000002101: "ivy", 910000000000002102: "jon", 910000000000002103: "민지"}
IVY, JON, MINJI = MEMBERS
MESSAGE, DEFERRED = 4, 5  # interaction callback types: a message, defer(thinking=True)


@pytest.fixture(scope="module", autouse=True)
def members(harness: Harness) -> None:
    for user_id, name in MEMBERS.items():
        harness.fake.add_user(user_id, name)


def cypher(action: str) -> list[dict[str, Any]]:
    """The options of ``/cypher <action>``: a subcommand of the group."""
    return [{"name": action, "type": 1, "options": []}]


async def use(h: Harness, user: int, action: str, channel: int, **kw: Any) -> Recorded:
    """``/cypher <action>``: the callback that answered it, or the followup of a deferral."""
    mark = h.fake.mark()
    await h.fake.interaction(
        user, h.fake.command("cypher", cypher(action)), channel_id=channel, **kw
    )
    callback = await h.fake.wait_for(_is_callback, since=mark)
    if callback.json["type"] == DEFERRED:
        return await h.fake.wait_for(_is_followup, since=mark)
    assert callback.json["type"] == MESSAGE, callback.json
    return callback


async def post_note(h: Harness, user: int, data: bytes, channel: int) -> dict[str, Any]:
    attachments = [h.voice(data)]
    return await h.fake.message(
        user, channel_id=channel, attachments=attachments, flags=VOICE_MESSAGE
    )


def reply_to(msg: dict[str, Any]) -> Callable[[Recorded], bool]:
    path = f"/channels/{msg['channel_id']}/messages"

    def replies(r: Recorded) -> bool:
        ref = (r.json or {}).get("message_reference") or {}
        return r.method == "POST" and r.path == path and str(ref.get("message_id")) == msg["id"]

    return replies


async def card(h: Harness, msg: dict[str, Any], since: int) -> str:
    """The one reply to voice message ``msg``, with its image."""
    await h.fake.wait_for(reply_to(msg), since=since)
    await asyncio.sleep(0.3)  # a second answer (from the analyze cog) would come by now
    (only,) = h.fake.matching(reply_to(msg), since=since)
    assert only.has_png(), only.content
    return only.content


async def test_a_round_in_a_listened_channel(harness: Harness, takes: dict[str, bytes]) -> None:
    h, room = harness, harness.fake.CHANNEL_ID
    notice = await use(h, IVY, "start", room)
    assert notice.content.startswith("Cypher round open!") and not notice.flags & EPHEMERAL
    assert "mention me" not in notice.content  # the bot reads this channel
    again = await use(h, JON, "start", room)
    assert again.content == words.ALREADY and again.flags & EPHEMERAL
    captions = []
    for user, who in ((IVY, "m3"), (JON, "f4"), (IVY, "f4")):
        mark = h.fake.mark()
        captions.append(await card(h, await post_note(h, user, takes[who], room), mark))
    assert captions[0].startswith("Ivy, you sound most like") and captions[1].startswith("Jon, ")

    summary = await use(h, JON, "stop", room)
    lines = summary.content.splitlines()
    assert re.fullmatch(r"Cypher round over: 3 verses from 2 members in \d+ min\.", lines[0])
    assert lines[1:3] == ["- Ivy: 2 verses", "- Jon: 1 verse"], summary.content
    assert "Closest to their target: nobody had an artist target" in summary.content
    assert not summary.flags & EPHEMERAL  # the channel sees it
    stopped = await use(h, JON, "stop", room)
    assert stopped.content == words.NO_ROUND and stopped.flags & EPHEMERAL

    store = h.bot.service.store
    (round_id,) = {t.round_id for t in store.history.takes("discord", str(IVY))}
    assert round_id is not None
    mark = h.fake.mark()
    after = await card(h, await post_note(h, IVY, takes["m3"], room), mark)
    assert after.startswith("Ivy, you sound most like")  # the analyze cog again
    assert store.history.takes("discord", str(IVY))[-1].round_id is None
    mark = h.fake.mark()
    await h.fake.interaction(IVY, h.fake.command("forget"))
    gone = await h.fake.wait_for(_is_callback, since=mark)
    assert "Deleted 3 takes from your practice history." in gone.content
    assert [t.display_name for t in store.rounds.takes(round_id)] == ["Jon"]


async def test_a_round_elsewhere_hears_notes_without_a_mention_and_speaks_korean(
    harness: Harness, takes: dict[str, bytes]
) -> None:
    h, room = harness, harness.fake.OTHER_CHANNEL_ID
    notice = await use(h, MINJI, "start", room, locale="ko")
    assert notice.content.startswith("사이퍼 라운드 시작!")
    mark = h.fake.mark()
    await card(h, await post_note(h, MINJI, takes["m3"], room), mark)
    summary = (await use(h, MINJI, "stop", room, locale="ko")).content
    assert summary.startswith("사이퍼 라운드가 끝났어요. ") and "- 민지: 벌스 1개" in summary
    assert not re.search(r"\b(verse|member|nobody)\b", summary), summary
    mark = h.fake.mark()
    await post_note(h, MINJI, takes["m3"], room)  # no round, no mention: not for the bot
    await asyncio.sleep(0.7)
    assert not h.channel_replies(room, mark)
    mark = h.fake.mark()
    await h.fake.interaction(MINJI, h.fake.command("forget"), locale="ko")
    await h.fake.wait_for(_is_callback, since=mark)


async def test_the_cypher_group_syncs_with_korean_descriptions(harness: Harness) -> None:
    h = harness
    mark = h.fake.mark()
    content = f"<@{h.fake.BOT_ID}> sync"
    await h.fake.message(
        h.fake.OWNER_ID, channel_id=h.fake.CHANNEL_ID, content=content, mentions=[h.fake.BOT_ID]
    )
    put = await h.fake.wait_for(lambda r: r.method == "PUT", since=mark)
    (group,) = [c for c in put.json if c["name"] == "cypher"]
    assert group["dm_permission"] is False  # servers only
    assert HANGUL.search(group["description_localizations"]["ko"])
    subs = {o["name"]: o for o in group["options"]}
    assert set(subs) == {"start", "stop"} and all(o["type"] == 1 for o in subs.values())
    assert all(HANGUL.search(o["description_localizations"]["ko"]) for o in subs.values())
    assert (await h.reply_in(h.fake.CHANNEL_ID, mark)).content.startswith("Synced ")
