"""Mainland China mobile numbers: the one place that parses and normalises them."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["InvalidPhoneNumber", "is_mainland_mobile", "normalize_mainland_mobile", "same_phone"]

_MOBILE = re.compile(r"1[3-9]\d{9}")
# What people put around the 11 digits: spaces, dashes, dots, brackets.
_DECORATION = re.compile(r"[\s\-.()（）]")


class InvalidPhoneNumber(ValueError):
    """Not a mainland China mobile number."""


def normalize_mainland_mobile(raw: str) -> str:
    """``"+86 138-0013-8000"`` → ``"13800138000"``. Accepts full-width digits and the country code
    written ``+86``, ``0086`` or ``86`` (Telegram shares contacts as ``8613800138000``)."""
    text = _DECORATION.sub("", unicodedata.normalize("NFKC", raw))
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    elif text.startswith("86") and len(text) == 13:
        text = text[2:]
    if not text.isascii() or not _MOBILE.fullmatch(text):
        raise InvalidPhoneNumber("not a mainland mobile number")
    return text


def is_mainland_mobile(raw: str) -> bool:
    try:
        normalize_mainland_mobile(raw)
    except InvalidPhoneNumber:
        return False
    return True


def same_phone(a: str, b: str) -> bool:
    """Whether two spellings name the same mainland mobile (e.g. a shared contact and a typed number)."""
    try:
        return normalize_mainland_mobile(a) == normalize_mainland_mobile(b)
    except InvalidPhoneNumber:
        return False
