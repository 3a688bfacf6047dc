"""The one masking module: how personal data is shown on screen, to staff and in the audit log.

Choices (documented because staff and users see them):

- ID / permit numbers keep the first 3 and last 4 characters (``513***********6346``): the first 3
  only say the province, the last 4 are what people recognise as "theirs"; the 6-character region
  prefix would reveal the county of birth, so it is not shown. Numbers of 8–10 characters (permits)
  keep the first 1 and last 2; shorter ones are masked completely.
- Mobile numbers keep the first 3 and last 4 (``138****1234``), the usual Chinese style.
- Names keep the surname (compound surnames such as 欧阳 whole) and mask each other character
  (``张*``, ``张**``, ``欧阳**``); Latin names keep the first letter of every word (``J*** S****``);
  separators (``·``, spaces, ``-``) stay.
- Addresses keep the administrative prefix up to the district or county (``辽宁省沈阳市和平区****``),
  the rest is replaced by four stars whatever its length.
- Dates of birth, photos and face encodings are never shown.

A value that already contains ``*`` is taken as masked and returned unchanged, so masking twice is
harmless. Names and addresses are NFC-normalised and masked per character as the reader sees it
(:func:`bot.domain.hanzi.clusters`): a CJK Extension B character (𠮷) or one followed by a variation
selector counts as one character and is kept or starred whole.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.domain.hanzi import clusters, is_han, nfc

__all__ = [
    "REDACTED",
    "mask_address",
    "mask_free_text",
    "mask_id_number",
    "mask_name",
    "mask_phone",
    "mask_record",
]

REDACTED = "<redacted>"
_STAR = "*"

_COMPOUND_SURNAMES = frozenset(
    {
        "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙",
        "宇文", "司徒", "夏侯", "轩辕", "令狐", "钟离", "闻人", "澹台", "公冶", "太史",
        "端木", "申屠", "赫连", "独孤", "南宫", "西门", "百里", "呼延", "万俟", "单于",
        "第五", "东郭", "濮阳", "淳于", "拓跋", "左丘", "公羊", "梁丘", "谷梁",
    }
)  # fmt: skip
_NAME_SEPARATORS = frozenset("·•・. -'")
_ADMIN_SUFFIXES = "省市区县旗州盟"
_ADDRESS_PREFIX_MAX = 12


def _already_masked(value: str) -> bool:
    return _STAR in value


def mask_id_number(number: str) -> str:
    value = number.strip()
    if not value or _already_masked(value):
        return value
    n = len(value)
    if n >= 11:
        head, tail = 3, 4
    elif n >= 8:
        head, tail = 1, 2
    else:
        return _STAR * n
    return value[:head] + _STAR * (n - head - tail) + value[-tail:]


def mask_phone(phone: str) -> str:
    value = phone.strip()
    if not value or _already_masked(value):
        return value
    digits = re.sub(r"\D", "", value)
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if len(digits) == 11:
        return digits[:3] + _STAR * 4 + digits[-4:]
    if len(digits) > 4:
        return _STAR * (len(digits) - 4) + digits[-4:]
    return _STAR * len(digits)


def mask_name(name: str) -> str:
    value = nfc(name.strip())
    if not value or _already_masked(value):
        return value
    chars = clusters(value)
    if any(is_han(ch[0]) for ch in chars):
        keep = 2 if len(chars) > 2 and "".join(chars[:2]) in _COMPOUND_SURNAMES else 1
        if len(chars) == 1:
            return _STAR
        return "".join(chars[:keep]) + "".join(ch if ch in _NAME_SEPARATORS else _STAR for ch in chars[keep:])
    out: list[str] = []
    start_of_word = True
    for ch in chars:
        if ch in _NAME_SEPARATORS:
            out.append(ch)
            start_of_word = True
        elif start_of_word:
            out.append(ch)
            start_of_word = False
        else:
            out.append(_STAR)
    return "".join(out)


def mask_address(address: str) -> str:
    value = nfc(address.strip())
    if not value or _already_masked(value):
        return value
    chars = clusters(value)
    window = chars[:_ADDRESS_PREFIX_MAX]
    cut = max((i for i, ch in enumerate(window) if ch in _ADMIN_SUFFIXES), default=-1)
    keep = cut + 1 if cut >= 0 else min(3, len(chars) // 3)
    if keep >= len(chars):
        keep = max(0, len(chars) - 1) if len(chars) > 1 else 0
    return "".join(chars[:keep]) + _STAR * 4


_FREE_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_FREE_PERMIT = re.compile(r"(?<![0-9A-Za-z])[HMhm]\d{8}(?:\d{2})?(?![0-9A-Za-z])")
_FREE_PHONE = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}(?!\d)")


def mask_free_text(text: str) -> str:
    """Mask anything in free text that looks like an ID number, a permit number or a mobile number."""
    text = _FREE_ID.sub(lambda m: mask_id_number(m.group(0)), text)
    text = _FREE_PERMIT.sub(lambda m: mask_id_number(m.group(0)), text)
    return _FREE_PHONE.sub(lambda m: mask_phone(m.group(0)), text)


def _mask_birth_date(_value: str) -> str:
    return "****-**-**"


_BY_KEY = {
    "id_number": mask_id_number,
    "number": mask_id_number,
    "doc_number": mask_id_number,
    "document_number": mask_id_number,
    "phone": mask_phone,
    "phone_number": mask_phone,
    "mobile": mask_phone,
    "name": mask_name,
    "full_name": mask_name,
    "address": mask_address,
    "residence": mask_address,
    "birth_date": _mask_birth_date,
}
_REDACTED_KEYS = frozenset(
    {"photo", "portrait", "encoding", "face_encoding", "image", "video", "code", "otp", "selfie"}
)


def _mask_value(key: str | None, value: Any) -> Any:
    if key is not None and key.lower() in _REDACTED_KEYS and value is not None:
        return REDACTED
    if isinstance(value, Mapping):
        return mask_record(value)
    if isinstance(value, list | tuple):
        return [_mask_value(key, item) for item in value]
    if isinstance(value, bytes | bytearray):
        return REDACTED
    masker = _BY_KEY.get(key.lower()) if key is not None else None
    if isinstance(value, str):
        return masker(value) if masker is not None else mask_free_text(value)
    if masker is not None and isinstance(value, int) and not isinstance(value, bool):
        # A phone or number that arrived as an int is still the same personal data.
        return masker(str(value))
    return value


def mask_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``record`` safe for the audit log: known personal fields masked by key name, photos
    and encodings redacted, and ID-like / phone-like substrings of any other text masked too."""
    return {str(key): _mask_value(str(key), value) for key, value in record.items()}
