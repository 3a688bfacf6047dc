"""The ID engine's re-reads past a detector box, attacked: they read more of the same photo, so they
may never take a value the card's other fields contradict, nor one no table lists.

- A number read on past a short box (`parse._number_read_on`) is checked as any number: on a card
  whose printed birth date is not the number's (an edited card), the reading carries the problem
  `idcard_birth_date_mismatch`; the date is not quietly "corrected" from the number.
- A division name chosen by the pixels is always one of the GB/T 2260 candidates: a chooser that
  answers anything else changes nothing (see also tests/unit/verification/test_ids.py).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from bot.verification.idcard.parse import parse_front
from bot.verification.idcard.validate import IdCardReason, validate_front
from bot.verification.regions import correct_region_prefix
from tests.helpers.idcard import hei_font
from tests.unit.verification.test_idcard_parse import _drawn_number, _number_box, front_lines

TODAY = date(2026, 11, 1)


def test_a_number_read_on_that_the_printed_birth_date_contradicts_is_a_problem() -> None:
    font = hei_font()
    page, _label_w, _w17 = _drawn_number(font)
    cut = _number_box(font, 0, 14, label=True)
    honest = [*front_lines()[:-1], cut]
    assert parse_front(honest, page).id_number is not None  # the read-on works on this photo
    assert IdCardReason.BIRTH_DATE_MISMATCH not in validate_front(parse_front(honest, page), today=TODAY)
    # The same photo, the card's printed birth date another one: the disagreement is a problem.
    edited = [replace(ln, text="出生1990年1月1日") if ln.text.startswith("出生") else ln for ln in honest]
    f = parse_front(edited, page)
    assert f.birth_date == date(1990, 1, 1)  # not "corrected" from the number: it is no OCR slip
    assert IdCardReason.BIRTH_DATE_MISMATCH in validate_front(f, today=TODAY)


def test_a_division_name_is_only_ever_one_the_table_offers() -> None:
    for answer in ("黄山市屯溪区", "北京市东城区", "", "黄山市黔县"):
        assert correct_region_prefix("黄山市黔县公安局", lambda pairs, a=answer: a) == "黄山市黔县公安局"
