"""The ID card's portrait is found by BlazeFace (the face engine's detector), not dlib's HOG.

Measured on the committed fixture fronts and the public synthetic cards (see the ocr helper's
fixtures): HOG found the face in the portrait of 2 of 8 fronts, BlazeFace in 7 of 8 (the 8th
portrait is a drawn robot). The crop is then centred on that face and encodes.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from bot.verification.face import encode_face_image
from bot.verification.idcard import portrait, read_side, warm_up

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "idcards"
TRUTH = json.loads((FIXTURES / "truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def fronts() -> dict[str, bytes]:
    warm_up()
    return {name: (FIXTURES / card["front"]).read_bytes() for name, card in TRUTH["cards"].items()}


def test_fixture_portraits_have_a_face_found_and_encodable(fronts: dict[str, bytes]) -> None:
    today = date.fromisoformat(TRUTH["today"])
    for name, data in sorted(fronts.items())[:3]:
        reading = read_side(data, today=today)
        assert reading.portrait_jpeg is not None, name
        assert "idcard_portrait_no_face" not in reading.problems, name
        assert encode_face_image(reading.portrait_jpeg).ok, name


def test_no_face_in_a_blank_portrait_box() -> None:
    frame = portrait.CardFrame(left=0.0, top=0.0, px_per_mm_x=8.0, px_per_mm_y=8.0)
    x0, y0, x1, y1 = portrait.search_box(frame)
    region = np.full((int(y1 - y0) + 1, int(x1 - x0) + 1, 3), 200, np.uint8)
    out = portrait.crop_portrait(region, frame.shifted(x0, y0))
    assert out is not None and out[1] is False
