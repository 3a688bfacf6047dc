"""The distributed tests' load balancer (`cluster.RoundRobinProxy`) as a process of its own, as nginx
would be; the benchmark `bench/bench_distributed.py` runs it so:

    python -m tests.distributed.proxy PORT http://127.0.0.1:8081 http://127.0.0.1:8082
"""

from __future__ import annotations

import asyncio
import signal
import sys

from tests.distributed.cluster import RoundRobinProxy


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
