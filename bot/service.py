"""The platform-neutral bot: what a member can ask, and the replies, for every platform.

Adapters (Discord, Telegram, a future one) turn chat events into calls on
:class:`RapService` and post the :class:`Reply` it returns; they hold no logic of their own
beyond their platform's API. The service checks uploads and per-member limits, hands audio
to the :class:`~bot.pool.local.InferencePool`, keeps profiles in the
:class:`~bot.store.profiles.ProfileStore` (never audio) and words every answer through
:mod:`bot.replies`. It never raises for a member's mistake: every call returns a Reply.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import PurePath

from i18n import N_, language_for, say

from . import replies
from .errors import JobError, JobRejected, PoolBusy
from .jobs import Analysis, AnalyzeJob, ArtistEntry, CatalogInfo, CompareJob
from .limits import MemberLimiter
from .member import Member
from .pool.local import InferencePool
from .practice.desk import PracticeDesk
from .reply import Reply
from .settings import Settings
from .store.profiles import ProfileStore
from .store.rounds import in_round

__all__ = ["Member", "RapService", "Reply"]

log = logging.getLogger(__name__)

# What a member may send. Voice notes are ogg/opus on both platforms; attachments and
# Telegram audio documents come in every common format; video notes are mp4.
AUDIO_EXTENSIONS = frozenset(
    {
        ".ogg",
        ".oga",
        ".opus",
        ".mp3",
        ".wav",
        ".flac",
        ".m4a",
        ".aac",
        ".mp4",
        ".webm",
        ".mka",
        ".mkv",
        ".mov",
        ".wma",
        ".aiff",
        ".aif",
    }
)
AUDIO_MIME_PREFIXES = ("audio/", "video/", "application/ogg")


class RapService:
    """Made once per bot process; ``start()`` before use, ``close()`` at the end."""

    def __init__(self, settings: Settings, pool: InferencePool, store: ProfileStore) -> None:
        self.settings = settings
        self.pool = pool
        self.store = store
        self.limiter = MemberLimiter(per_minute=settings.notes_per_minute)
        self.practice = PracticeDesk(store.history, lambda: self.catalog)
        self._catalog: CatalogInfo | None = None
        self._purger: asyncio.Task[None] | None = None

    # ---- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        """Start the workers (each loads the model and catalogue, then warms up)."""
        self.store.open()
        self._catalog = await self.pool.start()
        assert self.catalog is not None
        await asyncio.to_thread(self.store.purge_expired)
        self._purger = asyncio.create_task(self._purge_forever(), name="rapsim-purge")
        log.info(
            "service ready: %d artists, encoder %s", len(self.catalog.artists), self.catalog.encoder
        )

    @property
    def catalog(self) -> CatalogInfo | None:
        """What the pool serves; a distributed pool may learn it from a worker after start."""
        return getattr(self.pool, "catalog", None) or self._catalog

    async def language_of(self, member: Member, *, remember: bool = False) -> str:
        """The language to answer ``member`` in: RAPSIM_LANGUAGE, else the locale their
        platform sent now, else the one remembered from an earlier command (a Discord
        message carries none), else their server's. ``remember`` keeps a locale sent now."""
        forced = self.settings.language
        if forced:
            return forced
        history = self.store.history
        if member.locale:
            if remember:
                await asyncio.to_thread(
                    history.remember_locale, member.platform, member.member_id, member.locale
                )
            return language_for(member.locale)
        kept = await asyncio.to_thread(history.locale, member.platform, member.member_id)
        return language_for(kept, member.scope_locale)

    async def close(self) -> None:
        if self._purger:
            self._purger.cancel()
        await self.pool.close()
        self.store.close()

    async def _purge_forever(self) -> None:
        while True:
            await asyncio.sleep(3600)
            n = await asyncio.to_thread(self.store.purge_expired)
            if n:
                log.info("expired %d old profiles", n)

    # ---- checks an adapter makes before downloading ------------------------------------
    def check_upload(
        self,
        *,
        size: int | None,
        filename: str | None,
        mime: str | None,
        duration: float | None = None,
        language: str = "en",
    ) -> str | None:
        """None if the attachment may be downloaded, else the sentence to answer with."""
        if size is not None and size > self.settings.max_upload_bytes:
            return replies.too_big(size, self.settings.max_upload_mb, language)
        if size == 0:
            return say(replies.EMPTY_FILE, language)
        if not _looks_like_media(filename, mime):
            return replies.not_audio(filename or say(N_("that file"), language), language)
        if duration is not None and duration > self.settings.max_note_seconds:
            return replies.too_long(duration, self.settings.max_note_seconds, language)
        return None

    # ---- what members ask ----------------------------------------------------------------
    async def analyze(
        self,
        member: Member,
        audio: bytes,
        filename: str | None = None,
        mime: str | None = None,
        *,
        language: str | None = None,
        round_id: int | None = None,
        busy_raises: bool = False,
    ) -> Reply:
        """Which artists this note sounds like (and how close to the member's target);
        keeps the member's profile and a history row on success. ``language``: the
        reader's, when not the member's (a Discord menu used on someone's note).
        For a cypher verse (``bot.cypher``): ``round_id`` marks its history row, and
        ``busy_raises`` raises :class:`PoolBusy` instead of answering it, so the verse
        can wait its turn."""
        lang = language or await self.language_of(member, remember=True)
        refusal = self.check_upload(size=len(audio), filename=filename, mime=mime, language=lang)
        if refusal:
            return Reply(refusal, ok=False)
        key = (member.platform, member.member_id)
        wait = self.limiter.try_acquire(key)
        if wait is not None:
            return Reply(replies.slow_down(wait, lang), ok=False)
        counted = True
        try:
            target = await asyncio.to_thread(self.store.history.target, *key)
            job = AnalyzeJob(audio, filename or "note", self.settings.top_k, target, lang)
            result = await self.pool.analyze(job)
        except JobError as e:
            counted = not isinstance(e, PoolBusy)  # a busy refusal does not use up a slot
            if busy_raises and not counted:
                raise
            return Reply(replies.job_failed(e, lang), ok=False)
        finally:
            self.limiter.release(key, counted=counted)
        await asyncio.to_thread(self.store.save, member, result.voice, result.matches[0].artist)
        with in_round(round_id):
            lead = await self.practice.record(member, target, result, lang)
        text = replies.analysis(member.display_name, result, lang, lead)
        top = tuple((m.artist, m.score) for m in result.matches)
        return Reply(text, result.image_png, matches=top, target=_target_of(result))

    async def compare(self, a: Member, b: Member, *, language: str | None = None) -> Reply:
        """How alike two members of one scope sound, from their latest stored notes.
        ``language``: the asker's (default: ``a``'s)."""
        lang = language or await self.language_of(a)
        if (a.platform, a.scope) != (b.platform, b.scope):
            return Reply(say(replies.DIFFERENT_SCOPES, lang), ok=False)
        if a.member_id == b.member_id:
            return Reply(say(replies.SAME_MEMBER, lang), ok=False)
        pa = await asyncio.to_thread(self.store.latest, a)
        pb = await asyncio.to_thread(self.store.latest, b)
        missing = [m.display_name for m, p in ((a, pa), (b, pb)) if p is None]
        if missing:
            return Reply(replies.no_profile(missing, lang), ok=False)
        assert pa is not None and pb is not None
        encoder = self.catalog.encoder if self.catalog else ""
        stale = [m.display_name for m, p in ((a, pa), (b, pb)) if p.voice.encoder != encoder]
        if stale:
            return Reply(replies.stale_profile(stale, lang), ok=False)
        try:
            job = CompareJob(pa.voice, pb.voice, (a.display_name, b.display_name), lang)
            result = await self.pool.compare(job)
        except JobRejected as e:
            return Reply(str(e), ok=False)
        except JobError as e:
            return Reply(replies.job_failed(e, lang), ok=False)
        text = replies.comparison(a.display_name, b.display_name, result, lang)
        return Reply(text, result.image_png)

    async def find_member(self, platform: str, scope: str, handle: str) -> Member | None:
        """The member of this scope with a stored profile under ``handle`` (no "@"), if any."""
        return await asyncio.to_thread(self.store.find_member, platform, scope, handle)

    def artists(self) -> tuple[ArtistEntry, ...]:
        """The catalogue, sorted by name (case-insensitive)."""
        return self.catalog.by_name() if self.catalog else ()

    def artist_pages(self, per_page: int = 20, language: str = "en") -> list[str]:
        """The catalogue as text pages of ``per_page`` artists, each with a header line."""
        return replies.artist_pages(self.artists(), per_page, language)

    async def forget(self, platform: str, member_id: str, language: str = "en") -> Reply:
        """Delete everything kept about this member, in every scope of this platform:
        profiles, practice history, target, locale and leaderboard sharing."""
        gone = await asyncio.to_thread(self.store.forget, platform, member_id)
        return Reply(replies.forgotten(gone, language))

    def help_text(self, max_upload_mb: float | None = None, language: str = "en") -> str:
        """What the bot does; ``max_upload_mb``: a platform's own lower download limit."""
        return replies.help_text(self.settings, max_upload_mb, language)


def _target_of(result: Analysis) -> tuple[str, float, int] | None:
    t = result.target
    return (t.artist, t.score, result.target_rank) if t is not None else None


def _looks_like_media(filename: str | None, mime: str | None) -> bool:
    if mime and mime.split(";")[0].strip().lower().startswith(AUDIO_MIME_PREFIXES):
        return True
    return filename is not None and PurePath(filename).suffix.lower() in AUDIO_EXTENSIONS
