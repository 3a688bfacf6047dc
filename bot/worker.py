"""`python -m bot.worker`: a verification worker of the multi-machine deployment (issue 10).

It takes OCR and face jobs from the arq queue in Redis (``REDIS_URL``, ``VERIFICATION_QUEUE_NAME``)
and runs the same engine functions as the bot's embedded pool. Run one process per core you give it:
each runs one job at a time (the engines are CPU-bound; a second concurrent job would only halve
the speed of both), and loads the models once, at start.

Needs the bot's ``ENCRYPTION_KEY`` (jobs and results are sealed with it); no bot token, no database.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from arq.worker import Function, Worker, func

from bot.config import Settings, SettingsError, config_error_text
from bot.runtime import tune_gc
from bot.services import jobqueue
from bot.services.jobqueue import JobInput
from bot.storage.crypto import FieldCipher
from bot.verification.card_reading import read_side_and_portrait
from bot.verification.face import FaceEncodingResult, FaceVerdict, encode_face_image, verify_selfie_video
from bot.verification.idcard import SideReading, read_side

log = logging.getLogger("bot.worker")


# The engines run in a thread: the worker's event loop must stay free to enforce the job timeout and
# keep its health check; one job at a time (max_jobs=1) keeps that thread the only busy one.
async def read_card_side(ctx: dict[str, Any], job: JobInput) -> SideReading:
    # (today, face config): the portrait encoded in the same job; (today,) from a bot of before that.
    today, *rest = job.params
    if not rest:
        return await asyncio.to_thread(read_side, job.payload, today=today)
    return await asyncio.to_thread(read_side_and_portrait, job.payload, today=today, face_config=rest[0])


async def encode_face(ctx: dict[str, Any], job: JobInput) -> FaceEncodingResult:
    (config,) = job.params
    return await asyncio.to_thread(encode_face_image, job.payload, config)


async def verify_video(ctx: dict[str, Any], job: JobInput) -> FaceVerdict:
    challenge, references, config, seen_before = job.params
    return await asyncio.to_thread(
        verify_selfie_video, job.payload, challenge, references, config, seen_before=seen_before
    )


async def warm_up(ctx: dict[str, Any]) -> None:
    """Load the OCR and face models once per worker process, before the first job is taken."""
    from bot.verification.face import warmup as warm_face
    from bot.verification.idcard import warm_up as warm_ocr

    await asyncio.to_thread(warm_ocr)
    await asyncio.to_thread(warm_face)
    tune_gc()  # the engines' models are loaded: freeze them (bot/runtime.py)
    log.info("verification worker ready")


def create_worker(settings: Settings, *, burst: bool = False) -> Worker:
    if settings.redis_url is None:
        raise SystemExit("REDIS_URL is required for a verification worker")
    if settings.encryption_key is None:
        # Only with SANDBOX=1: outside the sandbox the settings refuse to load without a key.
        log.warning("no ENCRYPTION_KEY: using the sandbox development key (only a sandbox bot can use me)")
    masters, current, index_master = settings.encryption_keys()
    cipher = FieldCipher.from_masters(masters, current=current, index_master=index_master)
    serialize, deserialize = jobqueue.job_codec(cipher)
    functions: list[Function] = [
        func(read_card_side, name=jobqueue.READ_CARD_SIDE),
        func(encode_face, name=jobqueue.ENCODE_FACE),
        func(verify_video, name=jobqueue.VERIFY_VIDEO),
    ]
    return Worker(
        functions=functions,
        redis_settings=jobqueue.redis_settings(settings.redis_url.get_secret_value()),
        queue_name=settings.verification_queue_name,
        on_startup=warm_up,
        max_jobs=1,
        job_timeout=settings.verification_timeout,
        max_tries=settings.verification_job_tries,
        # Long enough for the bot (and a replica receiving a redelivered update) to collect it;
        # the result holds personal data, sealed, and should not linger.
        keep_result=settings.verification_queue_wait,
        poll_delay=0.1,
        # A result's repr holds the recognised ID fields: never logged.
        log_results=False,
        job_serializer=serialize,
        job_deserializer=deserialize,
        burst=burst,
        # The bot, not the worker, owns the job's life: a worker stopping by SIGTERM lets its job
        # finish (up to the timeout) rather than leaving the user to wait for a retry.
        job_completion_wait=int(settings.verification_timeout),
    )


def main() -> None:
    try:
        settings = Settings()
    except (SettingsError, ValueError) as exc:
        print(f"configuration error: {config_error_text(exc)}", file=sys.stderr)
        raise SystemExit(2) from None
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    create_worker(settings).run()


if __name__ == "__main__":
    main()
