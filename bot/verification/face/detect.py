"""Models (loaded once per process): face detection, Face Mesh landmarks, 128-d encodings."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
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
    "mesh_points",
    "scale_to_short_side",
]

U8 = npt.NDArray[np.uint8]
F64 = npt.NDArray[np.float64]


# MediaPipe Face Mesh (Apache-2.0, see MODELS.md), read by OpenCV's own TFLite importer: no extra runtime.
MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
MESH_FILE = MODELS_DIR / "face_landmark.tflite"
_MESH_SIDE = 192
# The mesh wants the whole head in its 192 px crop: a square this many HOG box widths wide, centred on
# the box (the HOG box runs from the brows to the chin).
_MESH_CROP = 1.6

# The 68 points the liveness measures were written for (dlib / iBUG order: jaw 0-16, brows 17-26,
# nose 27-35, eyes 36-47, outer lips 48-59, inner lips 60-67), taken from the 468-point mesh.
MESH_TO_68 = (
    162, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 389,
    71, 63, 105, 66, 107, 336, 296, 334, 293, 301,
    168, 197, 5, 4, 75, 97, 2, 326, 305,
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,
    78, 82, 13, 312, 308, 317, 14, 87,
)  # fmt: skip


@dataclass(frozen=True)
class Models:
    detector: Any  # dlib.fhog_object_detector (dlib's own HOG detector, in the library: Boost licence)
    predictor: Any  # dlib.shape_predictor, 5 points: aligns the chip for the encoder (public domain)
    encoder: Any  # dlib.face_recognition_model_v1 (ResNet, public domain)
    mesh: Any  # cv2.dnn.Net: MediaPipe Face Mesh, 468 points


@functools.cache
def load_models() -> Models:
    """The models, once per process (the pool's warmup calls this in every worker).

    dlib's 68-point predictor is never loaded: it is trained on iBUG 300-W, whose licence excludes
    commercial use (MODELS.md); ``face_recognition_models`` ships it, it stays on disk unused.
    """
    import face_recognition_models as frm  # imported lazily: it prints a deprecation warning on import

    mesh = cv2.dnn.readNetFromTFLite(str(MESH_FILE))
    return Models(
        detector=dlib.get_frontal_face_detector(),
        predictor=dlib.shape_predictor(frm.pose_predictor_five_point_model_location()),
        encoder=dlib.face_recognition_model_v1(frm.face_recognition_model_location()),
        mesh=mesh,
    )


def warmup() -> None:
    """Load the models and run each once, so the first real request does not pay for it."""
    m = load_models()
    img = np.zeros((160, 160, 3), np.uint8)
    m.detector(img[:, :, 0], 0)
    face = DetectedFace((40, 40, 120, 120), 0.0, 0)
    mesh_points(img, face)
    shape = m.predictor(img, face.rect())
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


def mesh_points(bgr: U8, face: DetectedFace) -> F64:
    """The 468 mesh points (x, y, z) in the frame's pixels (z: relative depth, same scale as x)."""
    x0, y0, x1, y1 = face.box
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    side = _MESH_CROP * max(x1 - x0, y1 - y0, 1)
    s = _MESH_SIDE / side
    ox, oy = cx - side / 2.0, cy - side / 2.0
    warp = np.array([[s, 0.0, -ox * s], [0.0, s, -oy * s]])
    crop = cv2.warpAffine(bgr, warp, (_MESH_SIDE, _MESH_SIDE), flags=cv2.INTER_LINEAR)
    if crop.ndim == 2:
        crop = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
    blob = cv2.dnn.blobFromImage(crop, 1.0 / 255.0, swapRB=True)  # NCHW RGB in [0, 1]
    net = load_models().mesh
    net.setInput(blob)
    out = np.asarray(net.forward(), dtype=np.float64).reshape(468, 3)
    out[:, 0] = out[:, 0] / s + ox
    out[:, 1] = out[:, 1] / s + oy
    out[:, 2] = out[:, 2] / s
    return out


def landmarks(bgr: U8, face: DetectedFace) -> F64:
    """68 (x, y) points in dlib's order, taken from the Face Mesh (see :data:`MESH_TO_68`)."""
    return np.ascontiguousarray(mesh_points(bgr, face)[list(MESH_TO_68), :2])


# dlib's 5-point layout (image-right eye outer and inner corner, image-left eye outer and inner, base
# of the nose), as indices into the 68 points above.
_FIVE_OF_68 = (45, 42, 36, 39, 33)


def encode(rgb: U8, face: DetectedFace, points: F64 | None = None) -> F64:
    """The 128-d dlib encoding of one face (no jitter). The chip is aligned on five points: taken from
    the frame's Face Mesh ``points`` (68-point order) when given, which stay on the eyes of a turned
    face, else from dlib's 5-point model."""
    m = load_models()
    if points is not None:
        parts = [dlib.point(round(points[k][0]), round(points[k][1])) for k in _FIVE_OF_68]
        shape = dlib.full_object_detection(face.rect(), parts)
    else:
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
