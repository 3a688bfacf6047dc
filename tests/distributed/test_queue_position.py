"""A queued job's own place in the shared Redis queue, as the bot tells the user: the jobs still waiting
ahead of it (not those a worker runs), then "started", as it changes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from arq.constants import in_progress_key_prefix
from redis.asyncio import Redis

from bot.services import jobqueue
from bot.services.verifier import Progress
from bot.verification.idcard import SideReading

from .conftest import WorkerProcess, queued_verifier

pytestmark = pytest.mark.slow

CARDS = Path(__file__).resolve().parents[1] / "fixtures" / "idcards"
TRUTH = json.loads((CARDS / "truth.json").read_text(encoding="utf-8"))
TODAY = date.fromisoformat(TRUTH["today"])


class Heard:
    def __init__(self) -> None:
        self.reports: list[Progress] = []

    async def __call__(self, progress: Progress) -> None:
        self.reports.append(progress)

    @property
    def last(self) -> Progress | None:
        return self.reports[-1] if self.reports else None


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def until(condition: object, seconds: float = 5.0) -> None:
    assert callable(condition)
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_each_job_hears_its_own_place_as_workers_take_jobs(redis_url: str, redis: Redis) -> None:
    """No real worker on this queue: the test plays one, taking and finishing jobs by hand in Redis
    exactly as arq's worker marks them, so each step of the line is checked."""
    queue = "test:verification:places"
    verifier = await queued_verifier(redis_url, queue, wait=6.0)
    verifier.position_every = 0.05
    heard = [Heard() for _ in range(3)]
    uploads = [b"upload-%d" % i for i in range(3)]
    ids = [jobqueue.job_id(jobqueue.READ_CARD_SIDE, u, (TODAY,)) for u in uploads]
    tasks: list[asyncio.Future[SideReading]] = []
    try:
        for upload, h in zip(uploads, heard, strict=True):
            tasks.append(asyncio.ensure_future(verifier.read_card_side(upload, TODAY, progress=h)))
            await asyncio.sleep(0.01)  # enqueued in this order (scores are milliseconds)
        await until(lambda: all(h.reports for h in heard))
        assert [h.reports for h in heard] == [[Progress(ahead=0)], [Progress(ahead=1)], [Progress(ahead=2)]]
        assert await verifier.refresh_waiting() == 3

        # a worker takes the first job: it is started, the others wait behind one job fewer
        await redis.psetex(in_progress_key_prefix + ids[0], 60_000, b"1")
        await until(lambda: heard[0].last == Progress(started=True))
        await until(lambda: heard[2].last == Progress(ahead=1))
        assert heard[1].last == Progress(ahead=0)
        assert await verifier.refresh_waiting() == 2  # a new job would wait behind two, not three

        # that worker dies: its mark lapses, the job is back in line, first again
        await redis.delete(in_progress_key_prefix + ids[0])
        await until(lambda: heard[0].last == Progress(ahead=0))
        await until(lambda: heard[2].last == Progress(ahead=2))

        # another worker takes it and finishes it (arq removes a done job from the queue)
        await redis.zrem(queue, ids[0])
        await until(lambda: heard[1].last == Progress(ahead=0) and heard[2].last == Progress(ahead=1))
        assert heard[2].reports == [
            Progress(ahead=2),
            Progress(ahead=1),
            Progress(ahead=2),
            Progress(ahead=1),
        ]
    finally:
        for task in tasks:  # nobody works this queue: the users leave (the timeout is test_workers')
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await verifier.close()
        await redis.delete(queue)


async def test_a_real_worker_moves_the_line(worker: WorkerProcess, redis_url: str) -> None:
    """Three card sides at once on one worker: the ones behind hear their place shrink, each then
    hears "started" and gets its reading."""
    verifier = await queued_verifier(redis_url)
    verifier.position_every = 0.05
    names = ("plain", "expired", "minority_three_lines")
    # fresh bytes (a trailing byte) so no result kept from another test answers at once
    uploads = [(CARDS / TRUTH["cards"][n]["back"]).read_bytes() + b"\0position" for n in names]
    heard = [Heard() for _ in names]
    try:
        readings = await asyncio.gather(
            *(verifier.read_card_side(u, TODAY, progress=h) for u, h in zip(uploads, heard, strict=True))
        )
    finally:
        await verifier.close()
    assert all(r.side == "back" for r in readings)
    for h in heard:
        assert h.reports[-1] == Progress(started=True), h.reports
        places = [p.ahead for p in h.reports if not p.started]
        assert places == sorted(places, reverse=True), h.reports  # only ever moving up
    # one worker, three jobs submitted together: some job waited behind another one
    assert max(p.ahead for h in heard for p in h.reports) >= 1, [h.reports for h in heard]
