"""The load balancer of the multi-machine tests and benchmark: a round-robin HTTP proxy.

In a test it runs inside the test's event loop (``async with proxy.serve(port)``); the benchmark
(`bench/bench_distributed.py`) runs it as a process of its own, as nginx would be:

    python -m tests.distributed.proxy PORT http://127.0.0.1:8081 http://127.0.0.1:8082
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web


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
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        try:
            yield
        finally:
            await self._http.close()
            await runner.cleanup()


async def main(port: int, backends: list[str]) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    async with RoundRobinProxy(backends).serve(port):
        print(f"round-robin proxy on 127.0.0.1:{port} -> {' '.join(backends)}", flush=True)
        await stopping.wait()


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    asyncio.run(main(int(sys.argv[1]), sys.argv[2:]))
