"""Text lines of a photo with rapidocr (PP-OCRv6 models shipped in its wheel, see models.py), upright.

Detection runs on a reduced copy (its cost grows with the pixel count, and card text stays large
enough); recognition crops come from a sharper copy. The reading direction of the whole photo is
estimated from the lines themselves (any multiple of 90° plus skew), and the line boxes are returned
in an *upright* frame together with the transform, so that callers reason about the layout as if the
card had been photographed straight.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

__all__ = [
    "OcrLine",
    "OcrPage",
    "fuse_readings",
    "rank_candidates",
    "read_closer",
    "read_lines",
    "read_part",
    "read_region",
    "warm_up",
]

Array = npt.NDArray[Any]

# Detection input (largest side); SHIMING_OCR_DET_SIDE overrides it for measurements (bench).
DET_MAX_SIDE = int(os.environ.get("SHIMING_OCR_DET_SIDE", "0")) or 736
REC_MAX_SIDE = 1800  # source of recognition crops
# Recognition input width, at least this many heights (see _recognise).
_MIN_REC_RATIO = float(os.environ.get("SHIMING_OCR_REC_MIN_RATIO", "0")) or 3.0
# The angle classifier only decides 0° or 180° for the whole photo: the longest lines suffice.
_CLS_LINES = 8


@dataclass(frozen=True)
class OcrLine:
    text: str
    score: float
    # Corners in the upright frame, clockwise from the top-left of the text, shape (4, 2).
    quad: tuple[tuple[float, float], ...]
    # The upright crop that was recognised (kept for re-scoring against a closed list of values).
    crop: Array | None = field(default=None, compare=False, repr=False)
    # Centre of each character of ``text`` in ``crop``, as a fraction of its width (empty: unknown).
    char_x: tuple[float, ...] = field(default=(), compare=False, repr=False)
    # Per character of ``text``: the recogniser's best classes where it read it, with their mean
    # probability over the character's frames, best first (empty: unknown). A second class close to
    # the first tells a character the recogniser was unsure of (a rare one read as a look-alike).
    char_alts: tuple[tuple[tuple[str, float], ...], ...] = field(default=(), compare=False, repr=False)

    @property
    def x0(self) -> float:
        return min(p[0] for p in self.quad)

    @property
    def x1(self) -> float:
        return max(p[0] for p in self.quad)

    @property
    def y0(self) -> float:
        return min(p[1] for p in self.quad)

    @property
    def y1(self) -> float:
        return max(p[1] for p in self.quad)

    @property
    def cy(self) -> float:
        return sum(p[1] for p in self.quad) / 4

    @property
    def height(self) -> float:
        (ax, ay), (bx, by), (cx, cy), (dx, dy) = self.quad[:4]
        return (math.hypot(dx - ax, dy - ay) + math.hypot(cx - bx, cy - by)) / 2


@dataclass
class OcrPage:
    lines: list[OcrLine]
    # 2x3 affine transform from the pixel frame of ``image`` (the reduced photo) to the upright frame,
    # and the size of the upright frame.
    upright: Array
    upright_size: tuple[int, int]
    image: Array  # the BGR photo the coordinates refer to (at REC_MAX_SIDE at most)
    angle_deg: float  # reading direction that was undone (counter-clockwise, degrees)

    def upright_crop(self, box: tuple[float, float, float, float]) -> Array | None:
        """The pixels of an upright-frame box (x0, y0, x1, y1), warped straight from the photo (cheaper
        than turning the whole photo); None for a box of less than 2 px."""
        x0, y0, x1, y1 = box
        width, height = round(x1 - x0), round(y1 - y0)
        if width < 2 or height < 2:
            return None
        corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
        inv = cv2.invertAffineTransform(self.upright)
        src = cv2.transform(corners.reshape(1, 4, 2), inv).reshape(4, 2).astype(np.float32)
        dst = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
        m = cv2.getPerspectiveTransform(src, dst)
        return np.asarray(
            cv2.warpPerspective(self.image, m, (width, height), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
        )

    def upright_image(self) -> Array:
        return np.asarray(
            cv2.warpAffine(
                self.image, self.upright, self.upright_size, flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0)
            )
        )


@dataclass(frozen=True)
class _Engine:
    """rapidocr's three stages, used one by one (detection on our own reduced copy, recognition of
    our own re-aligned crops)."""

    det: Any
    cls: Any
    rec: Any


def ocr_threads() -> int:
    return int(os.environ.get("SHIMING_OCR_THREADS", "0")) or min(2, os.cpu_count() or 1)


@functools.cache
def _engine() -> _Engine:
    """One engine per process: loading the three ONNX models costs ~0.3 s and ~100 MB."""
    from rapidocr import RapidOCR

    from bot.verification.idcard.models import model_paths

    paths = model_paths()  # verified against the wheel's model licence notice
    threads = ocr_threads()
    engine = RapidOCR(
        params={
            "Global.log_level": "error",
            "Global.text_score": 0.3,
            # Explicit files: rapidocr's resolver (which downloads a missing model) is never used.
            "Det.model_path": str(paths["det"]),
            "Cls.model_path": str(paths["cls"]),
            "Rec.model_path": str(paths["rec"]),
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            # The arena keeps the buffers of one inference for the next (same sizes recur).
            "EngineConfig.onnxruntime.enable_cpu_mem_arena": True,
            "Det.limit_type": "max",
            "Det.limit_side_len": DET_MAX_SIDE,
            "Det.box_thresh": 0.5,
            "Det.unclip_ratio": 1.6,
            # One line per inference: batching pads every crop to the widest of the batch.
            "Rec.rec_batch_num": 1,
            "Cls.cls_batch_num": 8,
        }
    )
    return _Engine(
        engine._load_det_model(),  # type: ignore[no-untyped-call]
        engine._load_cls_model(),  # type: ignore[no-untyped-call]
        engine._load_rec_model(),  # type: ignore[no-untyped-call]
    )


_Alts = tuple[tuple[tuple[str, float], ...], ...]
_N_ALTS = 3


def _alternatives(probs: Array, idx: Array, frames: Array, chars: Sequence[str]) -> _Alts:
    """The best classes of each emitted character, averaged over the run of frames it spans."""
    out: list[tuple[tuple[str, float], ...]] = []
    n = len(idx)
    for k in frames:
        end = int(k) + 1
        while end < n and idx[end] == idx[k]:
            end += 1
        mean = probs[int(k) : end].mean(axis=0)
        mean[0] = 0.0  # the blank is no reading of the character
        top = np.argpartition(mean, -_N_ALTS)[-_N_ALTS:]
        top = top[np.argsort(-mean[top])]
        out.append(tuple((chars[int(c)], float(mean[c])) for c in top))
    return tuple(out)


def _recognise(crops: Sequence[Array]) -> list[tuple[str, float, tuple[float, ...]]]:
    return [(text, score, pos) for text, score, pos, _alts in _recognise_alts(crops)]


def _recognise_alts(crops: Sequence[Array]) -> list[tuple[str, float, tuple[float, ...], _Alts]]:
    """Text, mean confidence and each character's centre (fraction of the crop width) per crop.

    rapidocr's own preprocessing (height 48), one crop per inference, but padded only to 3 heights
    instead of rapidocr's 320 px: a card has many short lines (labels, a name, 男), and on 131 lines
    of 18 bench photos the padding cost a fifth of the recogniser's CPU time (4.68 s against 3.74 s)
    while the texts were the same but for inserted spaces and stray marks. Decoded here, greedily as
    rapidocr does, to keep where in the crop each character was read (the colour of its ink tells a
    label from a value).
    """
    if not crops:
        return []
    rec = _engine().rec
    chars = rec.postprocess_op.character
    _c, img_h, _w = rec.rec_image_shape
    out: list[tuple[str, float, tuple[float, ...], _Alts]] = []
    for crop in crops:
        h, w = crop.shape[:2]
        ratio = max(_MIN_REC_RATIO, w / max(h, 1))
        norm = rec.resize_norm_img(crop, ratio)[np.newaxis, :].astype(np.float32)
        probs = np.asarray(rec.session(norm))[0]
        idx = probs.argmax(axis=1)
        conf = probs.max(axis=1)
        keep = np.ones(len(idx), dtype=bool)
        keep[1:] = idx[1:] != idx[:-1]
        keep &= idx != 0
        frames = np.flatnonzero(keep)
        text = "".join(chars[int(k)] for k in idx[frames])
        score = float(conf[frames].mean()) if len(frames) else 0.0
        # Frame k covers k..k+1 of the padded input's width in frames; the crop fills its first part.
        padded = norm.shape[3]
        resized = min(padded, math.ceil(img_h * w / max(h, 1)))
        pos = tuple(float(min(1.0, (k + 0.5) * padded / len(idx) / max(resized, 1))) for k in frames)
        out.append((text, score, pos, _alternatives(probs, idx, frames, chars)))
    return out


def warm_up() -> None:
    """Load the models and run them once (the first inference allocates the ONNX arenas)."""
    img = np.full((64, 256, 3), 255, np.uint8)
    cv2.putText(img, "12345", (10, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 2)
    read_lines(img)


def _resize_max(img: Array, max_side: int) -> tuple[Array, float]:
    h, w = img.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale >= 1.0:
        return img, 1.0
    out = cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return np.asarray(out), scale


def _order_quad(box: Array) -> Array:
    """Detector boxes come clockwise from the top-left in *image* coordinates."""
    return np.asarray(box, dtype=np.float32).reshape(4, 2)


def _aligned_crop(image: Array, quad: Array, direction: Array) -> tuple[Array, Array]:
    """Warp a detected quad into an upright text crop whose x axis follows ``direction``; returns the
    crop and the quad reordered so that it starts at the text's top-left corner."""
    best = max(range(4), key=lambda s: float(np.dot(quad[(s + 1) % 4] - quad[s], direction)))
    q = np.roll(quad, -best, axis=0).astype(np.float32)
    width = int(max(np.linalg.norm(q[1] - q[0]), np.linalg.norm(q[2] - q[3])))
    height = int(max(np.linalg.norm(q[3] - q[0]), np.linalg.norm(q[2] - q[1])))
    width, height = max(width, 2), max(height, 2)
    dst = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(q, dst)
    crop = cv2.warpPerspective(
        image, m, (width, height), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC
    )
    return np.asarray(crop), q


def read_lines(bgr: Array) -> OcrPage:
    """Detect text lines, find the reading direction of the whole photo, recognise every line cropped
    along that direction, and return the lines in the upright frame."""
    engine = _engine()
    image, _ = _resize_max(bgr, REC_MAX_SIDE)
    det_img, det_scale = _resize_max(image, DET_MAX_SIDE)
    boxes = engine.det(det_img).boxes
    h, w = image.shape[:2]
    if boxes is None or len(boxes) == 0:
        return OcrPage([], np.eye(2, 3, dtype=np.float64), (w, h), image, 0.0)
    quads = [_order_quad(b) / det_scale for b in boxes]

    # Reading direction of each line as rapidocr crops it: p0→p1 for a wide box; a tall crop is
    # turned 90° counter-clockwise, which reads along p0→p3; the angle classifier tells whether the
    # crop is upside down. All lines of a card read the same way: sum them, longer lines weigh more.
    from rapidocr.utils.process_img import get_rotate_crop_image

    longest = sorted(
        quads, key=lambda q: -float(max(np.linalg.norm(q[1] - q[0]), np.linalg.norm(q[3] - q[0])))
    )
    longest = longest[:_CLS_LINES]
    crops = [get_rotate_crop_image(image, q.astype(np.float32).copy()) for q in longest]
    cls_res = engine.cls(crops).cls_res
    total = np.zeros(2, dtype=np.float64)
    for quad, (label, score) in zip(longest, cls_res, strict=True):
        p0, p1, _p2, p3 = quad
        width = float(np.linalg.norm(p1 - p0))
        height = float(np.linalg.norm(p3 - p0))
        vec = (p3 - p0) if height / max(width, 1e-6) >= 1.5 else (p1 - p0)
        if str(label) == "180":
            vec = -vec
        total += vec * float(score)
    angle = math.degrees(math.atan2(float(total[1]), float(total[0])))
    direction = np.array([math.cos(math.radians(angle)), math.sin(math.radians(angle))], dtype=np.float32)
    upright, size = _rotation(angle, (w, h))

    # Re-crop every line along the common direction: short lines (one character) and upside-down
    # digits are where the per-line classifier errs.
    aligned = [_aligned_crop(image, quad, direction) for quad in quads]
    rec_res = _recognise_alts([crop for crop, _ in aligned])
    lines: list[OcrLine] = []
    heights = [float(np.linalg.norm(q[3] - q[0])) for _c, q in aligned]
    typical = float(np.median(heights))
    for (crop, quad), (text, score, char_x, alts), height in zip(aligned, rec_res, heights, strict=True):
        # A box several lines tall is a picture (the portrait, the emblem) read as a character.
        if height > 2.5 * typical:
            continue
        if not text or float(score) < 0.3:
            continue
        pts = cv2.transform(quad.reshape(1, 4, 2).astype(np.float64), upright).reshape(4, 2)
        quad_t = tuple((float(x), float(y)) for x, y in pts)
        lines.append(OcrLine(str(text), float(score), quad_t, crop, char_x, alts))
    return OcrPage(lines, upright, size, image, angle)


# A closer read is worth a second detection only when the crop is a real zoom (largest side at most
# this share of the photo's, 1.25x): else the detector would see the same text at about the same size.
_CLOSER_MAX_SHARE = 0.8


def read_closer(page: OcrPage) -> OcrPage | None:
    """The photo read again from a crop around the text it was found to hold, or None when that
    would be no real zoom.

    A card photographed from afar fills a small part of the photo: its large lines (中华人民共和国)
    are found while its 3 mm lines (签发机关, 有效期限) fall below what the detector finds at
    DET_MAX_SIDE (seed 2071 serif card 108: the back's title at 25 px in the detector's input, the
    other lines at ~11 px, none found). Within three quarters of what was found's extent on every side
    lies the rest of the card (a back's title is half the card's width)."""
    if not page.lines:
        return None
    xs = [x for ln in page.lines for x, _y in ln.quad]
    ys = [y for ln in page.lines for _x, y in ln.quad]
    x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
    margin = 0.75 * max(x1 - x0, y1 - y0)
    w, h = page.upright_size
    box = (max(0.0, x0 - margin), max(0.0, y0 - margin), min(w, x1 + margin), min(h, y1 + margin))
    if max(box[2] - box[0], box[3] - box[1]) > _CLOSER_MAX_SHARE * max(page.image.shape[:2]):
        return None
    crop = page.upright_crop(box)
    return read_lines(crop) if crop is not None else None


def _char_probs(crop: Array) -> Array:
    """Per-frame character probabilities (T x C, softmax) of the recogniser for one crop."""
    rec = _engine().rec
    h, w = crop.shape[:2]
    ratio = max(_MIN_REC_RATIO, w / max(h, 1))
    norm = rec.resize_norm_img(crop, ratio)[np.newaxis, :].astype(np.float32)
    return np.asarray(rec.session(norm)[0], dtype=np.float64)


def _ctc_log_likelihoods(probs: Array, label_seqs: Sequence[Sequence[int | None]], unknown: Array) -> Array:
    """log P(labels | probs) of several label sequences at once, by the CTC forward algorithm
    (blank = 0). A label of None is a character missing from the recogniser's alphabet: it is
    scored as ``unknown`` (a small share of the frame's non-blank mass)."""
    t_len = probs.shape[0]
    k = len(label_seqs)
    n = 2 * max(len(seq) for seq in label_seqs) + 1
    eps = 1e-12
    log_emit = np.full((k, t_len, n), -np.inf)
    can_skip = np.zeros((k, n), dtype=bool)
    ends = np.zeros(k, dtype=np.int64)
    log_probs = np.log(probs + eps)
    log_unknown = np.log(unknown + eps)
    for i, seq in enumerate(label_seqs):
        ext: list[int | None] = [0]
        for lab in seq:
            ext += [lab, 0]
        for j, lab in enumerate(ext):
            log_emit[i, :, j] = log_unknown if lab is None else log_probs[:, lab]
            # Skipping the blank between two different labels is allowed, between equal ones not.
            can_skip[i, j] = j >= 2 and lab != 0 and lab != ext[j - 2]
        ends[i] = len(ext) - 1
    alpha = np.full((k, n), -np.inf)
    alpha[:, 0] = log_emit[:, 0, 0]
    alpha[:, 1] = log_emit[:, 0, 1]
    minus_inf1 = np.full((k, 1), -np.inf)
    minus_inf2 = np.full((k, 2), -np.inf)
    for t in range(1, t_len):
        shifted1 = np.concatenate((minus_inf1, alpha[:, :-1]), axis=1)
        shifted2 = np.where(can_skip, np.concatenate((minus_inf2, alpha[:, :-2]), axis=1), -np.inf)
        alpha = np.logaddexp(np.logaddexp(alpha, shifted1), shifted2) + log_emit[:, t]
    rows = np.arange(k)
    result = np.logaddexp(alpha[rows, ends], alpha[rows, np.maximum(ends - 1, 0)])
    # Sequences too long for the frames have no alignment.
    too_long = np.array([2 * len(seq) + 1 > 2 * t_len + 1 for seq in label_seqs])
    return np.asarray(np.where(too_long, -np.inf, result))


def rank_candidates(line: OcrLine, candidates: Sequence[str]) -> list[tuple[float, str]]:
    """Log-likelihood of each candidate reading of ``line`` under the recogniser, best first.

    Used to read a field whose values form a closed list (ethnicities) where the free reading
    confused a rare character with a common look-alike.
    """
    if line.crop is None or not candidates:
        return []
    probs = _char_probs(line.crop)
    index = _engine().rec.postprocess_op.dict
    # An out-of-alphabet glyph: a small share of whatever non-blank mass the frame has.
    unknown = 0.005 * (1.0 - probs[:, 0])
    scores = _ctc_log_likelihoods(probs, [[index.get(ch) for ch in cand] for cand in candidates], unknown)
    return sorted(zip((float(v) for v in scores), candidates, strict=True), reverse=True)


def _rotation(angle_deg: float, size: tuple[int, int]) -> tuple[Array, tuple[int, int]]:
    """Affine transform that turns text read along ``angle_deg`` (image coordinates, y down) to read
    left to right, on a canvas large enough for the whole rotated photo."""
    w, h = size
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos + 0.5), int(h * cos + w * sin + 0.5)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return np.asarray(m, dtype=np.float64), (nw, nh)


def read_region(
    page: OcrPage, box: tuple[float, float, float, float], *, min_score: float = 0.5, clip_right: bool = False
) -> OcrLine | None:
    """Recognise one line of text in an upright-frame box (x0, y0, x1, y1) without detection: for a
    short value (one character such as 男) that the detector missed next to its label."""
    x0, y0, x1, y1 = box
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    inv = cv2.invertAffineTransform(page.upright)
    h, w = page.image.shape[:2]

    def source(right: float) -> npt.NDArray[np.float32]:
        corners = np.array([[x0, y0], [right, y0], [right, y1], [x0, y1]], dtype=np.float64)
        return np.asarray(cv2.transform(corners.reshape(1, 4, 2), inv).reshape(4, 2), dtype=np.float32)

    def inside(src: npt.NDArray[np.float32]) -> bool:
        return bool(
            src[:, 0].min() >= -2
            and src[:, 1].min() >= -2
            and src[:, 0].max() <= w + 2
            and src[:, 1].max() <= h + 2
        )

    src = source(x1)
    if not inside(src) and clip_right and inside(source(x0 + 4)):
        # A box reaching past the photo's edge along the line (a value read "as far as it can reach"
        # on a card near the edge): shortened to what the photo holds, never filled with invented pixels.
        lo, hi = x0 + 4, x1
        for _ in range(12):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if inside(source(mid)) else (lo, mid)
        x1, src = lo, source(lo)
    if not inside(src):
        return None
    width, height = max(2, round(x1 - x0)), max(2, round(y1 - y0))
    dst = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    crop = np.asarray(
        cv2.warpPerspective(
            page.image,
            cv2.getPerspectiveTransform(src, dst),
            (width, height),
            borderMode=cv2.BORDER_REPLICATE,
        )
    )
    ((text, score, char_x, alts),) = _recognise_alts([crop])
    if float(score) < min_score or (not text and min_score > 0):
        return None
    quad = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
    return OcrLine(str(text), float(score), quad, crop, char_x, alts)


def read_part(line: OcrLine, start: float) -> OcrLine | None:
    """Recognise ``line``'s crop from ``start`` (a fraction of its width) on, as a line of its own.

    The recogniser reads a line in context: on the bench's rare-name cards, a name read in one box
    with its label (姓名赵赟) came out as its common look-alike (赞) where the name read alone did
    not (see bench/RESULTS-idcard.md)."""
    if line.crop is None or not 0.0 < start < 1.0:
        return None
    width = line.crop.shape[1]
    x = round(start * width)
    if width - x < 4:
        return None
    ((text, score, char_x, alts),) = _recognise_alts([line.crop[:, x:]])
    if not text:
        return None
    (ax, ay), (bx, by), (cx, cy), (dx, dy) = line.quad[:4]
    quad = (
        (ax + (bx - ax) * start, ay + (by - ay) * start),
        (bx, by),
        (cx, cy),
        (dx + (cx - dx) * start, dy + (cy - dy) * start),
    )
    return OcrLine(str(text), float(score), quad, line.crop[:, x:], char_x, alts)


def fuse_readings(
    first: Sequence[tuple[tuple[str, float], ...]], second: Sequence[tuple[tuple[str, float], ...]]
) -> tuple[str, _Alts]:
    """Two readings of the same characters (one class list per character, equally long) as one:
    each character's classes averaged over both, best first."""
    text: list[str] = []
    fused: list[tuple[tuple[str, float], ...]] = []
    for a, b in zip(first, second, strict=True):
        probs: dict[str, float] = {}
        for ch, p in (*a, *b):
            probs[ch] = probs.get(ch, 0.0) + p / 2
        best = tuple(sorted(probs.items(), key=lambda kv: -kv[1])[:_N_ALTS])
        text.append(best[0][0] if best else "")
        fused.append(best)
    return "".join(text), tuple(fused)
