"""Decode an untrusted video with OpenCV (FFmpeg backend) and sample it at a bounded rate."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from .config import FaceConfig, FaceReason
from .detect import scale_to_short_side

__all__ = ["Frame", "VideoInfo", "VideoRejected", "sample_frames"]

U8 = npt.NDArray[np.uint8]


class VideoRejected(Exception):
    def __init__(self, code: FaceReason, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else str(code))
        self.code = code
        self.detail = detail

    def __reduce__(self) -> tuple[type[VideoRejected], tuple[FaceReason, str]]:
        return (type(self), (self.code, self.detail))


@dataclass(frozen=True)
class Frame:
    index: int  # index in the source
    t: float  # seconds from the start
    bgr: U8  # scaled to the work size


@dataclass
class VideoInfo:
    width: int = 0
    height: int = 0
    fps: float = 0.0
    frames_read: int = 0  # decoded or skipped by the demuxer
    frames_sampled: int = 0
    duration: float = 0.0


def _fps(cap: cv2.VideoCapture) -> float:
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    # Some WebM / GIF headers report nonsense (0, 1000); fall back to a phone's usual rate.
    return fps if 1.0 <= fps <= 240.0 and math.isfinite(fps) else 30.0


def sample_frames(data: bytes, config: FaceConfig, info: VideoInfo) -> Iterator[Frame]:
    """Yield frames at most ``config.sample_fps`` per second, scaled to the work size.

    Raises :class:`VideoRejected` (too large, too many pixels, too long, undecodable) — possibly after
    some frames were yielded, since the true length of a stream is only known by reading it.
    ``info`` is filled in as the stream is read.
    """
    if not data:
        raise VideoRejected(FaceReason.VIDEO_EMPTY)
    if len(data) > config.max_video_bytes:
        raise VideoRejected(FaceReason.VIDEO_TOO_LARGE, f"{len(data)} bytes")
    # OpenCV's FFmpeg backend reads from a path; the file lives only while we decode.
    with tempfile.TemporaryDirectory(prefix="face-") as tmp:
        path = os.path.join(tmp, "video")
        with open(path, "wb") as fh:
            fh.write(data)
        cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
        try:
            if not cap.isOpened():
                raise VideoRejected(FaceReason.VIDEO_UNDECODABLE, "not a video OpenCV can open")
            info.width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
            info.height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
            if info.width * info.height > config.max_video_pixels:
                raise VideoRejected(FaceReason.VIDEO_TOO_MANY_PIXELS, f"{info.width}x{info.height}")
            info.fps = fps = _fps(cap)
            declared = float(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0) / fps
            if math.isfinite(declared) and declared > config.max_video_seconds + 0.5:
                raise VideoRejected(FaceReason.VIDEO_TOO_LONG, f"{declared:.1f} s")
            max_frames = int((config.max_video_seconds + 0.5) * fps) + 1
            next_t = 0.0
            step = 1.0 / config.sample_fps
            index = -1
            while True:
                if not cap.grab():
                    break
                index += 1
                info.frames_read = index + 1
                if index >= max_frames:
                    raise VideoRejected(FaceReason.VIDEO_TOO_LONG, f"> {config.max_video_seconds} s")
                t = index / fps
                info.duration = t + 1.0 / fps
                if t + 1e-6 < next_t:
                    continue
                next_t += step * max(1, math.floor((t - next_t) / step) + 1)
                ok, img = cap.retrieve()
                if not ok or img is None or img.ndim != 3:
                    continue
                if img.shape[0] * img.shape[1] > config.max_video_pixels:
                    raise VideoRejected(FaceReason.VIDEO_TOO_MANY_PIXELS, f"{img.shape[1]}x{img.shape[0]}")
                work, _ = scale_to_short_side(np.asarray(img, dtype=np.uint8), config.work_short_side)
                info.frames_sampled += 1
                yield Frame(index=index, t=t, bgr=work)
        finally:
            cap.release()
    if info.frames_sampled == 0:
        raise VideoRejected(FaceReason.VIDEO_UNDECODABLE, "no frame could be decoded")
