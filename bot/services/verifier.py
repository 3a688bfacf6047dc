"""The engines as the dialogs call them: async, off the event loop, with the settings applied.

Every call takes an optional ``progress`` reporter: it hears where the job stands while it waits
(:class:`Progress`), so the dialog can keep the user's "queued, N ahead" message current. The embedded
pool reports its own line; :class:`bot.services.queued_verifier.QueuedVerifier` the job's rank in the
shared Redis queue; a verifier may also report nothing at all, and callers must not depend on it.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Protocol, TypeVar

from bot.verification.card_reading import read_side_and_portrait
from bot.verification.face import (
    Action,
    FaceConfig,
    FaceEncodingResult,
    FaceVerdict,
    encode_face_image,
    verify_selfie_video,
)
from bot.verification.idcard import SideReading

if TYPE_CHECKING:
    from bot.verification.pool import VerificationPool

T = TypeVar("T")


class VerificationUnavailable(Exception):
    """The pool timed out or a worker died: the user is asked to try again, nothing is decided."""


@dataclass(frozen=True, slots=True)
class Progress:
    """Where one verification job stands: waiting with ``ahead`` jobs before it, or ``started``."""

    ahead: int = 0
    started: bool = False


ProgressReporter = Callable[[Progress], Awaitable[None]]


def _positions(progress: ProgressReporter | None) -> Callable[[int | None], Awaitable[None]] | None:
    """The pool's plain position numbers (None = running) as :class:`Progress` reports."""
    if progress is None:
        return None

    async def report(ahead: int | None) -> None:
        await progress(Progress(started=True) if ahead is None else Progress(ahead=ahead))

    return report


class Verifier(Protocol):
    """What dialogs need of the engines, wherever they run: :class:`PoolVerifier` in this process's pool,
    :class:`bot.services.queued_verifier.QueuedVerifier` on workers behind Redis, a fake in tests."""

    @property
    def waiting(self) -> int: ...

    async def read_card_side(
        self, data: bytes, today: date, *, progress: ProgressReporter | None = None
    ) -> SideReading:
        """The side read; a front's portrait encoded in the same job (``portrait_face``)."""
        ...

    async def encode_face(
        self, image: bytes, *, progress: ProgressReporter | None = None
    ) -> FaceEncodingResult: ...

    async def verify_video(
        self,
        video: bytes,
        challenge: Sequence[Action],
        references: Sequence[Sequence[float]],
        *,
        seen_before: bool,
        progress: ProgressReporter | None = None,
    ) -> FaceVerdict: ...


class PoolVerifier:
    """The engines in this process's :class:`VerificationPool` (the embedded deployment)."""

    def __init__(self, pool: VerificationPool, face_config: FaceConfig) -> None:
        self.pool = pool
        self.face_config = face_config

    @property
    def waiting(self) -> int:
        """Jobs ahead of a new one: the estimate shown before the job reports its own place."""
        return max(0, self.pool.queue_depth)

    async def _run(self, fn: functools.partial[T], progress: ProgressReporter | None) -> T:
        try:
            return await self.pool.run(fn, progress=_positions(progress))
        except Exception as exc:  # the pool's timeout / crash types, and anything a worker raised
            raise VerificationUnavailable(type(exc).__name__) from exc

    async def read_card_side(
        self, data: bytes, today: date, *, progress: ProgressReporter | None = None
    ) -> SideReading:
        fn = functools.partial(read_side_and_portrait, data, today=today, face_config=self.face_config)
        return await self._run(fn, progress)

    async def encode_face(
        self, image: bytes, *, progress: ProgressReporter | None = None
    ) -> FaceEncodingResult:
        return await self._run(functools.partial(encode_face_image, image, self.face_config), progress)

    async def verify_video(
        self,
        video: bytes,
        challenge: Sequence[Action],
        references: Sequence[Sequence[float]],
        *,
        seen_before: bool,
        progress: ProgressReporter | None = None,
    ) -> FaceVerdict:
        return await self._run(
            functools.partial(
                verify_selfie_video,
                video,
                list(challenge),
                [tuple(r) for r in references],
                self.face_config,
                seen_before=seen_before,
            ),
            progress,
        )
