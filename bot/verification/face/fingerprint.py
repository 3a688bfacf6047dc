"""A fingerprint of a video, so an altered copy of an earlier submission is recognised.

The sha256 content hash only catches the very same bytes; forwarding, re-compressing, mirroring,
cropping, rotating a little or changing brightness and contrast changes them. Two parts:

* **the movements** (version 2): how the eyes, the mouth, the head's turn and nod and its distance
  to the camera change over the clip, read from the landmarks at 32 moments spread over it. Every
  measure is scale-free and taken against the clip's own median, and the turn is taken as its size
  (not its direction): mirroring, cropping, small rotations, brightness, contrast and re-encoding do
  not change them beyond the landmarks' jitter, while another take -- even with the same actions --
  moves at other moments. Pixel hashes of the face were tried first and dropped: a mirrored copy's
  landmarks (the crop's alignment) differ by ~0.7 degree and 0.3 px, enough to flip 12-30 of 71-127
  low-frequency bits, as many as separate two takes of the same man.
* **the frames** (version 1): the whole-frame 256-bit dHash of 8 frames spread over the clip;
  re-encoding and resizing change a handful of bits. Kept, so that nothing caught before is missed
  and fingerprints stored before version 2 (8 dHashes, no marker; the video_fingerprints table,
  migration 0005) are still compared.

Format (a tuple of ints, stored as before): ``(VERSION, d1..d8, m1..m160)`` -- ``VERSION`` is negative
(no hash is), ``d`` the dHashes, ``m`` the movements (5 measures x 32 moments, in hundredths of
their unit; ``ABSENT`` where the face was not seen). A stored row of version 1 is just ``(d1..d8)``.

Measured (bench/RESULTS-face.md): altered copies of the public clips <= 0.52 of the movement, other
clips >= 0.82 (threshold 0.65).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from .liveness import eye_aspect_ratio, interocular, mouth_aspect_ratio, pitch_ratio, yaw_ratio

__all__ = [
    "ABSENT",
    "FRAMES",
    "MOMENTS",
    "SIDE",
    "VERSION",
    "dhash",
    "distance",
    "fingerprint",
    "frame_bits",
    "movement",
    "pick",
    "same_recording",
]

FRAMES = 8
SIDE = 16
VERSION = -2
MOMENTS = 32
# unit of each measure: eye opening, mouth opening, turn, nod, log of the face's size
_UNITS = (0.05, 0.1, 0.05, 0.05, 0.1)
_SAME_MOVEMENT = 0.65  # distance / the livelier clip's movement below = the same recording (measured)
ABSENT = -(1 << 15)  # a moment without the face
_CAP = 3.0  # units: a blink, a mouth opening, a turn or a nod is about this size
_ABSENT_GAP = 0.15  # s from a moment to the nearest frame with the face, beyond which it is absent


def dhash(bgr: npt.NDArray[np.uint8]) -> int:
    """Version 1's hash of a whole frame."""
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
    small = cv2.resize(gray, (SIDE + 1, SIDE), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int(sum(1 << i for i, b in enumerate(bits.tolist()) if b))


def movement(
    times: Sequence[float], points: Sequence[npt.NDArray[np.float64]], duration: float
) -> tuple[int, ...]:
    """The movement part: 5 measures at ``MOMENTS`` moments (``points``: 68-point landmarks of the
    frames where the face was seen, at ``times``); empty with fewer than 3 such frames. A moment with
    no such frame close to it (the face hidden or lost) is ``ABSENT``: it is left out of comparisons,
    since what the landmarks say around a half-hidden face is noise that differs from copy to copy."""
    if len(points) < 3 or duration <= 0:
        return ()
    v = np.array(
        [
            (
                eye_aspect_ratio(p),
                mouth_aspect_ratio(p),
                yaw_ratio(p),
                pitch_ratio(p),
                np.log(max(interocular(p), 1e-6)),
            )
            for p in points
        ]
    )
    v = v - np.median(v, axis=0)
    v[:, 2] = np.abs(v[:, 2])  # a mirrored copy turns the other way
    grid = (np.arange(MOMENTS) + 0.5) / MOMENTS * duration
    t = np.asarray(times, dtype=np.float64)
    cols = np.stack([np.interp(grid, t, v[:, k]) / _UNITS[k] for k in range(len(_UNITS))], axis=1)
    gap = np.min(np.abs(grid[:, None] - t[None, :]), axis=1)
    values = np.round(100 * cols)
    values[gap > _ABSENT_GAP] = ABSENT
    return tuple(int(x) for x in values.flatten())


def pick(hashes: Sequence[int]) -> tuple[int, ...]:
    """``FRAMES`` hashes spread evenly over all sampled frames (the relative position is what survives
    a change of frame rate)."""
    if not hashes:
        return ()
    idx = np.linspace(0, len(hashes) - 1, min(FRAMES, len(hashes))).round().astype(int)
    return tuple(hashes[i] for i in idx)


def fingerprint(frames: Sequence[int], moves: Sequence[int]) -> tuple[int, ...]:
    """The stored form, ``(VERSION, *pick(frames), *moves)``; version 1's form without movements."""
    d = pick(frames)
    if not d:
        return ()
    return (VERSION, *d, *moves) if moves else d


def _parts(fp: Sequence[int]) -> tuple[tuple[int, ...], npt.NDArray[np.float64] | None]:
    """(dHashes, movements as MOMENTS x 5 in units) of a fingerprint of either version."""
    if fp and fp[0] == VERSION:
        rest = tuple(fp[1:])
        n = len(rest) - MOMENTS * len(_UNITS)
        if 0 < n <= FRAMES:
            m = np.array(rest[n:], dtype=np.float64).reshape(MOMENTS, len(_UNITS)) / 100.0
            return rest[:n], m
        return rest, None
    return tuple(fp), None


def distance(a: Sequence[int], b: Sequence[int]) -> float | None:
    """How differently two clips move: RMS difference of their movements over the livelier one's own
    RMS movement (0: identical), over the moments where both show the face; None when either has no
    movement part (version 1) or they share fewer than half the moments."""
    (_, ma), (_, mb) = _parts(a), _parts(b)
    if ma is None or mb is None:
        return None
    both = (ma[:, 0] > ABSENT / 100.0) & (mb[:, 0] > ABSENT / 100.0)
    if both.sum() < MOMENTS // 2:
        return None
    # each measure capped at about the size of a deliberate action: a few frames of nonsense landmarks
    # (a half-hidden face, read differently in each copy) must not outweigh the whole clip
    ma, mb = np.clip(ma[both], -_CAP, _CAP), np.clip(mb[both], -_CAP, _CAP)
    lively = max(float(np.sqrt(np.mean(ma**2))), float(np.sqrt(np.mean(mb**2))), 0.3)
    return float(np.sqrt(np.mean((ma - mb) ** 2))) / lively


def frame_bits(a: Sequence[int], b: Sequence[int]) -> list[int]:
    """Bits that differ, frame by frame, between two fingerprints' dHashes."""
    (da, _), (db, _) = _parts(a), _parts(b)
    return [bin(x ^ y).count("1") for x, y in zip(da, db, strict=False)]


def same_recording(
    a: Sequence[int], b: Sequence[int], *, max_bits: int = 16, min_share: float = 0.85
) -> bool:
    """Do two fingerprints come from the same recording? Either most frame pairs' dHashes within
    ``max_bits`` (version 1's rule, all a row stored by it can be compared by), or the same movements
    (both version 2)."""
    (da, _), (db, _) = _parts(a), _parts(b)
    if da and len(da) == len(db):
        close = sum(bin(x ^ y).count("1") <= max_bits for x, y in zip(da, db, strict=True))
        if close / len(da) >= min_share:
            return True
    d = distance(a, b)
    return d is not None and d < _SAME_MOVEMENT
