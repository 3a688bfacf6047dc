"""Altered copies of a video, as a replay attacker would make them (issue 16, item 3).

Each variant decodes every frame, changes it and writes a new MPEG-4 file (a re-encode, so the bytes
and the codec differ from the original's whatever the change): mirrored, cropped, rotated a few
degrees, brightened and contrasted, or just re-encoded at another size.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt

from tools.facegen.make import write_video

U8 = npt.NDArray[np.uint8]

__all__ = ["VARIANTS", "altered_copy"]


def _mirror(f: U8) -> U8:
    return np.ascontiguousarray(f[:, ::-1])


def _crop(f: U8) -> U8:
    """12 % off the left and top, 6 % off the right and bottom (off-centre, like a hand crop)."""
    h, w = f.shape[:2]
    return np.ascontiguousarray(f[int(0.12 * h) : h - int(0.06 * h), int(0.12 * w) : w - int(0.06 * w)])


def _rotate(f: U8, degrees: float = 3.0) -> U8:
    h, w = f.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return np.asarray(cv2.warpAffine(f, m, (w, h), borderMode=cv2.BORDER_REFLECT), np.uint8)


def _bright(f: U8) -> U8:
    """Contrast x 1.25 and brightness + 20 (clipped, as an editor does)."""
    return np.asarray(np.clip(f.astype(np.float32) * 1.25 + 20.0, 0, 255), np.uint8)


def _bright_rotate(f: U8) -> U8:
    return _rotate(_bright(f), -3.0)


def _reencode(f: U8) -> U8:
    h, w = f.shape[:2]
    return np.asarray(cv2.resize(f, (w * 3 // 4, h * 3 // 4), interpolation=cv2.INTER_AREA), np.uint8)


def _everything(f: U8) -> U8:
    return _reencode(_crop(_rotate(_bright(_mirror(f)), 2.0)))


VARIANTS: dict[str, Callable[[U8], U8]] = {
    "reencode": _reencode,
    "mirror": _mirror,
    "crop": _crop,
    "rotate3": _rotate,
    "bright_contrast": _bright,
    "bright_rotate3": _bright_rotate,
    "all_at_once": _everything,
}


def altered_copy(data: bytes, variant: str) -> bytes:
    """Every frame of ``data`` through ``VARIANTS[variant]``, written as a new MPEG-4 file."""
    change = VARIANTS[variant]
    with tempfile.TemporaryDirectory(prefix="facegen-") as tmp:
        path = os.path.join(tmp, "in")
        with open(path, "wb") as fh:
            fh.write(data)
        cap = cv2.VideoCapture(path)
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 30.0)
        fps = fps if 1.0 <= fps <= 120.0 else 30.0
        frames: list[U8] = []
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(change(np.asarray(frame, dtype=np.uint8)))
        cap.release()
    if not frames:
        raise ValueError("no frame decoded")
    return write_video(frames, fps)
