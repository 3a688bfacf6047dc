"""dlib models (loaded once per process), face detection, 68-point landmarks, 128-d encodings."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import cv2
import dlib
import numpy as np
import numpy.typing as npt

__all__ = [
    "DetectedFace",
    "Models",
    "detect_faces",
    "detect_near",
    "encode",
    "landmarks",
    "load_models",
    "scale_to_short_side",
]

U8 = npt.NDArray[np.uint8]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Models:
    detector: Any  # dlib.fhog_object_detector
    predictor: Any  # dlib.shape_predictor
    encoder: Any  # dlib.face_recognition_model_v1


@functools.cache
def load_models() -> Models:
    """The three dlib models, once per process (the pool's warmup calls this in every worker)."""
    import face_recognition_models as frm  # imported lazily: it prints a deprecation warning on import

    return Models(
        detector=dlib.get_frontal_face_detector(),
        predictor=dlib.shape_predictor(frm.pose_predictor_model_location()),
        encoder=dlib.face_recognition_model_v1(frm.face_recognition_model_location()),
    )


def warmup() -> None:
    """Load the models and run each once, so the first real request does not pay for it."""
    m = load_models()
    img = np.zeros((160, 160, 3), np.uint8)
    m.detector(img[:, :, 0], 0)
    shape = m.predictor(img, dlib.rectangle(40, 40, 120, 120))
    m.encoder.compute_face_descriptor(img, shape, 0)


@dataclass(frozen=True)
class DetectedFace:
    """A face in work-frame pixel coordinates."""

    box: tuple[int, int, int, int]  # left, top, right, bottom
    score: float
    pose_index: int  # which of dlib's five HOG filters fired: 0 frontal, 1/2 turned, 3/4 rotated

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def center(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2.0, (self.box[1] + self.box[3]) / 2.0)

    def rect(self) -> Any:
        return dlib.rectangle(*self.box)


def scale_to_short_side(img: U8, short_side: int, *, upscale: bool = False) -> tuple[U8, float]:
    h, w = img.shape[:2]
    s = short_side / float(min(h, w))
    if s >= 1.0 and not upscale:
        return img, 1.0
    interp = cv2.INTER_AREA if s < 1.0 else cv2.INTER_LINEAR
    out = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=interp)
    return np.ascontiguousarray(out), s


def detect_faces(gray: U8, short_side: int, *, adjust: float = 0.0) -> list[DetectedFace]:
    """All faces in a gray image, largest first, in the image's own coordinates.

    The detector runs on a copy scaled so its short side is ``short_side``: dlib's HOG window is 80 px,
    so a face narrower than 80 / short_side of the short side is not found (that is the point: tiny
    faces are background people, not the user).
    """
    small, s = scale_to_short_side(gray, short_side, upscale=True)
    rects, scores, idx = load_models().detector.run(small, 0, adjust)
    h, w = gray.shape[:2]
    faces = []
    for r, sc, k in zip(rects, scores, idx, strict=True):
        box = (
            max(0, round(r.left() / s)),
            max(0, round(r.top() / s)),
            min(w - 1, round(r.right() / s)),
            min(h - 1, round(r.bottom() / s)),
        )
        if box[2] - box[0] < 4 or box[3] - box[1] < 4:
            continue
        faces.append(DetectedFace(box=box, score=float(sc), pose_index=int(k)))
    faces.sort(key=lambda f: f.width, reverse=True)
    return faces


def landmarks(gray: U8, face: DetectedFace) -> F64:
    """68 (x, y) points as a float array."""
    shape = load_models().predictor(gray, face.rect())
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def encode(rgb: U8, face: DetectedFace) -> F64:
    """The 128-d dlib encoding of one face (aligned chip from the 68 landmarks, no jitter)."""
    m = load_models()
    shape = m.predictor(rgb, face.rect())
    return np.array(m.encoder.compute_face_descriptor(rgb, shape, 0), dtype=np.float64)


def detect_near(
    gray: U8, last: DetectedFace, *, margin: float = 0.6, face_px: int = 110
) -> DetectedFace | None:
    """Find the tracked face again in a window around where it was, at a scale where it is ~110 px:
    several times cheaper than a full-frame pass, and enough between two samples 1/15 s apart."""
    h, w = gray.shape[:2]
    x0, y0, x1, y1 = last.box
    m = round(margin * last.width)
    wx0, wy0, wx1, wy1 = max(0, x0 - m), max(0, y0 - m), min(w, x1 + m), min(h, y1 + m)
    window = gray[wy0:wy1, wx0:wx1]
    if window.size == 0:
        return None
    s = face_px / float(max(last.width, 1))
    small = cv2.resize(window, None, fx=s, fy=s, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    rects, scores, idx = load_models().detector.run(np.ascontiguousarray(small), 0, 0.0)
    if len(rects) == 0:
        return None
    k = int(np.argmax([r.width() for r in rects]))
    r = rects[k]
    box = (
        max(0, wx0 + round(r.left() / s)),
        max(0, wy0 + round(r.top() / s)),
        min(w - 1, wx0 + round(r.right() / s)),
        min(h - 1, wy0 + round(r.bottom() / s)),
    )
    return DetectedFace(box=box, score=float(scores[k]), pose_index=int(idx[k]))
