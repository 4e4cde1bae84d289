"""The Celery half of ``bench.broker_compare``: a task that answers with the canned analysis.

Configured for the guarantees the bot needs: msgpack only (no pickle), ``acks_late`` with
``reject_on_worker_lost`` (a killed worker's job is redelivered), prefetch 1, results
that expire. ``ECHO_BROKER`` is the Redis URL (broker and result backend).
"""

from __future__ import annotations

import os

from celery import Celery

from bench.canned import canned_analysis
from bot.pool import wire

app = Celery("rapsim_echo", broker=os.environ["ECHO_BROKER"], backend=os.environ["ECHO_BROKER"])
app.conf.update(
    task_serializer="msgpack",
    result_serializer="msgpack",
    accept_content=["msgpack"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    result_expires=120,
    broker_connection_retry_on_startup=True,
)
ANSWER = wire.encode(canned_analysis())


@app.task(name="echo")
def echo(note: bytes) -> bytes:
    return ANSWER
