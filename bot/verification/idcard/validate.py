"""Checks of what was read from an ID card, as reason codes (messages: locales/*/reasons_idcard.toml)."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

from bot.domain.hanzi import HAN_CLASS, nfc
from bot.verification.idcard.fields import ETHNICITIES, BackFields, FrontFields, Side
from bot.verification.ids import (
    parse_resident_id,
    validate_resident_id,
    validity_period_problems,
)

__all__ = [
    "IdCardReason",
    "side_problems",
    "validate_back",
    "validate_card",
    "validate_front",
]


class IdCardReason(StrEnum):
    NOT_FOUND = "idcard_not_found"  # no card text in the photo
    PARTLY_READ = "idcard_partly_read"  # a label of the card read, too little to tell the side
    EXPECTED_FRONT = "idcard_expected_front"  # the back was sent where the front was asked
    EXPECTED_BACK = "idcard_expected_back"  # the front was sent (again) where the back was asked
    SAME_SIDE_TWICE = "idcard_same_side_twice"
    MISSING_NAME = "idcard_missing_name"
    MISSING_SEX = "idcard_missing_sex"
    MISSING_ETHNICITY = "idcard_missing_ethnicity"
    MISSING_BIRTH_DATE = "idcard_missing_birth_date"
    MISSING_ADDRESS = "idcard_missing_address"
    MISSING_ID_NUMBER = "idcard_missing_id_number"
    MISSING_AUTHORITY = "idcard_missing_authority"
    MISSING_VALIDITY = "idcard_missing_validity"
    MISSING_BACK = "idcard_missing_back"
    CUT_OFF = "idcard_cut_off"  # a field unread or cut short, or no portrait, and text at the photo's edge
    NAME_INVALID = "idcard_name_invalid"
    SEX_INVALID = "idcard_sex_invalid"
    ETHNICITY_UNKNOWN = "idcard_ethnicity_unknown"
    ADDRESS_INVALID = "idcard_address_invalid"
    BIRTH_DATE_MISMATCH = "idcard_birth_date_mismatch"  # printed date differs from the number
    SEX_MISMATCH = "idcard_sex_mismatch"
    AUTHORITY_INVALID = "idcard_authority_invalid"
    EXPIRED = "idcard_expired"
    NOT_YET_VALID = "idcard_not_yet_valid"
    PORTRAIT_NOT_FOUND = "idcard_portrait_not_found"  # the photo area could not be located
    PORTRAIT_NO_FACE = "idcard_portrait_no_face"  # located, but no face in it
    # Not problems: what the engine corrected from the ID number (its checksum passed), reported in
    # ``SideReading.corrections`` so that the user and staff can see the value did not come from OCR.
    BIRTH_DATE_CORRECTED = "idcard_birth_date_corrected"  # garbled printed date, the number's taken
    BIRTH_DATE_FROM_NUMBER = "idcard_birth_date_from_number"  # printed date unread, the number's taken
    SEX_FROM_NUMBER = "idcard_sex_from_number"  # printed sex unread, the number's taken
    # A traditional character form read in the authority, replaced by the simplified one printed on
    # mainland cards (a fixed table, see authority.py).
    AUTHORITY_SIMPLIFIED = "idcard_authority_simplified"
    ADDRESS_SIMPLIFIED = "idcard_address_simplified"  # the same table, in the address (號 → 号)
    # A character of the name read with a close second candidate (a rare character may have been
    # read as a common look-alike): the name is kept as read, for the user to check or type.
    NAME_UNCERTAIN = "idcard_name_uncertain"


# Chinese names (any GB 18030 ideograph, CJK Extensions A-H included, optionally with an ideographic
# variation selector), and transliterated names of some minorities with the middle dot.
_HAN = f"[{HAN_CLASS}][\ufe00-\ufe0f\U000e0100-\U000e01ef]?"
_NAME_RE = re.compile(f"(?:{_HAN}){{1,15}}(?:·(?:{_HAN}){{1,15}}){{0,3}}")
_CJK_RE = re.compile(f"[{HAN_CLASS}]")


def validate_front(front: FrontFields, *, today: date | None = None) -> list[str]:
    """Problems of the portrait side alone (also for a user's correction of one of its fields)."""
    problems: list[str] = []
    if not front.name:
        problems.append(IdCardReason.MISSING_NAME)
    elif not _NAME_RE.fullmatch(nfc(front.name)):
        problems.append(IdCardReason.NAME_INVALID)
    if not front.sex:
        problems.append(IdCardReason.MISSING_SEX)
    elif front.sex not in ("男", "女"):
        problems.append(IdCardReason.SEX_INVALID)
    if not front.ethnicity:
        problems.append(IdCardReason.MISSING_ETHNICITY)
    elif front.ethnicity.removesuffix("族") not in ETHNICITIES:
        problems.append(IdCardReason.ETHNICITY_UNKNOWN)
    if front.birth_date is None:
        problems.append(IdCardReason.MISSING_BIRTH_DATE)
    if not front.address:
        problems.append(IdCardReason.MISSING_ADDRESS)
    elif len(_CJK_RE.findall(front.address)) < 4 or len(front.address) > 80:
        problems.append(IdCardReason.ADDRESS_INVALID)
    if not front.id_number:
        problems.append(IdCardReason.MISSING_ID_NUMBER)
        return problems
    problems.extend(validate_resident_id(front.id_number, today=today))
    info = parse_resident_id(front.id_number)
    if info is not None:
        if front.birth_date is not None and front.birth_date != info.birth_date:
            problems.append(IdCardReason.BIRTH_DATE_MISMATCH)
        if front.sex in ("男", "女") and front.sex != info.sex:
            problems.append(IdCardReason.SEX_MISMATCH)
    return [str(p) for p in problems]


def validate_back(back: BackFields, *, today: date, birth_date: date | None = None) -> list[str]:
    """Problems of the emblem side; ``birth_date`` (from the front) enables the period-length rule."""
    problems: list[str] = []
    if not back.authority:
        problems.append(IdCardReason.MISSING_AUTHORITY)
    elif len(_CJK_RE.findall(back.authority)) < 4 or not back.authority.endswith(("局", "分局", "所")):
        problems.append(IdCardReason.AUTHORITY_INVALID)
    if back.valid_from is None or (back.valid_to is None and not back.long_term):
        problems.append(IdCardReason.MISSING_VALIDITY)
        return [str(p) for p in problems]
    problems.extend(
        validity_period_problems(birth_date, back.valid_from, back.valid_to, long_term=back.long_term)
    )
    if back.valid_from > today:
        problems.append(IdCardReason.NOT_YET_VALID)
    # The card is valid through its last day.
    if not back.long_term and back.valid_to is not None and back.valid_to < today:
        problems.append(IdCardReason.EXPIRED)
    return [str(p) for p in problems]


def validate_card(front: FrontFields, back: BackFields | None, *, today: date) -> list[str]:
    """Every problem of a card, front and back together; empty when the card can be accepted."""
    problems = validate_front(front, today=today)
    if back is None:
        problems.append(str(IdCardReason.MISSING_BACK))
        return problems
    birth = front.birth_date
    if birth is None and front.id_number:
        info = parse_resident_id(front.id_number)
        birth = info.birth_date if info else None
    problems.extend(validate_back(back, today=today, birth_date=birth))
    return list(dict.fromkeys(problems))


def side_problems(expected: Side, got: Side | None, *, already: Side | None = None) -> list[str]:
    """Whether a photo shows the side the dialog asked for.

    ``already`` is the side received before (for the second photo): sending the same side again gets
    :attr:`IdCardReason.SAME_SIDE_TWICE` rather than the plain "expected" code.
    """
    if got is None:
        return [str(IdCardReason.NOT_FOUND)]
    if got == expected:
        return []
    if already is not None and got == already:
        return [str(IdCardReason.SAME_SIDE_TWICE)]
    return [str(IdCardReason.EXPECTED_FRONT if expected == "front" else IdCardReason.EXPECTED_BACK)]
