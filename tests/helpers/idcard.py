"""Set-up shared by the ID-card parser tests: a 黑体-like face of the card generator, and a classic card
back drawn without shift or jitter as the page a re-read crops from (the tests then hand-build the
detector's lines on it)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

import numpy as np
import pytest
from PIL import ImageFont

from bot.verification.idcard.ocr import OcrPage
from tools.cardgen import CardFont, CardIdentity, find_cjk_fonts, random_identity, render_back


def hei_font() -> CardFont:
    """A sans (hei) face when one is installed, else any CJK face; the test is skipped without one."""
    fonts = [f for f in find_cjk_fonts() if "hei" in f.path.lower()] or list(find_cjk_fonts())
    if not fonts:
        pytest.skip("no CJK font installed")
    return fonts[0]


@dataclass(frozen=True)
class DrawnBack:
    ident: CardIdentity
    page: OcrPage  # no lines: the test supplies them; the image is the drawn card
    value: ImageFont.FreeTypeFont  # the classic design's back values: 3.3 mm at 10 px/mm
    period: str  # the validity period as printed, "2019.01.16-2039.01.16"


def drawn_classic_back(font: CardFont) -> DrawnBack:
    ident = random_identity(random.Random(5), today=date(2026, 11, 1), long_term=False)
    card = render_back(ident, font=font, scale=1.0, rng=random.Random(1))  # classic: no shift, no jitter
    bgr = np.asarray(card.convert("RGB"))[:, :, ::-1].copy()
    page = OcrPage([], np.eye(2, 3, dtype=np.float64), card.size, bgr, 0.0)
    assert ident.valid_to is not None
    period = f"{ident.valid_from:%Y.%m.%d}-{ident.valid_to:%Y.%m.%d}"
    return DrawnBack(ident, page, font.get(33), period)
