"""Wiring: one :class:`RapService` from :class:`Settings` (worker pool + profile store)."""

from __future__ import annotations

from .pool import ProcessPool, WorkerConfig
from .service import RapService
from .settings import Settings
from .store import ProfileStore


def create_service(settings: Settings) -> RapService:
    """A service with a local process pool and a SQLite store; call ``await start()``."""
    config = WorkerConfig(
        catalog=settings.catalog,
        encoder=settings.encoder,
        max_note_seconds=settings.max_note_seconds,
    )
    pool = ProcessPool(
        config,
        workers=settings.workers,
        queue_size=settings.queue_size,
        job_timeout_s=settings.job_timeout_s,
    )
    store = ProfileStore(
        settings.db_path,
        retention_days=settings.retention_days,
        per_member=settings.profiles_per_member,
    )
    return RapService(settings, pool, store)
