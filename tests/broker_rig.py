"""A real redis-server and real ``rapsim worker`` processes for the distributed-pool tests.

The server runs on a free 127.0.0.1 port in a temp folder, without persistence (a
restart loses everything, the harder case for the bot and the workers).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

needs_redis = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="redis-server missing (scripts/setup.sh --dev installs it)",
)
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)]
        args += ["--save", "", "--appendonly", "no", "--logfile", str(self.folder / "redis.log")]
        self.process = subprocess.Popen(["redis-server", *args])
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client().ping()
                return self
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=1)

    def stored_bytes(self) -> tuple[int, int]:
        """(keys, bytes they take: MEMORY USAGE summed): what Redis holds for us."""
        c = self.client()
        keys = list(c.scan_iter("*"))
        return len(keys), sum(c.memory_usage(k) or 0 for k in keys)

    def job_keys(self) -> list[bytes]:
        """Keys that hold a job, an answer or a claim (none once every job is answered)."""
        c = self.client()
        return [k for p in ("job", "result", "taken") for k in c.scan_iter(f"rapsim:{p}:*")]


class Worker:
    """One ``rapsim worker`` process; its log goes to a file the tests read."""

    def __init__(self, url: str, catalog: Path, log: Path, *extra: str) -> None:
        self.log = log
        cmd = [sys.executable, "-m", "rapsim", "worker", "--broker-url", url,
               "--catalog", str(catalog), *extra]  # fmt: skip
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # so a test can kill it with its children
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, needle: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            code = self.process.poll()
            assert code is None, f"worker exited ({code}):\n{self.text()[-3000:]}"
            assert time.monotonic() < deadline, f"no {needle!r} in:\n{self.text()[-3000:]}"
            time.sleep(0.1)

    def inference_processes(self) -> list[int]:
        """Its worker processes (multiprocessing children, less the resource tracker)."""
        out = subprocess.run(
            ["pgrep", "-P", str(self.pid)], capture_output=True, text=True, check=False
        )
        pids = [int(p) for p in out.stdout.split()]
        return [p for p in pids if b"resource_tracker" not in _cmdline(p)]

    def kill(self) -> None:
        """SIGKILL the worker and its inference processes (its whole session)."""
        if self.process.poll() is None:
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
