"""Property-based fuzzing (hypothesis) of the parsers and validators that take user input (issue 8 §1):
whatever the text, they answer with a value or a reason code and never raise anything else."""

from __future__ import annotations

import string
from datetime import date

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.dialogs.card_data import (
    EDITABLE,
    CorrectionError,
    apply_correction,
    back_from_dict,
    back_to_dict,
    front_from_dict,
    front_to_dict,
    parse_date,
)
from bot.domain.masking import (
    mask_address,
    mask_free_text,
    mask_id_number,
    mask_name,
    mask_phone,
)
from bot.domain.phone import InvalidPhoneNumber, is_mainland_mobile, normalize_mainland_mobile, same_phone
from bot.verification.ids import (
    DocumentType,
    normalize_number,
    parse_resident_id,
    resident_id_check_char,
    uscc_check_char,
    validate_document_number,
    validate_resident_id,
    validate_uscc,
)
from tests.helpers.fakes import back, front

TODAY = date(2026, 11, 27)
# Everything a Telegram message can carry: any code point but surrogates, biased towards the
# characters these parsers care about.
ANY_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(exclude_categories=["Cs"]),
        st.sampled_from(string.digits + "Xx-./年月日 +（）()长期"),
        st.sampled_from("０１２３４５６７８９Ｘ٣٤߀𝟘"),  # full-width, Arabic-Indic, NKo, math digits
    ),
    max_size=64,
)
DIGITS17 = st.text(alphabet=string.digits, min_size=17, max_size=17)


# --- ID, permit and credit-code numbers -----------------------------------------------------------------


@given(ANY_TEXT)
def test_document_validators_only_return_reason_codes(text: str) -> None:
    for doc_type in DocumentType:
        problems = validate_document_number(doc_type, text, today=TODAY)
        assert all(isinstance(p, str) and p.startswith(("idcard_", "permit_")) for p in problems)
    assert all(p.startswith("idcard_") for p in validate_resident_id(text, today=TODAY))
    assert all(p.startswith("uscc_") for p in validate_uscc(text))
    info = parse_resident_id(text)
    if info is not None:
        assert len(info.region_code) == 6 and info.sex in {"男", "女"}


@given(DIGITS17)
def test_a_computed_check_char_always_validates(first17: str) -> None:
    number = first17 + resident_id_check_char(first17)
    problems = validate_resident_id(number, today=TODAY)
    assert "idcard_number_checksum" not in problems and "idcard_number_format" not in problems


@given(DIGITS17, st.sampled_from("0123456789X"))
def test_a_wrong_check_char_is_always_caught(first17: str, wrong: str) -> None:
    assume(wrong != resident_id_check_char(first17))
    assert "idcard_number_checksum" in validate_resident_id(first17 + wrong, today=TODAY)


@given(st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=17, max_size=17))
def test_uscc_check_char_round_trip(first17: str) -> None:
    assert validate_uscc(first17 + uscc_check_char(first17)) == []


@given(ANY_TEXT)
def test_normalize_number_is_idempotent(text: str) -> None:
    once = normalize_number(text)
    assert normalize_number(once) == once


# --- phones -----------------------------------------------------------------------------------------------


@given(ANY_TEXT)
def test_phone_parser_returns_eleven_ascii_digits_or_refuses(text: str) -> None:
    try:
        number = normalize_mainland_mobile(text)
    except InvalidPhoneNumber:
        assert not is_mainland_mobile(text)
        return
    assert len(number) == 11 and number.isascii() and number.isdigit() and number[0] == "1"
    assert same_phone(text, number) and normalize_mainland_mobile(number) == number


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True), st.sampled_from(["", "+86 ", "0086", "86", "+86-"]))
def test_every_spelling_of_a_mobile_is_the_same_phone(number: str, prefix: str) -> None:
    assume(number.isascii())
    spaced = f"{prefix}{number[:3]} {number[3:7]} {number[7:]}"
    assert normalize_mainland_mobile(spaced) == number


# --- masking ------------------------------------------------------------------------------------------------


@given(st.from_regex(r"[0-9]{17}[0-9X]", fullmatch=True))
def test_masked_id_numbers_never_show_the_middle(number: str) -> None:
    masked = mask_id_number(number)
    assert len(masked) == len(number) and number[3:14] not in masked
    assert mask_id_number(masked) == masked  # idempotent


@given(ANY_TEXT)
def test_maskers_never_raise_and_are_idempotent(text: str) -> None:
    for mask in (mask_id_number, mask_phone, mask_name, mask_address, mask_free_text):
        once = mask(text)
        assert isinstance(once, str)
        assert mask(once) == once or mask is mask_free_text


@given(
    st.text(alphabet=string.ascii_letters + "，。 ", max_size=20),
    st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
)
def test_free_text_masking_hides_phones_inside_sentences(words: str, phone: str) -> None:
    assume(phone.isascii())
    assert phone not in mask_free_text(f"{words}电话{phone}。{words}")


# --- the 【信息核实】 corrections ---------------------------------------------------------------


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(EDITABLE), ANY_TEXT | st.text(max_size=300))
def test_corrections_accept_or_give_a_reason_code(field: str, text: str) -> None:
    f, b = front(), back()
    try:
        apply_correction(field, text, f, b)
    except CorrectionError as exc:
        assert exc.code.startswith(("input_", "idcard_"))
        return
    # Accepted: the fields still survive the FSM's JSON round trip and hold no control characters.
    assert front_from_dict(front_to_dict(f)) == f and back_from_dict(back_to_dict(b)) == b
    for value in (f.name, f.address, b.authority):
        assert value is None or all(ch.isprintable() for ch in value)


@given(ANY_TEXT)
def test_parse_date_gives_a_date_or_a_reason(text: str) -> None:
    try:
        parsed = parse_date(text)
    except CorrectionError as exc:
        assert exc.code in {"input_date_format", "input_date_invalid"}
        return
    assert 1 <= parsed.year <= 9999


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__])


# Digits of other scripts: `\d` matches them and int() reads them, but no document carries them.
UNICODE_DIGITS = st.text(alphabet="0123456789٠١٢٣٤٥٦٧٨٩۰۱۲۳४५६०१𝟘𝟙߀߁X", min_size=8, max_size=19)


@given(UNICODE_DIGITS)
def test_numbers_in_other_scripts_digits_are_refused_not_crashing(text: str) -> None:
    for doc_type in DocumentType:
        problems = validate_document_number(doc_type, text, today=TODAY)
        if not text.isascii():
            assert problems, (doc_type, text)
