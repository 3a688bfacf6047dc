"""Real Redis and real worker processes for the multi-machine tests (issue 10).

The session starts its own ``redis-server`` (Debian's package) on a free loopback port with a
temporary directory and no persistence, and stops it at the end; every test here skips cleanly when
the binary is absent, so only the package is needed, never a running service.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.services.queued_verifier import QueuedVerifier
from bot.storage.crypto import FieldCipher
from tests.helpers.servers import real_clock_env, unavailable

from .cluster import REPO_ROOT, TEST_KEY, free_port

# The queue of the session's shared worker (`worker` fixture); tests that kill or starve workers use
# queues of their own.
QUEUE = "test:verification"


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("REQUIRE_REDIS", "redis-server is not installed (Debian package redis-server)")
    workdir = tmp_path_factory.mktemp("redis")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(workdir),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--logfile",
            str(workdir / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=real_clock_env(),
    )
    try:
        deadline = time.monotonic() + 10
        while not _ping(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                unavailable("REQUIRE_REDIS", "redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def bot_settings(redis_url: str, queue: str, **extra: Any) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        redis_url=SecretStr(redis_url),
        verification_mode="queue",
        verification_queue_name=queue,
        encryption_key=SecretStr(TEST_KEY),
        **{"identity_photo_required": False, **extra},  # as tests/helpers/factory.py
    )


class WorkerProcess:
    """`python -m bot.worker` as a deployment runs it, configured by environment variables only."""

    def __init__(self, redis_url: str, queue: str, logdir: Path, *, timeout: float = 30.0) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "WEBHOOK_"))}
        env.update(
            REDIS_URL=redis_url,
            VERIFICATION_QUEUE_NAME=queue,
            ENCRYPTION_KEY=TEST_KEY,
            VERIFICATION_TIMEOUT=str(timeout),
            PYTHONPATH=str(REPO_ROOT),
            # one engine thread per worker: the machine's cores are shared by the processes
            OMP_NUM_THREADS="1",
            LOG_LEVEL="INFO",
        )
        self.log = logdir / f"worker-{time.monotonic_ns()}.log"
        self._out = self.log.open("wb")
        # cwd outside the repository: a developer's .env must not configure the test worker
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.worker"],
            cwd=logdir,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 120.0) -> WorkerProcess:
        deadline = time.monotonic() + timeout
        while "verification worker ready" not in self.text():
            if self.proc.poll() is not None:
                raise RuntimeError("worker exited:\n" + self.text()[-3000:])
            if time.monotonic() > deadline:
                raise TimeoutError("worker not ready:\n" + self.text()[-3000:])
            time.sleep(0.1)
        return self

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._out.close()


async def queued_verifier(redis_url: str, queue: str = QUEUE, wait: float = 90.0) -> QueuedVerifier:
    """The bot's side of the queue, as `Services` builds it from settings."""
    settings = bot_settings(redis_url, queue, verification_queue_wait=wait)
    masters, current, index_master = settings.encryption_keys()
    cipher = FieldCipher.from_masters(masters, current=current, index_master=index_master)
    return await QueuedVerifier.connect(settings, cipher)


@pytest.fixture(scope="session")
def worker(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    """One `python -m bot.worker` on QUEUE for the whole session: the models load once."""
    proc = WorkerProcess(redis_url, QUEUE, tmp_path_factory.mktemp("worker"))
    try:
        yield proc.wait_ready()
    finally:
        proc.stop()
