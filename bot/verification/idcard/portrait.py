"""Crop the portrait from the front of the card.

The photo sits at a fixed place of the ID-1 card, right of the text column. The card frame is
recovered from the printed text (left edge of the labels, the name row, the ID-number line), which
survives perspective and background clutter better than the card outline, and the crop is then
centred on the face found by BlazeFace (the face engine's detector) inside that box when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from bot.verification.idcard.ocr import OcrLine

__all__ = ["CardFrame", "card_frame", "crop_portrait", "search_box"]

Array = npt.NDArray[Any]

# Layout of the front, in mm from the card's top-left corner (ID-1: 85.6 x 54 mm), as measured on
# generated cards of two independent generators (they agree within ~0.5 mm).
_LABEL_LEFT_MM = 7.0  # left edge of 姓名 / 性别 / 出生 / 住址 / 公民身份号码
_NAME_TOP_MM = 9.5  # top of the 姓名 row
_NUMBER_BOTTOM_MM = 48.0  # bottom of the ID number
_NUMBER_HEIGHT_MM = 3.6  # height of the ID number's detected box (fallback scale)
_PORTRAIT_MM = (55.5, 6.5, 81.5, 40.0)


@dataclass(frozen=True)
class CardFrame:
    """Maps card millimetres to pixels of the upright image."""

    left: float
    top: float
    px_per_mm_x: float
    px_per_mm_y: float

    def to_px(self, x_mm: float, y_mm: float) -> tuple[float, float]:
        return (
            self.left + (x_mm - _LABEL_LEFT_MM) * self.px_per_mm_x,
            self.top + (y_mm - _NAME_TOP_MM) * self.px_per_mm_y,
        )

    def shifted(self, dx: float, dy: float) -> CardFrame:
        return CardFrame(self.left - dx, self.top - dy, self.px_per_mm_x, self.px_per_mm_y)

    def box(self, box_mm: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        x0, y0 = self.to_px(box_mm[0], box_mm[1])
        x1, y1 = self.to_px(box_mm[2], box_mm[3])
        return x0, y0, x1, y1


def card_frame(name_line: OcrLine | None, label_left: float, number_line: OcrLine) -> CardFrame | None:
    """The card frame from the labels' left edge, the name row and the number line.

    The scale comes from the vertical distance between the name row and the number (the same on
    every card); the upright frame has (nearly) square pixels, so it serves both axes.
    """
    if name_line is not None and number_line.y1 - name_line.y0 > 4 * number_line.height:
        scale = (number_line.y1 - name_line.y0) / (_NUMBER_BOTTOM_MM - _NAME_TOP_MM)
        top = name_line.y0
    else:
        scale = number_line.height / _NUMBER_HEIGHT_MM
        top = number_line.y1 - (_NUMBER_BOTTOM_MM - _NAME_TOP_MM) * scale
    if scale <= 0:
        return None
    return CardFrame(left=label_left, top=top, px_per_mm_x=scale, px_per_mm_y=scale)


def _largest_face(bgr: Array) -> tuple[int, int, int, int] | None:
    """The largest face in the search box, by the face engine's BlazeFace detector (Apache-2.0, see
    MODELS.md; it replaced dlib's HOG here as in the engine). The search box is about square and the
    portrait's face fills a third of it; a second, finer pass over overlapping squares finds a face on
    a card photographed from farther away."""
    from bot.verification.face.detect import find_faces  # lazily: the models load on first use

    faces = find_faces(bgr) or find_faces(bgr, grid=2)
    if not faces:
        return None
    x0, y0, x1, y1 = faces[0].box  # largest first
    return int(x0), int(y0), int(x1), int(y1)


def search_box(frame: CardFrame) -> tuple[float, float, float, float]:
    """Where to look for the portrait: the expected photo box with a margin for imprecise anchors."""
    x0, y0, x1, y1 = frame.box(_PORTRAIT_MM)
    mx, my = 0.3 * (x1 - x0), 0.15 * (y1 - y0)
    return x0 - mx, y0 - my, x1 + mx, y1 + my


def crop_portrait(region_bgr: Array, frame: CardFrame) -> tuple[Array, bool] | None:
    """The portrait as a BGR array and whether a face was found in it.

    ``region_bgr`` holds the upright pixels of :func:`search_box` (black outside the photo) and
    ``frame`` is relative to it. None when the expected box falls outside the photo (card cut off).
    """
    h, w = region_bgr.shape[:2]
    x0, y0, x1, y1 = frame.box(_PORTRAIT_MM)
    bw, bh = x1 - x0, y1 - y0
    if bw < 16 or bh < 16:
        return None
    visible = region_bgr[max(0, int(y0)) : int(y1), max(0, int(x0)) : int(x1)]
    if visible.size == 0 or float(np.count_nonzero(visible.max(axis=2))) < 0.6 * bw * bh:
        return None  # most of the photo box is outside the picture
    face = _largest_face(np.ascontiguousarray(region_bgr))
    if face is not None:
        fx0, fy0, fx1, fy1 = face
        fcx, fcy = (fx0 + fx1) / 2, (fy0 + fy1) / 2
        # Head-and-shoulders proportions of an ID photo, centred on the detected face.
        cw = max(bw * 0.9, (fx1 - fx0) * 2.2)
        ch = cw * (bh / bw)
        cx0, cy0 = fcx - cw / 2, fcy - ch * 0.45
        box = (cx0, cy0, cx0 + cw, cy0 + ch)
    else:
        box = (x0, y0, x1, y1)
    bx0, by0 = max(0, int(box[0])), max(0, int(box[1]))
    bx1, by1 = min(w, int(box[2])), min(h, int(box[3]))
    if bx1 - bx0 < 16 or by1 - by0 < 16:
        return None
    return np.ascontiguousarray(region_bgr[by0:by1, bx0:bx1]), face is not None


def to_rgb(bgr: Array) -> Array:
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
