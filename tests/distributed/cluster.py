"""The pieces of a multi-replica deployment the distributed tests start: the sandbox as Telegram, a
round-robin proxy as the load balancer, and bot replicas as separate processes in webhook mode.

`webhook_cluster()` starts all of them on one data directory (one SQLite file) and stops them at the
end; what each test adds (Redis FSM, the job queue, a worker) comes in as environment variables.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.sandbox import SandboxConfig, SandboxServer
from tests.helpers.sandbox_user import SandboxUser

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "424242:distributed-replicas"
SECRET = "distributed-secret_1"
# A fixed test key (fictitious data only): the replicas and the workers must share it.
TEST_KEY = base64.b64encode(b"distributed-tests-key-0123456789").decode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RoundRobinProxy:
    """The load balancer: each request to the next replica in turn; a replica that refuses the
    connection is skipped (passive failover, as nginx's `proxy_next_upstream error`)."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.served: list[int] = []  # backend index of every request answered, in order
        self.failovers = 0
        self._next = 0
        self._http: aiohttp.ClientSession | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        assert self._http is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith("x-telegram")}
        headers["Content-Type"] = request.headers.get("Content-Type", "application/json")
        for _ in range(len(self.backends)):
            index = self._next
            self._next = (self._next + 1) % len(self.backends)
            try:
                async with self._http.post(
                    self.backends[index] + request.path, data=body, headers=headers
                ) as response:
                    payload = await response.read()
                    if response.status == 503:  # draining: try the next one
                        self.failovers += 1
                        continue
                    self.served.append(index)
                    return web.Response(status=response.status, body=payload, content_type="application/json")
            except aiohttp.ClientConnectionError:
                self.failovers += 1
        return web.Response(status=502, text="no replica")

    @contextlib.asynccontextmanager
    async def serve(self, port: int) -> AsyncIterator[None]:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        try:
            yield
        finally:
            await self._http.close()
            await runner.cleanup()


class Replica:
    """`python -m tests.distributed.replica`: `python -m bot` in webhook mode, configured by environment."""

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


@dataclass
class Cluster:
    sandbox: SandboxServer
    proxy: RoundRobinProxy
    proxy_port: int
    replicas: list[Replica]
    http: aiohttp.ClientSession

    def user(self, user_id: int, language_code: str = "zh-hans") -> SandboxUser:
        return SandboxUser(self.http, self.sandbox.url, user_id, language_code)

    def log_tail(self, chars: int = 3000) -> str:
        return "\n".join(f"--- {r.name}\n{r.log.read_text(errors='replace')[-chars:]}" for r in self.replicas)


@contextlib.asynccontextmanager
async def webhook_cluster(tmp_path: Path, extra_env: dict[str, str]) -> AsyncIterator[Cluster]:
    """The sandbox, the proxy and two replicas (`a` registers the webhook), all ready; every replica
    still running at the end is killed."""
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
            "ENCRYPTION_KEY": TEST_KEY,
            "DATA_DIR": str(data_dir),  # one SQLite file shared by both replicas
            "LOG_LEVEL": "WARNING",
            "RETENTION_ENABLED": "0",
            **extra_env,
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
                # step to serialize (documented), not what these tests are about.
                await replicas[0].start()
                await replicas[0].wait_ready(http)
                await replicas[1].start()
                await replicas[1].wait_ready(http)
                yield Cluster(sandbox, proxy, proxy_port, replicas, http)
            finally:
                for replica in replicas:
                    with contextlib.suppress(ProcessLookupError, TimeoutError):
                        await replica.stop(signal.SIGKILL, 10)
