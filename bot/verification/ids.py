"""Number rules of identity documents and enterprises: the one place for every checksum.

- Resident ID number, GB 11643-1999 (ISO 7064 MOD 11-2 check character).
- HK/Macau permit, Taiwan permit, HK/Macau/Taiwan residence permit (formats of SPEC.md).
- Unified social credit code, GB 32100-2015.
- The validity period of a resident ID card (length by age at issue).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from bot.verification.regions import is_known_region

__all__ = [
    "MIN_BIRTH_DATE",
    "DocumentType",
    "IdReason",
    "PermitReason",
    "ResidentIdInfo",
    "UsccReason",
    "add_years",
    "age_on",
    "expected_validity_years",
    "normalize_number",
    "parse_resident_id",
    "resident_id_check_char",
    "uscc_check_char",
    "validate_document_number",
    "validate_resident_id",
    "validate_uscc",
    "validity_period_problems",
]

# Nobody alive holds a card with an earlier birth date; earlier dates are misreadings.
MIN_BIRTH_DATE = date(1900, 1, 1)


class DocumentType(StrEnum):
    RESIDENT_ID = "resident_id"  # 居民身份证
    HK_MACAU_PERMIT = "hk_macau_permit"  # 港澳居民来往内地通行证
    TAIWAN_PERMIT = "taiwan_permit"  # 台湾居民来往大陆通行证
    HMT_RESIDENCE_PERMIT = "hmt_residence_permit"  # 港澳台居民居住证


class IdReason(StrEnum):
    NUMBER_FORMAT = "idcard_number_format"
    NUMBER_CHECKSUM = "idcard_number_checksum"
    NUMBER_REGION = "idcard_number_region"
    NUMBER_BIRTH_DATE = "idcard_number_birth_date"
    VALIDITY_DATES = "idcard_validity_dates"  # end not after start, or month/day differ
    VALIDITY_LENGTH = "idcard_validity_length"  # length does not match the age at issue
    VALIDITY_LONG_TERM_TOO_YOUNG = "idcard_validity_long_term_too_young"
    VALIDITY_BEFORE_BIRTH = "idcard_validity_before_birth"


class PermitReason(StrEnum):
    NUMBER_FORMAT = "permit_number_format"
    NUMBER_CHECKSUM = "permit_number_checksum"
    NUMBER_REGION = "permit_number_region"
    NUMBER_BIRTH_DATE = "permit_number_birth_date"


class UsccReason(StrEnum):
    FORMAT = "uscc_format"
    CHECKSUM = "uscc_checksum"


@dataclass(frozen=True)
class ResidentIdInfo:
    region_code: str
    birth_date: date
    sex: str  # "男" or "女", as printed on the card


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# re.ASCII: `\d` would also match Arabic-Indic, Devanagari... digits, which int() accepts and the
# check-digit code does not (a crash), and which no document carries.
_ID_RE = re.compile(r"\d{17}[\dX]", re.ASCII)

# Full-width digits/letters and the separators people type or OCR leaves in.
_FULLWIDTH = {
    code: code - 0xFEE0 for code in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]
}
_SEPARATORS = re.compile(r"[\s\-_.·]")


def normalize_number(number: str) -> str:
    """Upper case, half-width, without spaces or dashes: ``" 11010519491231002x "`` → ``...002X``."""
    return _SEPARATORS.sub("", number.translate(_FULLWIDTH)).upper()


def resident_id_check_char(first17: str) -> str:
    """GB 11643 check character of the first 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("17 digits expected")
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def _birth_date(digits8: str) -> date | None:
    try:
        return date(int(digits8[:4]), int(digits8[4:6]), int(digits8[6:8]))
    except ValueError:
        return None


def parse_resident_id(number: str) -> ResidentIdInfo | None:
    """Region, birth date and sex encoded in a well-formed number; None when it is not well-formed
    (wrong length/characters or an impossible date). The checksum is not checked here."""
    n = normalize_number(number)
    if not _ID_RE.fullmatch(n):
        return None
    born = _birth_date(n[6:14])
    if born is None:
        return None
    return ResidentIdInfo(region_code=n[:6], birth_date=born, sex="男" if int(n[16]) % 2 else "女")


def _eighteen_digit_problems(
    n: str, *, today: date | None, reasons: type[IdReason] | type[PermitReason]
) -> list[str]:
    """Checks shared by the resident ID and the residence permit (same structure, same check)."""
    if not _ID_RE.fullmatch(n):
        return [reasons.NUMBER_FORMAT]
    problems: list[str] = []
    if resident_id_check_char(n[:17]) != n[17]:
        problems.append(reasons.NUMBER_CHECKSUM)
    born = _birth_date(n[6:14])
    if born is None or born < MIN_BIRTH_DATE or (today is not None and born > today):
        problems.append(reasons.NUMBER_BIRTH_DATE)
    return problems


def validate_resident_id(number: str, *, today: date | None = None) -> list[str]:
    """Every problem of a resident ID number as ``idcard_number_*`` codes; empty when valid."""
    n = normalize_number(number)
    problems = _eighteen_digit_problems(n, today=today, reasons=IdReason)
    if problems == [IdReason.NUMBER_FORMAT]:
        return problems
    if not is_known_region(n[:6]):
        problems.append(IdReason.NUMBER_REGION)
    return problems


_HK_MACAU_RE = re.compile(r"[HM](\d{8}|\d{10})", re.ASCII)
_TAIWAN_RE = re.compile(r"\d{8}", re.ASCII)
_HMT_REGIONS = ("810000", "820000", "830000")


def validate_document_number(doc_type: DocumentType, number: str, *, today: date | None = None) -> list[str]:
    """Problems of a document number as reason codes (``idcard_*`` or ``permit_*``); empty when valid."""
    n = normalize_number(number)
    match doc_type:
        case DocumentType.RESIDENT_ID:
            return validate_resident_id(n, today=today)
        case DocumentType.HK_MACAU_PERMIT:
            return [] if _HK_MACAU_RE.fullmatch(n) else [PermitReason.NUMBER_FORMAT]
        case DocumentType.TAIWAN_PERMIT:
            return [] if _TAIWAN_RE.fullmatch(n) else [PermitReason.NUMBER_FORMAT]
        case DocumentType.HMT_RESIDENCE_PERMIT:
            problems = _eighteen_digit_problems(n, today=today, reasons=PermitReason)
            if problems != [PermitReason.NUMBER_FORMAT] and n[:6] not in _HMT_REGIONS:
                problems.append(PermitReason.NUMBER_REGION)
            return problems
    raise ValueError(f"unknown document type {doc_type!r}")  # pragma: no cover


# --- unified social credit code (GB 32100-2015) ------------------------------------------------------

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(_USCC_ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_char(first17: str) -> str:
    if len(first17) != 17 or any(c not in _USCC_VALUE for c in first17):
        raise ValueError("17 characters of the GB 32100 alphabet expected")
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(code: str) -> list[str]:
    """Problems of a unified social credit code as ``uscc_*`` codes; empty when valid."""
    n = normalize_number(code)
    if len(n) != 18 or any(c not in _USCC_VALUE for c in n):
        return [UsccReason.FORMAT]
    return [] if uscc_check_char(n[:17]) == n[17] else [UsccReason.CHECKSUM]


# --- validity period of the resident ID card ---------------------------------------------------------


def age_on(birth: date, day: date) -> int:
    """Full years of age on ``day``."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def expected_validity_years(age_at_issue: int) -> int | None:
    """Years of validity for a card issued at that age; None means 长期 (long-term)."""
    if age_at_issue < 16:
        return 5
    if age_at_issue <= 25:
        return 10
    if age_at_issue <= 45:
        return 20
    return None


def add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return date(d.year + years, 2, 28)


def validity_period_problems(
    birth_date: date | None, valid_from: date, valid_to: date | None, *, long_term: bool
) -> list[str]:
    """Consistency of the printed validity period (not whether it has expired: see the card checks).

    ``valid_to`` is ignored when ``long_term``. Without a birth date only the shape is checked.
    """
    problems: list[str] = []
    if birth_date is not None and valid_from < birth_date:
        problems.append(IdReason.VALIDITY_BEFORE_BIRTH)
    if not long_term:
        if valid_to is None:
            return [*problems, IdReason.VALIDITY_DATES]
        start_md, end_md = (valid_from.month, valid_from.day), (valid_to.month, valid_to.day)
        same_day = end_md == start_md or (start_md == (2, 29) and end_md in ((2, 28), (3, 1)))
        if valid_to <= valid_from or not same_day:
            problems.append(IdReason.VALIDITY_DATES)
    if birth_date is None or IdReason.VALIDITY_BEFORE_BIRTH in problems:
        return problems
    expected = expected_validity_years(age_on(birth_date, valid_from))
    if long_term:
        if expected is not None:
            problems.append(IdReason.VALIDITY_LONG_TERM_TOO_YOUNG)
    elif (
        valid_to is not None
        and IdReason.VALIDITY_DATES not in problems
        and (expected is None or valid_to.year - valid_from.year != expected)
    ):
        problems.append(IdReason.VALIDITY_LENGTH)
    return problems
