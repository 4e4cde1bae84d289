"""The Telegram adapter end to end: real aiogram polling a fake Bot API, the real service.

``run_telegram`` runs for the whole module against :class:`FakeTelegram` on 127.0.0.1,
with the real service (one worker process, the real encoder, the 3-voice test catalogue).
Each test queues updates as members would send them and checks what the bot sent back:
photos with a real PNG and a caption within Telegram's limits, replies to the member's
message, refusals that never download, /compare, /artists paging, /forget, an apology on
an unexpected error (and polling goes on), and that the token never reaches a log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

import inference
from bot.errors import SettingsError
from bot.settings import Settings
from bot.telegram_bot import run_telegram
from bot.telegram_bot.handlers import member_of
from bot.telegram_bot.media import Attachment, download_limit, refusal
from bot.telegram_bot.texts import split_text
from tests.conftest import needs_ffmpeg, to_opus
from tests.fakes.telegram_server import ApiCall, FakeTelegram

TOKEN = "123456:" + "A" * 35
PNG = b"\x89PNG\r\n\x1a\n"
ARTISTS = ("Alpha", "Bravo", "Charlie")
GROUP = {"id": -1001234567, "type": "supergroup", "title": "Rap practice"}
MB = 1024 * 1024
module_loop = pytest.mark.asyncio(loop_scope="module")
pytestmark = needs_ffmpeg  # notes are made with ffmpeg


def person(uid: int, first: str, username: str | None = None) -> dict[str, Any]:
    user: dict[str, Any] = {"id": uid, "is_bot": False, "first_name": first}
    if username:
        user["username"] = username
    return user


def dm(user: dict[str, Any]) -> dict[str, Any]:
    return {"id": user["id"], "type": "private", "first_name": user["first_name"]}


@dataclass
class Rig:
    fake: FakeTelegram
    settings: Settings
    records: list[logging.LogRecord] = field(default_factory=list)


class _Keep(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def rap_note() -> bytes:
    return Path(inference.SAMPLE_NOTE).read_bytes()  # 19 s of real rapping, ogg/opus


@pytest.fixture(scope="module")
def speech_ogg(speech_wav: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return to_opus(speech_wav, tmp_path_factory.mktemp("tg") / "speech.ogg").read_bytes()


@pytest.fixture(scope="module")
def video_note_mp4(speech_wav: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("tg") / "round.mp4"
    inputs = ["-f", "lavfi", "-i", "color=c=black:s=240x240:r=10", "-i", str(speech_wav)]
    codecs = ["-c:v", "mpeg4", "-c:a", "aac", "-shortest"]
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *inputs, *codecs, str(out)], check=True)
    return out.read_bytes()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(catalog_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    async for r in running_bot(catalog_dir, tmp_path_factory):
        yield r


async def running_bot(catalog_dir: Path, tmp_path_factory: pytest.TempPathFactory, **more: Any):
    """The Telegram bot polling a fake Bot API; ``more``: other settings (a broker URL)."""
    fake = FakeTelegram(TOKEN)
    await fake.start()
    settings = Settings(
        telegram_token=TOKEN,
        telegram_api_url=fake.url,
        catalog=str(catalog_dir),
        data_dir=tmp_path_factory.mktemp("tgdata"),
        workers=1,
        queue_size=4,
        job_timeout_s=60,
        notes_per_minute=100,
        max_upload_mb=2,
        **more,
    )
    records: list[logging.LogRecord] = []
    keep = _Keep(records)
    logging.getLogger().addHandler(keep)
    levels = {name: logging.getLogger(name).level for name in ("aiogram", "bot")}
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    task = asyncio.create_task(run_telegram(settings, artists_per_page=2))
    try:
        deadline = time.monotonic() + 120
        while not fake.calls_to("getUpdates"):
            if task.done():
                task.result()  # raises what stopped it
            assert time.monotonic() < deadline, "the bot never started polling"
            await asyncio.sleep(0.05)
        yield Rig(fake, settings, records)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 30)
        logging.getLogger().removeHandler(keep)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        await fake.close()


async def answer_to(fake: FakeTelegram, message: dict[str, Any], since: int) -> ApiCall:
    """The bot's first message or photo replying to ``message``."""
    return await fake.wait_for(
        ("sendMessage", "sendPhoto"), lambda c: c.reply_to == message["message_id"], since=since
    )


def voice(fake: FakeTelegram, data: bytes, duration: int = 10, **extra: Any) -> dict[str, Any]:
    return {**fake.add_file(data, name="voice.ogg"), "duration": duration,
            "mime_type": "audio/ogg", **extra}  # fmt: skip


def assert_analysis(call: ApiCall, name: str) -> str:
    assert call.method == "sendPhoto", call.params.get("text")
    photo = call.attachment("photo")
    assert photo.data.startswith(PNG) and photo.filename == "rapsim.png"
    caption = call.params["caption"]
    assert len(caption) <= 1024
    assert re.match(rf"{name}, you sound most like ({'|'.join(ARTISTS)}): \d+/100", caption)
    return caption


async def send_note(rig: Rig, chat: dict, user: dict, data: bytes) -> tuple[dict, ApiCall]:
    since = len(rig.fake.calls)
    msg = rig.fake.message(chat, user, voice=voice(rig.fake, data))
    call = await answer_to(rig.fake, msg, since)
    assert_analysis(call, user["first_name"])
    return msg, call


# ---- analysis ------------------------------------------------------------------------
@module_loop
async def test_service_started_before_polling(rig: Rig):
    ready = [r for r in rig.records if r.getMessage().startswith("service ready")]
    assert ready, "the service never logged that it was ready"
    calls = rig.fake.calls
    first_poll = next(c for c in calls if c.method in ("getMe", "getUpdates"))
    assert ready[0].created <= first_poll.at
    assert [c.method for c in calls[:2]] == ["deleteWebhook", "setMyCommands"]


@module_loop
async def test_voice_note_gets_photo_caption_and_chat_action(rig: Rig, rap_note: bytes):
    fake = rig.fake
    alice = person(101, "Alice", "alice")
    since = len(fake.calls)
    msg = fake.message(GROUP, alice, voice=voice(fake, rap_note, duration=19))
    call = await answer_to(fake, msg, since)
    assert_analysis(call, "Alice")
    assert int(call.params["chat_id"]) == GROUP["id"]
    sent = fake.calls[since:]
    actions = [i for i, c in enumerate(sent) if c.method == "sendChatAction"]
    assert actions and sent[actions[0]].params["action"] == "upload_photo"
    assert actions[0] < sent.index(call), "the chat action comes before the photo"
    assert any(p.endswith("voice.ogg") for p in fake.downloads)
    # Text past the caption follows in messages that also reply to the note.
    await asyncio.sleep(0.3)
    for extra in fake.calls_to("sendMessage", since):
        if extra.reply_to == msg["message_id"]:
            assert len(extra.params["text"]) <= 4096


@module_loop
@pytest.mark.parametrize("kind", ["audio", "document", "video_note"])
async def test_audio_documents_and_video_notes_are_analysed(
    rig: Rig, kind: str, speech_ogg: bytes, request: pytest.FixtureRequest
):
    fake = rig.fake
    user = person(200 + len(kind), f"Kid{kind.title().replace('_', '')}")
    media: dict[str, Any]
    if kind == "audio":
        media = {"audio": {**fake.add_file(speech_ogg, name="take.ogg"), "duration": 10,
                           "file_name": "take.ogg", "mime_type": "audio/ogg"}}  # fmt: skip
    elif kind == "document":  # no audio mime type: the extension tells
        media = {"document": {**fake.add_file(speech_ogg, name="take.opus"),
                              "file_name": "take.opus",
                              "mime_type": "application/octet-stream"}}  # fmt: skip
    else:
        mp4 = request.getfixturevalue("video_note_mp4")
        media = {"video_note": {**fake.add_file(mp4, name="round.mp4"), "length": 240,
                                "duration": 10}}  # fmt: skip
    since = len(fake.calls)
    msg = fake.message(GROUP, user, **media)
    assert_analysis(await answer_to(fake, msg, since), user["first_name"])


@module_loop
async def test_notes_at_once_are_all_answered(rig: Rig, speech_ogg: bytes):
    fake = rig.fake
    since = len(fake.calls)
    sent = [
        fake.message(GROUP, person(300 + i, f"Crew{i}"), voice=voice(fake, speech_ogg))
        for i in range(3)
    ]
    for i, msg in enumerate(sent):
        assert_analysis(await answer_to(fake, msg, since), f"Crew{i}")


# ---- refusals ------------------------------------------------------------------------
@module_loop
async def test_oversize_file_is_refused_without_download(rig: Rig):
    fake = rig.fake
    user = person(401, "Big")
    since = len(fake.calls)
    big = fake.add_file(b"OggS" + bytes(100), name="big.ogg", size=3 * MB)
    msg = fake.message(GROUP, user, voice={**big, "duration": 20, "mime_type": "audio/ogg"})
    call = await answer_to(fake, msg, since)
    assert call.method == "sendMessage"
    assert "3.0 MB" in call.params["text"] and "2 MB" in call.params["text"]
    assert not fake.calls_to("getFile", since), "refused before asking Telegram for the file"
    assert not any(p.endswith("big.ogg") for p in fake.downloads)


@module_loop
async def test_size_known_only_to_getfile_or_wrong_stops_the_download(rig: Rig):
    fake = rig.fake
    user = person(402, "Sly")
    # No file_size in the update: getFile tells, and nothing is downloaded.
    since = len(fake.calls)
    hidden = fake.add_file(bytes(3 * MB), name="hidden.ogg")
    meta = {k: v for k, v in hidden.items() if k != "file_size"}
    msg = fake.message(GROUP, user, voice={**meta, "duration": 20})
    call = await answer_to(fake, msg, since)
    assert "3.0 MB" in call.params["text"]
    assert fake.calls_to("getFile", since)
    assert not any(p.endswith("hidden.ogg") for p in fake.downloads)
    # A size that lies: the download stops at the limit instead of filling memory.
    since = len(fake.calls)
    liar = fake.add_file(bytes(3 * MB), name="liar.ogg", size=1000)
    msg = fake.message(GROUP, user, voice={**liar, "duration": 20})
    call = await answer_to(fake, msg, since)
    assert call.method == "sendMessage" and "2 MB" in call.params["text"]


@module_loop
async def test_too_long_note_is_refused_without_download(rig: Rig):
    fake = rig.fake
    since = len(fake.calls)
    msg = fake.message(GROUP, person(403, "Long"), voice=voice(fake, b"x" * 100, duration=3600))
    call = await answer_to(fake, msg, since)
    assert call.method == "sendMessage" and "3600 s" in call.params["text"]
    assert not fake.calls_to("getFile", since)


@module_loop
async def test_text_file_named_ogg_gets_a_clear_reply(rig: Rig):
    fake = rig.fake
    since = len(fake.calls)
    lyrics = b"these are my lyrics, not a recording\n" * 40
    doc = {**fake.add_file(lyrics, name="lyrics.ogg"), "file_name": "lyrics.ogg",
           "mime_type": "audio/ogg"}  # fmt: skip
    msg = fake.message(GROUP, person(404, "Typo"), document=doc)
    call = await answer_to(fake, msg, since)
    assert call.method == "sendMessage", "no analysis of a text file"
    assert call.params["text"].startswith("I couldn't analyse that")


@module_loop
async def test_other_documents_refused_in_dm_ignored_in_group(rig: Rig):
    fake = rig.fake
    user = person(405, "Notes")
    since = len(fake.calls)
    doc = {**fake.add_file(b"hello", name="notes.txt"), "file_name": "notes.txt",
           "mime_type": "text/plain"}  # fmt: skip
    msg = fake.message(dm(user), user, document=doc)
    call = await answer_to(fake, msg, since)
    assert call.params["text"].startswith("'notes.txt' doesn't look like audio")
    assert not fake.calls_to("getFile", since)
    # In a group the same document is none of the bot's business.
    in_group = fake.message(GROUP, user, document=doc)
    help_msg = fake.message(GROUP, user, text="/help")
    await answer_to(fake, help_msg, since)
    await asyncio.sleep(0.2)
    assert not [c for c in fake.calls[since:] if c.reply_to == in_group["message_id"]]


# ---- commands ------------------------------------------------------------------------
@module_loop
async def test_help(rig: Rig):
    fake = rig.fake
    since = len(fake.calls)
    msg = fake.message(GROUP, person(501, "Newbie"), text="/help@RapSimTestBot")
    call = await answer_to(fake, msg, since)
    assert call.params["text"].startswith("Rap Simulator: send me a voice note")
    assert "20 MB" not in call.params["text"], "a self-hosted Bot API server has no 20 MB cap"


@module_loop
async def test_artists_pages_and_buttons(rig: Rig):
    fake = rig.fake
    user = person(502, "Fan")
    since = len(fake.calls)
    msg = fake.message(GROUP, user, text="/artists")
    call = await answer_to(fake, msg, since)
    text = call.params["text"]
    assert "Alpha" in text and "Bravo" in text and "Charlie" not in text
    buttons = [b for row in call.json("reply_markup")["inline_keyboard"] for b in row]
    assert [b["callback_data"] for b in buttons] == ["artists:2"]
    since = len(fake.calls)
    query = fake.callback(user, call.result, "artists:2")
    edit = await fake.wait_for("editMessageText", since=since)
    assert "Charlie" in edit.params["text"] and "Alpha" not in edit.params["text"]
    assert int(edit.params["message_id"]) == call.result["message_id"]
    prev = [b["callback_data"] for row in edit.json("reply_markup")["inline_keyboard"] for b in row]
    assert prev == ["artists:1"]
    await fake.wait_for("answerCallbackQuery", lambda c: c.params["callback_query_id"] == query)
    since = len(fake.calls)
    msg = fake.message(GROUP, user, text="/artists 2")
    assert "Charlie" in (await answer_to(fake, msg, since)).params["text"]


@module_loop
async def test_compare_by_reply_without_notes(rig: Rig):
    fake = rig.fake
    dan, erin = person(601, "Dan", "dan"), person(602, "Erin", "erin")
    said = fake.message(GROUP, erin, text="who's next on the mic?")
    since = len(fake.calls)
    msg = fake.message(GROUP, dan, text="/compare", reply_to=said)
    call = await answer_to(fake, msg, since)
    assert call.method == "sendMessage"
    assert call.params["text"].startswith("I have no recent voice note from Dan and Erin")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def crew(rig: Rig, rap_note: bytes, speech_ogg: bytes) -> dict[str, tuple[dict, dict]]:
    """Frank, Gina (usernames) and Ivy (none), each with a stored note: (user, note msg)."""
    frank, gina, ivy = (
        person(701, "Frank", "frank"),
        person(702, "Gina", "gina"),
        person(703, "Ivy"),
    )
    out = {}
    for user, data in ((frank, rap_note), (gina, speech_ogg), (ivy, speech_ogg)):
        msg, _ = await send_note(rig, GROUP, user, data)
        out[user["first_name"]] = (user, msg)
    return out


def assert_comparison(call: ApiCall, a: str, b: str) -> None:
    assert call.method == "sendPhoto", call.params.get("text")
    assert call.attachment("photo").data.startswith(PNG)
    assert re.match(rf"{a} and {b}: \d+/100 alike", call.params["caption"]), call.params


@module_loop
async def test_compare_by_reply_with_notes(rig: Rig, crew):
    fake = rig.fake
    (frank, _), (_, gina_note) = crew["Frank"], crew["Gina"]
    since = len(fake.calls)
    msg = fake.message(GROUP, frank, text="/compare", reply_to=gina_note)
    assert_comparison(await answer_to(fake, msg, since), "Frank", "Gina")
    assert any(
        c.params.get("action") == "upload_photo" for c in fake.calls_to("sendChatAction", since)
    )


@module_loop
async def test_compare_by_mentions(rig: Rig, crew):
    fake = rig.fake
    hank = person(704, "Hank", "hank")
    frank, ivy = crew["Frank"][0], crew["Ivy"][0]
    cases = [
        (hank, "/compare @frank @gina", None, ("Frank", "Gina")),
        (hank, "/compare @RapSimTestBot @Gina", crew["Frank"][1], ("Frank", "Gina")),
        (frank, "/compare @gina", None, ("Frank", "Gina")),
    ]
    for user, text, reply_to, names in cases:
        since = len(fake.calls)
        msg = fake.message(GROUP, user, text=text, reply_to=reply_to)
        assert_comparison(await answer_to(fake, msg, since), *names)
    # Ivy has no username: Telegram marks her name with a text_mention carrying her user.
    since = len(fake.calls)
    text = "/compare Ivy"
    mention = [{"type": "bot_command", "offset": 0, "length": 8},
               {"type": "text_mention", "offset": 9, "length": 3, "user": ivy}]  # fmt: skip
    msg = fake.message(GROUP, frank, text=text, entities=mention)
    assert_comparison(await answer_to(fake, msg, since), "Frank", "Ivy")
    # Unknown names, and no one named at all, get plain answers.
    for text, start in (
        ("/compare @nobody_here @frank", "I have no voice note from @nobody_here"),
        ("/compare", "To compare voices, reply to a member's message"),
        ("/compare @hank", "I have no voice note from @hank"),
    ):
        since = len(fake.calls)
        msg = fake.message(GROUP, frank, text=text)
        call = await answer_to(fake, msg, since)
        assert call.method == "sendMessage" and call.params["text"].startswith(start), text


@module_loop
async def test_forget_then_compare_finds_nothing(rig: Rig, speech_ogg: bytes):
    fake = rig.fake
    jack, kim = person(801, "Jack", "jack"), person(802, "Kim", "kim")
    jack_note, _ = await send_note(rig, GROUP, jack, speech_ogg)
    await send_note(rig, GROUP, kim, speech_ogg)
    since = len(fake.calls)
    msg = fake.message(GROUP, jack, text="/forget")
    call = await answer_to(fake, msg, since)
    assert call.params["text"].startswith("Deleted 1 saved analysis of your voice")
    since = len(fake.calls)
    msg = fake.message(GROUP, kim, text="/compare", reply_to=jack_note)
    call = await answer_to(fake, msg, since)
    assert call.params["text"].startswith("I have no recent voice note from Jack here")
    since = len(fake.calls)
    msg = fake.message(GROUP, kim, text="/compare @jack")
    call = await answer_to(fake, msg, since)
    assert call.params["text"].startswith("I have no voice note from @jack")


# ---- failures --------------------------------------------------------------------------
@module_loop
async def test_unexpected_error_apologises_and_polling_goes_on(
    rig: Rig, speech_ogg: bytes, caplog: pytest.LogCaptureFixture
):
    fake = rig.fake
    user = person(901, "Unlucky")
    caplog.set_level(logging.WARNING)
    fake.fail_next("getFile", 500, "Internal Server Error")
    since = len(fake.calls)
    msg = fake.message(GROUP, user, voice=voice(fake, speech_ogg))
    call = await answer_to(fake, msg, since)
    assert call.params["text"].startswith("Sorry, something went wrong on my side")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert errors and errors[0].name == "bot.telegram_bot.handlers"
    # The file server failing is the member's to retry, and its URL (with the token) stays out.
    fake.fail_next("download", 404, "Not Found")
    since = len(fake.calls)
    msg = fake.message(GROUP, user, voice=voice(fake, speech_ogg))
    call = await answer_to(fake, msg, since)
    assert call.params["text"].startswith("I couldn't fetch that file from Telegram")
    assert "HTTP 404" in caplog.text
    # And the bot is still there.
    await send_note(rig, GROUP, user, speech_ogg)
    for record in caplog.records:
        assert TOKEN not in logging.Formatter().format(record)


@module_loop
async def test_token_never_logged(rig: Rig, speech_ogg: bytes):
    fake = rig.fake
    fake.fail_next("download", 403, "Forbidden")  # the one failure whose URL holds the token
    since = len(fake.calls)
    msg = fake.message(GROUP, person(902, "Careful"), voice=voice(fake, speech_ogg))
    await answer_to(fake, msg, since)
    assert any("HTTP 403" in r.getMessage() for r in rig.records)
    secret = TOKEN.split(":", 1)[1]
    for record in rig.records:  # everything the module logged so far, DEBUG and up
        assert secret not in logging.Formatter().format(record), record.name


@module_loop
@pytest.mark.parametrize("token", ["", "not-a-token", "123456:short"])
async def test_run_telegram_rejects_bad_tokens_fast(rig: Rig, token: str, tmp_path: Path):
    settings = Settings(telegram_token=token, telegram_api_url=rig.fake.url, data_dir=tmp_path)
    since = len(rig.fake.calls)
    started = time.monotonic()
    with pytest.raises(SettingsError, match="TELEGRAM_TOKEN") as info:
        await asyncio.wait_for(run_telegram(settings), 5)
    assert time.monotonic() - started < 2
    assert "\n" not in str(info.value) and (not token or token not in str(info.value))
    assert not [c for c in rig.fake.calls[since:] if c.method != "getUpdates"]


# ---- pure parts ----------------------------------------------------------------------
def test_public_api_caps_downloads_at_20_mb(tmp_path: Path):
    from bot.app import create_service

    public = Settings(telegram_api_url="", max_upload_mb=25, data_dir=tmp_path)
    service = create_service(public)  # not started: check_upload needs no workers
    assert download_limit(public) == 20 * MB
    big = Attachment("f", 21 * MB, "voice.ogg", "audio/ogg", 30)
    text = refusal(service, public, big)
    assert text and "21.0 MB" in text and "20 MB" in text
    assert refusal(service, public, Attachment("f", 19 * MB, "voice.ogg", "audio/ogg", 30)) is None
    hosted = Settings(telegram_api_url="http://127.0.0.1:1", max_upload_mb=25, data_dir=tmp_path)
    assert download_limit(hosted) == 25 * MB
    assert refusal(service, hosted, big) is None
    small = Settings(telegram_api_url="", max_upload_mb=5, data_dir=tmp_path)
    assert download_limit(small) == 5 * MB


def test_split_text_keeps_lines_and_limits():
    text = "\n".join(f"line {i} " + "x" * 50 for i in range(100))
    pieces = split_text(text, 1024, 4096)
    assert len(pieces[0]) <= 1024 and all(len(p) <= 4096 for p in pieces)
    assert "\n".join(pieces) == text
    assert split_text("short", 1024) == ["short"]
    assert all(len(p) <= 10 for p in split_text("y" * 35, 10, 10))
    assert "".join(split_text("y" * 35, 10, 10)) == "y" * 35


def test_member_of_skips_bots_and_names_people():
    from aiogram.types import Chat, User

    chat = Chat(id=-5, type="group")
    assert member_of(User(id=1, is_bot=True, first_name="GroupAnonymousBot"), chat) is None
    m = member_of(User(id=7, is_bot=False, first_name="Ann", last_name="Lee", username="ann"), chat)
    assert m is not None
    assert (m.platform, m.scope, m.member_id, m.display_name, m.handle) == (
        "telegram", "-5", "7", "Ann Lee", "ann"
    )  # fmt: skip
