"""One engine job per card photo: the side read and, for a front, its portrait encoded.

The portrait's encoding is the face check's reference; made here, in the job that cropped the
portrait, instead of a second job (a second trip through the pool, or through Redis to a worker).
"""

from __future__ import annotations

import time
from datetime import date

from bot.verification.face import FaceConfig, encode_face_image
from bot.verification.idcard import SideReading, read_side

__all__ = ["read_side_and_portrait"]


def read_side_and_portrait(data: bytes, *, today: date, face_config: FaceConfig) -> SideReading:
    reading = read_side(data, today=today)
    if reading.portrait_jpeg is not None:
        t = time.perf_counter()
        reading.portrait_face = encode_face_image(reading.portrait_jpeg, face_config)
        reading.timings["portrait_face"] = time.perf_counter() - t
        if "total" in reading.timings:
            reading.timings["total"] += reading.timings["portrait_face"]
    return reading
