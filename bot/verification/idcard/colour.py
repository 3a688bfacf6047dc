"""Labels and values told apart by the colour of their ink.

The card prints its labels (姓名, 性别, 住址, 公民身份号码 …) in a colour (blue on the real card, other
colours on other designs) and the values in black. When OCR misreads a label ("姓各张三") or a value
merges into the label's box, the text alone cannot say where the label ends; the ink can. Nothing
here assumes a particular colour: the label ink and the value ink are learnt from each photo, from
label words read as such and from the ID number's digits (always value ink). When the two are not
clearly apart (a grey photocopy, a design printing everything in black), colour is not used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bot.verification.idcard.ocr import OcrLine

__all__ = ["InkModel", "char_inks", "learn_inks"]

Array = npt.NDArray[Any]

# The label words of both sides; their characters, where OCR read them, are label ink.
LABEL_WORDS = ("姓名", "性别", "民族", "出生", "住址", "公民身份号码", "签发机关", "有效期限")
# Too little contrast between a character's darkest pixels and the card: no ink to measure.
_MIN_CONTRAST = 18.0
# The two inks must be this far apart (chromaticity units) and this many times their own spread.
_MIN_SEPARATION = 0.06
_MIN_SEPARATION_RATIO = 2.5
# Lightness counts less than hue: blur lightens thin strokes of either ink.
_LIGHTNESS_WEIGHT = 0.5


def char_inks(line: OcrLine) -> list[Array | None]:
    """For each character of ``line.text``, the colour of its ink relative to the card under it (the
    light's level and tint divided out): three chromaticity values summing to 0 and a weighted
    lightness; None when it cannot be measured (no crop, no positions, no contrast)."""
    crop = line.crop
    if crop is None or len(line.char_x) != len(line.text) or crop.ndim != 3 or crop.shape[2] != 3:
        return [None] * len(line.text)
    img = crop.astype(np.float32)
    h, w = img.shape[:2]
    gray = img.mean(axis=2)
    out: list[Array | None] = []
    xs = [x * w for x in line.char_x]
    for i, x in enumerate(xs):
        if line.text[i].isspace():
            out.append(None)
            continue
        # The character's own columns: half the way to its neighbours, at most half a height.
        left = max(x - 0.5 * h, (xs[i - 1] + x) / 2 if i > 0 else 0.0)
        right = min(x + 0.5 * h, (xs[i + 1] + x) / 2 if i + 1 < len(xs) else float(w))
        a, b = max(0, int(left)), min(w, int(np.ceil(right)))
        if b - a < 2:
            out.append(None)
            continue
        strip, g = img[:, a:b].reshape(-1, 3), gray[:, a:b].reshape(-1)
        order = np.argsort(g)
        n = len(g)
        dark = strip[order[: max(3, n // 25)]]  # the stroke cores, not their blurred edges
        light = strip[order[n // 2 :]]  # the card around them
        bg = np.median(light, axis=0)
        ink = dark.mean(axis=0)
        if float(bg.mean() - ink.mean()) < _MIN_CONTRAST or float(bg.min()) < 1.0:
            out.append(None)
            continue
        rel = ink / bg
        # Hue and lightness of the ink: labels are printed in a lighter, coloured ink, values in black.
        out.append(np.asarray([*(rel - rel.mean()), _LIGHTNESS_WEIGHT * rel.mean()], dtype=np.float64))
    return out


@dataclass(frozen=True)
class InkModel:
    label: Array
    value: Array

    def is_label(self, ink: Array | None) -> bool | None:
        if ink is None:
            return None
        return bool(np.linalg.norm(ink - self.label) < np.linalg.norm(ink - self.value))


def learn_inks(lines: Sequence[OcrLine]) -> InkModel | None:
    """The label and value inks of one photo, or None when they are not clearly different."""
    label_inks: list[Array] = []
    value_inks: list[Array] = []
    for line in lines:
        inks = char_inks(line)
        text = line.text
        label_at: set[int] = set()
        for word in LABEL_WORDS:
            start = text.find(word)
            if start >= 0:
                label_at.update(range(start, start + len(word)))
        digits = sum(ch.isdigit() for ch in text)
        for i, (ch, ink) in enumerate(zip(text, inks, strict=True)):
            if ink is None:
                continue
            if i in label_at:
                label_inks.append(ink)
            elif ch.isdigit() and digits >= 12:  # the ID number: value ink whatever the design
                value_inks.append(ink)
    if len(label_inks) < 3 or len(value_inks) < 6:
        return None
    lab = np.median(np.stack(label_inks), axis=0)
    val = np.median(np.stack(value_inks), axis=0)
    own = [np.linalg.norm(v - lab) for v in label_inks] + [np.linalg.norm(v - val) for v in value_inks]
    spread = float(np.median(own))
    gap = float(np.linalg.norm(lab - val))
    if gap < _MIN_SEPARATION or gap < _MIN_SEPARATION_RATIO * spread:
        return None
    return InkModel(lab, val)


def strip_label_ink(line: OcrLine, model: InkModel | None, *, max_chars: int) -> str | None:
    """``line.text`` without the label-ink characters it starts with (at most ``max_chars`` of them);
    None when colour cannot tell (no model, unmeasurable ink) or the line starts with value ink."""
    if model is None:
        return None
    inks = char_inks(line)
    cut = 0
    for i, (ch, ink) in enumerate(zip(line.text, inks, strict=True)):
        if i >= max_chars + 2:  # spaces included
            break
        if ch.isspace():
            continue
        verdict = model.is_label(ink)
        if verdict is None:
            return None
        if not verdict:
            break
        cut = i + 1
    if cut == 0 or sum(not ch.isspace() for ch in line.text[:cut]) > max_chars:
        return None
    return line.text[cut:]
