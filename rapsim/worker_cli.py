"""``rapsim worker`` and ``rapsim status``: the distributed pool's commands.

``worker`` runs inference for a bot on any machine that reaches its Redis
(``bot.pool.broker_worker``); ``status`` prints what the workers announce (jobs, failures,
p50/p95 job time) and the queue depth. Neither imports ``inference`` in this process:
worker processes and the batching runner load it themselves.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from typing import Any

from .common import positive

EXIT_USAGE = 2


def _broker_url(args: argparse.Namespace) -> str | None:
    url = args.broker_url or os.environ.get("RAPSIM_BROKER_URL", "")
    if not url:
        print("rapsim: needs --broker-url redis://... (or RAPSIM_BROKER_URL)", file=sys.stderr)
        return None
    return url


def cmd_worker(args: argparse.Namespace) -> int:
    from bot.pool.broker_worker import BrokerWorkerConfig, run_worker
    from bot.pool.local import WorkerConfig

    url = _broker_url(args)
    if url is None:
        return EXIT_USAGE
    if not args.verbose:  # a worker is a service: one line per job
        logging.getLogger().setLevel(logging.INFO)
    logging.getLogger("taskiq").setLevel(logging.WARNING)  # it logs every task it starts
    catalog = args.catalog or os.environ.get("RAPSIM_CATALOG", "")
    config = BrokerWorkerConfig(
        url=url,
        worker=WorkerConfig(
            catalog=catalog,
            encoder=args.encoder,
            separator=args.separator,
            device=args.device,
            threads=args.threads,
            log_level=logging.getLogger().level,
        ),
        concurrency=args.concurrency,
        batch_size=args.batch_size,
        batch_wait_ms=args.batch_wait_ms,
        job_timeout_s=args.job_timeout,
        namespace=args.namespace,
        metrics_port=args.metrics_port,
    )
    try:
        return run_worker(config)
    except Exception as e:
        from bot.errors import PoolClosed

        if isinstance(e, PoolClosed):  # the catalogue or encoder could not load
            print(f"rapsim: {e}", file=sys.stderr)
            return EXIT_USAGE
        raise


def cmd_status(args: argparse.Namespace) -> int:
    url = _broker_url(args)
    if url is None:
        return EXIT_USAGE
    doc = asyncio.run(_status(url, args.namespace))
    if args.json:
        print(json.dumps(doc))
        return 0
    print(f"queue: {doc['queued']} job(s) admitted and not answered")
    for w in doc["workers"]:
        print(
            f"{w['worker_id']}  {w['device']}  {w['slots']} slot(s)  jobs {w['jobs']}  "
            f"failures {w['failures']}  p50 {w['p50_ms']:.0f} ms  p95 {w['p95_ms']:.0f} ms  "
            f"catalogue {w['catalog_id']}"
        )
    if not doc["workers"]:
        print("no worker is running")
    return 0


async def _status(url: str, namespace: str) -> dict[str, Any]:
    from bot.jobs import WorkerInfo
    from bot.pool import wire
    from bot.pool.broker import Fleet, Keys, connect

    keys = Keys(namespace)
    redis = connect(url)
    try:
        members: Any = await redis.smembers(keys.workers)
        ids = sorted(m.decode() for m in members)
        blobs: Any = await redis.mget([keys.worker(i) for i in ids]) if ids else []
        workers = []
        for blob in blobs:
            if blob is None:
                continue
            try:
                info = wire.decode(blob, WorkerInfo)
            except wire.WireError:
                continue
            workers.append(
                {
                    "worker_id": info.worker_id,
                    "device": info.device,
                    "slots": info.concurrency,
                    "jobs": info.jobs,
                    "failures": info.failures,
                    "p50_ms": info.p50_ms,
                    "p95_ms": info.p95_ms,
                    "catalog_id": info.catalog_id,
                }
            )
        identity: Any = await redis.get(keys.identity)
        queued = await redis.zcard(keys.pending(Fleet.from_bytes(identity).key)) if identity else 0
    finally:
        await redis.aclose()
    return {"queued": int(queued), "workers": workers}


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("worker", help="run inference for a bot through Redis (any machine)")
    p.add_argument("--broker-url", metavar="URL", help="redis://[:password@]host:6379/0 "
                   "(rediss:// for TLS; default: $RAPSIM_BROKER_URL)")  # fmt: skip
    p.add_argument("--catalog", metavar="DIR", help="catalogue folder (default: "
                   "$RAPSIM_CATALOG, else the demo); must be the bot's catalogue")  # fmt: skip
    p.add_argument(
        "--encoder",
        default=os.environ.get("RAPSIM_ENCODER", "resemblyzer"),
        help="resemblyzer (default) or hubert:<hub id or local folder>",
    )
    p.add_argument("--separator", default=os.environ.get("RAPSIM_SEPARATOR", ""), metavar="SPEC",
                   help="the bundled separator (default) or demucs:<folder>")  # fmt: skip
    p.add_argument("--concurrency", type=positive, default=1,
                   help="worker processes, each with its own model (one per core)")  # fmt: skip
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="encoder device")
    p.add_argument("--batch-size", type=positive, default=None,
                   help="embed up to N waiting notes in one forward pass, in this process "
                   "(default: 16 with --device cuda, else 1: no batching)")  # fmt: skip
    p.add_argument("--batch-wait-ms", type=float, default=20.0,
                   help="how long a batch waits for more notes (default 20)")  # fmt: skip
    p.add_argument("--threads", type=positive, default=1, help="torch threads per process")
    p.add_argument("--job-timeout", type=float,
                   default=float(os.environ.get("RAPSIM_JOB_TIMEOUT") or 60),
                   help="seconds one job may run (default: $RAPSIM_JOB_TIMEOUT or 60)")  # fmt: skip
    p.add_argument("--metrics-port", type=int, default=0,
                   help="serve Prometheus metrics on this port (default: off)")  # fmt: skip
    p.add_argument("--namespace", default="rapsim", help=argparse.SUPPRESS)
    p.set_defaults(func=_worker_defaults)

    p = sub.add_parser("status", help="the distributed pool's workers and queue depth")
    p.add_argument("--broker-url", metavar="URL", help="default: $RAPSIM_BROKER_URL")
    p.add_argument("--json", action="store_true")
    p.add_argument("--namespace", default="rapsim", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_status)


def _worker_defaults(args: argparse.Namespace) -> int:
    if args.batch_size is None:
        args.batch_size = 16 if args.device == "cuda" else 1
    return cmd_worker(args)
