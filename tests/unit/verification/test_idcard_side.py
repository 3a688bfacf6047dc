"""Side detection by the printed labels, and "partly read": a card the recogniser saw too poorly to
tell the side (the dialog offers typed fields for it), unlike a photo with no card text at all."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pytest
from PIL import Image

from bot.verification.idcard import read_side
from bot.verification.idcard.ocr import OcrLine
from bot.verification.idcard.parse import detect_side, partly_read


def lines(*texts: str) -> list[OcrLine]:
    return [
        OcrLine(
            text=t,
            score=0.9,
            quad=((0.0, 40.0 * i), (100.0, 40.0 * i), (100.0, 40.0 * i + 30), (0.0, 40.0 * i + 30)),
        )
        for i, t in enumerate(texts)
    ]


@pytest.mark.parametrize(
    ("texts", "side", "partly"),
    [
        (("姓名 王小明", "性别 男 民族 汉"), "front", False),
        (("公民身份号码 110101199003071233",), "front", False),
        (("签发机关 北京市公安局", "有效期限 2020.05.01-2040.05.01"), "back", False),
        (("姓名 王小明",), None, True),  # one label only
        (("签发机关 ……",), None, True),
        (("今日特价 白菜 2元",), None, False),  # text, but nothing of a card
        ((), None, False),
    ],
)
def test_side_and_partly_read(texts: tuple[str, ...], side: str | None, partly: bool) -> None:
    found = lines(*texts)
    assert detect_side(found) == side
    assert partly_read(found) is partly


def test_a_card_cut_to_its_name_row_is_partly_read() -> None:
    """The engine says "partly read", not "no card", for a card photo showing one label only."""
    fixtures = Path(__file__).resolve().parents[2] / "fixtures" / "idcards"
    card = json.loads((fixtures / "truth.json").read_text(encoding="utf-8"))["cards"]["plain"]
    img = Image.open(fixtures / card["front"]).convert("RGB")
    width, height = img.size
    out = io.BytesIO()
    img.crop((0, 0, int(width * 0.62), int(height * 0.3))).save(out, format="JPEG", quality=92)
    reading = read_side(out.getvalue(), today=date(2026, 11, 27))
    assert reading.side is None
    assert reading.problems == ["idcard_partly_read"]
