"""Models (loaded once per process): BlazeFace detection, Face Mesh landmarks, 128-d encodings."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import dlib
import numpy as np
import numpy.typing as npt

from .resnet import CHIP_PADDING, CHIP_SIDE, ResNetEncoder, load_encoder

__all__ = [
    "DetectedFace",
    "Models",
    "detect_near",
    "encode",
    "find_faces",
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
DETECTOR_FILE = MODELS_DIR / "face_detection_short_range.tflite"
_MESH_SIDE = 192
# The mesh wants the whole head in its 192 px crop: a square this many detector box widths wide, centred
# on the box (BlazeFace's box runs from the brows to the chin, as wide as dlib HOG's: median width ratio
# 0.86-1.07 over the genuine clips, so the factor set for HOG boxes stands).
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
    detector: Any  # cv2.dnn.Net: MediaPipe BlazeFace short range (Apache-2.0), boxes and 6 keypoints
    predictor: Any  # dlib.shape_predictor, 5 points: aligns the chip for the encoder (public domain)
    encoder: ResNetEncoder  # dlib's ResNet (public domain) run by onnxruntime (resnet.py)
    mesh: Any  # cv2.dnn.Net: MediaPipe Face Mesh, 468 points


@functools.cache
def load_models() -> Models:
    """The models, once per process (the pool's warmup calls this in every worker).

    dlib's 68-point predictor is never loaded: it is trained on iBUG 300-W, whose licence excludes
    commercial use (MODELS.md); ``face_recognition_models`` ships it, it stays on disk unused.
    """
    import face_recognition_models as frm  # imported lazily: it prints a deprecation warning on import

    mesh = cv2.dnn.readNetFromTFLite(str(MESH_FILE))
    # OpenCV 5's new engine returns only one of BlazeFace's two outputs; the classic one gives both
    detector = cv2.dnn.readNetFromTFLite(str(DETECTOR_FILE), engine=cv2.dnn.ENGINE_CLASSIC)
    return Models(
        detector=detector,
        predictor=dlib.shape_predictor(frm.pose_predictor_five_point_model_location()),
        encoder=load_encoder(),
        mesh=mesh,
    )


def warmup() -> None:
    """Load the models and run each once, so the first real request does not pay for it."""
    m = load_models()
    img = np.zeros((160, 160, 3), np.uint8)
    find_faces(img)
    face = DetectedFace((40, 40, 120, 120), 0.0)
    mesh_points(img, face)
    shape = m.predictor(img, face.rect())
    m.encoder.encode([dlib.get_face_chip(img, shape, size=CHIP_SIDE, padding=CHIP_PADDING)])


@dataclass(frozen=True)
class DetectedFace:
    """A face in work-frame pixel coordinates."""

    box: tuple[int, int, int, int]  # left, top, right, bottom
    score: float
    # BlazeFace's six keypoints (x, y): image-left eye, image-right eye, nose tip, mouth centre,
    # image-left ear tragion, image-right ear tragion; empty when unknown
    keypoints: tuple[tuple[float, float], ...] = ()

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


# BlazeFace short range (MediaPipe's face_detection_short_range graph): 128 px input in [-1, 1],
# 896 anchors (16x16 cells x 2 at stride 8, 8x8 cells x 6 at stride 16), fixed anchor size.
_DET_SIDE = 128


def _anchors() -> F64:
    out = []
    for cells, per in ((16, 2), (8, 6)):
        for y in range(cells):
            for x in range(cells):
                out += [((x + 0.5) / cells, (y + 0.5) / cells)] * per
    return np.array(out, dtype=np.float64)


_ANCHORS = _anchors()
# MediaPipe keeps 0.5; measured here: genuine faces, turned ones included, score >= 0.8 in 95 % of frames,
# while the dogs photo scores up to 0.65 and the top of a bowed head 0.53-0.69 (a ghost second face)
_MIN_SCORE = 0.7
_CANDIDATE = 0.5  # what the suppression averages over
_NMS_IOU = 0.3


def _iou(a: F64, b: F64) -> F64:
    """IoU of box a (4,) against boxes b (n, 4), as x0, y0, x1, y1."""
    ix = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = ix * iy
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return np.asarray(inter / np.maximum(area, 1e-9), dtype=np.float64)


def _weighted_nms(boxes: F64, kps: F64, scores: F64) -> list[tuple[F64, F64, float]]:
    """MediaPipe's weighted suppression: overlapping candidates are averaged by score."""
    order = np.argsort(-scores)
    boxes, kps, scores = boxes[order], kps[order], scores[order]
    left = np.ones(len(scores), bool)
    out = []
    for i in range(len(scores)):
        if not left[i]:
            continue
        group = left & (_iou(boxes[i], boxes) >= _NMS_IOU)
        group[i] = True
        w = scores[group][:, None]
        out.append(
            (
                (boxes[group] * w).sum(0) / w.sum(),
                (kps[group] * w[:, :, None]).sum(0) / w.sum(),
                float(scores[i]),
            )
        )
        left &= ~group
    return out


def _run_detector(bgr: U8) -> list[tuple[F64, F64, float]]:
    """Faces in a square BGR image, in that image's own pixels: (box, 6 keypoints, score)."""
    side = bgr.shape[0]
    blob = cv2.dnn.blobFromImage(bgr, 1.0 / 127.5, (_DET_SIDE, _DET_SIDE), (127.5, 127.5, 127.5), swapRB=True)
    net = load_models().detector
    net.setInput(blob)
    reg, cls = net.forward(["regressors", "classificators"])
    reg = np.asarray(reg, np.float64).reshape(-1, 16) / _DET_SIDE
    logits = np.clip(np.asarray(cls, np.float64).reshape(-1), -100.0, 100.0)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = scores >= _CANDIDATE
    if not keep.any():
        return []
    reg, anchors, scores = reg[keep], _ANCHORS[keep], scores[keep]
    cx, cy = reg[:, 0] + anchors[:, 0], reg[:, 1] + anchors[:, 1]
    w, h = reg[:, 2], reg[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1) * side
    kps = (reg[:, 4:].reshape(-1, 6, 2) + anchors[:, None, :]) * side
    return _weighted_nms(boxes, kps, scores)


def _square(img: U8, x0: int, y0: int, side: int) -> U8:
    """The square of ``side`` px at (x0, y0), padded with black where it leaves the image."""
    h, w = img.shape[:2]
    out = np.zeros((side, side, 3), np.uint8)
    sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(w, x0 + side), min(h, y0 + side)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = img[sy0:sy1, sx0:sx1]
    return out


def _bgr(img: U8) -> U8:
    return np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)) if img.ndim == 2 else img


def _detect_in(img: U8, x0: int, y0: int, side: int) -> list[tuple[F64, F64, float]]:
    """Detections in one square window of the image (scaled to the detector's input first, so a
    large window costs no more than a small one), in the image's coordinates."""
    sq = _square(img, x0, y0, side)
    if side > 4 * _DET_SIDE:  # resize once with area filtering rather than the blob's bilinear one
        sq = np.asarray(cv2.resize(sq, (_DET_SIDE, _DET_SIDE), interpolation=cv2.INTER_AREA), np.uint8)
    scale = side / float(sq.shape[0])
    found = _run_detector(sq)
    off = np.array([x0, y0], dtype=np.float64)
    return [(b * scale + np.tile(off, 2), k * scale + off, s) for b, k, s in found]


def _to_faces(found: list[tuple[F64, F64, float]], w: int, h: int) -> list[DetectedFace]:
    faces = []
    for b, k, sc in found:
        box = (max(0, round(b[0])), max(0, round(b[1])), min(w - 1, round(b[2])), min(h - 1, round(b[3])))
        if box[2] - box[0] < 4 or box[3] - box[1] < 4:
            continue
        kp = tuple((float(x), float(y)) for x, y in k)
        faces.append(DetectedFace(box=box, score=sc, keypoints=kp))
    faces.sort(key=lambda f: f.width, reverse=True)
    return faces


def find_faces(img: U8, *, grid: int = 1, min_score: float = _MIN_SCORE) -> list[DetectedFace]:
    """All faces in an image (BGR or gray), largest first, in the image's own coordinates.

    The short-range detector is trained on faces that fill a good part of its 128 px square, so it
    looks at squares of the image's short side, slid along the long side with half overlap (one for a
    square video note, three for a 16:9 frame): a face narrower than ~1/6 of the short side is not
    found (in a selfie video that is a background person). ``grid`` > 1 also searches overlapping
    squares of 2/(grid+1) of the short side (a small face in a large photo, a whole card).
    """
    img = _bgr(img)
    h, w = img.shape[:2]
    found: list[tuple[F64, F64, float]] = []
    for g in range(1, grid + 1):
        tile = max(1, min(h, w) * 2 // (g + 1)) if g > 1 else min(h, w)
        step = max(1, tile // 2)
        ys = list(range(0, max(1, h - tile + 1), step))
        xs = list(range(0, max(1, w - tile + 1), step))
        # the last square flush with the far edge, so nothing is left out
        ys += [h - tile] if ys[-1] != h - tile and h > tile else []
        xs += [w - tile] if xs[-1] != w - tile and w > tile else []
        for y0 in ys:
            for x0 in xs:
                found += _detect_in(img, x0, y0, tile)
    found = [f for f in found if f[2] >= min_score]
    if len(found) > 1:
        boxes = np.array([b for b, _, _ in found])
        kps = np.array([k for _, k, _ in found])
        found = _weighted_nms(boxes, kps, np.array([s for _, _, s in found]))
    return _to_faces(found, w, h)


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
    face, else from dlib's 5-point model. dlib cuts the chip exactly as its ``compute_face_descriptor``
    does; the network runs in onnxruntime (resnet.py: same weights, same numbers, ~10x less CPU)."""
    m = load_models()
    if points is not None:
        parts = [dlib.point(round(points[k][0]), round(points[k][1])) for k in _FIVE_OF_68]
        shape = dlib.full_object_detection(face.rect(), parts)
    else:
        shape = m.predictor(rgb, face.rect())
    chip = dlib.get_face_chip(rgb, shape, size=CHIP_SIDE, padding=CHIP_PADDING)
    return np.asarray(m.encoder.encode([chip])[0], dtype=np.float64)


def detect_near(img: U8, last: DetectedFace, *, margin: float = 0.6) -> DetectedFace | None:
    """Find the tracked face again in a square window around where it was: the face then fills a
    good part of the detector's input whatever the frame's size, and other faces are left out."""
    img = _bgr(img)
    h, w = img.shape[:2]
    cx, cy = last.center
    side = max(8, round((1.0 + 2.0 * margin) * max(last.width, last.box[3] - last.box[1])))
    near = [
        f for f in _detect_in(img, round(cx - side / 2), round(cy - side / 2), side) if f[2] >= _MIN_SCORE
    ]
    found = _to_faces(near, w, h)
    if not found:
        return None
    return min(found, key=lambda f: float(np.hypot(f.center[0] - cx, f.center[1] - cy)))
