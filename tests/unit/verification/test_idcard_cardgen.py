"""The card generator at test time (needs a CJK font: skipped without one) and the portrait crop of a
card that carries a photographic face."""

from __future__ import annotations

import io
import random
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bot.verification.idcard import read_side, warm_up
from tools.cardgen import (
    DESIGNS,
    CardDesign,
    CardFont,
    Distortion,
    distort,
    distort_jpeg,
    find_cjk_fonts,
    random_identity,
    render_back,
    render_front,
    synthetic_portrait,
)

TODAY = date(2026, 11, 1)


@pytest.fixture(scope="module")
def font() -> CardFont:
    fonts = find_cjk_fonts()
    if not fonts:
        pytest.skip("no CJK font installed (fonts-noto-cjk)")
    warm_up()
    return fonts[0]


def test_identities_are_consistent() -> None:
    from bot.verification.idcard import FrontFields, validate_front
    from bot.verification.ids import validity_period_problems

    rng = random.Random(5)
    for _ in range(200):
        ident = random_identity(rng, today=TODAY)
        front = FrontFields(
            ident.name, ident.sex, ident.ethnicity, ident.birth_date, ident.address, ident.id_number
        )
        assert validate_front(front, today=TODAY) == []
        problems = validity_period_problems(
            ident.birth_date, ident.valid_from, ident.valid_to, long_term=ident.long_term
        )
        assert problems == []
    bad = random_identity(rng, today=TODAY, valid_check_char=False)
    assert "idcard_number_checksum" in validate_front(
        FrontFields(bad.name, bad.sex, bad.ethnicity, bad.birth_date, bad.address, bad.id_number)
    )
    assert random_identity(rng, today=TODAY, expired=True).valid_to < TODAY  # type: ignore[operator]
    assert random_identity(rng, today=TODAY, long_term=True).valid_to is None


def test_distort_keeps_size_and_turns() -> None:
    card = Image.new("RGBA", (856, 540), (240, 240, 240, 255))
    rng = random.Random(1)
    photo = distort(card, rng, Distortion(frame=(800, 600), quarter_turns=1))
    assert photo.size == (600, 800)
    assert distort_jpeg(card, rng, Distortion(frame=(800, 600)))[:2] == b"\xff\xd8"


def test_render_and_read_back(font: CardFont) -> None:
    rng = random.Random(42)
    ident = random_identity(rng, today=TODAY)
    front = render_front(ident, font=font, scale=1.2, rng=rng)
    back = render_back(ident, font=font, scale=1.2, rng=rng)
    assert front.size == back.size == (round(856 * 1.2), round(540 * 1.2))
    photo = distort_jpeg(back, rng, Distortion(frame=(1280, 960), card_fraction=0.8))
    reading = read_side(photo, today=TODAY)
    assert reading.side == "back" and reading.back is not None
    assert reading.back.valid_from == ident.valid_from


def test_card_with_a_photographic_face(font: CardFont, testdata: Path) -> None:
    """What the collection dialog's face-match test does: compose a card around a real photo."""
    face = Image.open(testdata / "faces" / "face_recognition" / "obama.jpg")
    rng = random.Random(7)
    ident = random_identity(rng, today=TODAY)
    card = render_front(ident, face, font=font, scale=1.5, rng=rng)
    photo = distort_jpeg(card, rng, Distortion(frame=(1600, 1200), card_fraction=0.75, skew_deg=4))
    reading = read_side(photo, today=TODAY)
    assert reading.side == "front" and reading.front is not None
    assert reading.front.id_number == ident.id_number
    assert "idcard_portrait_no_face" not in reading.problems
    assert reading.portrait_jpeg is not None
    crop = Image.open(io.BytesIO(reading.portrait_jpeg))
    assert crop.height > crop.width > 100


def test_synthetic_portrait_is_drawn() -> None:
    img = synthetic_portrait(random.Random(3), (130, 170))
    assert img.size == (130, 170) and np.asarray(img).std() > 20


@pytest.mark.parametrize("design", DESIGNS.values(), ids=lambda d: d.name)
def test_a_long_authority_is_printed_condensed_inside_the_card(design: CardDesign) -> None:
    # Seed 2051 serif card 122 ran the 局 of 黔西南布依族苗族自治州公安局 off the card's edge.
    fonts = design.fonts(find_cjk_fonts())
    if not fonts:
        pytest.skip("no CJK font for this design")
    ident = replace(random_identity(random.Random(3), today=TODAY), authority="黔西南布依族苗族自治州公安局")
    for seed in range(4):  # the design's random shift moves the text by millimetres
        card = np.asarray(
            render_back(ident, font=fonts[0], scale=1.0, rng=random.Random(seed), design=design).convert("L")
        )
        h, w = card.shape
        # The last 2 mm before the right edge, between the rounded corners: no dark text ink.
        strip = card[h // 5 : h * 4 // 5, w - 20 : w - 4]
        assert int(strip.min()) > 110, (design.name, seed)
