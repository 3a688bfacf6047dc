"""English means English: every English template, rendered with sample values, carries no Chinese of its
own (user data and official values come in as variables), counts read as proper plurals, and dates,
sex and ethnicity are rendered in the reader's language."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from jinja2 import Environment, meta

from bot.config import REPO_ROOT
from bot.i18n import Catalog
from bot.verification.idcard import ETHNICITIES

CATALOG = Catalog.load(REPO_ROOT / "locales")
ENGLISH = CATALOG.translator("en")
CHINESE = CATALOG.translator("zh_CN")

# Han characters and Chinese punctuation. 【】 stay allowed: both catalogues mark button names with them.
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u300f\u3012-\u303f\uff01-\uff60]")
# Where Chinese belongs in the English catalogue: the language picker names Chinese in Chinese, so a
# Chinese reader who landed in English finds the way back.
ALLOWED = {"commands.language", "menu.language", "language.choose", "language.zh_CN"}
NUMBERS = {
    "abandoned", "accepted", "ahead", "case_id", "completed", "count", "day", "enterprises", "line",
    "load_id", "median", "minutes", "month", "more", "person_id", "rejected", "request_id", "review",
    "seconds", "started", "tries", "user_id", "year",
}  # fmt: skip
ENV = Environment()


def _samples(source: str, number: int) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in meta.find_undeclared_variables(ENV.parse(source)):
        if name in NUMBERS:
            values[name] = number
        elif name == "fields":
            # As many values per field as the template's loop unpacks (label, value[, hidden]).
            loop = re.search(r"for ([\w, ]+) in fields", source)
            width = len(loop.group(1).split(",")) if loop else 2
            values[name] = [("Name", "Sample", False)[:width], ("Date of birth", "Sample", True)[:width]]
        elif name == "people":
            values[name] = [("Sample", "Sample", "Sample", True), ("Sample", "Sample", "Sample", False)]
        elif name == "steps":
            values[name] = ["Sample", "Sample"]
        else:
            values[name] = "Sample"
    if "month" in values:
        values["month"] = 12
    return values


@pytest.mark.parametrize("number", [1, 2])
def test_english_templates_carry_no_chinese_of_their_own(number: int) -> None:
    found = {}
    for key, source in CATALOG.messages["en"].items():
        if key in ALLOWED:
            continue
        shown = CATALOG.render("en", key, **_samples(source, number))
        if CJK.search(shown):
            found[key] = shown
    assert found == {}


@pytest.mark.parametrize("number", [1, 2])
def test_counts_read_as_plurals(number: int) -> None:
    for key, source in CATALOG.messages["en"].items():
        shown = CATALOG.render("en", key, **_samples(source, number))
        assert "(s)" not in shown, key
        if number == 1:
            plural = re.search(r"\b1 (rows|minutes|seconds|tries|files|submissions|enterprises)\b", shown)
            assert plural is None, key


def test_dates_in_the_readers_language() -> None:
    assert ENGLISH.day(date(1994, 1, 8)) == "8 January 1994"
    assert CHINESE.day(date(1994, 1, 8)) == "1994年1月8日"


def test_sex_and_ethnicity_in_english_with_the_printed_value() -> None:
    assert ENGLISH.official("sex", "女") == "Female (女)"
    assert ENGLISH.official("ethnicity", "汉") == "Han (汉)"
    assert CHINESE.official("sex", "女") == "女" and CHINESE.official("ethnicity", "汉") == "汉"
    assert ENGLISH.official("ethnicity", "火星") == "火星"  # not a group: shown as read, never hidden
    for printed in ETHNICITIES:
        english = ENGLISH(f"ethnicity.{printed}")
        assert english and not CJK.search(english), printed


def test_an_ethnic_group_may_be_typed_in_english() -> None:
    from bot.dialogs.card_data import apply_correction
    from bot.verification.idcard import BackFields, FrontFields

    front = FrontFields()
    apply_correction("ethnicity", "uyghur", front, BackFields(), ENGLISH)
    assert front.ethnicity == "维吾尔"
    apply_correction("ethnicity", "蒙古族", front, BackFields(), ENGLISH)
    assert front.ethnicity == "蒙古"
