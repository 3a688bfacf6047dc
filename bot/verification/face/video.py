"""Decode an untrusted video with OpenCV (FFmpeg backend) and sample it at a bounded rate."""

from __future__ import annotations

import math
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import cv2
import numpy as np
import numpy.typing as npt

from .config import FaceConfig, FaceReason
from .detect import scale_to_short_side

__all__ = ["Frame", "VideoInfo", "VideoRejected", "check_timing", "is_cut", "prefetch", "sample_frames"]

U8 = npt.NDArray[np.uint8]
T = TypeVar("T")


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
    fps: float = 0.0  # the frame rate the container declares (informative only)
    frames_read: int = 0  # decoded or skipped by the demuxer
    frames_sampled: int = 0
    duration: float = 0.0  # by the frames' own presentation timestamps
    declared_frames: int = 0  # what the container says (0: it does not say)
    frame_rate: float = 0.0  # frames per second of timestamps, as decoded


def _fps(cap: cv2.VideoCapture) -> float:
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    # Some WebM / GIF headers report nonsense (0, 1000); fall back to a phone's usual rate.
    return fps if 1.0 <= fps <= 240.0 and math.isfinite(fps) else 30.0


def _cut_features(bgr: U8) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    small = cv2.resize(bgr, (64, 64), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    # hue and saturation only: a change of brightness (a lamp switched on) is no cut
    hist = cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256])
    cv2.normalize(hist, hist)
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    thumb = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    return np.asarray(hist, np.float32), np.asarray(thumb, np.float32)


def is_cut(
    a: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]],
    b: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]],
    config: FaceConfig,
) -> bool:
    """Two consecutive samples of different scenes: colours and layout both changed at once. A head
    turn, a hand, a sheet of paper over the face change one of them, rarely both this much."""
    hist = float(cv2.compareHist(a[0], b[0], cv2.HISTCMP_BHATTACHARYYA))
    thumb = float(np.abs(a[1] - b[1]).mean())
    return hist >= config.cut_histogram_distance and thumb >= config.cut_thumb_difference


def _frames_per_second_limit(config: FaceConfig) -> int:
    # a stretch of a variable-rate clip may run faster than its average: half again as many
    return int(config.max_frame_rate * 1.5) + 1


def check_timing(
    times: Sequence[float], declared_frames: int, declared_fps: float, config: FaceConfig
) -> str | None:
    """Why the frames' presentation timestamps cannot be trusted, or None.

    ``times``: every decoded frame's timestamp (seconds). A camera's timestamps only go forward, at
    most ``max_frame_rate`` per second; the container's frame count and length (count / declared
    rate) must agree with them. A clip retimed to look short (its clock sped up without
    re-encoding) shows hundreds of frames per second; one whose headers were edited disagrees with
    its own frames.
    """
    if len(times) < 2:
        return None
    steps = np.diff(np.asarray(times, dtype=np.float64))
    if (steps <= 0).any():
        return "timestamps do not increase"
    span = times[-1] - times[0]
    rate = (len(times) - 1) / span
    if rate > config.max_frame_rate:
        return f"{rate:.0f} frames per second of timestamps"
    # any one second holding far more frames than a camera gives (a squeezed stretch)
    window = _frames_per_second_limit(config)
    if len(times) > window:
        t = np.asarray(times, dtype=np.float64)
        if float((t[window:] - t[:-window]).min()) < 1.0:
            return f"more than {window} frames within one second"
    length = span + float(np.median(steps))
    if declared_frames > 0:
        frames_slack = max(2.0, config.timing_tolerance_share * len(times))
        if abs(declared_frames - len(times)) > frames_slack:
            return f"{len(times)} frames decoded, {declared_frames} declared"
        # The declared rate is a guess for a variable-rate phone clip (30 declared, 20 recorded in a
        # dim room), so the length it implies only has to agree within a factor.
        declared_length = declared_frames / declared_fps
        ratio = declared_length / max(length, 1e-6)
        if not 1.0 / config.timing_length_factor <= ratio <= config.timing_length_factor:
            return f"{length:.1f} s of timestamps, {declared_length:.1f} s declared"
    return None


def sample_frames(data: bytes, config: FaceConfig, info: VideoInfo) -> Iterator[Frame]:
    """Yield frames at most ``config.sample_fps`` per second, scaled to the work size.

    Each frame's time is its presentation timestamp as decoded (from the clip's first frame), never
    ``index / declared rate``: the length limit holds for the real recording, whatever its headers
    say. Raises :class:`VideoRejected` (too large, too many pixels, too long, timestamps that
    disagree with the frames, a cut between two scenes, undecodable) -- possibly after some frames
    were yielded, since the true length of a stream is only known by reading it. ``info`` is filled
    in as the stream is read.
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
            count = float(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0)
            info.declared_frames = int(count) if math.isfinite(count) and count > 0 else 0
            declared = info.declared_frames / fps
            if declared > config.max_video_seconds + 0.5:
                raise VideoRejected(FaceReason.VIDEO_TOO_LONG, f"{declared:.1f} s declared")
            # The work is bounded by frames as well as by time: timestamps are the sender's to write.
            max_frames = int((config.max_video_seconds + 0.5) * config.max_frame_rate) + 1
            limit = config.max_video_seconds + 0.5
            window = _frames_per_second_limit(config)
            next_t = 0.0
            step = 1.0 / config.sample_fps
            index = -1
            times: list[float] = []
            first: float | None = None
            previous: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]] | None = None
            while True:
                if not cap.grab():
                    break
                index += 1
                info.frames_read = index + 1
                if index >= max_frames:
                    raise VideoRejected(FaceReason.VIDEO_TIMING_INCONSISTENT, f"over {max_frames} frames")
                pts = float(cap.get(cv2.CAP_PROP_POS_MSEC)) / 1000.0
                if not math.isfinite(pts):
                    raise VideoRejected(FaceReason.VIDEO_TIMING_INCONSISTENT, "no timestamp")
                if first is None:
                    first = pts
                t = pts - first
                if times and t <= times[-1]:
                    raise VideoRejected(FaceReason.VIDEO_TIMING_INCONSISTENT, "timestamps do not increase")
                times.append(t)
                # Squeezed timestamps show at once: more frames within a second than a camera gives.
                # (Checked before any frame of that second is analysed: sparse samples of a sped-up
                # clip would otherwise look like cuts.)
                if len(times) > window and t - times[-1 - window] < 1.0:
                    raise VideoRejected(
                        FaceReason.VIDEO_TIMING_INCONSISTENT, f"more than {window} frames within one second"
                    )
                if t > limit:
                    raise VideoRejected(FaceReason.VIDEO_TOO_LONG, f"> {config.max_video_seconds} s")
                info.duration = t + (t / index if index else 1.0 / fps)
                # a frame a little early still takes its slot: timestamps jitter by a few ms (WebM's
                # are whole milliseconds), and a strict cut-off would skip two frames in a row
                if t + 0.25 * step < next_t:
                    continue
                next_t += step * max(1, math.floor((t - next_t) / step) + 1)
                ok, img = cap.retrieve()
                if not ok or img is None or img.ndim != 3:
                    continue
                if img.shape[0] * img.shape[1] > config.max_video_pixels:
                    raise VideoRejected(FaceReason.VIDEO_TOO_MANY_PIXELS, f"{img.shape[1]}x{img.shape[0]}")
                work, _ = scale_to_short_side(np.asarray(img, dtype=np.uint8), config.work_short_side)
                features = _cut_features(work)
                # A phone camera settles its exposure and white balance in the first moments of a
                # recording: a jump then is no join (and a join there would carry no action).
                if (
                    previous is not None
                    and t >= config.cut_grace_seconds
                    and is_cut(previous, features, config)
                ):
                    raise VideoRejected(FaceReason.VIDEO_SPLICED, f"cut at {t:.2f} s")
                previous = features
                info.frames_sampled += 1
                yield Frame(index=index, t=t, bgr=work)
        finally:
            cap.release()
    if info.frames_sampled == 0:
        raise VideoRejected(FaceReason.VIDEO_UNDECODABLE, "no frame could be decoded")
    if len(times) > 1:
        info.frame_rate = (len(times) - 1) / (times[-1] - times[0])
        info.duration = times[-1] + (times[-1] - times[0]) / (len(times) - 1)
    problem = check_timing(times, info.declared_frames, fps, config)
    if problem is not None:
        raise VideoRejected(FaceReason.VIDEO_TIMING_INCONSISTENT, problem)


_END = object()


def prefetch(frames: Iterator[Frame], work: Callable[[Frame], T], depth: int = 8) -> Generator[T, None, None]:
    """``work(frame)`` of each of ``frames``, computed in a thread of its own up to ``depth`` frames
    ahead of the caller, in order; an exception of either (a :class:`VideoRejected` after some frames)
    reaches the caller where it would have without the thread, after the frames before it. ``work``
    runs in that one thread in the frames' order, so it may carry state from one frame to the next.

    Decoding and ``work`` (the engine's face detection) then run beside the caller's landmarks:
    OpenCV releases the GIL while it decodes, resizes and runs a network. The work is the same, so a
    pool whose workers already fill every core gains little, while one decision on a machine with a
    core to spare finishes sooner (bench/RESULTS-face.md has both). Memory: ``depth`` frames more.
    """
    out: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for frame in frames:
                if not put(work(frame)):
                    return
        except BaseException as exc:  # handed to the caller, raised there
            put(_Raised(exc))
            return
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()  # the generator's own cleanup (the decoder, its temporary file) in this thread
        put(_END)

    thread = threading.Thread(target=run, name="face-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = out.get()
            if item is _END:
                break
            if isinstance(item, _Raised):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()


@dataclass(frozen=True)
class _Raised:
    exc: BaseException
