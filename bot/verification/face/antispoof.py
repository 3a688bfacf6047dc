"""Passive presentation-attack cues: is the camera looking at a face, or at a screen / print of one?

Each cue is a plain number per frame; :func:`score` turns the clip's medians into one score. The cues:

* ``frame``: a straight edge on both sides of the face (left and right, or above and below), each
  longer than the face and running past it: the bezel of a phone or monitor, or a print's border.
  A real head is not framed like that at arm's length (door frames are farther or on one side only).
* ``moire``: the strongest isolated peak in the face's spectrum against the median of its ring. A
  screen's pixel grid beats against the camera's sensor grid; the result is a periodic pattern that
  skin does not have.
* ``blur``: fine detail of the face at a fixed 128 px scale. Re-filming a screen loses it (the
  screen resamples, the camera defocuses on a flat bright surface). On its own it could be a cheap
  camera; it only adds to other cues.
* ``glare``: share of clipped pixels on the face: a screen's backlight or a glossy print's reflection.

The thresholds come from the public clips in the test data (three replays, one print still, seven
genuine clips): a small set, so each cue is scored with a margin and no single weak cue decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

__all__ = ["FrameCues", "frame_cues", "score"]

U8 = npt.NDArray[np.uint8]

_CROP = 128
_yy, _xx = np.mgrid[-_CROP // 2 : _CROP // 2, -_CROP // 2 : _CROP // 2]
_RADIUS = np.hypot(_yy, _xx)
_RING = (_RADIUS > 20) & (_RADIUS < 60)
_WINDOW = np.outer(np.hanning(_CROP), np.hanning(_CROP))


@dataclass(frozen=True)
class FrameCues:
    framed: bool
    moire: float
    sharpness: float
    glare: float


def _cover(intervals: list[tuple[float, float]], max_gap: float) -> tuple[float, float, float]:
    """Union of 1-D intervals joined across gaps up to ``max_gap``: the longest (lo, hi, covered)."""
    best = (0.0, 0.0, 0.0)
    cur: list[float] | None = None
    for lo, hi in sorted(intervals):
        if cur is not None and lo <= cur[1] + max_gap:
            cur[2] += max(0.0, hi - max(lo, cur[1]))
            cur[1] = max(cur[1], hi)
        else:
            cur = [lo, hi, hi - lo]
        if cur[2] > best[2]:
            best = (cur[0], cur[1], cur[2])
    return best


def _sides(
    segments: list[tuple[float, float, float, float]], box: tuple[int, int, int, int], reach: float
) -> dict[str, bool]:
    """Which sides of the face have a long straight edge that runs past the face (segments in face
    coordinates: along = the coordinate along the edge, across = its position)."""
    x0, y0, x1, y1 = box
    fw, fh = max(x1 - x0, 1), max(y1 - y0, 1)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    groups: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for xa, ya, xb, yb in segments:
        dx, dy = xb - xa, yb - ya
        if abs(dx) < 0.2 * abs(dy):  # near-vertical: where is it at the face's centre height?
            pos = xa + dx * (cy - ya) / dy
            if x0 - 0.1 * fw > pos > cx - reach * fw:
                key = ("l", round(pos / (0.08 * fw)))
            elif x1 + 0.1 * fw < pos < cx + reach * fw:
                key = ("r", round(pos / (0.08 * fw)))
            else:
                continue
            groups.setdefault(key, []).append((min(ya, yb), max(ya, yb)))
        elif abs(dy) < 0.2 * abs(dx):
            pos = ya + dy * (cx - xa) / dx
            if y0 - 0.1 * fh > pos > cy - reach * fh:
                key = ("t", round(pos / (0.08 * fh)))
            elif y1 + 0.1 * fh < pos < cy + reach * fh:
                key = ("b", round(pos / (0.08 * fh)))
            else:
                continue
            groups.setdefault(key, []).append((min(xa, xb), max(xa, xb)))
    near = {"l": False, "r": False, "t": False, "b": False}
    for (side, _), spans in groups.items():
        vertical = side in "lr"
        size, lo_face, hi_face = (fh, y0, y1) if vertical else (fw, x0, x1)
        lo, hi, covered = _cover(spans, 0.35 * size)
        # an edge of the screen / print runs past the face at both ends and is mostly unbroken
        if lo < lo_face + 0.1 * size and hi > hi_face - 0.1 * size and covered > 1.1 * size:
            near[side] = True
    return near


def _solid(edges: U8, segs: list[tuple[float, float, float, float]], need: float = 0.9) -> list[bool]:
    """Is each segment one unbroken edge? Hough also joins scattered points of a textured background
    (shelves, patterned wallpaper) into lines; the edge of a screen or a print is continuous.

    Each segment is sampled at ``max(8, length / 2)`` points, exactly as ``np.linspace`` would place
    them (start + i * step, the last one at the end), all segments at once."""
    if not segs:
        return []
    a = np.asarray(segs, dtype=np.float64)
    n = np.maximum(8, (np.hypot(a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]) / 2).astype(int))
    seg = np.repeat(np.arange(len(segs)), n)
    starts = np.concatenate(([0], np.cumsum(n)[:-1]))
    i = (np.arange(int(n.sum())) - starts[seg]).astype(np.float64)
    last = starts + n - 1
    h, w = edges.shape[:2]

    def place(lo: npt.NDArray[np.float64], hi: npt.NDArray[np.float64], size: int) -> npt.NDArray[np.intp]:
        v = i * ((hi - lo) / (n - 1))[seg] + lo[seg]
        v[last] = hi
        return np.asarray(np.clip(v.round().astype(int), 0, size - 1), dtype=np.intp)

    xs, ys = place(a[:, 0], a[:, 2], w), place(a[:, 1], a[:, 3], h)
    hits = np.add.reduceat((edges[ys, xs] != 0).astype(np.int64), starts)
    return [bool(x) for x in hits / n >= need]


def _framed(gray: U8, box: tuple[int, int, int, int], reach: float = 1.8) -> bool:
    fh = max(box[3] - box[1], 1)
    edges = cv2.Canny(cv2.GaussianBlur(gray, (5, 5), 0), 30, 90)
    lines = cv2.HoughLinesP(
        edges,
        1,
        np.pi / 180,
        threshold=max(10, fh // 4),
        minLineLength=max(10, int(0.3 * fh)),
        maxLineGap=int(0.1 * fh) + 2,
    )
    if lines is None:
        return False
    thick = np.asarray(cv2.dilate(edges, np.ones((3, 3), np.uint8)), dtype=np.uint8)
    segs = [(float(a), float(b), float(c), float(d)) for a, b, c, d in lines.reshape(-1, 4).tolist()]
    segs = [sg for sg, ok in zip(segs, _solid(thick, segs), strict=True) if ok]
    near = _sides(segs, box, reach)
    return (near["l"] and near["r"]) or (near["t"] and near["b"])


def frame_cues(bgr: U8, gray: U8, box: tuple[int, int, int, int]) -> FrameCues:
    x0, y0, x1, y1 = box
    crop = bgr[max(0, y0) : y1, max(0, x0) : x1]
    if crop.size == 0:
        return FrameCues(False, 0.0, 0.0, 0.0)
    crop = np.asarray(cv2.resize(crop, (_CROP, _CROP), interpolation=cv2.INTER_AREA), dtype=np.uint8)
    g = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).astype(np.float32)
    sharp = float(cv2.Laplacian(g, cv2.CV_32F).var())
    spec = np.abs(np.fft.fftshift(np.fft.fft2((g - g.mean()) * _WINDOW)))
    ring = spec[_RING]
    moire = float(np.percentile(ring, 99.9) / (float(np.median(ring)) + 1e-6))
    glare = float(np.count_nonzero(g >= 245)) / g.size
    return FrameCues(_framed(gray, box), moire, sharp, glare)


def score(cues: Sequence[FrameCues]) -> tuple[float, tuple[tuple[str, float], ...]]:
    """(score, named clip-level cues). A score of 1.0 or more means a presentation attack."""
    if not cues:
        return 0.0, ()
    framed = float(np.mean([c.framed for c in cues]))
    moire = float(np.median([c.moire for c in cues]))
    sharp = float(np.median([c.sharpness for c in cues]))
    glare = float(np.median([c.glare for c in cues]))
    parts = {
        # A bezel in two thirds of the frames is an attack on its own (cluttered rooms reach ~0.3).
        "frame": float(np.clip((framed - 0.25) / 0.4, 0.0, 1.5)),
        # Genuine clips stay below ~30; a re-filmed screen goes well above.
        "moire": float(np.clip((moire - 30.0) / 30.0, 0.0, 1.5)),
        # Genuine clips keep > 50 at 128 px; re-filmed screens fall to ~10-20.
        "blur": float(np.clip((45.0 - sharp) / 30.0, 0.0, 1.0)) * 0.6,
        "glare": float(np.clip((glare - 0.05) / 0.2, 0.0, 1.5)),
    }
    named = (
        ("frame_fraction", framed),
        ("moire_peak", moire),
        ("face_sharpness", sharp),
        ("glare_fraction", glare),
        *((f"score_{k}", v) for k, v in parts.items()),
    )
    return float(sum(parts.values())), named
