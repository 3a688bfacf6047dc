"""Number rules: resident ID (GB 11643), permits, USCC (GB 32100), validity periods, GB/T 2260."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.verification.ids import (
    DocumentType,
    IdReason,
    PermitReason,
    UsccReason,
    age_on,
    expected_validity_years,
    normalize_number,
    parse_resident_id,
    resident_id_check_char,
    uscc_check_char,
    validate_document_number,
    validate_resident_id,
    validate_uscc,
    validity_period_problems,
)
from bot.verification.regions import (
    correct_region_prefix,
    is_known_region,
    region_full_name,
    region_names,
)

# --- resident ID ----------------------------------------------------------------------------------------

# Numbers published as examples in the standard and in public documentation.
_KNOWN_VALID = ["11010519491231002X", "513701199507176346"]


@pytest.mark.parametrize("number", _KNOWN_VALID)
def test_known_numbers(number: str) -> None:
    assert validate_resident_id(number) == []
    assert resident_id_check_char(number[:17]) == number[17]


def test_birth_before_1900_is_a_misreading() -> None:
    # The standard's own example: a correct check character, a birth date no living holder has.
    assert resident_id_check_char("44052418800101001") == "4"
    assert validate_resident_id("440524188001010014") == [IdReason.NUMBER_BIRTH_DATE]


def test_parse() -> None:
    info = parse_resident_id("11010519491231002x")
    assert info is not None
    assert (info.region_code, info.birth_date, info.sex) == ("110105", date(1949, 12, 31), "女")
    assert parse_resident_id("440524188001010014").sex == "男"  # type: ignore[union-attr]
    assert parse_resident_id("11010519491331002X") is None  # month 13
    assert parse_resident_id("1101051949123100") is None


def test_reasons() -> None:
    assert validate_resident_id("11010519491231002") == [IdReason.NUMBER_FORMAT]
    assert validate_resident_id("1101051949123100AX") == [IdReason.NUMBER_FORMAT]
    assert validate_resident_id("110105194912310021") == [IdReason.NUMBER_CHECKSUM]
    assert IdReason.NUMBER_REGION in validate_resident_id("999999194912310021")
    bad_date = "11010519490231" + "002"
    assert IdReason.NUMBER_BIRTH_DATE in validate_resident_id(bad_date + resident_id_check_char(bad_date))
    future = "110105" + "20300101" + "002"
    number = future + resident_id_check_char(future)
    assert validate_resident_id(number) == []
    assert validate_resident_id(number, today=date(2026, 1, 1)) == [IdReason.NUMBER_BIRTH_DATE]


def test_normalize() -> None:
    assert normalize_number(" １１０１０５ 1949-1231-002x ") == "11010519491231002X"


def test_historic_region_codes_stay_valid() -> None:
    # 513701 (巴中市, 1993-1999) was withdrawn but is printed on valid cards.
    assert is_known_region("513701")
    assert any(n.last_year is not None for n in region_names("513701"))
    assert region_full_name("510107") == "四川省成都市武侯区"
    assert not is_known_region("999999")


_REGIONS = st.sampled_from(["110105", "440524", "513701", "650102", "810000", "330106", "210726"])
_BIRTHS = st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31))


@st.composite
def valid_ids(draw: st.DrawFn) -> str:
    first17 = f"{draw(_REGIONS)}{draw(_BIRTHS):%Y%m%d}{draw(st.integers(0, 999)):03d}"
    return first17 + resident_id_check_char(first17)


@given(valid_ids())
def test_generated_numbers_are_valid(number: str) -> None:
    assert validate_resident_id(number) == []
    info = parse_resident_id(number)
    assert info is not None and info.sex == ("男" if int(number[16]) % 2 else "女")


@given(valid_ids(), st.integers(0, 17), st.sampled_from("0123456789X"))
def test_any_single_substitution_is_detected(number: str, pos: int, char: str) -> None:
    assume(number[pos] != char and not (pos < 17 and char == "X"))
    changed = number[:pos] + char + number[pos + 1 :]
    assert IdReason.NUMBER_CHECKSUM in validate_resident_id(changed)


@given(valid_ids(), st.integers(0, 16))
def test_adjacent_transpositions_are_detected(number: str, pos: int) -> None:
    assume(number[pos] != number[pos + 1] and number[pos + 1] != "X")
    swapped = number[:pos] + number[pos + 1] + number[pos] + number[pos + 2 :]
    assert IdReason.NUMBER_CHECKSUM in validate_resident_id(swapped)


@given(st.text(max_size=30))
def test_never_raises_on_any_text(text: str) -> None:
    assert isinstance(validate_resident_id(text), list)
    for doc in DocumentType:
        assert isinstance(validate_document_number(doc, text), list)
    assert isinstance(validate_uscc(text), list)


# --- permits --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "number", "expected"),
    [
        (DocumentType.HK_MACAU_PERMIT, "H12345678", []),
        (DocumentType.HK_MACAU_PERMIT, "m1234567801", []),
        (DocumentType.HK_MACAU_PERMIT, "H1234567", [PermitReason.NUMBER_FORMAT]),
        (DocumentType.HK_MACAU_PERMIT, "X12345678", [PermitReason.NUMBER_FORMAT]),
        (DocumentType.HK_MACAU_PERMIT, "H123456789", [PermitReason.NUMBER_FORMAT]),
        (DocumentType.TAIWAN_PERMIT, "12345678", []),
        (DocumentType.TAIWAN_PERMIT, "1234567", [PermitReason.NUMBER_FORMAT]),
        (DocumentType.TAIWAN_PERMIT, "T1234567", [PermitReason.NUMBER_FORMAT]),
    ],
)
def test_permit_formats(doc: DocumentType, number: str, expected: list[str]) -> None:
    assert validate_document_number(doc, number) == expected


@pytest.mark.parametrize("region", ["810000", "820000", "830000"])
def test_residence_permit(region: str) -> None:
    first17 = f"{region}19900101001"
    number = first17 + resident_id_check_char(first17)
    assert validate_document_number(DocumentType.HMT_RESIDENCE_PERMIT, number) == []
    wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
    assert validate_document_number(DocumentType.HMT_RESIDENCE_PERMIT, wrong) == [
        PermitReason.NUMBER_CHECKSUM
    ]


def test_residence_permit_region_and_resident_id_routing() -> None:
    first17 = "11010519491231002"
    number = first17 + resident_id_check_char(first17)
    assert validate_document_number(DocumentType.HMT_RESIDENCE_PERMIT, number) == [PermitReason.NUMBER_REGION]
    assert validate_document_number(DocumentType.RESIDENT_ID, number) == []


# --- USCC -----------------------------------------------------------------------------------------------

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def test_known_uscc() -> None:
    # Published codes of well-known companies.
    for code in ("91350100M000100Y43", "91110000600037341L"):
        assert validate_uscc(code) == [], code
    assert validate_uscc("91350100M000100Y44") == [UsccReason.CHECKSUM]
    assert validate_uscc("91350100M000100Y4") == [UsccReason.FORMAT]
    assert validate_uscc("91350100I000100Y43") == [UsccReason.FORMAT]  # I is not in the alphabet


@given(st.text(alphabet=_USCC_ALPHABET, min_size=17, max_size=17), st.integers(0, 17), st.data())
def test_uscc_single_substitution_detected(first17: str, pos: int, data: st.DataObject) -> None:
    code = first17 + uscc_check_char(first17)
    assert validate_uscc(code) == []
    char = data.draw(st.sampled_from([c for c in _USCC_ALPHABET if c != code[pos]]))
    assert validate_uscc(code[:pos] + char + code[pos + 1 :]) == [UsccReason.CHECKSUM]


# --- validity period ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "years"), [(0, 5), (15, 5), (16, 10), (25, 10), (26, 20), (45, 20), (46, None), (90, None)]
)
def test_expected_years(age: int, years: int | None) -> None:
    assert expected_validity_years(age) == years


def test_validity_rules() -> None:
    born = date(1990, 6, 15)
    assert validity_period_problems(born, date(2010, 3, 1), date(2020, 3, 1), long_term=False) == []
    assert validity_period_problems(born, date(2020, 3, 1), date(2040, 3, 1), long_term=False) == []
    assert validity_period_problems(born, date(2010, 3, 1), date(2030, 3, 1), long_term=False) == [
        IdReason.VALIDITY_LENGTH
    ]
    assert validity_period_problems(born, date(2010, 3, 1), date(2020, 3, 2), long_term=False) == [
        IdReason.VALIDITY_DATES
    ]
    assert validity_period_problems(born, date(2010, 3, 1), None, long_term=True) == [
        IdReason.VALIDITY_LONG_TERM_TOO_YOUNG
    ]
    assert validity_period_problems(date(1950, 1, 1), date(2010, 3, 1), None, long_term=True) == []
    assert validity_period_problems(born, date(1980, 3, 1), date(1985, 3, 1), long_term=False) == [
        IdReason.VALIDITY_BEFORE_BIRTH
    ]
    # 29 February: the end falls on 28 February (or 1 March) of a common year.
    assert (
        validity_period_problems(date(1980, 1, 1), date(2008, 2, 29), date(2028, 2, 28), long_term=False)
        == []
    )
    # Without a birth date only the shape is checked.
    assert validity_period_problems(None, date(2010, 3, 1), date(2030, 3, 1), long_term=False) == []


@given(_BIRTHS, st.integers(0, 40 * 365))
def test_rule_accepts_what_it_prescribes(born: date, days_after: int) -> None:
    issue = born + timedelta(days=days_after)
    years = expected_validity_years(age_on(born, issue))
    if years is None:
        assert validity_period_problems(born, issue, None, long_term=True) == []
    else:
        try:
            end = issue.replace(year=issue.year + years)
        except ValueError:
            end = date(issue.year + years, 2, 28)
        assert validity_period_problems(born, issue, end, long_term=False) == []


# --- region-name repair ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("read", "fixed"),
    [
        ("保山市施向县公安分局", "保山市施甸县公安分局"),
        ("江苏省南京市建郎区谊江大道763号", "江苏省南京市建邺区谊江大道763号"),
        ("内蒙古自治区兴安盟扎特旗风谊街772号", "内蒙古自治区兴安盟扎赉特旗风谊街772号"),
        ("四川省成都市锦江分局", "四川省成都市锦江分局"),  # an abbreviation, not a misreading
        ("湖南省常德市澧县长新大道360号", "湖南省常德市澧县长新大道360号"),  # 澧县 exists: not 临澧县
        ("云南省丽江市宁彝族自治县", "云南省丽江市宁蒗彝族自治县"),  # 蒗 is not in the OCR alphabet
        ("黔南布依族苗族自治州公安局", "黔南布依族苗族自治州公安局"),  # not 黔西南
        ("黄山市黔县公安局", "黄山市黔县公安局"),  # 歙县 or 黟县: ambiguous, left alone
        ("号鄂州市华容区公安分局", "鄂州市华容区公安分局"),  # a stray mark before the name
        ("北京市海淀区中关村大街1号", "北京市海淀区中关村大街1号"),
        ("加利福尼亚州旧金山市", "加利福尼亚州旧金山市"),
    ],
)
def test_region_prefix_repair(read: str, fixed: str) -> None:
    assert correct_region_prefix(read) == fixed


def test_names_equally_near_are_left_to_the_chooser_and_only_its_candidates_are_taken() -> None:
    asked: list[list[tuple[str, str]]] = []

    def choose(name: str | None) -> Callable[[Sequence[tuple[str, str]]], str | None]:
        return lambda pairs: asked.append(list(pairs)) or name

    assert correct_region_prefix("黄山市黔县公安局", choose("黄山市黟县")) == "黄山市黟县公安局"
    assert sorted(asked[0]) == [("黄山市黔县", "黄山市歙县"), ("黄山市黔县", "黄山市黟县")]
    assert correct_region_prefix("黄山市黔县公安局", choose(None)) == "黄山市黔县公安局"
    # A name that is not one of the candidates (a chooser's mistake) never replaces the text.
    assert correct_region_prefix("黄山市黔县公安局", choose("黄山市屯溪区")) == "黄山市黔县公安局"
    # One candidate: the table decides and nobody is asked.
    asked.clear()
    assert correct_region_prefix("保山市施向县公安分局", choose(None)) == "保山市施甸县公安分局"
    assert asked == []
