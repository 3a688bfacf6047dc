"""Cues that tell a photo animated in 2-D from a head that really moves (issue 16, item 1).

Face Mesh fits a plausible 3-D face to whatever it is shown, so the landmarks of a still photo whose
inner face is slid, squashed or rotated on its mesh read as a rigid head turning (measured: the rigid
fit of the animated photos is as good as the genuine clips', bench/RESULTS-face.md). The pixels do not:

* ``warp_residual``: every frame of an animated photo is the photo itself, warped. Between the most
  neutral frame and the peak of a head turn or nod, a dense optical flow therefore explains the face
  almost perfectly (what is left is the noise the animation adds, and blur takes that out). A real head
  turning shows what the neutral frame did not: the side of the nose and the cheek that turns towards
  the camera, the cheek that turns away occluded rather than squeezed, the ear, light falling on the
  face from another angle. The residual is what is left of the face (inside its oval) after
  the flow (the median of the absolute difference), over the face's own contrast (standard deviation
  of the neutral frame inside the oval).
* ``outline_follow``: on a real turn or nod the hair above the forehead moves with the head; an
  animation warps the face and leaves the hair where the photo has it (or drags it part of the way).
  The share of the nose bridge's displacement that a patch of hair above the forehead follows.

Both are read only on frames of a head action (a turn or a nod) against a neutral frame; the random
challenge always holds one. Each frame keeps a small face-centred gray crop for this (:class:`FaceCrop`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

__all__ = ["CROP_SIDE", "FACE_OVAL", "FaceCrop", "face_crop", "outline_follow", "warp_residual"]

U8 = npt.NDArray[np.uint8]
F64 = npt.NDArray[np.float64]

# MediaPipe Face Mesh's face oval, in order around the face
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
_FOREHEAD_TOP = 10
_NOSE_BRIDGE = 168
_EYE_OUTER = (33, 263)

CROP_SIDE = 176  # px of the square kept per frame: face and some hair, ~30 KB
_CROP_EXTENT = 1.7  # crop side / the oval's larger extent (the hair above the forehead is in it)
_BLUR = 1.0  # px at the crop's scale: takes out the per-pixel noise an animation adds


@dataclass(frozen=True)
class FaceCrop:
    """A face-centred gray square of one frame and where it sits in the frame."""

    gray: U8  # CROP_SIDE x CROP_SIDE
    origin: tuple[float, float]  # frame coordinates of the crop's top-left corner
    scale: float  # crop pixels per frame pixel
    oval: F64  # the face oval in crop pixels
    forehead: tuple[float, float]  # the top of the oval, crop pixels
    bridge: tuple[float, float]  # the nose bridge, crop pixels
    interocular: float  # crop pixels


def face_crop(gray: U8, mesh: F64) -> FaceCrop:
    """The crop around the mesh's face oval (``mesh``: 468 x 3 in the frame's pixels)."""
    oval = mesh[list(FACE_OVAL), :2]
    lo, hi = oval.min(axis=0), oval.max(axis=0)
    centre = (lo + hi) / 2.0
    side = _CROP_EXTENT * float(max(hi - lo))
    s = CROP_SIDE / max(side, 1.0)
    ox, oy = float(centre[0] - side / 2.0), float(centre[1] - side / 2.0)
    m = np.array([[s, 0.0, -ox * s], [0.0, s, -oy * s]])
    crop = np.asarray(cv2.warpAffine(gray, m, (CROP_SIDE, CROP_SIDE), flags=cv2.INTER_AREA), np.uint8)

    def local(i: int) -> tuple[float, float]:
        return (float((mesh[i, 0] - ox) * s), float((mesh[i, 1] - oy) * s))

    io = float(np.hypot(*(mesh[_EYE_OUTER[0], :2] - mesh[_EYE_OUTER[1], :2]))) * s
    return FaceCrop(
        gray=crop,
        origin=(ox, oy),
        scale=s,
        oval=(oval - np.array([ox, oy])) * s,
        forehead=local(_FOREHEAD_TOP),
        bridge=local(_NOSE_BRIDGE),
        interocular=io,
    )


_DIS: list[Any] = []  # one per process, made on first use


def _flow(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    if not _DIS:
        _DIS.append(cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM))
    return np.asarray(_DIS[0].calc(a, b, None), np.float32)


_GX, _GY = np.meshgrid(np.arange(CROP_SIDE, dtype=np.float32), np.arange(CROP_SIDE, dtype=np.float32))


def _residual(ref: FaceCrop, cur: FaceCrop) -> float:
    r = cv2.GaussianBlur(ref.gray, (0, 0), _BLUR)
    c = cv2.GaussianBlur(cur.gray, (0, 0), _BLUR)
    flow = _flow(c, r)  # for each pixel of the current frame, where it is in the neutral one
    back = cv2.remap(r, _GX + flow[..., 0], _GY + flow[..., 1], cv2.INTER_LINEAR)
    mask = np.zeros((CROP_SIDE, CROP_SIDE), np.uint8)
    cv2.fillPoly(mask, [np.round(cur.oval).astype(np.int32)], 1)
    ref_mask = np.zeros_like(mask)
    cv2.fillPoly(ref_mask, [np.round(ref.oval).astype(np.int32)], 1)
    if not mask.any() or not ref_mask.any():
        return 0.0
    contrast = max(float(r[ref_mask > 0].std()), 4.0)
    diff = np.abs(back.astype(np.float32) - c.astype(np.float32))
    # the median, not the mean: where a cruder animation folds the picture over itself (the inner
    # face slid across a fixed outline) the flow cannot follow the tear, but that is a few lines of
    # pixels; what a real head shows that the neutral frame did not is spread over the face
    return float(np.median(diff[mask > 0])) / contrast


def warp_residual(ref: FaceCrop, frames: Sequence[FaceCrop]) -> float:
    """The median over ``frames`` (peaks of one head action) of what a dense flow from the neutral
    frame ``ref`` leaves unexplained in the face, over the face's contrast (bench/RESULTS-face.md has
    the values on the genuine clips and the animated photos)."""
    if not frames:
        return 0.0
    return float(np.median([_residual(ref, f) for f in frames]))


def _to_frame(crop: FaceCrop, x: float, y: float) -> F64:
    return np.array([x / crop.scale + crop.origin[0], y / crop.scale + crop.origin[1]])


def _hair_shift(ref: FaceCrop, cur: FaceCrop) -> tuple[F64, F64] | None:
    """(displacement of the hair patch above the forehead, displacement of the nose bridge), both in
    frame pixels, from the neutral frame to ``cur``."""
    io = ref.interocular
    w, h = max(8, round(0.5 * io)), max(6, round(0.35 * io))
    cx, cy = ref.forehead[0], ref.forehead[1] - 0.3 * io
    x0, y0 = round(cx - w / 2), round(cy - h / 2)
    if x0 < 0 or y0 < 0 or x0 + w > CROP_SIDE or y0 + h > CROP_SIDE:
        return None
    template = ref.gray[y0 : y0 + h, x0 : x0 + w]
    if float(template.std()) < 3.0:  # a flat patch (a plain wall, a bald head in even light) says nothing
        return None
    # where the patch is in the current frame: search the current crop, mapped back to frame pixels
    k = cur.scale / ref.scale
    patch = cv2.resize(template, (max(4, round(w * k)), max(4, round(h * k))))
    scores = cv2.matchTemplate(cur.gray, patch, cv2.TM_CCOEFF_NORMED)
    _, best, _, loc = cv2.minMaxLoc(scores)
    if best < 0.5:
        return None
    ref_at = _to_frame(ref, x0, y0)
    cur_at = _to_frame(cur, float(loc[0]), float(loc[1]))
    bridge = _to_frame(cur, *cur.bridge) - _to_frame(ref, *ref.bridge)
    return cur_at - ref_at, bridge


def outline_follow(ref: FaceCrop, frames: Sequence[FaceCrop]) -> float | None:
    """The median share of the nose bridge's displacement that the hair above the forehead follows
    (1: moves with the head, 0: stays put), over the frames where the bridge moved at least a fifth
    of the inter-ocular distance; None when the hair cannot be tracked or nothing moved."""
    shares = []
    for cur in frames:
        got = _hair_shift(ref, cur)
        if got is None:
            continue
        hair, bridge = got
        moved = float(bridge @ bridge)
        if moved < (0.2 * ref.interocular / ref.scale) ** 2:
            continue
        shares.append(float(hair @ bridge) / moved)
    return float(np.median(shares)) if shares else None
