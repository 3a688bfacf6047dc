"""What Telegram would tell about an uploaded photo or video: sizes, a thumbnail, duration.

These are blocking (Pillow, OpenCV) and are called through ``asyncio.to_thread`` so that one big
upload does not stall a thousand simulated users.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import warnings
from dataclasses import dataclass

THUMBNAIL_SIDE = 320
SMALL_THUMBNAIL_SIDE = 90


@dataclass(frozen=True, slots=True)
class ImageInfo:
    width: int
    height: int
    format: str | None


@dataclass(frozen=True, slots=True)
class Thumbnail:
    data: bytes
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class VideoInfo:
    width: int = 0
    height: int = 0
    duration: int = 0


def probe_image(data: bytes) -> ImageInfo | None:
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as img:
                img.verify()
            with Image.open(io.BytesIO(data)) as img:
                return ImageInfo(width=img.width, height=img.height, format=img.format)
    except Exception:  # any decoder failure means "not an image" here
        return None


def make_thumbnail(data: bytes) -> Thumbnail | None:
    """A JPEG no larger than 320 px (90 px for images already that small), or None if not an image."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as img:
                side = THUMBNAIL_SIDE if max(img.size) > THUMBNAIL_SIDE else SMALL_THUMBNAIL_SIDE
                img.draft("RGB", (side, side))
                thumb = img.convert("RGB")
                thumb.thumbnail((side, side))
                buf = io.BytesIO()
                thumb.save(buf, format="JPEG", quality=80)
                return Thumbnail(data=buf.getvalue(), width=thumb.width, height=thumb.height)
    except Exception:  # any decoder failure means "not an image" here
        return None


def recompress(data: bytes, side: int, quality: int) -> Thumbnail | None:
    """What Telegram makes of a photo: upright (EXIF), RGB, at most ``side`` px, JPEG; None if it
    is not an image."""
    from PIL import Image, ImageOps

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as img:
                img.draft("RGB", (side, side))
                picture = ImageOps.exif_transpose(img).convert("RGB")
        picture.thumbnail((side, side), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        picture.save(buf, format="JPEG", quality=quality)
        return Thumbnail(data=buf.getvalue(), width=picture.width, height=picture.height)
    except Exception:  # any decoder failure means "not an image" here
        return None


def probe_video(data: bytes, suffix: str = ".mp4") -> VideoInfo:
    """Width, height and whole-second duration read with OpenCV; zeros when it cannot tell."""
    try:
        import cv2
    except ImportError:  # OpenCV is optional for the sandbox itself
        return VideoInfo()
    fd, path = tempfile.mkstemp(suffix=suffix or ".mp4")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        cap = cv2.VideoCapture(path)
        try:
            if not cap.isOpened():
                return VideoInfo()
            width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
            height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
            fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
            frames = float(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0)
            duration = round(frames / fps) if fps > 0 and frames > 0 else 0
            return VideoInfo(width=max(width, 0), height=max(height, 0), duration=max(duration, 0))
        finally:
            cap.release()
    except Exception:  # a corrupt upload is still stored, just without metadata
        return VideoInfo()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def telegram_video_note(
    data: bytes, suffix: str = ".mp4", *, max_side: int = 640, max_seconds: float = 60.0
) -> tuple[bytes, VideoInfo] | None:
    """What a Telegram client makes of a recorded round video: the centre square, at most ``max_side``
    px, at most ``max_seconds`` long, MPEG-4 at the source's frame rate. None when OpenCV cannot read
    it (the caller keeps the bytes as sent: tests upload junk on purpose)."""
    try:
        import cv2
    except ImportError:
        return None
    with tempfile.TemporaryDirectory(prefix="sandbox-vn-") as tmp:
        source = os.path.join(tmp, "in" + (suffix or ".mp4"))
        target = os.path.join(tmp, "out.mp4")
        with open(source, "wb") as fh:
            fh.write(data)
        cap = cv2.VideoCapture(source)
        writer = None
        try:
            if not cap.isOpened():
                return None
            fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
            if not 0 < fps <= 240:
                fps = 30.0
            limit = int(max_seconds * fps)
            frames = 0
            side = 0
            while frames < limit:
                ok, frame = cap.read()
                if not ok or frame is None:
                    break
                h, w = frame.shape[:2]
                s = min(h, w)
                y, x = (h - s) // 2, (w - s) // 2
                square = frame[y : y + s, x : x + s]
                if writer is None:
                    side = min(s, max_side)
                    writer = cv2.VideoWriter(target, cv2.VideoWriter.fourcc(*"mp4v"), fps, (side, side))
                    if not writer.isOpened():
                        return None
                if s != side:
                    square = cv2.resize(square, (side, side), interpolation=cv2.INTER_AREA)
                writer.write(square)
                frames += 1
        except Exception:  # a corrupt upload: kept as sent
            return None
        finally:
            cap.release()
            if writer is not None:
                writer.release()
        if writer is None or frames == 0:
            return None
        with open(target, "rb") as fh:
            out = fh.read()
    return out, VideoInfo(width=side, height=side, duration=round(frames / fps))
