"""Verification through the arq queue and real `python -m bot.worker` processes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import cv2
import pytest
from arq.constants import in_progress_key_prefix
from arq.jobs import Job
from redis.asyncio import Redis

from bot.services import jobqueue
from bot.services.queued_verifier import QueuedVerifier
from bot.services.verifier import VerificationUnavailable
from bot.verification.face import Action

from .conftest import QUEUE, WorkerProcess, bot_settings, queued_verifier

pytestmark = pytest.mark.slow

CARDS = Path(__file__).resolve().parents[1] / "fixtures" / "idcards"
TRUTH = json.loads((CARDS / "truth.json").read_text(encoding="utf-8"))
TODAY = date.fromisoformat(TRUTH["today"])


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def _no_plaintext_in_redis(redis: Redis, *needles: str) -> None:
    async for key in redis.scan_iter("*"):
        kind = (await redis.type(key)).decode()
        if kind == "string":
            values = [await redis.get(key)]
        elif kind == "zset":
            values = [m for m in await redis.zrange(key, 0, -1)]
        else:
            continue
        for value in values:
            for needle in needles:
                assert needle.encode() not in (value or b""), key


async def test_reads_a_card_through_a_worker(worker: WorkerProcess, redis_url: str, redis: Redis) -> None:
    verifier = await queued_verifier(redis_url)
    try:
        card = TRUTH["cards"]["upside_down_long_term"]
        reading = await verifier.read_card_side((CARDS / card["front"]).read_bytes(), TODAY)
        assert reading.front is not None
        assert reading.front.id_number == card["fields"]["id_number"]
        # the portrait is encoded in the same job (no second trip through Redis for it)
        assert reading.portrait_jpeg is not None and reading.portrait_face is not None
        # the sealed result is still in Redis (kept for a replica's redelivered update): no ID in clear
        await _no_plaintext_in_redis(redis, card["fields"]["id_number"])
        assert await verifier.refresh_waiting() == 0
    finally:
        await verifier.close()
    # the job's arguments and result are never logged by the worker
    assert card["fields"]["id_number"] not in worker.text()


def _frame_jpeg(path: Path, t: float) -> bytes:
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_MSEC, t * 1000)
    ok, frame = cap.read()
    cap.release()
    assert ok
    return bytes(cv2.imencode(".jpg", frame)[1].tobytes())


async def test_decides_a_selfie_through_a_worker(
    worker: WorkerProcess, redis_url: str, testdata: Path
) -> None:
    verifier = await queued_verifier(redis_url)
    try:
        portrait = await verifier.encode_face(
            _frame_jpeg(testdata / "videos" / "live_nod_up_down_varun.webm", 0.3)
        )
        assert portrait.encoding is not None, portrait.reasons
        video = (testdata / "videos" / "live_open_mouth_varun.webm").read_bytes()
        verdict = await verifier.verify_video(
            video, [Action.OPEN_MOUTH, Action.BLINK], [portrait.encoding], seen_before=False
        )
        assert verdict.decision == "pass", verdict.reasons
    finally:
        await verifier.close()


async def test_same_upload_twice_is_one_job(worker: WorkerProcess, redis_url: str, redis: Redis) -> None:
    """Two replicas (two verifiers) receive the same upload twice each (a redelivered update, a double
    tap): one job runs, all four get its result."""
    replicas = [await queued_verifier(redis_url), await queued_verifier(redis_url)]
    data = (CARDS / TRUTH["cards"]["plain"]["back"]).read_bytes()
    try:
        readings = await asyncio.gather(*(v.read_card_side(data, TODAY) for v in replicas for _ in range(2)))
        assert len({repr(r) for r in readings}) == 1
        assert readings[0].back is not None
        job_id = jobqueue.job_id(jobqueue.READ_CARD_SIDE, data, (TODAY,))
        info = await Job(job_id, redis, _deserializer=replicas[0]._deserialize).result_info()
        assert info is not None and info.job_try == 1
        # asked again after it finished: the kept result, no new run
        again = await replicas[1].read_card_side(data, TODAY)
        assert repr(again) == repr(readings[0])
    finally:
        for v in replicas:
            await v.close()
    await asyncio.sleep(0.3)
    assert worker.text().count(f"{job_id}:{jobqueue.READ_CARD_SIDE}") == 2  # "→ started", "● completed"


async def test_worker_killed_mid_job_the_job_completes_elsewhere(
    redis_url: str, redis: Redis, tmp_path: Path
) -> None:
    queue = "test:verification:kill"
    # 5 s job timeout: arq lets another worker take a job 10 s after its worker's in-progress mark lapses
    first = WorkerProcess(redis_url, queue, tmp_path, timeout=5).wait_ready()
    second: WorkerProcess | None = None
    verifier = await queued_verifier(redis_url, queue)
    card = TRUTH["cards"]["plain"]
    data = (CARDS / card["front"]).read_bytes()
    job_id = jobqueue.job_id(jobqueue.READ_CARD_SIDE, data, (TODAY,))
    try:
        pending = asyncio.ensure_future(verifier.read_card_side(data, TODAY))
        for _ in range(1000):
            if await redis.exists(in_progress_key_prefix + job_id):
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the job never started")
        first.kill()  # SIGKILL mid-job: no chance to clean up or report
        assert not pending.done()
        second = WorkerProcess(redis_url, queue, tmp_path, timeout=5).wait_ready()
        reading = await asyncio.wait_for(pending, 60)
        assert reading.front is not None and reading.front.id_number == card["fields"]["id_number"]
        info = await Job(job_id, redis, _deserializer=verifier._deserialize).result_info()
        assert info is not None and info.job_try == 2 and info.success
        assert f"{job_id}:{jobqueue.READ_CARD_SIDE}" in second.text()
    finally:
        await verifier.close()
        first.stop()
        if second is not None:
            second.stop()


async def test_position_is_the_queue_length_and_waiting_is_bounded(redis_url: str) -> None:
    """No worker on this queue: three uploads wait, a fourth user is told "3 ahead"; each caller gives
    up after the configured wait with VerificationUnavailable (the dialog's "try again")."""
    verifier = await queued_verifier(redis_url, "test:verification:idle", wait=1.5)
    try:
        uploads = [
            (CARDS / TRUTH["cards"][name]["back"]).read_bytes()
            for name in ("plain", "expired", "minority_three_lines")
        ]
        tasks = [asyncio.ensure_future(verifier.read_card_side(b + b"x", TODAY)) for b in uploads]
        await asyncio.sleep(0.5)
        assert await verifier.refresh_waiting() == 3
        assert verifier.waiting == 3
        for task in tasks:
            with pytest.raises(VerificationUnavailable):
                await task
        with pytest.raises(VerificationUnavailable):
            await verifier.read_card_side(b"\0" * (verifier.max_bytes + 1), TODAY)
    finally:
        await verifier.close()


async def test_services_choose_the_queue_by_settings(redis_url: str, tmp_path: Path) -> None:
    from bot.services import Services

    settings = bot_settings(redis_url, QUEUE, data_dir=tmp_path)
    services = await Services.build(settings, sandbox_url="http://127.0.0.1:9")
    try:
        assert isinstance(services.verifier, QueuedVerifier)
        assert services.verifier.queue_name == QUEUE
    finally:
        await services.close()
