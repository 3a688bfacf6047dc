"""The engines as the dialogs call them: async, off the event loop, with the settings applied."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, TypeVar

from bot.verification.face import (
    Action,
    FaceConfig,
    FaceEncodingResult,
    FaceVerdict,
    encode_face_image,
    verify_selfie_video,
)
from bot.verification.idcard import SideReading, read_side

if TYPE_CHECKING:
    from bot.verification.pool import VerificationPool

T = TypeVar("T")


class VerificationUnavailable(Exception):
    """The pool timed out or a worker died: the user is asked to try again, nothing is decided."""


class Verifier:
    def __init__(self, pool: VerificationPool, face_config: FaceConfig) -> None:
        self.pool = pool
        self.face_config = face_config

    @property
    def waiting(self) -> int:
        """Jobs ahead of a new one: what the user is told as their queue position."""
        return max(0, self.pool.queue_depth)

    async def _run(self, fn: functools.partial[T]) -> T:
        try:
            return await self.pool.run(fn)
        except Exception as exc:  # the pool's timeout / crash types, and anything a worker raised
            raise VerificationUnavailable(type(exc).__name__) from exc

    async def read_card_side(self, data: bytes, today: date) -> SideReading:
        return await self._run(functools.partial(read_side, data, today=today))

    async def encode_face(self, image: bytes) -> FaceEncodingResult:
        return await self._run(functools.partial(encode_face_image, image, self.face_config))

    async def verify_video(
        self,
        video: bytes,
        challenge: Sequence[Action],
        references: Sequence[Sequence[float]],
        *,
        seen_before: bool,
    ) -> FaceVerdict:
        return await self._run(
            functools.partial(
                verify_selfie_video,
                video,
                list(challenge),
                [tuple(r) for r in references],
                self.face_config,
                seen_before=seen_before,
            )
        )
