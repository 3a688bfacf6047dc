"""GB/T 2260 administrative division codes (the first six digits of a resident ID number).

The table keeps withdrawn codes: a card keeps the code of the place where the number was first
issued, so 513701 (巴中市, 1993-1999) is still found on valid cards today.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources

__all__ = [
    "RegionChooser",
    "RegionName",
    "correct_region_prefix",
    "is_known_region",
    "region_full_name",
    "region_names",
]


_PLACEHOLDERS = frozenset({"市辖区", "县", "市", "省直辖县级行政区划", "自治区直辖县级行政区划"})


@dataclass(frozen=True)
class RegionName:
    name: str
    first_year: int | None  # None: in force since before the table starts (1980)
    last_year: int | None  # None: still in force


@functools.cache
def _table() -> dict[str, tuple[RegionName, ...]]:
    text = resources.files("bot.verification").joinpath("data/gbt2260.csv").read_text(encoding="utf-8")
    table: dict[str, list[RegionName]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        code, name, first, last = line.split(",")
        table.setdefault(code, []).append(
            RegionName(name, int(first) if first else None, int(last) if last else None)
        )
    return {code: tuple(names) for code, names in table.items()}


def is_known_region(code: str) -> bool:
    """True when ``code`` is (or was at some time) a county-level, prefecture or province code."""
    return code in _table()


def region_names(code: str) -> tuple[RegionName, ...]:
    return _table().get(code, ())


def _latest(code: str) -> str | None:
    names = _table().get(code)
    return names[-1].name if names else None


def region_full_name(code: str) -> str | None:
    """Province + prefecture + county, e.g. ``四川省成都市武侯区``; None for an unknown code."""
    if not is_known_region(code):
        return None
    parts: list[str] = []
    for prefix_code in (code[:2] + "0000", code[:4] + "00", code):
        name = _latest(prefix_code)
        # 市辖区 / 县 are placeholders of municipalities, not real names.
        if name and name not in _PLACEHOLDERS and (not parts or parts[-1] != name):
            parts.append(name)
    return "".join(parts) or None


@functools.cache
def _names_by_head() -> dict[str, tuple[tuple[str, bool], ...]]:
    """Every full name (province+prefecture+county) and the same without the province, grouped by
    their first character, longest first, each with whether it names a county-level division."""
    names: dict[str, bool] = {}
    for code in _table():
        full = region_full_name(code)
        if not full:
            continue
        county = not code.endswith("00") and _latest(code) not in _PLACEHOLDERS
        variants = [full]
        for suffix in ("省", "自治区"):
            if suffix in full[:8]:
                rest = full.split(suffix, 1)[1]
                if len(rest) >= 2:
                    variants.append(rest)
        for name in variants:
            names[name] = names.get(name, False) or county
    grouped: dict[str, list[tuple[str, bool]]] = {}
    for name, county in names.items():
        if len(name) >= 2:
            grouped.setdefault(name[:1], []).append((name, county))
    return {
        head: tuple(sorted(group, key=lambda nc: len(nc[0]), reverse=True)) for head, group in grouped.items()
    }


def _one_edit_prefix(name: str, text: str) -> int | None:
    """If ``text`` starts with ``name`` up to one substituted, dropped or extra character inside the
    name (not its last character: 区/县/市 are never misread, while 锦江分局 abbreviates 锦江区分局),
    the length of that prefix of ``text``; else None."""
    n = len(name)
    head = text[:n]
    if len(head) == n:
        diffs = [i for i, (a, b) in enumerate(zip(name, head, strict=True)) if a != b]
        if len(diffs) == 1 and diffs[0] < n - 1:
            return n
    short = text[: n - 1]
    if len(short) == n - 1 and any(name[:i] + name[i + 1 :] == short for i in range(n - 1)):
        return n - 1
    long = text[: n + 1]
    if len(long) == n + 1 and any(long[:i] + long[i + 1 :] == name for i in range(n)):
        return n + 1
    return None


RegionChooser = Callable[[Sequence[tuple[str, str]]], str | None]
"""Given the (misread prefix, known name) pairs equally near in the table, the name the photo shows,
or None to leave the text as read."""


def correct_region_prefix(text: str, choose: RegionChooser | None = None) -> str:
    """Repair one misread character in the administrative-division name an address or an issuing
    authority starts with (``保山市施向县公安分局`` → ``保山市施甸县公安分局``).

    The repair is made when exactly one known name longer than the longest exactly matching prefix
    is within one edit: rare characters of place names (甸, 邺, 犁, 赉) are what OCR misreads, and the
    GB/T 2260 table is the closed list they come from. When several are (黄山市黔县: 黟县 and 歙县
    are both one character away), the table cannot decide: ``choose``, which can look at the
    pixels, may; without it the text stays as read.
    """
    for skip in (1, 2):
        # A stray mark read before the name ("号鄂州市..."): drop it when a known name follows.
        if not any(text.startswith(name) for name, _c in _names_by_head().get(text[:1], ())) and any(
            len(name) >= 3 and text[skip:].startswith(name)
            for name, _c in _names_by_head().get(text[skip:][:1], ())
        ):
            text = text[skip:]
            break
    group = _names_by_head().get(text[:1], ())
    matched = [(name, county) for name, county in group if text.startswith(name)]
    # Down to a county that exists: nothing to repair (湖南省常德市澧县 is not a misread 临澧县).
    if any(county for _name, county in matched):
        return text
    exact = max((name for name, _county in matched), key=len, default="")
    fixes: dict[str, int] = {}
    for name, _county in group:
        # Only what follows the exactly matched part is repaired (黔南… is not a misread 黔西南…).
        if len(name) <= len(exact) or len(name) < 4 or not name.startswith(exact):
            continue
        used = _one_edit_prefix(name, text)
        if used is not None and text[:used] != name:
            fixes[name] = used
    if not fixes:
        return text
    longest = max(len(name) for name in fixes)
    best = [name for name in fixes if len(name) == longest]
    picked = best[0] if len(best) == 1 else choose([(text[: fixes[n]], n) for n in best]) if choose else None
    return picked + text[fixes[picked] :] if picked in best and picked is not None else text
