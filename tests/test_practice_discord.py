"""Practice over time on Discord, end to end: the real discord.py client against the fake
Discord, the real service and a real worker process with the 3-voice test catalogue (the
``harness`` of ``tests.test_discord_bot``, made once for this module).

Members send voice messages in voices that are not in the catalogue (espeak-ng en-us+m3
and en-us+f4; the catalogue is m1, f2, m7). Covered: /target autocompleting from the
catalogue (autocomplete interactions answered with APPLICATION_COMMAND_AUTOCOMPLETE_RESULT),
/target set, show, clear and a typo (answered to the caller only), three takes in two
voices with their target lines and deltas (checked against the same reply's own scores),
/progress (deferred, then a real PNG that changes with a fourth take), /forget (progress
empty after), /share and /leaderboard (only members who opted in), a member whose Discord
is in Korean gets Korean (voice-message replies too, which carry no locale), and the
practice commands as synced (Korean descriptions, autocomplete, server-only ones).
"""

from __future__ import annotations

import io
import re
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.conftest import needs_espeak, needs_ffmpeg
from tests.fakes.discord_server import (
    AUTOCOMPLETE,
    AUTOCOMPLETE_RESULT,
    EPHEMERAL,
    VOICE_MESSAGE,
    Recorded,
)
from tests.test_discord_bot import Harness, _is_callback, _is_followup
from tests.test_discord_bot import harness as harness  # the module's bot, service and worker
from tests.test_practice_telegram import HANGUL, check_target_reply
from tests.test_practice_telegram import takes as takes  # the members' voices, ogg/opus

pytestmark = [needs_espeak, needs_ffmpeg, pytest.mark.asyncio(loop_scope="module")]

# This module's members (the harness also knows test_discord_bot's Alice, Bob and Carl).
MEMBERS = {
    910000000000001201: "alice",
    910000000000001202: "dana",
    910000000000001203: "erin",
    910000000000001204: "finn",
    910000000000001205: "gus",
    910000000000001206: "민수",
}
ALICE, DANA, ERIN, FINN, GUS, MINSU = MEMBERS
MESSAGE, DEFERRED = 4, 5  # interaction callback types: a message, defer(thinking=True)


@pytest.fixture(scope="module", autouse=True)
def members(harness: Harness) -> None:
    for user_id, name in MEMBERS.items():
        harness.fake.add_user(user_id, name)


def artist(value: str, *, focused: bool = False) -> list[dict[str, Any]]:
    """The ``artist`` string option of /target or /leaderboard as Discord sends it;
    ``focused``: the member is still typing it (an autocomplete interaction)."""
    option: dict[str, Any] = {"name": "artist", "type": 3, "value": value}
    return [{**option, "focused": True} if focused else option]


async def command(
    h: Harness, user: int, name: str, options: list[dict[str, Any]] | None = None, **kw: Any
) -> Recorded:
    """A slash command answered at once: the interaction callback that answered it."""
    mark = h.fake.mark()
    await h.fake.interaction(user, h.fake.command(name, options), **kw)
    callback = await h.fake.wait_for(_is_callback, since=mark)
    assert callback.json["type"] == MESSAGE, callback.json
    return callback


async def deferred(h: Harness, user: int, name: str, **kw: Any) -> Recorded:
    """A slash command that defers first (a chart takes a moment): its followup."""
    mark = h.fake.mark()
    await h.fake.interaction(user, h.fake.command(name), **kw)
    followup = await h.fake.wait_for(_is_followup, since=mark)
    assert h.fake.matching(_is_callback, since=mark)[0].json["type"] == DEFERRED
    return followup


async def choices(h: Harness, name: str, typed: str, **kw: Any) -> list[str]:
    """What /``name`` offers while ``typed`` is in its artist option."""
    mark = h.fake.mark()
    data = h.fake.command(name, artist(typed, focused=True))
    await h.fake.interaction(ALICE, data, type=AUTOCOMPLETE, **kw)
    callback = await h.fake.wait_for(_is_callback, since=mark)
    assert callback.json["type"] == AUTOCOMPLETE_RESULT, callback.json
    offered = callback.json["data"]["choices"]
    assert all(c["name"] == c["value"] for c in offered), offered
    assert "response_message_id" not in callback.response["interaction"]  # no message made
    return [c["name"] for c in offered]


async def note(h: Harness, user: int, data: bytes) -> str:
    """A voice message in the listened channel: the text of the bot's reply (with a PNG)."""
    mark = h.fake.mark()
    await h.fake.message(
        user, channel_id=h.fake.CHANNEL_ID, attachments=[h.voice(data)], flags=VOICE_MESSAGE
    )
    reply = await h.reply_in(h.fake.CHANNEL_ID, mark)
    assert reply.has_png(), reply.content
    return reply.content


def png_of(followup: Recorded) -> Image.Image:
    assert len(followup.files) == 1, followup.content
    data = followup.files[0][1]
    assert data.startswith(b"\x89PNG")
    return Image.open(io.BytesIO(data)).convert("RGB")


def private(callback: Recorded) -> bool:
    """Only the caller sees it (an ephemeral answer)."""
    return bool(callback.flags & EPHEMERAL)


async def test_target_autocompletes_from_the_catalogue(harness: Harness) -> None:
    assert await choices(harness, "target", "") == ["Alpha", "Bravo", "Charlie"]
    assert await choices(harness, "target", "br") == ["Bravo"]
    # names that start with what was typed come first, then names that contain it
    assert await choices(harness, "target", "c") == ["Charlie"]
    assert await choices(harness, "target", "A") == ["Alpha", "Bravo", "Charlie"]
    assert await choices(harness, "target", " HA") == ["Alpha", "Charlie"]
    assert await choices(harness, "target", "zz") == []
    assert await choices(harness, "leaderboard", "rav") == ["Bravo"]
    assert await choices(harness, "target", "b", locale="ko") == ["Bravo"]  # names as they are
    shown = await command(harness, ALICE, "target")  # typing set nothing
    assert shown.content.startswith("You have no target yet.") and private(shown)


async def test_target_three_takes_progress_and_forget(
    harness: Harness, takes: dict[str, bytes]
) -> None:
    h = harness
    reply = await command(h, ALICE, "target", artist("brvo"))
    assert "No artist called 'brvo'" in reply.content and "Bravo" in reply.content
    assert private(reply)
    reply = await command(h, ALICE, "target", artist(" bravo "))
    assert reply.content.startswith("Your target is Bravo now.") and private(reply)
    reply = await command(h, ALICE, "target")
    assert reply.content.startswith("You practise toward Bravo.")

    seen: list[int] = []
    for who in ("m3", "f4", "m3"):
        seen.append(check_target_reply(await note(h, ALICE, takes[who]), "Bravo", seen))
    assert seen[2] == seen[0]  # the same voice and words: the same resemblance

    chart = await deferred(h, ALICE, "progress")
    assert chart.content.startswith("Your progress toward Bravo: 3 takes since ")
    assert f"latest {seen[-1]}" in chart.content and not private(chart)
    three = png_of(chart)
    assert three.width == 800
    await note(h, ALICE, takes["f4"])
    four = png_of(await deferred(h, ALICE, "progress"))
    # the feature panels below may change in number (the 2-3 furthest from the target):
    # compare the resemblance panel on top, the same size in both
    assert four.width == three.width
    box = (0, 0, three.width, 440)
    top3, top4 = np.asarray(three.crop(box)), np.asarray(four.crop(box))
    diff = int((top3 != top4).any(axis=-1).sum())
    assert diff > 500, "a fourth take must show in the chart"

    gone = await command(h, ALICE, "forget")
    assert private(gone)
    assert "Deleted 4 takes from your practice history." in gone.content
    assert "Your target is cleared." in gone.content
    after = await deferred(h, ALICE, "progress")
    assert after.content.startswith("I have 0 takes of yours so far.") and not after.files
    reply = await command(h, ALICE, "target")
    assert reply.content.startswith("You have no target yet.")


async def test_target_clear_goes_back_to_the_closest_artist(
    harness: Harness, takes: dict[str, bytes]
) -> None:
    h = harness
    assert (await note(h, DANA, takes["f4"])).startswith("Dana, you sound most like")
    await command(h, DANA, "target", artist("Charlie"))
    assert (await note(h, DANA, takes["f4"])).startswith("Target Charlie: ")
    reply = await command(h, DANA, "target", artist("clear"))
    assert reply.content.startswith("Target cleared") and private(reply)
    assert (await note(h, DANA, takes["f4"])).startswith("Dana, you sound most like")
    reply = await command(h, DANA, "target", artist("clear"))
    assert reply.content == "You had no target set."
    chart = await deferred(h, DANA, "progress")  # no target: the closest artist lately
    assert "You have no target" in chart.content and png_of(chart).width == 800


async def test_leaderboard_lists_only_members_who_share(
    harness: Harness, takes: dict[str, bytes]
) -> None:
    h = harness
    for user, who in ((ERIN, "m3"), (FINN, "f4")):
        await note(h, user, takes[who])

    async def board(user: int) -> str:
        answer = await command(h, user, "leaderboard", artist("bravo"))
        assert not private(answer)  # the board is for the channel to see
        return answer.content

    assert (await board(ERIN)).startswith("Nobody here who shares their takes")
    reply = await command(h, ERIN, "share", [{"name": "state", "type": 3, "value": "on"}])
    assert reply.content.startswith("You now share your takes here") and private(reply)
    text = await board(FINN)
    assert text.startswith("Closest to Bravo this week") and "Erin" in text
    assert "Finn" not in text
    assert (await command(h, FINN, "share")).content.startswith("You don't share your takes")
    await command(h, FINN, "share", [{"name": "state", "type": 3, "value": "on"}])
    text = await board(FINN)
    assert "Erin" in text and "Finn" in text
    reply = await command(h, FINN, "share", [{"name": "state", "type": 3, "value": "off"}])
    assert reply.content.startswith("You no longer share your takes here")
    text = await board(ERIN)
    assert "Finn" not in text and "Erin" in text
    await command(h, ERIN, "forget")  # off every leaderboard at once
    assert (await board(FINN)).startswith("Nobody here who shares their takes")
    typo = await command(h, FINN, "leaderboard", artist("brav0"))
    assert typo.content.startswith("No artist called 'brav0'") and private(typo)


async def test_a_korean_member_gets_korean(harness: Harness, takes: dict[str, bytes]) -> None:
    h = harness
    reply = await command(h, MINSU, "target", artist("Bravo"), locale="ko")
    assert reply.content.startswith("이제 목표는 Bravo예요.")
    for who in ("m3", "f4"):  # messages carry no locale: the one /target sent is kept
        text = await note(h, MINSU, takes[who])
    assert text.startswith("목표 Bravo: ") and "지난 테이크보다" in text
    assert "민수님과 가장 닮은 아티스트는" in text and "Bravo와(과) 비교하면:" in text
    assert not re.search(r"\b(you|your|sound|since|take)\b", text), text
    chart = await deferred(h, MINSU, "progress", locale="ko")
    assert chart.content.startswith("Bravo을(를) 향한") and png_of(chart)
    helptext = (await command(h, MINSU, "help", locale="ko")).content
    assert helptext.startswith("랩 시뮬레이터:") and "/target <아티스트>" in helptext
    typo = await command(h, MINSU, "leaderboard", artist("brvo"), locale="ko")
    assert HANGUL.search(typo.content) and "brvo" in typo.content
    gone = (await command(h, MINSU, "forget", locale="ko")).content
    assert "연습 기록에서 테이크 2개를 삭제했어요." in gone, gone
    # someone else in the same channel still gets English
    reply = await command(h, GUS, "target")
    assert reply.content.startswith("You have no target yet.")


async def test_practice_commands_sync_with_korean_and_autocomplete(harness: Harness) -> None:
    h = harness
    mark = h.fake.mark()
    await h.fake.message(
        h.fake.OWNER_ID,
        channel_id=h.fake.CHANNEL_ID,
        content=f"<@{h.fake.BOT_ID}> sync",
        mentions=[h.fake.BOT_ID],
    )
    put = await h.fake.wait_for(lambda r: r.method == "PUT", since=mark)
    synced = {c["name"]: c for c in put.json}
    assert {"target", "progress", "leaderboard", "share", "forget"} <= set(synced)
    for name in ("target", "progress", "leaderboard", "share", "forget"):
        assert HANGUL.search(synced[name]["description_localizations"]["ko"]), name
    for name in ("target", "leaderboard"):
        (option,) = synced[name]["options"]
        assert option["name"] == "artist" and option["autocomplete"] is True
    assert synced["target"]["options"][0]["required"] is False
    # Discord itself keeps these out of DMs (context 0: a server)
    assert synced["leaderboard"]["contexts"] == [0] and synced["share"]["contexts"] == [0]
    assert synced["progress"]["contexts"] is None  # every context: DMs too
    states = synced["share"]["options"][0]["choices"]
    assert [c["value"] for c in states] == ["on", "off"]
    assert (await h.reply_in(h.fake.CHANNEL_ID, mark)).content.startswith("Synced ")
