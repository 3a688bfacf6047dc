"""The verifier of a multi-machine deployment: the same interface as :class:`Verifier`, but the
engines run in `python -m bot.worker` processes (any machine) fed by an arq queue in Redis.

* Position: ``waiting`` is the number of jobs in the queue that no worker holds yet (every
  replica's), refreshed in the background because the dialogs read it synchronously: the first
  estimate of a new job's place. A caller that
  passes ``progress`` then hears its own job's place, polled from Redis while it waits: the queued
  jobs (of every replica) ahead of it, not counting those a worker is running, then "started" once a
  worker holds it (again "queued" if that worker dies and the job goes back in line).
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
from arq.constants import in_progress_key_prefix, result_key_prefix
from arq.jobs import Job

from bot.config import Settings
from bot.services import jobqueue
from bot.services.verifier import Progress, ProgressReporter, VerificationUnavailable
from bot.storage.crypto import FieldCipher
from bot.verification.face import Action, FaceConfig, FaceEncodingResult, FaceVerdict
from bot.verification.idcard import SideReading

log = logging.getLogger(__name__)

# One round trip, one consistent view: the job's rank in the queue (workers take jobs in this order:
# by score, then id), minus the jobs ahead that a worker already holds. Those are found among the
# first ARGV[3] jobs ahead only: workers take the oldest jobs, so running ones sit at the front.
# -2: not in the queue (not yet enqueued, finished or expired); -1: a worker holds it.
_POSITION_LUA = """
local rank = redis.call('ZRANK', KEYS[1], ARGV[1])
if not rank then return -2 end
if redis.call('EXISTS', ARGV[2] .. ARGV[1]) == 1 then return -1 end
if rank == 0 then return 0 end
local ahead = redis.call('ZRANGE', KEYS[1], 0, math.min(rank, tonumber(ARGV[3])) - 1)
local running = 0
for _, id in ipairs(ahead) do
  if redis.call('EXISTS', ARGV[2] .. id) == 1 then running = running + 1 end
end
return rank - running
"""
# The same count for the whole queue: its length minus the jobs workers hold.
_WAITING_LUA = """
local front = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
local running = 0
for _, id in ipairs(front) do
  if redis.call('EXISTS', ARGV[1] .. id) == 1 then running = running + 1 end
end
return redis.call('ZCARD', KEYS[1]) - running
"""


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
        position_every: float = 0.5,
        running_scan: int = 256,
    ) -> None:
        self.redis = redis
        self.face_config = face_config
        self.queue_name = queue_name
        self.wait = wait
        self.max_bytes = max_bytes
        self.poll_delay = poll_delay
        self._refresh_every = refresh_every
        self.position_every = position_every
        self._running_scan = running_scan
        self._position_script = redis.register_script(_POSITION_LUA)
        self._waiting_script = redis.register_script(_WAITING_LUA)
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
        """Jobs a new one would wait behind (every replica's, not yet taken), as of the last refresh."""
        return self._queued

    async def refresh_waiting(self) -> int:
        self._queued = int(
            await self._waiting_script(
                keys=[self.queue_name], args=[in_progress_key_prefix, self._running_scan]
            )
        )
        return self._queued

    async def position(self, job_id: str) -> Progress | None:
        """Where a job stands now; None when it is not in the queue (done, expired, not yet there)."""
        rank = int(
            await self._position_script(
                keys=[self.queue_name], args=[job_id, in_progress_key_prefix, self._running_scan]
            )
        )
        if rank == -2:
            return None
        return Progress(started=True) if rank == -1 else Progress(ahead=rank)

    async def _follow(self, job_id: str, progress: ProgressReporter) -> None:
        """Report the job's place each time it changes, until cancelled (the result is in)."""
        last: Progress | None = None
        while True:
            try:
                now = await self.position(job_id)
            except Exception:  # Redis briefly away: keep the last place shown
                log.debug("could not read a job's place in the queue", exc_info=True)
                now = None
            if now is not None and now != last:
                last = now
                try:
                    await progress(now)
                except Exception:  # advice to the user; never the job's failure
                    log.warning("a progress reporter failed", exc_info=True)
            await asyncio.sleep(self.position_every)

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_every)
            try:
                await self.refresh_waiting()
            except Exception:  # Redis briefly away: the position is only advice, keep the last one
                log.warning("could not read the verification queue length", exc_info=True)

    # --- jobs --------------------------------------------------------------------------------------
    async def _run(
        self,
        function: str,
        payload: bytes,
        params: tuple[Any, ...],
        progress: ProgressReporter | None,
        *,
        same_job: tuple[Any, ...] | None = None,
    ) -> Any:
        """``same_job``: the parameters that make two calls the same job, when not all of ``params``
        (settings every replica shares need not be hashed)."""
        if len(payload) > self.max_bytes:
            raise VerificationUnavailable("job_too_large")
        job_id = jobqueue.job_id(function, payload, params if same_job is None else same_job)
        follower: asyncio.Task[None] | None = None
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
            if progress is not None:
                follower = asyncio.get_running_loop().create_task(self._follow(job_id, progress))
            return await job.result(timeout=self.wait, poll_delay=self.poll_delay)
        except TimeoutError as exc:
            raise VerificationUnavailable("queue_timeout") from exc
        except Exception as exc:  # a worker's exception (re-raised by arq), Redis errors, bad seals
            # A failure kept as the job's result would be handed straight back to the user's retry
            # of the same upload (same job id); forget it so the retry runs the job again.
            with contextlib.suppress(Exception):
                await self.redis.delete(result_key_prefix + job_id)
            raise VerificationUnavailable(type(exc).__name__) from exc
        finally:
            if follower is not None:
                # Not awaited: a report in flight is the dialog's to finish or drop (it stops its
                # message's updates before it shows the result).
                follower.cancel()

    async def read_card_side(
        self, data: bytes, today: date, *, progress: ProgressReporter | None = None
    ) -> SideReading:
        # The face settings go along: the worker encodes a front's portrait in the same job. The
        # upload and the day make the job (the settings are the deployment's, on every replica).
        params = (today, self.face_config)
        result: SideReading = await self._run(
            jobqueue.READ_CARD_SIDE, data, params, progress, same_job=(today,)
        )
        return result

    async def encode_face(
        self, image: bytes, *, progress: ProgressReporter | None = None
    ) -> FaceEncodingResult:
        result: FaceEncodingResult = await self._run(
            jobqueue.ENCODE_FACE, image, (self.face_config,), progress
        )
        return result

    async def verify_video(
        self,
        video: bytes,
        challenge: Sequence[Action],
        references: Sequence[Sequence[float]],
        *,
        seen_before: bool,
        progress: ProgressReporter | None = None,
    ) -> FaceVerdict:
        params = (list(challenge), [tuple(r) for r in references], self.face_config, seen_before)
        result: FaceVerdict = await self._run(jobqueue.VERIFY_VIDEO, video, params, progress)
        return result
