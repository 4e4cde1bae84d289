"""Why a job did not produce a result. Every message is written for the member."""

from __future__ import annotations


class JobError(Exception):
    """A job failed; ``str(error)`` is a sentence a member can read."""


class PoolBusy(JobError):
    """The queue is full: the job was not accepted."""


class JobRejected(JobError):
    """The input was the problem (not audio, no voice, too short): inference said why."""


class WorkerCrashed(JobError):
    """The worker process died while running this job (segfault, out of memory, killed)."""


class JobTimedOut(JobError):
    """The job ran past the per-job time limit; its worker was stopped and replaced."""


class PoolClosed(JobError):
    """The pool is shutting down or never started."""


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the key, never a token value."""


class PoolOffline(JobError):
    """No inference worker is running (a distributed pool with none connected)."""


class BrokerUnavailable(JobError):
    """The broker (Redis) cannot be reached, or was lost while the job waited."""
