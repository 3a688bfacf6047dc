"""Two bot replicas as separate processes in webhook mode, behind a round-robin proxy, one database.

The sandbox's webhook points at the proxy; the proxy alternates between the replicas, so the steps of
one dialog are handled by different processes: the walk only works if no dialog state lives in a
replica's memory. Then one replica is killed (SIGKILL, as a crash) and the dialog goes on; the other is
stopped with SIGTERM and must drain and exit cleanly. Variants: the embedded SQLite FSM, and the Redis
FSM when a `redis-server` binary and the Redis FSM code are there.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib.util
import itertools
import os
import shutil
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.sandbox import SandboxConfig, SandboxServer
from tests.distributed.proxy import RoundRobinProxy
from tests.helpers.sandbox_user import SandboxUser, texts

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "424242:distributed-replicas"
SECRET = "distributed-secret_1"
EN = {
    "collect": "Real-name collection",
    "start": "Start",
    "id_card": "ID card",
    "front": "portrait side",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=["sqlite", "redis"])
def fsm_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Extra environment for the FSM store: nothing (SQLite), or REDIS_URL of a throwaway redis-server."""
    if request.param == "sqlite":
        yield {}
        return
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    if importlib.util.find_spec("bot.storage.redis_fsm") is None:
        pytest.skip("the Redis FSM (REDIS_URL) is not in this tree")
    import subprocess

    port = free_port()
    proc = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        yield {"REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    finally:
        proc.terminate()
        proc.wait(10)


class Replica:
    def __init__(self, name: str, port: int, env: dict[str, str], log: Path) -> None:
        self.name, self.port, self.env, self.log = name, port, env, log
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        env = {**os.environ, **self.env, "WEBHOOK_PORT": str(self.port)}
        env["PYTHONPATH"] = str(REPO_ROOT)
        with self.log.open("ab") as out:
            # cwd: the data directory, so that a developer's .env in the repo is not read.
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.distributed.replica",
                cwd=self.env["DATA_DIR"],
                env=env,
                stdout=out,
                stderr=out,
            )

    async def wait_ready(self, http: aiohttp.ClientSession, seconds: float = 90) -> None:
        deadline = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < deadline:
            assert self.proc is not None and self.proc.returncode is None, self.log.read_text()[-3000:]
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{self.url}/readyz") as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.3)
        raise AssertionError(f"{self.name} not ready: {self.log.read_text()[-3000:]}")

    async def stop(self, sig: int = signal.SIGTERM, seconds: float = 40) -> int:
        if self.proc is None:
            return 0
        if self.proc.returncode is not None:
            return self.proc.returncode
        self.proc.send_signal(sig)
        return await asyncio.wait_for(self.proc.wait(), seconds)


async def test_dialog_steps_on_different_replicas(tmp_path: Path, fsm_backend: dict[str, str]) -> None:
    proxy_port = free_port()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    async with SandboxServer(config=SandboxConfig(require_ack=True, send_timeout=60)) as sandbox:
        common = {
            "BOT_TOKEN": TOKEN,
            "BOT_API_BASE": sandbox.url,
            "BOT_API_SANDBOX": "1",
            "WEBHOOK_URL": f"http://127.0.0.1:{proxy_port}",
            "WEBHOOK_SECRET": SECRET,
            "WEBHOOK_HOST": "127.0.0.1",
            "WEBHOOK_DRAIN_SECONDS": "10",
            "ENCRYPTION_KEY": base64.b64encode(b"d" * 32).decode(),
            "DATA_DIR": str(data_dir),  # one SQLite file shared by both replicas
            "LOG_LEVEL": "WARNING",
            "RETENTION_ENABLED": "0",
            **fsm_backend,
        }
        replicas = [
            Replica("a", free_port(), {**common, "WEBHOOK_REGISTER": "1"}, tmp_path / "a.log"),
            Replica("b", free_port(), {**common, "WEBHOOK_REGISTER": "0"}, tmp_path / "b.log"),
        ]
        proxy = RoundRobinProxy([r.url for r in replicas])
        async with (
            proxy.serve(proxy_port),
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=90)) as http,
        ):
            try:
                # One at a time: two replicas migrating one fresh database file at once is a deploy
                # step to serialize (documented), not what this test is about.
                await replicas[0].start()
                await replicas[0].wait_ready(http)
                await replicas[1].start()
                await replicas[1].wait_ready(http)
                assert sandbox.state.webhook is not None  # registered by replica a only
                assert sandbox.state.webhook.url == f"http://127.0.0.1:{proxy_port}/webhook"

                await walk(SandboxUser(http, sandbox.url, 9101, "en"), proxy)

                # Crash one replica: the same user's dialog goes on through the survivor.
                await replicas[1].stop(signal.SIGKILL)
                user = SandboxUser(http, sandbox.url, 9101, "en")
                replies = await user.send("still here")
                assert EN["front"] in texts(replies), texts(replies)
                assert proxy.failovers >= 1 or proxy.served[-1] == 0
                await walk(SandboxUser(http, sandbox.url, 9102, "en"), proxy, expect_both=False)

                # Graceful stop: SIGTERM drains and exits 0.
                assert await replicas[0].stop(signal.SIGTERM) == 0, (tmp_path / "a.log").read_text()[-3000:]
            finally:
                for replica in replicas:
                    with contextlib.suppress(ProcessLookupError, TimeoutError):
                        await replica.stop(signal.SIGKILL, 10)


async def walk(user: SandboxUser, proxy: RoundRobinProxy, *, expect_both: bool = True) -> None:
    """Menu → collection → ID card → the front-photo prompt → a wrong input there (text, not a photo)."""
    start = len(proxy.served)
    home = await user.send("/start")
    tip = await user.press_label(home, EN["collect"])
    choose = await user.press_label(tip, EN["start"])
    prompt = await user.press_label(choose, EN["id_card"])
    assert EN["front"] in texts(prompt), texts(prompt)
    replies = await user.send("this is not a photo")
    assert EN["front"] in texts(replies), texts(replies)  # asked again, still at the same step
    served: list[Any] = proxy.served[start:]
    assert len(served) == 5, served
    if expect_both:
        # Round robin over two: every step landed on the other replica than the step before it.
        assert all(a != b for a, b in itertools.pairwise(served)), served
