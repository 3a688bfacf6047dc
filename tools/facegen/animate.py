"""Animated-photo attacks: one still photo made to blink, open its mouth, turn and nod in 2-D.

What photo-animation apps do, built here so the engine can be tried against it (issue 16, item 1).
All of them start from one photo and never show anything the photo does not contain:

* ``slide``: the inner face (brows, eyes, nose, mouth) slid sideways or up and down against the fixed
  outline of the face for turns and nods, the eyes squashed for blinks, the mouth stretched.
* ``rotate``: the Face Mesh of the photo turned in 3-D (its relative depth) and the photo warped
  piecewise-affinely onto the turned mesh, so the landmarks move as a rigid head's would; the hair,
  ears and background outside the face stay where they are (the photo holds no view of them turned).
* ``paste_eye``: as ``slide``, but a blink is an eye region painted over closed (skin from around the
  eye, a lash line) instead of a squashed eye.

Every style adds a light zoom / pan (a hand-held phone) and sensor noise per frame. The result is
what an attacker would send as the video note (or play into a virtual camera).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from bot.verification.face.detect import MESH_TO_68, find_faces, mesh_points
from tools.facegen.make import _face_square, _noise, write_video

U8 = npt.NDArray[np.uint8]
F64 = npt.NDArray[np.float64]

__all__ = ["ANIMATED_CASES", "STYLES", "AnimatedCase", "animated_photo_video"]

STYLES = ("slide", "rotate", "paste_eye")

# MediaPipe's face oval, in order around the face
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
# eye contours (upper lid, lower lid) for the paste-in closed eye
_EYES = (
    ((33, 246, 161, 160, 159, 158, 157, 173, 133), (33, 7, 163, 144, 145, 153, 154, 155, 133)),
    ((263, 466, 388, 387, 386, 385, 384, 398, 362), (263, 249, 390, 373, 374, 380, 381, 382, 362)),
)
_LIPS_INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
_LIPS_INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
_LIPS_OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
_CHIN = (152, 148, 176, 149, 150, 136, 172, 377, 400, 378, 379, 365, 397, 175, 199, 200, 18)


def _used_points() -> list[int]:
    """The mesh points the warp moves: the 68 liveness points, the oval, the eyes and the lips."""
    idx = set(MESH_TO_68) | set(FACE_OVAL) | set(_CHIN)
    for upper, lower in _EYES:
        idx |= set(upper) | set(lower)
    idx |= set(_LIPS_INNER_LOWER) | set(_LIPS_INNER_UPPER) | set(_LIPS_OUTER_LOWER)
    return sorted(idx)


_USED = _used_points()


class _Warper:
    """Piecewise-affine warp over a fixed triangulation of the source points (computed once)."""

    def __init__(self, src: F64, shape: tuple[int, int]) -> None:
        h, w = shape
        self.h, self.w = h, w
        self.src = src
        subdiv = cv2.Subdiv2D((-w, -h, 3 * w, 3 * h))
        for x, y in src:
            subdiv.insert((float(x), float(y)))
        tris = []
        for t in np.asarray(subdiv.getTriangleList(), dtype=np.float64).reshape(-1, 3, 2):
            idx = [int(np.argmin(np.sum((src - p) ** 2, axis=1))) for p in t]
            if len(set(idx)) == 3 and all(
                np.allclose(src[i], p, atol=0.5) for i, p in zip(idx, t, strict=True)
            ):
                tris.append(idx)
        self.tris = tris

    def __call__(self, img: U8, dst: F64) -> U8:
        """``img`` with each source triangle moved onto ``dst``'s: one remap, each pixel through the
        affine map of the triangle it falls in (a later triangle wins where a warp folds)."""
        h, w = self.h, self.w
        label = np.full((h, w), -1, np.int32)
        maps = np.zeros((max(len(self.tris), 1), 2, 3))
        for k, idx in enumerate(self.tris):
            d_tri = np.asarray(dst[idx], dtype=np.float32)
            maps[k] = cv2.getAffineTransform(d_tri, np.asarray(self.src[idx], dtype=np.float32))
            cv2.fillConvexPoly(label, np.round(d_tri).astype(np.int32), k)
        mapx, mapy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        ys, xs = np.nonzero(label >= 0)
        m = maps[label[ys, xs]]
        mapx[ys, xs] = m[:, 0, 0] * xs + m[:, 0, 1] * ys + m[:, 0, 2]
        mapy[ys, xs] = m[:, 1, 0] * xs + m[:, 1, 1] * ys + m[:, 1, 2]
        out = cv2.remap(img, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        return np.asarray(out, np.uint8)


def _ring(points: F64, scale: float) -> F64:
    c = points.mean(axis=0)
    return np.asarray(c + scale * (points - c), dtype=np.float64)


@dataclass
class _Pose:
    yaw: float = 0.0  # -1..1: share of a full turn, positive = face towards the image right
    pitch: float = 0.0  # -1..1: positive = head down
    blink: float = 0.0  # 0..1 closed
    mouth: float = 0.0  # 0..1 open


def _timeline(actions: Sequence[str], fps: float) -> list[_Pose]:
    """Neutral 0.8 s, then each action and back, 0.6 s apart (``blink``, ``open_mouth``,
    ``yaw_right`` / ``yaw_left`` = the face turns towards the image right / left, ``nod``)."""
    poses = [_Pose()] * int(0.8 * fps)
    for action in actions:
        if action == "blink":
            ramp = [0.5, 1.0, 1.0, 0.5]
        else:
            up = [(k + 1) / 6 for k in range(6)]
            ramp = up + [1.0] * int(0.4 * fps) + up[::-1]
        for a in ramp:
            if action == "blink":
                poses.append(_Pose(blink=a))
            elif action == "open_mouth":
                poses.append(_Pose(mouth=a))
            elif action in ("yaw_right", "yaw_left"):
                poses.append(_Pose(yaw=a if action == "yaw_right" else -a))
            elif action == "nod":
                poses.append(_Pose(pitch=a))
            else:
                raise ValueError(f"unknown action {action!r}")
        poses += [_Pose()] * int(0.6 * fps)
    return poses


def _squash_eyes(p: F64, mesh: F64, amount: float) -> None:
    for upper, lower in _EYES:
        for u, lo in zip(upper[1:-1], lower[1:-1], strict=True):
            p[u, :2] = mesh[u, :2] + amount * 0.9 * (mesh[lo, :2] - mesh[u, :2])


def _open_mouth(p: F64, mesh: F64, amount: float, io: float) -> None:
    drop = amount * 0.45 * io
    for i in (*_LIPS_INNER_LOWER[1:-1], *_LIPS_OUTER_LOWER[1:-1], *_CHIN):
        p[i, 1] = mesh[i, 1] + drop * (0.6 if i in _CHIN else 1.0)


def _paint_closed_eyes(img: U8, pts: F64, amount: float) -> U8:
    """A closed eye painted in: the eye opening filled from the skin around it, a dark lash line."""
    if amount < 0.5:
        return img
    out = img.copy()
    for upper, lower in _EYES:
        poly = np.round(np.vstack([pts[list(upper), :2], pts[list(lower[::-1]), :2]])).astype(np.int32)
        mask = np.zeros(img.shape[:2], np.uint8)
        cv2.fillPoly(mask, [poly], 255)
        mask = cv2.dilate(mask, np.ones((5, 5), np.uint8))
        out = np.asarray(cv2.inpaint(out, mask, 5, cv2.INPAINT_TELEA), np.uint8)
        lid = np.round((pts[list(upper), :2] + 2 * pts[list(lower), :2]) / 3).astype(np.int32)
        cv2.polylines(out, [lid], False, (40, 35, 35), 2, lineType=cv2.LINE_AA)
    return out


def animated_photo_video(
    photo: U8,
    actions: Sequence[str],
    *,
    style: str = "slide",
    fps: float = 15.0,
    size: int = 480,
    seed: int = 0,
    turn_degrees: float = 28.0,
    noise: float = 2.0,
) -> bytes:
    """One still ``photo`` animated in 2-D to perform ``actions`` (see the module docstring)."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}")
    rng = random.Random(seed)
    base = _face_square(photo, size)
    found = find_faces(base)
    if not found:
        raise ValueError("no face in the photo")
    mesh = mesh_points(base, found[0])
    io = float(np.linalg.norm(mesh[33, :2] - mesh[263, :2]))
    oval = mesh[list(FACE_OVAL), :2]
    # what the warp leaves in place: a ring outside the face (hair, ears, neck) and the frame's edge
    ring = _ring(oval, 1.45)
    edge = np.array(
        [[0, 0], [size / 2, 0], [size - 1, 0], [size - 1, size / 2], [size - 1, size - 1],
         [size / 2, size - 1], [0, size - 1], [0, size / 2]], dtype=np.float64,
    )  # fmt: skip
    src = np.vstack([mesh[_USED, :2], ring, edge])
    warp = _Warper(src, (size, size))
    centre = mesh[list(FACE_OVAL)].mean(axis=0)
    inner = np.array([i not in FACE_OVAL for i in range(468)])
    nose = set(MESH_TO_68[27:36])
    frames = []
    for i, pose in enumerate(_timeline(actions, fps)):
        p = mesh.copy()
        if style == "rotate":
            yaw = math.radians(turn_degrees * pose.yaw)
            pitch = math.radians(0.7 * turn_degrees * pose.pitch)
            q = mesh - centre
            # the mesh's z is negative towards the camera: the nose leads the turn
            x = q[:, 0] * math.cos(yaw) - q[:, 2] * math.sin(yaw)
            z = q[:, 0] * math.sin(yaw) + q[:, 2] * math.cos(yaw)
            y = q[:, 1] * math.cos(pitch) - z * math.sin(pitch)
            p[:, 0], p[:, 1] = centre[0] + x, centre[1] + y
        else:
            for k in range(468):
                if inner[k]:
                    gain = 1.3 if k in nose else 1.0
                    p[k, 0] += gain * pose.yaw * 0.35 * io
                    p[k, 1] += gain * pose.pitch * 0.25 * io
        if style != "paste_eye":
            _squash_eyes(p, p.copy(), pose.blink)
        _open_mouth(p, p.copy(), pose.mouth, io)
        dst = np.vstack([p[_USED, :2], ring, edge])
        img = warp(base, dst)
        if pose.mouth > 0.2:
            lips = np.vstack([p[list(_LIPS_INNER_UPPER), :2], p[list(_LIPS_INNER_LOWER[::-1]), :2]])
            cv2.fillPoly(img, [np.round(lips).astype(np.int32)], (30, 20, 40), lineType=cv2.LINE_AA)
        if style == "paste_eye":
            img = _paint_closed_eyes(img, p, pose.blink)
        # a hand-held phone: slow zoom, pan and roll of the whole picture
        t = i / fps
        zoom = 1.0 + 0.04 * math.sin(t * 1.1)
        m = cv2.getRotationMatrix2D((size / 2, size / 2), 1.2 * math.sin(t * 2.1), zoom)
        m[0, 2] += 5 * math.sin(t * 1.3)
        m[1, 2] += 3 * math.sin(t * 0.9)
        img = np.asarray(cv2.warpAffine(img, m, (size, size), borderMode=cv2.BORDER_REFLECT), np.uint8)
        frames.append(_noise(img, rng, noise))
    return write_video(frames, fps)


@dataclass(frozen=True)
class AnimatedCase:
    name: str
    photo: str  # under testdata/faces
    style: str
    actions: tuple[str, ...]  # what the animation does (image directions)
    challenge: str  # what it is sent for (raw reading: a face towards the image right = turn_left)


_PHOTOS = ("face_recognition/obama.jpg", "face_recognition/biden2.jpg", "dlib/Tom_Cruise_avp_2014_4.jpg")

ANIMATED_CASES: tuple[AnimatedCase, ...] = tuple(
    AnimatedCase(f"{style}_{what}_{photo.split('/')[-1].split('.')[0].split('_')[0]}", photo, style, acts, ch)
    for photo in _PHOTOS
    for style in STYLES
    for what, acts, ch in (
        ("turns", ("yaw_right", "blink", "yaw_left"), "turn_left,blink,turn_right"),
        ("nod_mouth", ("open_mouth", "nod"), "open_mouth,nod"),
    )
)
