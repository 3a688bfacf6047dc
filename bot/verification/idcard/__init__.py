"""Read, check and crop Chinese resident ID cards from phone photos.

Pure and synchronous: the bot calls :func:`read_side` in a process pool. Everything returned is a
dataclass of plain values (picklable). OCR and face-detector models are loaded once per process.
"""

from __future__ import annotations

import time
from datetime import date

import numpy as np

from bot.verification.idcard.fields import ETHNICITIES, BackFields, FrontFields, Side, SideReading
from bot.verification.idcard.ocr import OcrPage, read_closer, read_lines, warm_up
from bot.verification.idcard.parse import detect_side, group_rows, parse_back, parse_front, partly_read
from bot.verification.idcard.portrait import card_frame, crop_portrait, search_box, to_rgb
from bot.verification.idcard.validate import (
    IdCardReason,
    side_problems,
    validate_back,
    validate_card,
    validate_front,
)
from bot.verification.images import (
    ImageLimits,
    ImageReason,
    ImageRejected,
    brightness,
    decode_image,
    encode_jpeg,
    glare_fraction,
    sharpness,
    to_bgr_array,
    to_gray_array,
)

__all__ = [
    "ETHNICITIES",
    "BackFields",
    "FrontFields",
    "IdCardReason",
    "Side",
    "SideReading",
    "read_side",
    "side_problems",
    "validate_back",
    "validate_card",
    "validate_front",
    "warm_up",
]

# Phone photos are decoded at about this size (JPEG DCT scaling): enough for card text.
_DECODE_SIDE = 1800
# Below this the card cannot carry readable 3 mm text.
_MIN_PHOTO_SIDE = 240
# Quality thresholds, measured on the text area of the upright card (see bench/bench_idcard.py).
_MIN_SHARPNESS = 25.0
_MIN_BRIGHTNESS = 45.0
_MAX_GLARE = 0.04
_MIN_CONTRAST = 8.0

_FRONT_FIELDS = ("name", "sex", "ethnicity", "birth_date", "address", "id_number")
_BACK_FIELDS = ("authority", "valid_from")
# What a card cut off by the photo's edge looks like: a field unread or read in part, no portrait.
_FRAMING_PROBLEMS = frozenset(
    {
        *(code for code in IdCardReason if code.startswith("idcard_missing_")),
        IdCardReason.NAME_INVALID,
        IdCardReason.ADDRESS_INVALID,
        IdCardReason.AUTHORITY_INVALID,
        IdCardReason.PORTRAIT_NOT_FOUND,
    }
)


def read_side(data: bytes, *, today: date, limits: ImageLimits | None = None) -> SideReading:
    """Read one photo of either side of the card: which side it is, its fields, its problems (reason
    codes) and, for the front, the portrait as JPEG."""
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    try:
        img = decode_image(data, limits, max_side=_DECODE_SIDE)
    except ImageRejected as exc:
        return SideReading(side=None, problems=[str(exc.code)], timings={"total": time.perf_counter() - t0})
    if min(img.size) < _MIN_PHOTO_SIDE:
        return SideReading(
            side=None, problems=[str(ImageReason.TOO_SMALL)], timings={"total": time.perf_counter() - t0}
        )
    bgr = to_bgr_array(img)
    timings["decode"] = time.perf_counter() - t0

    t = time.perf_counter()
    page = read_lines(bgr)
    timings["ocr"] = time.perf_counter() - t
    side = detect_side(page.lines)
    reading = SideReading(side=side, timings=timings)
    if side is None:
        # Say why, when the photo shows it (dark, blurred), and that no card was found.
        found = IdCardReason.PARTLY_READ if partly_read(page.lines) else IdCardReason.NOT_FOUND
        reading.problems = [*_quality_problems(page, whole=True), str(found)]
        reading.problems = list(dict.fromkeys(reading.problems))
        timings["total"] = time.perf_counter() - t0
        return reading
    fields = _parse(side, page, reading.corrections)
    if _missing(side, fields):
        # A card far from the camera: its small lines may be found in a crop around it.
        t = time.perf_counter()
        closer = read_closer(page)
        if closer is not None and detect_side(closer.lines) == side:
            corrections: list[str] = []
            again = _parse(side, closer, corrections)
            if _missing(side, again) < _missing(side, fields):
                page, fields, reading.corrections = closer, again, corrections
        timings["closer"] = time.perf_counter() - t
    if isinstance(fields, FrontFields):
        reading.front = fields
        reading.problems = validate_front(fields, today=today)
        t = time.perf_counter()
        jpeg, codes = _portrait(page)
        timings["portrait"] = time.perf_counter() - t
        reading.portrait_jpeg = jpeg
        reading.problems.extend(codes)
    else:
        reading.back = fields
        reading.problems = validate_back(fields, today=today)
    if _missing(side, fields):
        reading.problems.extend(_quality_problems(page))
    if any(code in _FRAMING_PROBLEMS for code in reading.problems) and _text_at_edge(page):
        reading.problems.append(str(IdCardReason.CUT_OFF))
    reading.problems = list(dict.fromkeys(reading.problems))
    timings["total"] = time.perf_counter() - t0
    return reading


def _parse(side: Side, page: OcrPage, corrections: list[str]) -> FrontFields | BackFields:
    if side == "front":
        return parse_front(page.lines, page, corrections=corrections)
    return parse_back(page.lines, page, corrections=corrections)


def _missing(side: Side, fields: FrontFields | BackFields) -> int:
    """How many of the side's fields were not read (the quality hints and a closer read are for those)."""
    names = _FRONT_FIELDS if side == "front" else _BACK_FIELDS
    return sum(getattr(fields, name) is None for name in names)


def _portrait(page: OcrPage) -> tuple[bytes | None, list[str]]:
    rows = group_rows(page.lines)
    number_line = None
    for row in reversed(rows):
        digits = sum(ch.isdigit() for ch in row.text)
        if digits >= 12:
            number_line = max(row.lines, key=lambda ln: sum(ch.isdigit() for ch in ln.text))
            break
    if number_line is None:
        return None, [str(IdCardReason.PORTRAIT_NOT_FOUND)]
    name_line = next((ln for row in rows for ln in row.lines if "姓" in ln.text or "名" in ln.text), None)
    label_rows = [r for r in rows if r.cy < number_line.cy]
    # The label column: the leftmost start among the rows above the number, and the number row's label.
    lefts = [r.x0 for r in label_rows] + [ln.x0 for ln in rows[-1].lines if ln is not number_line]
    lefts += [number_line.x0] if "号" in number_line.text or "码" in number_line.text else []
    if not lefts:
        return None, [str(IdCardReason.PORTRAIT_NOT_FOUND)]
    frame = card_frame(name_line, min(lefts), number_line)
    if frame is None:
        return None, [str(IdCardReason.PORTRAIT_NOT_FOUND)]
    sx0, sy0, sx1, sy1 = search_box(frame)
    region = page.upright_crop((sx0, sy0, sx1, sy1))
    crop = crop_portrait(region, frame.shifted(sx0, sy0)) if region is not None else None
    if crop is None:
        return None, [str(IdCardReason.PORTRAIT_NOT_FOUND)]
    bgr, face_found = crop
    from PIL import Image

    jpeg = encode_jpeg(Image.fromarray(to_rgb(bgr), "RGB"), quality=90)
    return jpeg, ([] if face_found else [str(IdCardReason.PORTRAIT_NO_FACE)])


def _text_extent(page: OcrPage) -> tuple[float, float, float, float]:
    """The box (x0, y0, x1, y1) of the text found, mapped back from the upright frame to the photo."""
    inv = np.linalg.inv(np.vstack([page.upright, [0.0, 0.0, 1.0]]))[:2]
    pts = np.array([p for ln in page.lines for p in ln.quad], dtype=np.float64)
    back = pts @ inv[:, :2].T + inv[:, 2]
    (x0, y0), (x1, y1) = back.min(axis=0), back.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


# Text within this share of the photo's larger side from its edge runs past it: a card's text keeps
# 4 mm or more (about 5 % of its width) from the card's edge, so text there means the card does too.
_EDGE_SHARE = 0.006


def _text_at_edge(page: OcrPage) -> bool:
    """Whether text found touches the photo's edge (the card runs past it): said with one of the
    _FRAMING_PROBLEMS, so that the user frames the whole card rather than retaking the same photo
    more sharply. After a closer read, ``page`` is the crop, whose edges are the photo's wherever
    text can reach them (the crop extends three quarters of the text's extent around it)."""
    if not page.lines:
        return False
    h, w = (int(n) for n in page.image.shape[:2])
    margin = max(2.0, _EDGE_SHARE * max(w, h))
    x0, y0, x1, y1 = _text_extent(page)
    return x0 <= margin or y0 <= margin or x1 >= w - 1 - margin or y1 >= h - 1 - margin


def _quality_problems(page: OcrPage, *, whole: bool = False) -> list[str]:
    """Why text may have been unreadable: measured on the text area (or the whole photo)."""
    gray = to_gray_array(page.image)
    if not whole and page.lines:
        fx0, fy0, fx1, fy1 = _text_extent(page)
        x0, y0 = max(int(fx0), 0), max(int(fy0), 0)
        x1, y1 = int(fx1), int(fy1)
        if x1 - x0 > 16 and y1 - y0 > 16:
            gray = gray[y0:y1, x0:x1]
    problems: list[str] = []
    if whole and float(gray.std()) < _MIN_CONTRAST:
        return problems  # a blank picture: nothing to be sharp about, it simply shows no card
    if brightness(gray) < _MIN_BRIGHTNESS:
        problems.append(str(ImageReason.TOO_DARK))
    if sharpness(gray) < _MIN_SHARPNESS:
        problems.append(str(ImageReason.TOO_BLURRY))
    if glare_fraction(gray) > _MAX_GLARE:
        problems.append(str(ImageReason.GLARE))
    return problems
