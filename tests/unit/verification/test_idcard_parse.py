"""Parsing failure classes, on hand-built OCR lines (no recogniser run): a line detected twice, a
label misread and told from its value by the colour of its ink, a photocopy where colour tells nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest
from PIL import Image, ImageDraw

from bot.verification.idcard.colour import char_inks, learn_inks
from bot.verification.idcard.ocr import OcrLine, OcrPage
from bot.verification.idcard.parse import drop_duplicates, group_rows, parse_back, parse_front
from tests.helpers.idcard import drawn_classic_back, hei_font
from tools.cardgen import CardFont

NUMBER = "530428201309066036"  # valid check character, born 2013-09-06, 男
BLUE = (30, 120, 190)
BLACK = (16, 16, 16)
CARD = (238, 236, 228)
H = 40  # text height in px


def box(text: str, x: float, y: float, *, score: float = 0.95, width: float | None = None) -> OcrLine:
    w = width if width is not None else H * len(text)
    return OcrLine(text, score, ((x, y), (x + w, y), (x + w, y + H), (x, y + H)))


def front_lines(*address: OcrLine) -> list[OcrLine]:
    return [
        box("姓名曾永", 70, 90),
        box("性别男", 70, 160),
        box("民族满", 300, 160),
        box("出生2013年9月6日", 70, 230),
        *address,
        box("公民身份号码" + NUMBER, 70, 460),
    ]


ADDRESS = ("住址云南省玉溪市元江", "哈尼族彝族傣族自", "治县团园路861号")


def test_an_address_line_detected_twice_in_its_row_is_read_once() -> None:
    lines = front_lines(
        box(ADDRESS[0], 70, 300),
        box(ADDRESS[1], 190, 350),
        box(ADDRESS[2], 190, 400),
        box("团园路861号", 190 + 2 * H, 402),  # a second box over the same print
    )
    f = parse_front(lines)
    assert f.address == "云南省玉溪市元江哈尼族彝族傣族自治县团园路861号"


def test_a_line_detected_twice_at_two_heights_is_one_row() -> None:
    # The duplicate's centre is more than half a text height lower: without de-duplication it would
    # be a row of its own, joined to the address as a fourth line.
    lines = front_lines(
        box(ADDRESS[0], 70, 300),
        box(ADDRESS[1], 190, 350),
        box(ADDRESS[2], 190, 400),
        OcrLine("治县团园路861号", 0.9, ((190, 405), (530, 405), (530, 465), (190, 465))),
    )
    assert len(drop_duplicates(lines)) == len(lines) - 1
    f = parse_front(lines)
    assert f.address == "云南省玉溪市元江哈尼族彝族傣族自治县团园路861号"


@pytest.mark.parametrize("tail", ["号", "8号", "园路861号"])
def test_wrapped_address_joined_whatever_the_last_line_length(tail: str) -> None:
    lines = front_lines(box(ADDRESS[0], 70, 300), box(ADDRESS[1], 190, 350), box(tail, 190, 400))
    assert parse_front(lines).address == "云南省玉溪市元江哈尼族彝族傣族自" + tail


def test_spaces_the_recogniser_inserts_are_no_part_of_a_value() -> None:
    """rapidocr 3 inserts spaces between words ("出生 1999年9 月 9 日"): no field keeps one."""
    lines = [
        box("姓名 曾 永", 70, 90),
        box("性别 男", 70, 160),
        box("民族 满", 300, 160),
        box("出生 2013年9 月 6 日", 70, 230),
        box("住址 云南省玉溪市 元江", 70, 300),
        box("哈尼族彝族 傣族自", 190, 350),
        box("公民身份号码 " + NUMBER, 70, 460),
    ]
    f = parse_front(lines)
    assert (f.name, f.sex, f.ethnicity, f.birth_date) == ("曾永", "男", "满", date(2013, 9, 6))
    assert (f.address, f.id_number) == ("云南省玉溪市元江哈尼族彝族傣族自", NUMBER)
    period = box("有效期限 2016.03.01 - 2026.03.01", 160, 450)
    b = parse_back([box("签发机关 元江县 公安局", 160, 380), period])
    assert (b.authority, b.valid_from, b.valid_to) == ("元江县公安局", date(2016, 3, 1), date(2026, 3, 1))


def test_side_by_side_lines_are_not_duplicates() -> None:
    lines = [box("性别", 70, 160), box("男", 190, 160), box("民族", 300, 160), box("满", 420, 160)]
    assert drop_duplicates(lines) == lines
    assert len(group_rows(lines)) == 1


# --- colour: labels printed in another ink than values -------------------------------------------------


@pytest.fixture(scope="module")
def font() -> CardFont:
    return hei_font()


def inked(
    font: CardFont, parts: list[tuple[str, tuple[int, int, int]]], x: float, y: float, *, read: str = ""
) -> OcrLine:
    """A line as the recogniser would return it: its crop (drawn with each part in its ink), the text
    it read (``read``, default the drawn text) and each character's centre in the crop."""
    f = font.get(H)
    drawn = "".join(t for t, _ in parts)
    width = round(sum(f.getlength(t) for t, _ in parts)) + 20
    img = Image.new("RGB", (width, H + 16), CARD)
    d = ImageDraw.Draw(img)
    cx, centres = 10.0, []
    for text, ink in parts:
        for ch in text:
            d.text((cx, 6), ch, font=f, fill=ink)
            centres.append((cx + f.getlength(ch) / 2) / width)
            cx += f.getlength(ch)
    crop = np.asarray(img)[:, :, ::-1].copy()  # BGR, as the engine's crops
    text = read or drawn
    assert len(text) == len(drawn)
    quad = ((x, y), (x + width, y), (x + width, y + H), (x, y + H))
    return OcrLine(text, 0.95, quad, crop, tuple(centres))


def coloured_front(
    font: CardFont, name_line: OcrLine, address_line: OcrLine, ink: tuple[int, int, int]
) -> list[OcrLine]:
    return [
        name_line,
        inked(font, [("性别", ink), ("男", BLACK)], 70, 160),
        inked(font, [("民族", ink), ("满", BLACK)], 300, 160),
        inked(
            font,
            [("出生", ink), ("2013", BLACK), ("年", ink), ("9", BLACK), ("月", ink), ("6", BLACK)],
            70,
            230,
        ),
        address_line,
        inked(font, [("治县团园路861号", BLACK)], 190, 350),
        inked(font, [("公民身份号码", ink), (NUMBER, BLACK)], 70, 460),
    ]


def test_inks_are_learnt_from_labels_and_the_number(font: CardFont) -> None:
    line = inked(font, [("公民身份号码", BLUE), (NUMBER, BLACK)], 0, 0)
    model = learn_inks([line, inked(font, [("姓名", BLUE), ("曾永", BLACK)], 0, 60)])
    assert model is not None
    verdicts = [model.is_label(ink) for ink in char_inks(line)]
    assert verdicts == [True] * 6 + [False] * 18


def test_a_misread_name_label_is_told_from_the_name_by_its_ink(font: CardFont) -> None:
    name = inked(font, [("姓名", BLUE), ("曾永", BLACK)], 70, 90, read="姓各曾永")
    address = inked(font, [("住址", BLUE), ("云南省玉溪市元江", BLACK)], 70, 300, read="住垃云南省玉溪市元江")
    f = parse_front(coloured_front(font, name, address, BLUE))
    assert f.name == "曾永"
    assert f.address == "云南省玉溪市元江治县团园路861号"
    assert f.birth_date == date(2013, 9, 6)


def test_a_photocopy_gives_no_colour_and_nothing_is_cut(font: CardFont) -> None:
    # Labels and values in the same ink: colour cannot tell, and the text stays as read (the checks
    # then report the odd name instead of the parser guessing a cut).
    name = inked(font, [("姓名", BLACK), ("曾永", BLACK)], 70, 90, read="姓各曾永")
    address = inked(font, [("住址", BLACK), ("云南省玉溪市元江", BLACK)], 70, 300)
    lines = coloured_front(font, name, address, BLACK)
    assert learn_inks(lines) is None
    assert parse_front(lines).name == "姓各曾永"


def test_a_misread_authority_label_is_told_by_its_ink(font: CardFont) -> None:
    lines = [
        inked(font, [("中华人民共和国", BLACK)], 290, 70),
        inked(font, [("居民身份证", BLACK)], 270, 145),
        inked(font, [("签发机关", BLUE), ("元江县公安局", BLACK)], 160, 380, read="签发机美元江县公安局"),
        inked(font, [("有效期限", BLUE), ("2016.03.01-2026.03.01", BLACK)], 160, 450),
    ]
    b = parse_back(lines)
    assert b.authority == "元江县公安局"
    assert b.valid_from == date(2016, 3, 1)


# --- a value line the detector stopped short of its end -------------------------------------------------


def test_a_validity_period_cut_short_by_the_detector_is_read_to_its_end(font: CardFont) -> None:
    drawn = drawn_classic_back(font)
    ident, page, value, period = drawn.ident, drawn.page, drawn.value, drawn.period
    cut = period[:16]  # "2019.01.16-2039." : the detector's box ends there
    lines = [
        box("签发机关", 160, 380, width=130),
        box(ident.authority, 340, 376, width=value.getlength(ident.authority)),
        box("有效期限", 160, 450, width=130),
        box(cut, 340, 446, width=value.getlength(cut)),
    ]
    b = parse_back(lines, page)
    assert (b.valid_from, b.valid_to) == (ident.valid_from, ident.valid_to)


# --- a number the detector did not box ------------------------------------------------------------------


def _drawn_number(font: CardFont) -> tuple[OcrPage, float, float]:
    """A photo of the number's row (label, then the 18 digits): the page, the label's width, the
    digits' width."""
    img = Image.new("RGB", (1500, 560), CARD)
    d = ImageDraw.Draw(img)
    f = font.get(H)
    d.text((70, 460), "公民身份号码", font=f, fill=BLUE)
    label_w = f.getlength("公民身份号码")
    d.text((70 + label_w + 30, 460), NUMBER, font=f, fill=BLACK)
    bgr = np.asarray(img)[:, :, ::-1].copy()
    return OcrPage([], np.eye(2, 3, dtype=np.float64), img.size, bgr, 0.0), label_w, f.getlength(NUMBER[:17])


def test_a_number_the_detector_missed_is_read_right_of_its_label(font: CardFont) -> None:
    # Seed 2041 serif card 17: 公民身份号码 boxed, the 18 digits right of it not.
    page, label_w, _w17 = _drawn_number(font)
    lines = [*front_lines()[:-1], box("公民身份号码", 70, 458, width=label_w)]
    assert parse_front(lines).id_number is None  # without the photo nothing is guessed
    assert parse_front(lines, page).id_number == NUMBER


def test_a_validity_period_the_detector_did_not_box_is_read_right_of_its_label(font: CardFont) -> None:
    # Seed 2041 serif card 24: thin spaced digits, nothing boxed right of 有效期限. The upright frame
    # is wider than the photo (as after deskewing a tilted card), so the place read "as far as a
    # period can reach" runs past the photo's edge and is shortened to it.
    drawn = drawn_classic_back(font)
    ident, value = drawn.ident, drawn.value
    w, h = drawn.page.upright_size
    page = replace(drawn.page, upright_size=(w + 400, h))
    lines = [
        box("签发机关", 160, 380, width=130),
        box(ident.authority, 340, 376, width=value.getlength(ident.authority)),
        box("有效期限", 160, 450, width=130),
    ]
    assert parse_back(lines).valid_from is None  # without the photo nothing is guessed
    b = parse_back(lines, page)
    assert (b.valid_from, b.valid_to) == (ident.valid_from, ident.valid_to)


def _number_box(font: CardFont, start: int, end: int, *, label: bool) -> OcrLine:
    """A box of the drawn number row holding digits ``start:end`` (after the label when ``label``),
    with each character's centre where it is drawn, as the recogniser reports it."""
    f = font.get(H)
    label_w = f.getlength("公民身份号码")
    digits_x = 70 + label_w + 30
    x0 = 70 if label else digits_x + f.getlength(NUMBER[:start])
    x1 = digits_x + f.getlength(NUMBER[:end])
    centres = [70 + (i + 0.5) * label_w / 6 for i in range(6)] if label else []
    centres += [digits_x + f.getlength(NUMBER[:i]) + f.getlength(NUMBER[i]) / 2 for i in range(start, end)]
    text = ("公民身份号码" if label else "") + NUMBER[start:end]
    line = box(text, x0, 458, width=x1 - x0)
    return replace(line, char_x=tuple((c - x0) / (x1 - x0) for c in centres))


def test_a_number_boxed_with_too_few_digits_to_be_one_is_read_on(font: CardFont) -> None:
    # Seed 2071 serif card 191: the label's box held only 14 of the 18 digits, too few to be taken for
    # a number at all; read on from the box, at the pitch of its digits, as far as 18 would reach.
    page, _label_w, _w17 = _drawn_number(font)
    lines = [*front_lines()[:-1], _number_box(font, 0, 14, label=True)]
    assert parse_front(lines).id_number is None
    assert parse_front(lines, page).id_number == NUMBER


def test_a_number_whose_end_was_boxed_again_apart_is_read_as_one_line(font: CardFont) -> None:
    # The same card's Telegram copy: "…12177" and "77696", two overlapping boxes, 20 digits joined,
    # which no single repair explains; the line read again as one is the number.
    page, _label_w, _w17 = _drawn_number(font)
    lines = [
        *front_lines()[:-1],
        _number_box(font, 0, 15, label=True),
        _number_box(font, 13, 18, label=False),
    ]
    assert parse_front(lines).id_number is None
    assert parse_front(lines, page).id_number == NUMBER


def test_a_period_read_short_right_of_its_label_is_read_again_where_it_ends(
    font: CardFont, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Seed 2071 serif card 173: nothing boxed right of 有效期限; the wide place read there came out one
    # digit short ("2011.11.27-2021.11.2": the last 7 lost in the background). It is read again from
    # the same start to where 21 characters end at the pitch read: the box is tighter, not wider.
    from bot.verification.idcard import parse

    drawn = drawn_classic_back(font)
    ident, value = drawn.ident, drawn.value
    lines = [
        box("签发机关", 160, 380, width=130),
        box(ident.authority, 340, 376, width=value.getlength(ident.authority)),
        box("有效期限", 160, 450, width=130),
    ]
    real = parse.read_region
    boxes: list[tuple[float, float, float, float]] = []

    def first_read_short(
        page: OcrPage, region: tuple[float, float, float, float], **kw: bool
    ) -> OcrLine | None:
        boxes.append(region)
        found = real(page, region, **kw)
        if len(boxes) > 1 or found is None:
            return found
        # The wide read as the serif card's: one character short, each centre where it was read.
        cut = len(found.text.rstrip()) - 1
        return replace(
            found, text=found.text[:cut], char_x=found.char_x[:cut], char_alts=found.char_alts[:cut]
        )

    monkeypatch.setattr(parse, "read_region", first_read_short)
    b = parse_back(lines, drawn.page)
    assert (b.valid_from, b.valid_to) == (ident.valid_from, ident.valid_to)
    assert len(boxes) == 2 and boxes[1][0] == boxes[0][0] and boxes[1][2] < boxes[0][2]


@pytest.mark.parametrize("authority_bottom", [None, 420.0, 450.0])
def test_a_period_read_again_keeps_out_of_the_line_above(
    font: CardFont, monkeypatch: pytest.MonkeyPatch, authority_bottom: float | None
) -> None:
    # Seed 2071 serif card 173, Telegram copy: the period boxed short ("2011.11.27-2021.11."), the
    # authority's box reaching 5 px into the place read again; with its bottom in the crop the
    # period lost ".11.". The margin above the period's own boxes stops at the line above.
    from bot.verification.idcard import parse

    drawn = drawn_classic_back(font)
    ident, value = drawn.ident, drawn.value
    piece = box(drawn.period[:-2], 340, 446, width=value.getlength(drawn.period[:-2]))
    authority = box(ident.authority, 340, 376, width=value.getlength(ident.authority))
    if authority_bottom is not None:
        (ax0, ay0), (ax1, _), _, _ = authority.quad
        low = authority_bottom
        authority = replace(authority, quad=((ax0, ay0), (ax1, ay0), (ax1, low), (ax0, low)))
    lines = [box("签发机关", 160, 380, width=130), authority, box("有效期限", 160, 450, width=130), piece]
    real = parse.read_region
    boxes: list[tuple[float, float, float, float]] = []

    def spy(page: OcrPage, region: tuple[float, float, float, float], **kw: bool) -> OcrLine | None:
        boxes.append(region)
        return real(page, region, **kw)

    monkeypatch.setattr(parse, "read_region", spy)
    b = parse_back(lines, drawn.page)
    assert (b.valid_from, b.valid_to) == (ident.valid_from, ident.valid_to)
    top = 446 - 0.15 * H  # the margin, where nothing is in the way
    expected = top if authority_bottom is None or authority_bottom <= top else min(authority_bottom, 446)
    assert boxes[-1][1] == pytest.approx(expected)


@pytest.mark.parametrize(
    "address",
    [
        # Seed 2041 classic card 24: a stroke of the portrait, three heights right of the first line.
        (box(ADDRESS[0], 70, 300), box("1", 70 + H * len(ADDRESS[0]) + 3 * H, 290, score=0.43)),
        # A one-character last line with a mark as long beside it: the line read surely is kept.
        (
            box(ADDRESS[0], 70, 300),
            box(ADDRESS[1], 190, 350),
            box("号", 190, 400),
            box("1", 400, 400, score=0.4),
        ),
    ],
)
def test_a_box_standing_apart_from_an_address_line_is_no_part_of_it(address: tuple[OcrLine, ...]) -> None:
    f = parse_front(front_lines(*address))
    assert f.address is not None and "1" not in f.address
    assert f.address.startswith("云南省玉溪市元江")


def test_a_number_whose_box_stops_short_is_read_on_past_it(font: CardFont) -> None:
    # Seed 2051 serif card 69 (Telegram copy): the box held 17 digits, too few to repair alone.
    page, label_w, w17 = _drawn_number(font)
    cut = box("公民身份号码" + NUMBER[:17], 70, 458, width=label_w + 30 + w17)
    lines = [*front_lines()[:-1], cut]
    assert parse_front(lines).id_number is None  # 17 digits: more than one insertion fits
    assert parse_front(lines, page).id_number == NUMBER
