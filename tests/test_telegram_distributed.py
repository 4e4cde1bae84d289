"""The Telegram end-to-end tests once more, with the distributed pool.

The same tests as ``test_telegram_bot`` (imported, so they are the very same code), but
the bot is started with ``RAPSIM_BROKER_URL``: notes go through a real redis-server to a
real ``rapsim worker`` process, and answers come back the same way.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_asyncio

from tests.broker_rig import RedisServer, Worker, needs_redis
from tests.conftest import needs_ffmpeg

# The tests, collected here a second time, and the fixtures they use.
from tests.test_telegram_bot import (  # noqa: F401
    crew,
    rap_note,
    running_bot,
    speech_ogg,
    test_audio_documents_and_video_notes_are_analysed,
    test_compare_by_mentions,
    test_compare_by_reply_with_notes,
    test_forget_then_compare_finds_nothing,
    test_notes_at_once_are_all_answered,
    test_service_started_before_polling,
    test_text_file_named_ogg_gets_a_clear_reply,
    test_voice_note_gets_photo_caption_and_chat_action,
    video_note_mp4,
)

pytestmark = [needs_redis, needs_ffmpeg]


@pytest.fixture(scope="module")
def broker(catalog_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    server = RedisServer(tmp_path_factory.mktemp("tgredis")).start()
    worker = Worker(server.url, catalog_dir, tmp_path_factory.mktemp("tglog") / "worker.log")
    try:
        worker.wait_for("serving catalogue")
        yield server
    finally:
        worker.stop()
        server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(broker: RedisServer, catalog_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    async for r in running_bot(catalog_dir, tmp_path_factory, broker_url=broker.url):
        yield r
