"""Practice over time on Telegram, end to end: real aiogram against the fake Bot API, the
real service and a real worker process with the 3-voice test catalogue.

Members send notes in voices that are not in the catalogue (espeak-ng en-us+m3 and
en-us+f4; the catalogue is m1, f2, m7). Covered: /target (set, show with buttons, a
button press, clear, a typo), three takes in two voices with their target lines and
deltas (checked against the same reply's own scores), /progress (a real PNG that changes
with the takes), /share and /leaderboard (only members who opted in), /forget (progress
empty after), a timing goal as the target (/target tight: the reply leads with the
timing), and a member whose Telegram is in Korean gets Korean. The target line says
reach (the practice score), the list below it resemblance.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytest_asyncio
from PIL import Image

from tests.conftest import needs_espeak, needs_ffmpeg, speak, to_opus
from tests.fakes.telegram_server import ApiCall, FakeTelegram
from tests.test_telegram_bot import GROUP, Rig, answer_to, person, running_bot, voice

pytestmark = [needs_ffmpeg, needs_espeak, pytest.mark.asyncio(loop_scope="module")]
TARGET = re.compile(
    r"^Target (\w+): reach (\d+) \((.+)\), your #(\d) closest of 3 artists\.$", re.MULTILINE
)
# a note can also be told it may be the artist themself (espeak's m3 is m1's formant
# sibling): that line sits between the top match and the runners-up
SCORES = re.compile(
    r"you sound most like (\w+): (\d+)/100.*\n(?:This may be .*\n)?Runners-up: (.+)"
)
HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(catalog_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    async for r in running_bot(catalog_dir, tmp_path_factory):
        yield r


@pytest.fixture(scope="module")
def takes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Two members' voices, neither in the catalogue, as ogg/opus voice notes."""
    from tests.conftest import LINES

    d = tmp_path_factory.mktemp("practice")
    out = {}
    for name, v in (("m3", "en-us+m3"), ("f4", "en-us+f4")):
        wav = speak(" ".join(LINES[1:3]), v, d / f"{name}.wav")
        out[name] = to_opus(wav, d / f"{name}.ogg").read_bytes()
    return out


async def say_to(rig: Rig, chat: dict, user: dict, text: str) -> ApiCall:
    since = len(rig.fake.calls)
    return await answer_to(rig.fake, rig.fake.message(chat, user, text=text), since)


async def note(rig: Rig, chat: dict, user: dict, data: bytes) -> ApiCall:
    since = len(rig.fake.calls)
    msg = rig.fake.message(chat, user, voice=voice(rig.fake, data))
    call = await answer_to(rig.fake, msg, since)
    assert call.method == "sendPhoto", call.params.get("text")
    return call


def scores_in(caption: str) -> dict[str, int]:
    """Every artist's score the reply lists (top match and runners-up)."""
    found = SCORES.search(caption)
    assert found, caption
    listed = {found.group(1): int(found.group(2))}
    for part in found.group(3).split(", "):
        name, score = part.rsplit(" ", 1)
        listed[name] = int(score)
    return listed


def check_target_reply(text: str, artist: str, seen: list[int]) -> int:
    """Check a reply's target line against the same reply's scores and the member's
    earlier takes toward ``artist`` (``seen``, oldest first); its reach toward it (the
    practice score: the list below shows resemblance, which floors for far artists)."""
    found = TARGET.match(text.splitlines()[0])
    assert found and found.group(1) == artist, text
    score, change, rank = int(found.group(2)), found.group(3), int(found.group(4))
    listed = scores_in(text)
    assert 0 <= score <= 100
    # the same analysis: the rank agrees with the listed resemblance scores
    assert rank == 1 + sum(s > listed[artist] for s in listed.values())
    assert f"Next to {artist}:" in text  # tips against the target, not the top match
    if not seen:
        assert change == "your first take toward them"
    else:
        delta = score - seen[-1]
        head = "no change" if delta == 0 else f"{delta:+d}"
        assert change.startswith(f"{head} since your last take"), change
        best = max(seen)
        tail = "a new best" if score > best else f"best {max(best, score)}"
        assert change.endswith(tail), change
    return score


def png_of(call: ApiCall) -> Image.Image:
    data = call.attachment("photo").data
    assert data.startswith(b"\x89PNG")
    return Image.open(io.BytesIO(data)).convert("RGB")


async def test_target_three_takes_progress_and_forget(rig: Rig, takes: dict[str, bytes]):
    alice = person(1201, "Alice", "alice")
    reply = await say_to(rig, GROUP, alice, "/target")
    assert reply.params["text"].startswith("You have no target yet.")
    reply = await say_to(rig, GROUP, alice, "/target brvo")
    assert "No artist called 'brvo'" in reply.params["text"] and "Bravo" in reply.params["text"]
    reply = await say_to(rig, GROUP, alice, "/target  bravo ")
    assert reply.params["text"].startswith("Your target is Bravo now.")

    seen: list[int] = []
    for who in ("m3", "f4", "m3"):
        caption = (await note(rig, GROUP, alice, takes[who])).params["caption"]
        seen.append(check_target_reply(caption, "Bravo", seen))
    assert seen[2] == seen[0]  # the same voice and words: the same reach

    chart = await say_to(rig, GROUP, alice, "/progress")
    assert chart.method == "sendPhoto"
    assert chart.params["caption"].startswith("Your progress toward Bravo: 3 takes since ")
    assert f"latest {seen[-1]}" in chart.params["caption"]
    three = png_of(chart)
    assert three.width == 800
    await note(rig, GROUP, alice, takes["f4"])
    four = png_of(await say_to(rig, GROUP, alice, "/progress"))
    # the feature panels below may change in number (the 2-3 furthest from the target):
    # compare the resemblance panel on top, the same size in both
    assert four.width == three.width
    box = (0, 0, three.width, 440)
    top3, top4 = np.asarray(three.crop(box)), np.asarray(four.crop(box))
    diff = int((top3 != top4).any(axis=-1).sum())
    assert diff > 500, "a fourth take must show in the chart"

    gone = await say_to(rig, GROUP, alice, "/forget")
    text = gone.params["text"]
    assert "Deleted 4 takes from your practice history." in text
    assert "Your target is cleared." in text
    after = await say_to(rig, GROUP, alice, "/progress")
    assert after.method == "sendMessage"
    assert after.params["text"].startswith("I have 0 takes of yours so far.")
    reply = await say_to(rig, GROUP, alice, "/target")
    assert reply.params["text"].startswith("You have no target yet.")


async def test_target_buttons_set_the_target_of_whoever_presses(rig: Rig, takes: dict[str, bytes]):
    fake = rig.fake
    dan = person(1301, "Dan", "dan")
    await note(rig, GROUP, dan, takes["f4"])  # no target yet: a plain reply
    reply = await say_to(rig, GROUP, dan, "/target")
    buttons = [b for row in reply.json("reply_markup")["inline_keyboard"] for b in row]
    labels = [b["text"] for b in buttons]
    assert labels[-1] == "Clear target" and set(labels[:-1]) == {"Alpha", "Bravo", "Charlie"}
    charlie = next(b for b in buttons if b["text"] == "Charlie")
    since = len(fake.calls)
    fake.callback(dan, reply.result, charlie["callback_data"])
    sent = await fake.wait_for("sendMessage", since=since)
    assert sent.params["text"] == "Dan: Your target is Charlie now. Send a take: every reply " \
        "leads with how close you got."  # fmt: skip
    caption = (await note(rig, GROUP, dan, takes["f4"])).params["caption"]
    assert caption.startswith("Target Charlie: ")
    clear = next(b for b in buttons if b["text"] == "Clear target")
    since = len(fake.calls)
    fake.callback(dan, reply.result, clear["callback_data"])
    sent = await fake.wait_for("sendMessage", since=since)
    assert "Target cleared" in sent.params["text"]
    caption = (await note(rig, GROUP, dan, takes["f4"])).params["caption"]
    assert caption.startswith("Dan, you sound most like")


async def test_leaderboard_lists_only_members_who_share(rig: Rig, takes: dict[str, bytes]):
    erin, finn = person(1401, "Erin", "erin"), person(1402, "Finn", "finn")
    for user, who in ((erin, "m3"), (finn, "f4")):
        await note(rig, GROUP, user, takes[who])
    board = await say_to(rig, GROUP, erin, "/leaderboard bravo")
    assert board.params["text"].startswith("Nobody here who shares their takes")
    reply = await say_to(rig, GROUP, erin, "/share on")
    assert reply.params["text"].startswith("You now share your takes here")
    board = (await say_to(rig, GROUP, finn, "/leaderboard Bravo")).params["text"]
    assert board.startswith("Closest to Bravo this week") and "Erin" in board
    assert "Finn" not in board
    assert (
        (await say_to(rig, GROUP, finn, "/share"))
        .params["text"]
        .startswith("You don't share your takes here")
    )
    await say_to(rig, GROUP, finn, "/share on")
    board = (await say_to(rig, GROUP, finn, "/leaderboard Bravo")).params["text"]
    assert "Erin" in board and "Finn" in board
    reply = await say_to(rig, GROUP, finn, "/share off")
    assert reply.params["text"].startswith("You no longer share your takes here")
    board = (await say_to(rig, GROUP, erin, "/leaderboard Bravo")).params["text"]
    assert "Finn" not in board and "Erin" in board
    private = await say_to(rig, {"id": 1401, "type": "private", "first_name": "Erin"}, erin,
                           "/leaderboard Bravo")  # fmt: skip
    assert private.params["text"].startswith("Leaderboards belong to a server or group")
    await say_to(rig, GROUP, erin, "/forget")  # off every leaderboard at once
    board = (await say_to(rig, GROUP, finn, "/leaderboard Bravo")).params["text"]
    assert board.startswith("Nobody here who shares their takes")


async def test_a_korean_member_gets_korean(rig: Rig, takes: dict[str, bytes]):
    minsu: dict[str, Any] = {**person(1501, "민수", "minsu"), "language_code": "ko"}
    reply = await say_to(rig, GROUP, minsu, "/target Bravo")
    assert reply.params["text"].startswith("이제 목표는 Bravo예요.")
    for who in ("m3", "f4"):
        call = await note(rig, GROUP, minsu, takes[who])
    caption = call.params["caption"]
    assert caption.startswith("목표 Bravo: ") and "지난 테이크보다" in caption
    assert "민수님과 가장 닮은 아티스트는" in caption and "Bravo와(과) 비교하면:" in caption
    assert not re.search(r"\b(you|your|sound|since|take)\b", caption), caption
    chart = await say_to(rig, GROUP, minsu, "/progress")
    assert chart.method == "sendPhoto" and chart.params["caption"].startswith("Bravo을(를) 향한")
    helptext = (await say_to(rig, GROUP, minsu, "/help")).params["text"]
    assert helptext.startswith("랩 시뮬레이터:") and "/target <아티스트>" in helptext
    bad = await say_to(rig, GROUP, minsu, "/leaderboard")
    assert HANGUL.search(bad.params["text"])
    # someone else in the same chat still gets English
    reply = await say_to(rig, GROUP, person(1502, "Gus", "gus"), "/target")
    assert reply.params["text"].startswith("You have no target yet.")


async def test_a_timing_goal_leads_the_reply(rig: Rig, takes: dict[str, bytes]):
    """/target tight makes the timing the target: the reply leads with it (whatever the
    note's timing could be measured as), and no artist target reaches the worker."""
    hal = person(1601, "Hal", "hal")
    reply = await say_to(rig, GROUP, hal, "/target pocket")
    assert reply.params["text"].startswith("A timing goal is /target tight")
    reply = await say_to(rig, GROUP, hal, "/target tight")
    assert reply.params["text"].startswith("Your target is a timing goal now: tight.")
    caption = (await note(rig, GROUP, hal, takes["m3"])).params["caption"]
    first = caption.splitlines()[0]
    assert first.startswith("Timing goal tight: "), caption
    assert re.search(r": \d+ ms spread|could not place enough syllables", first), first
    assert "Hal, you sound most like" in caption  # the rest of the reply as without a target
    chart = await say_to(rig, GROUP, hal, "/progress")  # one take: asks for another
    assert chart.params["text"].startswith("I have 1 take of yours so far.")
    await say_to(rig, GROUP, hal, "/forget")


async def test_korean_commands_are_registered(rig: Rig):
    calls = rig.fake.calls_to("setMyCommands")
    by_language = {c.params.get("language_code"): c.json("commands") for c in calls}
    assert {None, "ko"} <= set(by_language)
    names = [c["command"] for c in by_language[None]]
    assert {"target", "progress", "leaderboard", "share"} <= set(names)
    assert all(HANGUL.search(c["description"]) for c in by_language["ko"])
    assert FakeTelegram  # the fake records every call (imported for its type)
