"""GB/T 2260 administrative division codes (the first six digits of a resident ID number).

The table keeps withdrawn codes: a card keeps the code of the place where the number was first
issued, so 513701 (巴中市, 1993-1999) is still found on valid cards today.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

__all__ = ["RegionName", "is_known_region", "region_full_name", "region_names"]


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
        if name and name not in ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划") and (
            not parts or parts[-1] != name
        ):
            parts.append(name)
    return "".join(parts) or None
