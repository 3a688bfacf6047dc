"""Chinese characters in personal data: which ones a name may hold, and how text is normalised.

A name on a resident ID card can hold any character of GB 18030 — including the CJK extensions
(䶮 U+4DAE in Extension A, 𠮷 U+20BB7 in Extension B, outside the Basic Multilingual Plane). The OCR
cannot read all of them, so the user types them; everything that accepts, stores, masks or indexes
a name must then treat such a character as one character:

- text is NFC-normalised first (a compatibility ideograph such as U+F900 becomes its unified form,
  and a base letter plus combining mark becomes one code point), so that equal names compare,
  index and mask equally whatever the keyboard produced;
- Python strings are code points, so an astral character is never split into surrogates; masking
  works on :func:`clusters` (a character with the variation selectors or combining marks that
  follow it), so a star never replaces half of a character.
"""

from __future__ import annotations

import unicodedata

__all__ = ["HAN_CLASS", "clusters", "gb18030_encodable", "is_han", "nfc"]

# Unified and compatibility ideographs, every extension block to H (Unicode 15.1), and 〇.
_HAN_RANGES: tuple[tuple[int, int], ...] = (
    (0x3007, 0x3007),
    (0x3400, 0x4DBF),  # Extension A
    (0x4E00, 0x9FFF),  # URO
    (0xF900, 0xFAFF),  # compatibility ideographs
    (0x20000, 0x2A6DF),  # Extension B
    (0x2A700, 0x2EE5F),  # Extensions C, D, E, F, I
    (0x2F800, 0x2FA1F),  # compatibility supplement
    (0x30000, 0x323AF),  # Extensions G, H
)
# For a regular expression character class: "[" + HAN_CLASS + "]".
HAN_CLASS = "".join(f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in _HAN_RANGES)
# Ideographic variation selectors (IVS) and the standard ones: part of the preceding character.
_SELECTORS = ((0xFE00, 0xFE0F), (0xE0100, 0xE01EF))


def is_han(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _HAN_RANGES)


def _attaches(ch: str) -> bool:
    cp = ord(ch)
    return (
        any(lo <= cp <= hi for lo, hi in _SELECTORS)
        or unicodedata.category(ch) in ("Mn", "Mc", "Me")
        or cp == 0x200D
    )


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def clusters(text: str) -> list[str]:
    """``text`` as user-perceived characters: each base character with the marks and variation
    selectors attached to it."""
    out: list[str] = []
    for ch in text:
        if out and _attaches(ch):
            out[-1] += ch
        else:
            out.append(ch)
    return out


def gb18030_encodable(text: str) -> bool:
    """Whether ``text`` can be stored in GB 18030 (everything but lone surrogates)."""
    try:
        text.encode("gb18030")
    except UnicodeEncodeError:
        return False
    return True
