"""ID card fields as they travel through the FSM data (JSON), are shown, and are corrected by the user."""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import date
from typing import Any

from bot.domain.hanzi import HAN_CLASS, nfc
from bot.i18n import Translator

# Read back by the use cases and staff too (one copy, in services); named here for the card steps.
from bot.services.records import back_from_dict as back_from_dict
from bot.services.records import front_from_dict as front_from_dict
from bot.services.records import mask_field as mask_field
from bot.verification.idcard import ETHNICITIES, BackFields, FrontFields
from bot.verification.ids import normalize_number

FRONT_FIELDS = ("name", "sex", "ethnicity", "birth_date", "address", "id_number")
BACK_FIELDS = ("authority", "validity")
EDITABLE = FRONT_FIELDS + BACK_FIELDS
# Fields that say *who* the card names: a correction of one makes the submission unverified (only the
# identity authority's photo of the corrected identity, matched against the selfie, or a person can
# vouch for it). Address, ethnicity, authority and validity stay self-service.
IDENTITY_FIELDS = ("id_number", "name", "sex", "birth_date")
MAX_TEXT = {"name": 30, "address": 120, "authority": 60}


def _dump(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def front_to_dict(front: FrontFields) -> dict[str, Any]:
    return {k: _dump(v) for k, v in asdict(front).items()}


def back_to_dict(back: BackFields) -> dict[str, Any]:
    return {k: _dump(v) for k, v in asdict(back).items()}


# --- showing ---------------------------------------------------------------------------------------


def validity_text(t: Translator, back: BackFields) -> str | None:
    if back.valid_from is None:
        return None
    end = (
        t("card.long_term")
        if back.long_term
        else (back.valid_to.strftime("%Y.%m.%d") if back.valid_to else "?")
    )
    return f"{back.valid_from.strftime('%Y.%m.%d')}-{end}"


def full_values(t: Translator, front: FrontFields, back: BackFields | None) -> dict[str, str | None]:
    """Each field in full, as the owner checks it on 【信息核实】 (inside a spoiler) and corrects it."""
    return {
        "name": front.name,
        "sex": t.official("sex", front.sex) if front.sex else None,
        "ethnicity": t.official("ethnicity", front.ethnicity) if front.ethnicity else None,
        "birth_date": t.day(front.birth_date) if front.birth_date else None,
        "address": front.address,
        "id_number": front.id_number,
        "authority": back.authority if back else None,
        "validity": validity_text(t, back) if back else None,
    }


def shown_values(t: Translator, front: FrontFields, back: BackFields | None) -> dict[str, str | None]:
    """Each field as shown once the user has left 【信息核实】: the ID number and address masked."""
    values = full_values(t, front, back)
    return {k: mask_field(k, v) if k in {"id_number", "address"} else v for k, v in values.items()}


# --- what the user corrected -----------------------------------------------------------------------


def field_value(t: Translator, card: dict[str, Any], field: str, *, read: bool = False) -> str | None:
    """The value of ``field`` now, or (``read``) as the engine read it before any correction."""
    source = (card.get("read") or {}) if read else card
    front, back = front_from_dict(source.get("front")), back_from_dict(source.get("back"))
    return full_values(t, front, back).get(field)


def correction_entry(t: Translator, card: dict[str, Any], field: str) -> dict[str, str | None]:
    """One correction, read → typed, as it goes into the dialog data (the review payload, encrypted)."""
    return {
        "field": field,
        "read": field_value(t, card, field, read=True),
        "typed": field_value(t, card, field),
    }


def identity_corrected(t: Translator, card: dict[str, Any]) -> list[str]:
    """The identity fields (``IDENTITY_FIELDS``) whose value now differs from what the engine read:
    the submission is then unverified. Correcting a field back to what was read is no correction."""
    fields = {str(c.get("field")) for c in card.get("corrections", [])}
    return [
        f
        for f in IDENTITY_FIELDS
        if f in fields and field_value(t, card, f) != field_value(t, card, f, read=True)
    ]


# --- corrections -----------------------------------------------------------------------------------

_DATE = re.compile(r"^\s*(\d{4})\s*[-./年]\s*(\d{1,2})\s*[-./月]\s*(\d{1,2})\s*日?\s*$")
_COMPACT_DATE = re.compile(r"^\s*(\d{4})(\d{2})(\d{2})\s*$")
# Any GB 18030 ideograph (䶮 in Extension A, 𠮷 in Extension B: the OCR may not read them, so they are
# typed) with an optional variation selector, Latin letters and the name separators.
_NAME = re.compile(f"^(?:[{HAN_CLASS}][\ufe00-\ufe0f\U000e0100-\U000e01ef]?|[A-Za-z·•.\\- ]){{1,30}}$")
_LONG_TERM = ("长期", "long-term", "long term", "longterm")
_DATE_TOKEN = re.compile(r"\d{4}\s*[-./年]\s*\d{1,2}\s*[-./月]\s*\d{1,2}\s*日?|\d{8}")


class CorrectionError(ValueError):
    """A correction that is not even a well-formed value; `code` is a reason code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def parse_date(text: str) -> date:
    match = _DATE.match(text) or _COMPACT_DATE.match(text)
    if match is None:
        raise CorrectionError("input_date_format")
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError as exc:
        raise CorrectionError("input_date_invalid") from exc


def _clean(text: str) -> str:
    # Control characters and zero-width marks have no place in an ID field; NFC so that a name
    # typed with a compatibility ideograph or decomposed marks is stored as the card prints it.
    return nfc("".join(ch for ch in text if ch.isprintable())).strip()


def _ethnicity_names(t: Translator | None) -> dict[str, str]:
    """The groups' names in every catalogue language → the printed name ("han" → 汉)."""
    if t is None:
        return {}
    return {
        shown.casefold(): key.removeprefix("ethnicity.")
        for messages in t.catalog.messages.values()
        for key, shown in messages.items()
        if key.startswith("ethnicity.")
    }


def apply_correction(
    field: str, text: str, front: FrontFields, back: BackFields, t: Translator | None = None
) -> None:
    """Parse the user's text for `field` into `front`/`back`; rule checks come after, in validate_card.
    With `t`, an ethnic group may be typed by its name in any catalogue language."""
    value = _clean(text)
    if not value:
        raise CorrectionError("input_empty")
    if field in MAX_TEXT and len(value) > MAX_TEXT[field]:
        raise CorrectionError("input_too_long")
    match field:
        case "name":
            if not _NAME.match(value):
                raise CorrectionError("input_name_invalid")
            front.name = value
        case "sex":
            sexes = {"男": "男", "女": "女", "m": "男", "male": "男", "f": "女", "female": "女"}
            if value.lower() not in sexes:
                raise CorrectionError("input_sex_invalid")
            front.sex = sexes[value.lower()]
        case "ethnicity":
            name = _ethnicity_names(t).get(value.casefold(), value.removesuffix("族"))
            if name not in ETHNICITIES:
                raise CorrectionError("idcard_ethnicity_unknown")
            front.ethnicity = name
        case "birth_date":
            front.birth_date = parse_date(value)
        case "address":
            front.address = value
        case "id_number":
            front.id_number = normalize_number(value)
        case "authority":
            back.authority = value
        case "validity":
            dates = _DATE_TOKEN.findall(value)
            long_term = any(word in value.lower() for word in _LONG_TERM)
            if not dates or len(dates) + long_term != 2:
                raise CorrectionError("input_validity_format")
            back.valid_from = parse_date(dates[0])
            if long_term:
                back.valid_to, back.long_term = None, True
            else:
                back.valid_to, back.long_term = parse_date(dates[1]), False
        case _:
            raise CorrectionError("input_unknown_field")
