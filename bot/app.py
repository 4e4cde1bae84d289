"""Wiring: one :class:`RapService` from :class:`Settings` (worker pool + profile store)."""

from __future__ import annotations

from .pool.local import InferencePool, ProcessPool, WorkerConfig
from .service import RapService
from .settings import Settings
from .store.profiles import ProfileStore


def create_service(settings: Settings) -> RapService:
    """A service with its worker pool and a SQLite store; call ``await start()``.

    The pool is the distributed one (``rapsim worker`` processes anywhere, through Redis)
    when ``RAPSIM_BROKER_URL`` is set, else local worker processes.
    """
    store = ProfileStore(
        settings.db_path,
        retention_days=settings.retention_days,
        per_member=settings.profiles_per_member,
        history_days=settings.history_days,
    )
    return RapService(settings, create_pool(settings), store)


def create_pool(settings: Settings) -> InferencePool:
    if settings.broker_url:
        from .pool.distributed import DistributedPool

        return DistributedPool(
            settings.broker_url,
            catalog=settings.catalog,
            queue_size=settings.queue_size,
            job_timeout_s=settings.job_timeout_s,
        )
    config = WorkerConfig(
        catalog=settings.catalog,
        encoder=settings.encoder,
        separator=settings.separator,
        max_note_seconds=settings.max_note_seconds,
    )
    return ProcessPool(
        config,
        workers=settings.workers,
        queue_size=settings.queue_size,
        job_timeout_s=settings.job_timeout_s,
    )
