"""The verifier of a multi-machine deployment: the same interface as :class:`Verifier`, but the
engines run in `python -m bot.worker` processes (any machine) fed by an arq queue in Redis.

* Position: ``waiting`` is the queue's length (queued and running jobs of every replica), refreshed
  in the background because the dialogs read it synchronously.
* Never twice: job ids are content hashes (:func:`bot.services.jobqueue.job_id`), so a second
  submission of the same upload waits for the first job's result.
* Never lost: a worker that dies mid-job leaves the job in the queue; arq runs it again on another
  worker once the dead one's in-progress mark expires (job timeout + 10 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import date
from typing import Any

from arq.connections import ArqRedis, create_pool
from arq.constants import result_key_prefix
from arq.jobs import Job

from bot.config import Settings
from bot.services import jobqueue
from bot.services.verifier import VerificationUnavailable
from bot.storage.crypto import FieldCipher
from bot.verification.face import Action, FaceConfig, FaceEncodingResult, FaceVerdict
from bot.verification.idcard import SideReading

log = logging.getLogger(__name__)


class QueuedVerifier:
    def __init__(
        self,
        redis: ArqRedis,
        cipher: FieldCipher,
        face_config: FaceConfig,
        *,
        queue_name: str,
        wait: float,
        max_bytes: int,
        poll_delay: float = 0.1,
        refresh_every: float = 1.0,
    ) -> None:
        self.redis = redis
        self.face_config = face_config
        self.queue_name = queue_name
        self.wait = wait
        self.max_bytes = max_bytes
        self.poll_delay = poll_delay
        self._refresh_every = refresh_every
        self._serialize, self._deserialize = jobqueue.job_codec(cipher)
        self._queued = 0
        self._refresher: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, settings: Settings, cipher: FieldCipher) -> QueuedVerifier:
        assert settings.redis_url is not None
        serialize, deserialize = jobqueue.job_codec(cipher)
        redis = await create_pool(
            jobqueue.redis_settings(settings.redis_url.get_secret_value()),
            job_serializer=serialize,
            job_deserializer=deserialize,
            default_queue_name=settings.verification_queue_name,
        )
        verifier = cls(
            redis,
            cipher,
            FaceConfig(
                match_threshold=settings.face_match_threshold,
                review_margin=settings.face_review_margin,
                max_video_seconds=settings.max_selfie_seconds,
            ),
            queue_name=settings.verification_queue_name,
            wait=settings.verification_queue_wait,
            max_bytes=settings.verification_job_max_bytes,
        )
        await verifier.start()
        return verifier

    # --- life cycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.refresh_waiting()
        if self._refresher is None:
            self._refresher = asyncio.get_running_loop().create_task(self._refresh_loop())

    async def close(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None
        await self.redis.aclose()

    # --- position ----------------------------------------------------------------------------------
    @property
    def waiting(self) -> int:
        """Jobs ahead of a new one (every replica's), as of the last refresh."""
        return self._queued

    async def refresh_waiting(self) -> int:
        self._queued = int(await self.redis.zcard(self.queue_name))
        return self._queued

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_every)
            try:
                await self.refresh_waiting()
            except Exception:  # Redis briefly away: the position is only advice, keep the last one
                log.warning("could not read the verification queue length", exc_info=True)

    # --- jobs --------------------------------------------------------------------------------------
    async def _run(self, function: str, payload: bytes, params: tuple[Any, ...]) -> Any:
        if len(payload) > self.max_bytes:
            raise VerificationUnavailable("job_too_large")
        job_id = jobqueue.job_id(function, payload, params)
        try:
            job = await self.redis.enqueue_job(
                function,
                jobqueue.JobInput(payload, params),
                _job_id=job_id,
                _queue_name=self.queue_name,
                # Not started by the time the user has been told to retry: not worth running.
                _expires=self.wait,
            )
            if job is None:  # the same upload is already queued, running or done: share its result
                job = Job(job_id, self.redis, _queue_name=self.queue_name, _deserializer=self._deserialize)
            with contextlib.suppress(Exception):
                await self.refresh_waiting()
            return await job.result(timeout=self.wait, poll_delay=self.poll_delay)
        except TimeoutError as exc:
            raise VerificationUnavailable("queue_timeout") from exc
        except Exception as exc:  # a worker's exception (re-raised by arq), Redis errors, bad seals
            # A failure kept as the job's result would be handed straight back to the user's retry
            # of the same upload (same job id); forget it so the retry runs the job again.
            with contextlib.suppress(Exception):
                await self.redis.delete(result_key_prefix + job_id)
            raise VerificationUnavailable(type(exc).__name__) from exc

    async def read_card_side(self, data: bytes, today: date) -> SideReading:
        result: SideReading = await self._run(jobqueue.READ_CARD_SIDE, data, (today,))
        return result

    async def encode_face(self, image: bytes) -> FaceEncodingResult:
        result: FaceEncodingResult = await self._run(jobqueue.ENCODE_FACE, image, (self.face_config,))
        return result

    async def verify_video(
        self,
        video: bytes,
        challenge: Sequence[Action],
        references: Sequence[Sequence[float]],
        *,
        seen_before: bool,
    ) -> FaceVerdict:
        params = (list(challenge), [tuple(r) for r in references], self.face_config, seen_before)
        result: FaceVerdict = await self._run(jobqueue.VERIFY_VIDEO, video, params)
        return result
