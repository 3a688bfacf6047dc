"""Cross-field reconciliation: a valid ID number's birth date and sex are the truth for what OCR garbled
or missed; a real disagreement stays a problem."""

from __future__ import annotations

from datetime import date

from bot.verification.idcard import FrontFields, validate_front
from bot.verification.idcard.parse import reconcile

NUMBER = "11010519491231002X"  # born 1949-12-31, 女
TODAY = date(2026, 11, 1)


def front(**kw: object) -> FrontFields:
    values: dict[str, object] = {
        "name": "张三", "sex": "女", "ethnicity": "汉", "birth_date": date(1949, 12, 31),
        "address": "北京市朝阳区某某路1号", "id_number": NUMBER,
    }  # fmt: skip
    values.update(kw)
    return FrontFields(**values)  # type: ignore[arg-type]


def test_a_garbled_year_is_corrected_and_flagged() -> None:
    f = front(birth_date=date(9491, 12, 31))  # "1949" read as "9491"
    assert reconcile(f) == ["idcard_birth_date_corrected"]
    assert f.birth_date == date(1949, 12, 31)
    assert validate_front(f, today=TODAY) == []


def test_an_unread_date_and_sex_are_taken_from_the_number() -> None:
    f = front(birth_date=None, sex=None)
    assert reconcile(f) == ["idcard_birth_date_from_number", "idcard_sex_from_number"]
    assert (f.birth_date, f.sex) == (date(1949, 12, 31), "女")


def test_a_real_disagreement_stays_a_problem() -> None:
    f = front(birth_date=date(1985, 3, 2), sex="男")
    assert reconcile(f) == []
    assert f.birth_date == date(1985, 3, 2)
    assert {"idcard_birth_date_mismatch", "idcard_sex_mismatch"} <= set(validate_front(f, today=TODAY))


def test_a_plausible_but_different_date_is_not_overwritten() -> None:
    # One digit off, but a well-formed date: the number could be the misread one (checksum 1 in 11).
    f = front(birth_date=date(1949, 12, 21))
    assert reconcile(f) == []
    assert "idcard_birth_date_mismatch" in validate_front(f, today=TODAY)


def test_far_from_the_number_is_not_corrected() -> None:
    f = front(birth_date=date(9999, 1, 1))
    assert reconcile(f) == []


def test_nothing_is_taken_from_a_number_failing_its_checksum() -> None:
    f = front(id_number="110105194912310021", birth_date=None, sex=None)
    assert reconcile(f) == []
    assert f.birth_date is None and f.sex is None
