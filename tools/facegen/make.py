"""Builders for the synthetic videos (see the package docstring)."""

from __future__ import annotations

import math
import os
import random
import tempfile
from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from bot.verification.face.detect import find_faces, landmarks

U8 = npt.NDArray[np.uint8]
F64 = npt.NDArray[np.float64]

__all__ = [
    "crop_square_video",
    "moving_photo_video",
    "still_photo_video",
    "warped_actions_video",
    "write_video",
]


def write_video(frames: Sequence[U8], fps: float) -> bytes:
    """MP4 (MPEG-4 part 2: the codec every OpenCV wheel can write) as bytes."""
    h, w = frames[0].shape[:2]
    with tempfile.TemporaryDirectory(prefix="facegen-") as tmp:
        path = os.path.join(tmp, "out.mp4")
        writer = cv2.VideoWriter(path, cv2.VideoWriter.fourcc(*"mp4v"), fps, (w, h))
        try:
            for f in frames:
                writer.write(f)
        finally:
            writer.release()
        with open(path, "rb") as fh:
            return fh.read()


def _noise(img: U8, rng: random.Random, sigma: float = 2.0) -> U8:
    """Sensor noise, so consecutive frames are not byte-identical like a real camera's."""
    gen = np.random.default_rng(rng.getrandbits(32))
    noisy = img.astype(np.float32) + gen.normal(0.0, sigma, img.shape).astype(np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def _square(img: U8, size: int) -> U8:
    h, w = img.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return np.asarray(
        cv2.resize(img[y : y + s, x : x + s], (size, size), interpolation=cv2.INTER_AREA), np.uint8
    )


def _face_square(img: U8, size: int) -> U8:
    """A square crop around the face (head and shoulders), like a video note."""
    faces = find_faces(img, grid=3)
    if not faces:
        return _square(img, size)
    (cx, cy), fw = faces[0].center, faces[0].width
    half = int(min(1.4 * fw, cx, cy, img.shape[1] - cx, img.shape[0] - cy))
    half = max(half, int(0.6 * fw))
    x0, y0 = max(0, int(cx - half)), max(0, int(cy - half))
    crop = img[y0 : y0 + 2 * half, x0 : x0 + 2 * half]
    return np.asarray(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA), dtype=np.uint8)


def still_photo_video(
    face: U8, *, seconds: float = 4.0, fps: float = 15.0, size: int = 480, seed: int = 0
) -> bytes:
    """A photo held perfectly still in front of the camera (only sensor noise changes)."""
    rng = random.Random(seed)
    base = _face_square(face, size)
    return write_video([_noise(base, rng) for _ in range(int(seconds * fps))], fps)


def moving_photo_video(
    face: U8, *, seconds: float = 5.0, fps: float = 15.0, size: int = 480, seed: int = 0, border: bool = True
) -> bytes:
    """A printed photo (white border) moved, zoomed, rotated and tilted in front of a background."""
    rng = random.Random(seed)
    photo = _face_square(face, 300)
    if border:
        photo = np.asarray(
            cv2.copyMakeBorder(photo, 18, 18, 18, 18, cv2.BORDER_CONSTANT, value=(245, 245, 245)), np.uint8
        )
    ph, pw = photo.shape[:2]
    yy, xx = np.mgrid[0:size, 0:size]
    background = np.dstack([(90 + 40 * np.sin(xx / 37.0)), (110 + 30 * np.cos(yy / 53.0)), 120 + 0 * xx])
    background = background.astype(np.uint8)
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], dtype=np.float32)
    frames = []
    n = int(seconds * fps)
    for i in range(n):
        u = i / max(n - 1, 1)
        scale = 1.15 + 0.25 * math.sin(2 * math.pi * u)  # towards and away from the camera
        cx = size / 2 + 60 * math.sin(2 * math.pi * u * 1.5)
        cy = size / 2 + 25 * math.sin(2 * math.pi * u)
        rot = math.radians(8 * math.sin(2 * math.pi * u * 2))
        tilt = 0.18 * math.sin(2 * math.pi * u)  # turned about the vertical axis, like a head turn
        nod = 0.12 * math.sin(2 * math.pi * u * 2)  # and about the horizontal one
        half_w, half_h = pw * scale / 2, ph * scale / 2
        corners = []
        for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            # perspective: the edge turned away shrinks
            k = 1.0 - tilt * sx - nod * sy
            x, y = sx * half_w * k, sy * half_h * k
            corners.append(
                (cx + x * math.cos(rot) - y * math.sin(rot), cy + x * math.sin(rot) + y * math.cos(rot))
            )
        h = cv2.getPerspectiveTransform(src, np.array(corners, dtype=np.float32))
        warped = cv2.warpPerspective(photo, h, (size, size))
        mask = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), h, (size, size))
        frame = np.where(mask[..., None] > 0, warped, background)
        frames.append(_noise(frame.astype(np.uint8), rng))
    return write_video(frames, fps)


def _warp_points(img: U8, src: F64, dst: F64) -> U8:
    """Piecewise-affine warp moving landmarks src -> dst (Delaunay triangles, border pinned)."""
    h, w = img.shape[:2]
    border = np.array(
        [
            [0, 0],
            [w / 2, 0],
            [w - 1, 0],
            [w - 1, h / 2],
            [w - 1, h - 1],
            [w / 2, h - 1],
            [0, h - 1],
            [0, h / 2],
        ]
    )
    s_all = np.vstack([src, border])
    d_all = np.vstack([dst, border])
    subdiv = cv2.Subdiv2D((0, 0, w, h))
    for x, y in d_all:
        subdiv.insert((float(min(max(x, 0), w - 1)), float(min(max(y, 0), h - 1))))
    out = img.copy()
    for tri in np.asarray(subdiv.getTriangleList(), dtype=np.float64).reshape(-1, 3, 2):
        idx = [int(np.argmin(np.sum((d_all - p) ** 2, axis=1))) for p in tri]
        if len(set(idx)) < 3:
            continue
        d_tri = np.asarray(d_all[idx], dtype=np.float32)
        s_tri = np.asarray(s_all[idx], dtype=np.float32)
        x, y, bw, bh = cv2.boundingRect(d_tri)
        if bw <= 0 or bh <= 0:
            continue
        offset = np.array([x, y], dtype=np.float32)
        m = cv2.getAffineTransform(s_tri, d_tri - offset)
        patch = cv2.warpAffine(img, m, (bw, bh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        mask = np.zeros((bh, bw), np.uint8)
        cv2.fillConvexPoly(mask, (d_tri - offset).astype(np.int32), 255)
        x1, y1 = min(x + bw, w), min(y + bh, h)
        region = out[y:y1, x:x1]
        sel = mask[: y1 - y, : x1 - x] > 0
        region[sel] = patch[: y1 - y, : x1 - x][sel]
    return out


def _pose(points: F64, action: str, amount: float) -> F64:
    """Landmarks moved as the action would move them, ``amount`` in 0..1."""
    p = points.copy()
    io = float(np.linalg.norm(points[36:42].mean(0) - points[42:48].mean(0)))
    if action == "blink":
        for upper, lower in (((37, 38), (41, 40)), ((43, 44), (47, 46))):
            for u, lo in zip(upper, lower, strict=True):
                p[u] = p[u] + amount * 0.9 * (points[lo] - points[u])
    elif action == "open_mouth":
        drop = amount * 0.45 * io
        for i in (*range(5, 12), *range(55, 60), 65, 66, 67, 48, 54, 60, 64):
            weight = 0.5 if i in (5, 11, 48, 54, 60, 64) else 1.0
            p[i, 1] += drop * weight
        p[65:68, 1] += 0.15 * io * amount
    elif action in ("yaw_right", "yaw_left"):
        # the inner face slides towards one cheek, as the nose does in a turn (a 2-D caricature)
        sign = 1.0 if action == "yaw_right" else -1.0
        shift = sign * amount * 0.35 * io
        for i in range(17, 68):
            p[i, 0] += shift * (1.3 if 27 <= i <= 35 else 1.0)
    return p


def warped_actions_video(
    face: U8,
    actions: Sequence[str],
    *,
    fps: float = 15.0,
    size: int = 480,
    seed: int = 0,
    sway: bool = True,
) -> bytes:
    """Neutral 0.8 s, then each action (blink / open_mouth / yaw_right / yaw_left) and back, in turn.

    ``sway`` adds a small whole-frame rotation and shift, as a hand-held phone would.
    """
    rng = random.Random(seed)
    base = _face_square(face, size)
    found = find_faces(base)
    if not found:
        raise ValueError("no face in the image")
    pts = landmarks(base, found[0])
    timeline: list[tuple[str, float]] = [("none", 0.0)] * int(0.8 * fps)
    for action in actions:
        steps = 2 if action == "blink" else 6
        hold = 1 if action == "blink" else int(0.4 * fps)
        ramp = [(k + 1) / steps for k in range(steps)]
        timeline += (
            [(action, a) for a in ramp] + [(action, 1.0)] * hold + [(action, a) for a in reversed(ramp)]
        )
        timeline += [("none", 0.0)] * int(0.6 * fps)
    frames = []
    for i, (action, amount) in enumerate(timeline):
        img = base
        if action != "none":
            moved = _pose(pts, action, amount)
            img = _warp_points(base, pts, moved)
            if action == "open_mouth":
                # the stretched lips alone do not look open: paint the mouth cavity
                cv2.fillPoly(img, [moved[60:68].astype(np.int32)], (30, 20, 40))
        if sway:
            ang = 1.5 * math.sin(i / fps * 2.1)
            m = cv2.getRotationMatrix2D((size / 2, size / 2), ang, 1.0)
            m[0, 2] += 4 * math.sin(i / fps * 1.3)
            img = np.asarray(cv2.warpAffine(img, m, (size, size), borderMode=cv2.BORDER_REFLECT), np.uint8)
        frames.append(_noise(img, rng))
    return write_video(frames, fps)


def crop_square_video(data: bytes, *, size: int = 480, seconds: float = 5.0) -> bytes:
    """A Telegram-style video note from any clip: centre square, ``size`` px, the first ``seconds``."""
    with tempfile.TemporaryDirectory(prefix="facegen-") as tmp:
        path = os.path.join(tmp, "in")
        with open(path, "wb") as fh:
            fh.write(data)
        cap = cv2.VideoCapture(path)
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 30.0)
        frames: list[U8] = []
        while len(frames) < int(seconds * fps):
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(_square(np.asarray(frame, dtype=np.uint8), size))
        cap.release()
    if not frames:
        raise ValueError("no frame decoded")
    return write_video(frames, fps)
