"""The process-pool facade: results, errors, timeout, crash recovery, and no blocking of the loop."""

from __future__ import annotations

import asyncio
import math
import os
import time
from pathlib import Path

import pytest

from bot.verification import face
from bot.verification.pool import (
    VerificationCrashed,
    VerificationPool,
    VerificationTimeout,
    default_workers,
)


def test_default_workers() -> None:
    assert 1 <= default_workers() <= (os.cpu_count() or 1)


async def test_run_result_and_exception() -> None:
    async with VerificationPool(workers=1, timeout=30) as pool:
        assert await pool.run(math.factorial, 10) == 3628800
        assert await pool.run(os.getpid) != os.getpid()  # really another process
        with pytest.raises(ValueError):
            await pool.run(math.factorial, -1)
        assert pool.in_flight == 0 and pool.queue_depth == 0


async def test_timeout_then_pool_still_serves() -> None:
    async with VerificationPool(workers=1, timeout=30) as pool:
        with pytest.raises(VerificationTimeout):
            await pool.run(time.sleep, 5, timeout=0.3)
        started = time.perf_counter()
        assert await pool.run(math.factorial, 5) == 120  # a fresh pool, not behind the stuck call
        assert time.perf_counter() - started < 4
        assert pool.rebuilds == 1


async def test_crashed_worker_is_replaced() -> None:
    async with VerificationPool(workers=1, timeout=30) as pool:
        with pytest.raises(VerificationCrashed):
            await pool.run(os._exit, 3)
        assert await pool.run(math.factorial, 4) == 24


async def test_queue_counters() -> None:
    async with VerificationPool(workers=1, timeout=30) as pool:
        calls = [asyncio.create_task(pool.run(time.sleep, 0.3)) for _ in range(3)]
        await asyncio.sleep(0.1)
        assert pool.in_flight == 1 and pool.queue_depth == 2
        await asyncio.gather(*calls)
        assert pool.in_flight == 0 and pool.queue_depth == 0


@pytest.mark.slow
async def test_eight_videos_while_the_loop_keeps_answering(testdata: Path) -> None:
    """8 selfie videos at once through the pool; a ping coroutine keeps its latency low meanwhile.
    The assertion is generous (the precise figure is in bench/RESULTS-face.md)."""
    video = (testdata / "videos" / "live_open_mouth_varun.webm").read_bytes()
    challenge = [face.Action.OPEN_MOUTH, face.Action.BLINK]
    async with VerificationPool(timeout=120, warmup=[face.warmup]) as pool:
        worst = 0.0
        done = asyncio.Event()

        async def ping() -> None:
            nonlocal worst
            while not done.is_set():
                t = time.perf_counter()
                await asyncio.sleep(0.01)
                worst = max(worst, time.perf_counter() - t - 0.01)

        pinger = asyncio.create_task(ping())
        verdicts = await asyncio.gather(
            *(pool.run(face.verify_selfie_video, video, challenge) for _ in range(8))
        )
        done.set()
        await pinger
    assert all(v.decision == "pass" for v in verdicts)
    assert len({v.content_hash for v in verdicts}) == 1
    assert worst < 0.05 * 4, f"event loop stalled {worst * 1000:.0f} ms"


async def test_close_does_not_hang_on_a_stuck_call() -> None:
    pool = VerificationPool(workers=1, timeout=60)
    await pool.start()
    stuck = asyncio.create_task(pool.run(time.sleep, 60))
    await asyncio.sleep(0.3)
    started = time.perf_counter()
    await pool.close(grace=0.5)
    assert time.perf_counter() - started < 10
    with pytest.raises(VerificationCrashed):
        await stuck
    with pytest.raises(RuntimeError):
        await pool.run(math.factorial, 3)
