"""ID card fields as they travel through the FSM data (JSON), are shown, and are corrected by the user."""

from __future__ import annotations

import re
from dataclasses import asdict, fields
from datetime import date
from typing import Any

from bot.domain.hanzi import HAN_CLASS, nfc
from bot.domain.masking import mask_address, mask_id_number
from bot.i18n import Translator
from bot.verification.idcard import ETHNICITIES, BackFields, FrontFields
from bot.verification.ids import normalize_number

FRONT_FIELDS = ("name", "sex", "ethnicity", "birth_date", "address", "id_number")
BACK_FIELDS = ("authority", "validity")
EDITABLE = FRONT_FIELDS + BACK_FIELDS
MAX_TEXT = {"name": 30, "address": 120, "authority": 60}


def _dump(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def front_to_dict(front: FrontFields) -> dict[str, Any]:
    return {k: _dump(v) for k, v in asdict(front).items()}


def back_to_dict(back: BackFields) -> dict[str, Any]:
    return {k: _dump(v) for k, v in asdict(back).items()}


def _load_date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def front_from_dict(data: dict[str, Any] | None) -> FrontFields:
    values = dict(data or {})
    values["birth_date"] = _load_date(values.get("birth_date"))
    known = {f.name for f in fields(FrontFields)}
    return FrontFields(**{k: v for k, v in values.items() if k in known})


def back_from_dict(data: dict[str, Any] | None) -> BackFields:
    values = dict(data or {})
    values["valid_from"] = _load_date(values.get("valid_from"))
    values["valid_to"] = _load_date(values.get("valid_to"))
    known = {f.name for f in fields(BackFields)}
    return BackFields(**{k: v for k, v in values.items() if k in known})


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


def shown_values(t: Translator, front: FrontFields, back: BackFields | None) -> dict[str, str | None]:
    """Each field as the user sees it on 【信息核实】: the ID number and address masked."""
    return {
        "name": front.name,
        "sex": t.official("sex", front.sex) if front.sex else None,
        "ethnicity": t.official("ethnicity", front.ethnicity) if front.ethnicity else None,
        "birth_date": t.day(front.birth_date) if front.birth_date else None,
        "address": mask_address(front.address) if front.address else None,
        "id_number": mask_id_number(front.id_number) if front.id_number else None,
        "authority": back.authority if back else None,
        "validity": validity_text(t, back) if back else None,
    }


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
