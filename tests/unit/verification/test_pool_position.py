"""The pool tells each waiting call its own place in line, then that it runs (what the dialogs show)."""

from __future__ import annotations

import asyncio
import time

from bot.verification.pool import VerificationPool


class Heard:
    def __init__(self) -> None:
        self.places: list[int | None] = []

    async def __call__(self, ahead: int | None) -> None:
        self.places.append(ahead)


async def test_each_call_hears_its_own_place_then_that_it_runs() -> None:
    async with VerificationPool(workers=1, timeout=30) as pool:
        heard = [Heard() for _ in range(4)]
        first = asyncio.ensure_future(pool.run(time.sleep, 0.4, progress=heard[0]))
        await asyncio.sleep(0.1)  # the first call holds the only worker
        rest = []
        for h in heard[1:]:
            rest.append(asyncio.ensure_future(pool.run(time.sleep, 0.05, progress=h)))
            await asyncio.sleep(0.01)  # in this order
        assert pool.queue_depth == 3
        await asyncio.gather(first, *rest)
        assert heard[0].places == [None]  # a free worker: it ran at once
        assert heard[1].places == [0, None]
        assert heard[2].places == [1, 0, None]
        assert heard[3].places == [2, 1, 0, None]
        assert pool.queue_depth == 0


async def test_a_failing_reporter_does_not_fail_the_call() -> None:
    async def broken(ahead: int | None) -> None:
        raise RuntimeError("the chat is gone")

    async with VerificationPool(workers=1, timeout=30) as pool:
        blocker = asyncio.ensure_future(pool.run(time.sleep, 0.3))
        await asyncio.sleep(0.05)
        assert await pool.run(abs, -3, progress=broken) == 3
        await blocker


async def test_a_cancelled_waiter_leaves_the_line() -> None:
    async with VerificationPool(workers=1, timeout=30) as pool:
        behind = Heard()
        blocker = asyncio.ensure_future(pool.run(time.sleep, 0.4))
        await asyncio.sleep(0.05)
        gone = asyncio.ensure_future(pool.run(abs, -1))
        await asyncio.sleep(0.01)
        waiting = asyncio.ensure_future(pool.run(abs, -2, progress=behind))
        await asyncio.sleep(0.05)
        gone.cancel()  # the user left: the one behind moves up without waiting for a worker
        await asyncio.sleep(0.05)
        assert behind.places == [1, 0]
        assert await waiting == 2
        assert behind.places == [1, 0, None]
        await blocker
