"""Telegram attachments: which ones are audio, whether they may be fetched, and the fetch.

A voice note, an audio file, a video note or a document with an audio/video type or an
audio file extension becomes an :class:`Attachment`. :func:`refusal` decides before any
download, from Telegram's metadata, and adds the public Bot API's own limit: bots cannot
download files over 20 MB from it (a self-hosted Bot API server has no such limit).
:func:`download` fetches into memory, never to disk, and stops at the size limit even when
Telegram did not report a size.

It does not decode or check the audio itself: the service and its workers do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

import aiohttp
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import Document, Message

from ..service import AUDIO_EXTENSIONS, AUDIO_MIME_PREFIXES, RapService
from ..settings import Settings
from . import texts

# getFile on api.telegram.org refuses files over 20 MB ("file is too big").
PUBLIC_API_DOWNLOAD_LIMIT = 20 * 1024 * 1024
_CHUNK = 64 * 1024


class TooBig(Exception):
    """The file is over what may be downloaded; ``size`` is None when Telegram did not say."""

    def __init__(self, size: int | None) -> None:
        super().__init__(f"file too big ({size} bytes)")
        self.size = size


class DownloadFailed(Exception):
    """Telegram's file server did not deliver the file; the message holds no URL or token."""


@dataclass(frozen=True)
class Attachment:
    file_id: str
    size: int | None  # bytes, as Telegram reports it (it may not)
    filename: str
    mime: str | None
    duration: float | None  # seconds, when Telegram knows it


def attachment_of(message: Message) -> Attachment | None:
    """The file this message carries: voice, audio, video note or any document, else None.

    Documents of other types are returned too, so that a caller can say why it refuses one
    (:func:`refusal` does); :func:`is_media_document` tells them apart.
    """
    if message.voice:
        v = message.voice
        return Attachment(
            v.file_id, v.file_size, "voice.ogg", v.mime_type or "audio/ogg", v.duration
        )
    if message.audio:
        a = message.audio
        name = a.file_name or "audio"
        return Attachment(a.file_id, a.file_size, name, a.mime_type, a.duration)
    if message.video_note:
        n = message.video_note
        return Attachment(n.file_id, n.file_size, "video_note.mp4", "video/mp4", n.duration)
    if message.document:
        d = message.document
        return Attachment(d.file_id, d.file_size, d.file_name or "document", d.mime_type, None)
    return None


def is_media_document(document: Document) -> bool:
    mime = (document.mime_type or "").lower()
    if mime.startswith(AUDIO_MIME_PREFIXES):
        return True
    return PurePath(document.file_name or "").suffix.lower() in AUDIO_EXTENSIONS


def download_limit(settings: Settings) -> int:
    """Bytes the bot may fetch: the configured limit, capped at 20 MB on the public API."""
    if settings.telegram_api_url:
        return settings.max_upload_bytes
    return min(settings.max_upload_bytes, PUBLIC_API_DOWNLOAD_LIMIT)


def refusal(
    service: RapService, settings: Settings, attachment: Attachment, language: str = "en"
) -> str | None:
    """None if the attachment may be downloaded, else the sentence to answer with."""
    limit = download_limit(settings)
    if (
        attachment.size is not None
        and attachment.size > limit
        and limit < settings.max_upload_bytes
    ):
        return texts.telegram_too_big(attachment.size, language)
    return service.check_upload(
        size=attachment.size,
        filename=attachment.filename,
        mime=attachment.mime,
        duration=attachment.duration,
        language=language,
    )


async def download(bot: Bot, file_id: str, limit: int, timeout: float = 120.0) -> bytes:
    """The file's bytes, in memory. Raises :class:`TooBig` or :class:`DownloadFailed`."""
    try:
        file = await bot.get_file(file_id)
    except TelegramBadRequest as e:
        if "too big" in e.message.lower():
            raise TooBig(None) from None
        raise
    if file.file_size is not None and file.file_size > limit:
        raise TooBig(file.file_size)
    if not file.file_path:
        raise DownloadFailed("Telegram gave no file path")
    # Streamed by hand rather than bot.download_file, to stop at `limit` when the size is
    # unknown; the URL holds the token, so no error raised here may carry it.
    url = bot.session.api.file_url(bot.token, file.file_path)
    data = bytearray()
    try:
        async for chunk in bot.session.stream_content(
            url, timeout=int(timeout), chunk_size=_CHUNK, raise_for_status=True
        ):
            data += chunk
            if len(data) > limit:
                raise TooBig(len(data))  # Telegram's size was wrong: count what came
    except aiohttp.ClientResponseError as e:
        raise DownloadFailed(f"file download failed: HTTP {e.status}") from None
    except (aiohttp.ClientError, TimeoutError) as e:
        raise DownloadFailed(f"file download failed: {type(e).__name__}") from None
    return bytes(data)
