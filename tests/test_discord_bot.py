"""The Discord adapter end to end: the real discord.py client against a fake Discord.

One bot, one real service (a worker process with the real encoder and a small catalogue of
espeak-ng voices) and one fake Discord (``tests.fakes.discord_server``) run for the whole
module; each test injects gateway events and asserts on the HTTP requests the bot made.
Covered: voice messages in a listened channel, mentions and DMs; ``/analyze`` deferring
within Discord's 3 s; the "Analyze voice" menu; ``/compare`` with and without notes;
``/artists`` and its buttons; ``/forget``; bad and over-size uploads (never downloaded);
an unexpected error (apology, traceback logged, bot stays up); owner sync; the token
never reaching a log; ``run_discord`` refusing bad tokens before any network.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot import replies
from bot.discord_bot import RapBot, run_discord
from bot.discord_bot.cogs import ArtistsCog
from bot.discord_bot.common import APOLOGY, clip
from bot.errors import SettingsError
from bot.settings import Settings
from tests.conftest import needs_espeak, needs_ffmpeg, to_opus
from tests.fakes.discord_server import EPHEMERAL, VOICE_MESSAGE, FakeDiscord, Recorded

pytestmark = [needs_espeak, needs_ffmpeg, pytest.mark.asyncio(loop_scope="module")]

# Syntactically valid (three base64url parts), never valid at Discord.
TOKEN = "OTAwMDAwMDAwMDAwMDAwMDAy.GfAkEt.rapsim-test-token-0123456789abcdefXYZ"
ALICE, BOB, CARL = 910000000000000001, 910000000000000002, 910000000000000003
ARTISTS = {"Alpha", "Bravo", "Charlie"}
TOP = re.compile(r"you sound most like (\w+): \d+/100")
MAX_MB = 1.0


class _Capture(logging.Handler):
    """Every log record of the module, formatted with its traceback, for the token check."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@dataclass
class Harness:
    fake: FakeDiscord
    bot: RapBot
    settings: Settings
    logs: _Capture
    note: bytes  # a real ogg/opus rap voice note
    speech: bytes  # espeak-ng speech, ogg/opus

    def channel_replies(self, channel_id: int, since: int) -> list[Recorded]:
        path = f"/channels/{channel_id}/messages"
        return self.fake.matching(lambda r: r.method == "POST" and r.path == path, since=since)

    async def reply_in(self, channel_id: int, since: int) -> Recorded:
        path = f"/channels/{channel_id}/messages"
        return await self.fake.wait_for(
            lambda r: r.method == "POST" and r.path == path, since=since
        )

    def voice(
        self, data: bytes, *, size: int | None = None, duration: float = 18.8
    ) -> dict[str, Any]:
        return self.fake.attachment(
            "voice-message.ogg",
            data,
            content_type="audio/ogg",
            size=size,
            duration=duration,
            waveform="AAAAAAAAAAAA",
        )


def _is_callback(r: Recorded) -> bool:
    return r.method == "POST" and r.path.startswith("/interactions/") and "callback" in r.path


def _is_followup(r: Recorded) -> bool:
    return r.method in ("POST", "PATCH") and r.path.startswith("/webhooks/")


async def _nothing_more(fake: FakeDiscord, since: int, seconds: float = 0.7) -> list[Recorded]:
    await asyncio.sleep(seconds)
    return fake.requests[since:]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def harness(
    catalog_dir: Path, speech_wav: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Harness]:
    import inference

    note = Path(inference.SAMPLE_NOTE).read_bytes()
    speech = to_opus(speech_wav, tmp_path_factory.mktemp("opus") / "speech.ogg").read_bytes()
    fake = FakeDiscord()
    fake.add_user(ALICE, "alice")
    fake.add_user(BOB, "bob")
    fake.add_user(CARL, "carl")
    await fake.start()
    settings = Settings(
        discord_token=TOKEN,
        catalog=str(catalog_dir),
        data_dir=tmp_path_factory.mktemp("discord-data"),
        workers=1,
        queue_size=4,
        notes_per_minute=30,
        max_upload_mb=MAX_MB,
        discord_channels=frozenset({FakeDiscord.CHANNEL_ID}),
        discord_owner_ids=frozenset({FakeDiscord.OWNER_ID}),
    )
    logs = _Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(logs)
    root.setLevel(logging.DEBUG)
    bot = RapBot(settings, guild_ready_timeout=0.1)
    connection: asyncio.Task[None] | None = None
    try:
        with fake.patched_discord():
            try:
                await bot.login(TOKEN)  # runs setup_hook: starts the service, loads the cogs
                connection = asyncio.create_task(bot.connect(reconnect=False))
                await asyncio.wait_for(bot.wait_until_ready(), 30)
                yield Harness(fake, bot, settings, logs, note, speech)
            finally:
                await bot.close()  # also closes the service
                if connection is not None:
                    await asyncio.wait([connection], timeout=10)
                    connection.cancel()
    finally:
        await fake.close()
        root.removeHandler(logs)
        root.setLevel(old_level)


# ---- messages ----------------------------------------------------------------------------
async def test_login_and_gateway(harness: Harness) -> None:
    fake = harness.fake
    assert len(fake.identifies) == 1
    # MESSAGE_CONTENT (1 << 15) is asked for because a channel is listened to.
    assert fake.identifies[0]["intents"] & (1 << 15)
    assert harness.bot.user is not None and harness.bot.user.id == fake.BOT_ID
    paths = [r.path for r in fake.requests]
    assert "/users/@me" in paths and "/oauth2/applications/@me" in paths
    assert not [p for p in paths if p.startswith("/applications/")]  # no sync on a normal start


async def test_voice_message_in_listened_channel(harness: Harness) -> None:
    fake = harness.fake
    mark = fake.mark()
    att = harness.voice(harness.note)
    msg = await fake.message(
        ALICE, channel_id=fake.CHANNEL_ID, attachments=[att], flags=VOICE_MESSAGE
    )
    reply = await harness.reply_in(fake.CHANNEL_ID, mark)
    assert reply.has_png() and reply.files and reply.files[0][0] == "rapsim.png"
    assert reply.files[0][1].startswith(b"\x89PNG")
    assert str(reply.json["message_reference"]["message_id"]) == msg["id"]
    found = TOP.search(reply.content)
    assert found and found.group(1) in ARTISTS, reply.content
    assert reply.content.startswith("Alice, you sound most like")
    assert fake.fetched(att) == 1
    typing = fake.matching(lambda r: r.path == f"/channels/{fake.CHANNEL_ID}/typing", since=mark)
    assert typing and typing[0].at <= reply.at
    assert reply.json["allowed_mentions"]["parse"] == []  # names never ping anyone


async def test_other_channels_need_a_mention(harness: Harness) -> None:
    fake = harness.fake
    mark = fake.mark()
    quiet = harness.voice(harness.speech)
    await fake.message(BOB, channel_id=fake.OTHER_CHANNEL_ID, attachments=[quiet])
    assert await _nothing_more(fake, mark) == []

    att = fake.attachment("take1.ogg", harness.speech, content_type="audio/ogg")
    await fake.message(
        BOB,
        channel_id=fake.OTHER_CHANNEL_ID,
        content=f"<@{fake.BOT_ID}> how do I sound?",
        attachments=[att],
        mentions=[fake.BOT_ID],
    )
    reply = await harness.reply_in(fake.OTHER_CHANNEL_ID, mark)
    assert reply.has_png() and reply.content.startswith("Bob, you sound most like")


async def test_dm_text_gets_help_and_dm_notes_are_answered(harness: Harness) -> None:
    fake = harness.fake
    mark = fake.mark()
    await fake.message(CARL, channel_id=fake.DM_CHANNEL_ID, content="hi")
    reply = await harness.reply_in(fake.DM_CHANNEL_ID, mark)
    assert reply.content == harness.bot.service.help_text()

    mark = fake.mark()
    text = fake.attachment("notes.txt", b"verse one\n", content_type="text/plain")
    await fake.message(CARL, channel_id=fake.DM_CHANNEL_ID, attachments=[text])
    reply = await harness.reply_in(fake.DM_CHANNEL_ID, mark)
    assert reply.content == replies.not_audio("notes.txt")
    assert not reply.files and fake.fetched(text) == 0


async def test_text_posing_as_ogg_is_downloaded_then_refused(harness: Harness) -> None:
    fake = harness.fake
    mark = fake.mark()
    att = fake.attachment("bars.ogg", b"just some lyrics, no audio\n" * 20, content_type=None)
    await fake.message(CARL, channel_id=fake.CHANNEL_ID, attachments=[att])
    reply = await harness.reply_in(fake.CHANNEL_ID, mark)
    assert fake.fetched(att) == 1
    assert reply.content.startswith("I couldn't analyse that:"), reply.content
    assert not reply.files


async def test_oversize_and_overlong_notes_are_not_downloaded(harness: Harness) -> None:
    fake = harness.fake
    mark = fake.mark()
    size = 5 * 2**20
    att = harness.voice(harness.note, size=size)
    await fake.message(CARL, channel_id=fake.CHANNEL_ID, attachments=[att], flags=VOICE_MESSAGE)
    reply = await harness.reply_in(fake.CHANNEL_ID, mark)
    assert reply.content == replies.too_big(size, MAX_MB)
    assert fake.fetched(att) == 0 and not reply.files

    mark = fake.mark()
    long_note = harness.voice(harness.note, duration=3600.0)
    await fake.message(
        CARL, channel_id=fake.CHANNEL_ID, attachments=[long_note], flags=VOICE_MESSAGE
    )
    reply = await harness.reply_in(fake.CHANNEL_ID, mark)
    max_s = harness.settings.max_note_seconds
    assert reply.content == replies.too_long(3600.0, max_s)
    assert fake.fetched(long_note) == 0


async def test_bots_and_plain_chatter_are_ignored(harness: Harness) -> None:
    fake = harness.fake
    mark = fake.mark()
    await fake.message(fake.BOT_ID, channel_id=fake.CHANNEL_ID, attachments=[harness.voice(b"x")])
    await fake.message(ALICE, channel_id=fake.CHANNEL_ID, content="nice bars everyone")
    assert await _nothing_more(fake, mark) == []


# ---- application commands ------------------------------------------------------------------
async def test_analyze_defers_within_3s_then_follows_up(harness: Harness) -> None:
    fake = harness.fake
    mark = fake.mark()
    att = fake.attachment("take2.ogg", harness.speech, content_type="audio/ogg")
    data = fake.command(
        "analyze",
        [{"name": "audio", "type": 11, "value": att["id"]}],
        {"attachments": {att["id"]: att}},
    )
    await fake.interaction(BOB, data)
    sent_at = fake.sent[-1].at
    followup = await fake.wait_for(_is_followup, since=mark)
    callback = fake.matching(_is_callback, since=mark)[0]
    assert callback.json["type"] == 5  # deferred, "thinking"
    assert callback.at - sent_at < 3.0
    assert callback.at < followup.at
    assert followup.has_png() and followup.content.startswith("Bob, you sound most like")
    assert TOP.search(followup.content)


async def test_analyze_refuses_text_without_downloading(harness: Harness) -> None:
    fake = harness.fake
    mark = fake.mark()
    att = fake.attachment("notes.txt", b"not audio", content_type="text/plain")
    data = fake.command(
        "analyze",
        [{"name": "audio", "type": 11, "value": att["id"]}],
        {"attachments": {att["id"]: att}},
    )
    await fake.interaction(ALICE, data)
    followup = await fake.wait_for(_is_followup, since=mark)
    assert followup.content == replies.not_audio("notes.txt")
    assert not followup.has_png() and fake.fetched(att) == 0


async def test_analyze_voice_menu_credits_the_author(harness: Harness) -> None:
    fake = harness.fake
    mark = fake.mark()
    att = harness.voice(harness.speech)
    target = fake.message_payload(
        CARL, channel_id=fake.CHANNEL_ID, attachments=[att], flags=VOICE_MESSAGE
    )
    target["author"] = fake.users[CARL]
    data = fake.command(
        "Analyze voice",
        type=3,
        target_id=target["id"],
        resolved={"messages": {target["id"]: target}},
    )
    await fake.interaction(ALICE, data)
    followup = await fake.wait_for(_is_followup, since=mark)
    callback = fake.matching(_is_callback, since=mark)[0]
    assert callback.json["type"] == 5 and callback.at < followup.at
    assert followup.has_png() and followup.content.startswith("Carl, you sound most like")


def _compare(fake: FakeDiscord, a: int, b: int) -> dict[str, Any]:
    return fake.command(
        "compare",
        [
            {"name": "member_a", "type": 6, "value": str(a)},
            {"name": "member_b", "type": 6, "value": str(b)},
        ],
        {
            "users": {str(u): fake.users[u] for u in (a, b)},
            "members": {str(u): fake.member(u, with_user=False) for u in (a, b)},
        },
    )


async def test_compare_with_and_without_notes(harness: Harness) -> None:
    fake = harness.fake
    mark = fake.mark()
    await fake.interaction(ALICE, _compare(fake, ALICE, fake.OWNER_ID))  # the owner sent none
    followup = await fake.wait_for(_is_followup, since=mark)
    assert fake.matching(_is_callback, since=mark)[0].json["type"] == 5
    assert followup.content == replies.no_profile(["Owner"])
    assert not followup.has_png()

    mark = fake.mark()
    await fake.interaction(ALICE, _compare(fake, ALICE, BOB))
    followup = await fake.wait_for(_is_followup, since=mark)
    assert followup.has_png()
    assert re.match(r"Alice and Bob: \d+/100 alike", followup.content), followup.content


async def test_artists_lists_the_catalogue(harness: Harness) -> None:
    fake = harness.fake
    mark = fake.mark()
    await fake.interaction(BOB, fake.command("artists"))
    callback = await fake.wait_for(_is_callback, since=mark)
    assert callback.json["type"] == 4
    text = callback.content
    assert text.startswith("Artists (3), page 1/1:")
    assert all(name in text for name in ARTISTS)
    assert not callback.json["data"].get("components")  # one page: no buttons


async def test_artist_pages_turn_with_buttons(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = harness.fake
    monkeypatch.setattr(ArtistsCog, "per_page", 2)
    mark = fake.mark()
    await fake.interaction(BOB, fake.command("artists"))
    callback = await fake.wait_for(_is_callback, since=mark)
    assert "page 1/2" in callback.content and "Charlie" not in callback.content
    buttons = callback.json["data"]["components"][0]["components"]
    assert [b["label"] for b in buttons] == ["Previous", "Next"]
    assert buttons[0].get("disabled") and not buttons[1].get("disabled")

    # Press "Next" on the message the callback created.
    mark = fake.mark()
    message = fake.message_payload(fake.BOT_ID, channel_id=fake.CHANNEL_ID)
    # The fake gave the answer message an id; the bot keyed the buttons' view on it.
    message["id"] = callback.response["interaction"]["response_message_id"]
    data = {"custom_id": buttons[1]["custom_id"], "component_type": 2}
    await fake.interaction(ALICE, data, type=3, message=message)
    update = await fake.wait_for(_is_callback, since=mark)
    assert update.json["type"] == 7  # update the message in place
    assert "page 2/2" in update.content and "Charlie" in update.content


async def test_forget_is_ephemeral_then_compare_finds_nothing(harness: Harness) -> None:
    fake = harness.fake
    mark = fake.mark()
    await fake.interaction(ALICE, fake.command("forget"))
    callback = await fake.wait_for(_is_callback, since=mark)
    assert callback.json["type"] == 4 and callback.flags & EPHEMERAL
    assert callback.content.startswith("Deleted "), callback.content

    mark = fake.mark()
    await fake.interaction(BOB, _compare(fake, ALICE, BOB))
    followup = await fake.wait_for(_is_followup, since=mark)
    assert followup.content == replies.no_profile(["Alice"])


async def test_unexpected_error_is_logged_and_apologised(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = harness.fake

    def broken(per_page: int = 20, language: str = "en") -> list[str]:
        raise RuntimeError("catalogue exploded")

    monkeypatch.setattr(harness.bot.service, "artist_pages", broken)
    mark, lines = fake.mark(), len(harness.logs.lines)
    await fake.interaction(BOB, fake.command("artists"))
    callback = await fake.wait_for(_is_callback, since=mark)
    assert callback.content == APOLOGY and callback.flags & EPHEMERAL
    logged = "\n".join(harness.logs.lines[lines:])
    assert "command /artists failed" in logged and "RuntimeError: catalogue exploded" in logged
    monkeypatch.undo()

    # Still up: the next command works.
    mark = fake.mark()
    await fake.interaction(BOB, fake.command("artists"))
    callback = await fake.wait_for(_is_callback, since=mark)
    assert "Alpha" in callback.content


async def test_owner_syncs_commands_with_a_mention(harness: Harness) -> None:
    fake = harness.fake
    mark = fake.mark()
    mention = f"<@{fake.BOT_ID}> sync"
    await fake.message(BOB, channel_id=fake.CHANNEL_ID, content=mention, mentions=[fake.BOT_ID])
    assert await _nothing_more(fake, mark) == []  # not an owner: ignored, no help text

    await fake.message(
        fake.OWNER_ID, channel_id=fake.CHANNEL_ID, content=mention, mentions=[fake.BOT_ID]
    )
    put = await fake.wait_for(lambda r: r.method == "PUT", since=mark)
    assert put.path == f"/applications/{fake.APP_ID}/commands"
    names = {c["name"] for c in put.json}
    assert {"analyze", "compare", "artists", "forget", "help", "Analyze voice"} <= names
    reply = await harness.reply_in(fake.CHANNEL_ID, mark)
    assert reply.content.startswith("Synced ")


async def test_run_discord_syncs_when_asked_and_stops_cleanly(
    harness: Harness, tmp_path: Path
) -> None:
    fake = harness.fake
    settings = replace(harness.settings, data_dir=tmp_path)
    mark = fake.mark()
    # A second bot, with its own service, from the public entry point.
    task = asyncio.create_task(run_discord(settings, sync=True))
    try:
        put = await fake.wait_for(lambda r: r.method == "PUT", since=mark, timeout=60)
        assert put.path == f"/applications/{fake.APP_ID}/commands"
        assert "analyze" in {c["name"] for c in put.json}
        await fake.wait_identified(2)
        # Let READY land: on Python 3.11, asyncio.wait_for (which discord.py wraps around the
        # gateway handshake) can swallow a cancel that arrives as the handshake finishes.
        await asyncio.sleep(0.5)
    finally:
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=30)
    assert done, "run_discord did not stop when cancelled"
    assert task.cancelled()
    assert len(fake.matching(lambda r: r.method == "PUT", since=mark)) == 1  # once

    # The first bot was not disturbed by the second one's login.
    mark = fake.mark()
    await fake.interaction(BOB, fake.command("artists"))
    assert "Alpha" in (await fake.wait_for(_is_callback, since=mark)).content


async def test_token_is_used_but_never_logged(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    fake = harness.fake
    caplog.set_level(logging.DEBUG)
    mark = fake.mark()
    await fake.interaction(CARL, fake.command("help"))
    callback = await fake.wait_for(_is_callback, since=mark)
    assert callback.flags & EPHEMERAL and "/compare" in callback.content
    assert fake.identifies and all(i["token"] == TOKEN for i in fake.identifies)
    me = next(r for r in fake.requests if r.path == "/users/@me")
    assert me.headers["Authorization"] == f"Bot {TOKEN}"
    assert harness.logs.lines and TOKEN not in "\n".join(harness.logs.lines)
    assert TOKEN not in caplog.text


async def test_long_texts_are_clipped_to_discords_limit() -> None:
    assert clip("short") == "short"
    assert clip("") and len(clip("")) == 1  # Discord refuses an empty message
    long = "\n".join(f"line {i} " + "x" * 50 for i in range(100))
    cut = clip(long)
    assert len(cut) <= 2000 and cut.endswith("…")
    assert long.startswith(cut[:-1]) and long[len(cut) - 1] == "\n"  # at a line end


# ---- run_discord -----------------------------------------------------------------------------
@pytest.mark.parametrize("token", ["", "not-a-token", "abc.def.ghi"])
async def test_run_discord_refuses_bad_tokens_before_any_network(token: str) -> None:
    started = time.monotonic()
    with pytest.raises(SettingsError, match="DISCORD_TOKEN"):
        await run_discord(Settings(discord_token=token, catalog="/nonexistent"))
    assert time.monotonic() - started < 1.0
