"""Every catalogue message, rendered with the largest value each variable can take, fits Telegram's
limits: 4,096 characters for a message, 1,024 for a caption, 200 for a callback answer; and every
button's callback data fits 64 bytes. Telegram counts characters after entity parsing, in UTF-16
code units; so does this test.

Which keys are captions and callback answers is read from the code (``caption=t("…")``,
``query.answer(t("…")``), so a new one is checked without editing this file.
"""

from __future__ import annotations

import contextlib
import html
import re
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Environment, meta

from bot.config import REPO_ROOT
from bot.dialogs.base import Act
from bot.handlers.mydata import MyData
from bot.handlers.staff.common import StaffAct
from bot.handlers.staff.lookup import ENTERPRISE_PAGE, PERSON_PAGE
from bot.i18n import LANGUAGES, Catalog
from bot.ui import Function, Go, Nav, Node, SetLanguage, Tip

CATALOG = Catalog.load(REPO_ROOT / "locales")
MESSAGE, CAPTION, CALLBACK_ANSWER, CALLBACK_DATA = 4096, 1024, 200, 64

# The widest character Telegram counts as one unit, repeated: a worst case for every text value.
W = "鑫"
LONG_ID = 10**12 - 1  # database ids and counts: far above what one bureau will ever hold


def _text(n: int) -> str:
    return W * n


# The largest value of each variable the code passes (bounded by the validators and caps that
# produce it: register names, the masked number, the joined reasons of one row, ...).
MAXIMA: dict[str, Any] = {
    "name": _text(100),  # enterprise names in the register are capped at 100 characters
    "enterprise": _text(100),
    "file": _text(255),  # a file name
    "fields": [(_text(12), _text(100))] * 14,
    "steps": [_text(30)] * 4,
    "people": [(_text(8), _text(30), "110***********1233", True)] * 40,  # maintain's MAX_PEOPLE
    "reasons": "; ".join([_text(80)] * 6),
    "reason": _text(100),  # a localized reason (t.reason) or a staff-typed refusal reason
    "residence": _text(100),
    "new_residence": _text(100),
    "value": _text(100),
    "counts": "; ".join([_text(12) + ": " + str(LONG_ID)] * 8),
    "ids": ", ".join([str(LONG_ID)] * 10),
    "period": "2026-11-01..2027-11-01",
    # dates (locales/*/time.toml): a calendar month and day
    "month": 12,
    "day": 31,
    "year": 2099,
}


def _value(name: str) -> Any:
    return MAXIMA.get(name, _text(40) if name not in _NUMERIC else LONG_ID)


_NUMERIC = {
    "accepted", "rejected", "count", "case_id", "person_id", "request_id", "user_id", "load_id",
    "page", "pages", "seconds", "minutes", "ahead", "tries", "more", "started", "completed",
    "review", "abandoned", "enterprises", "line",
}  # fmt: skip


def _units(rendered: str) -> int:
    """Characters as Telegram counts them: after HTML parsing, in UTF-16 code units."""
    plain = html.unescape(re.sub(r"<[^>]+>", "", rendered))
    return len(plain.encode("utf-16-le")) // 2


def _render(lang: str, key: str) -> str:
    env = Environment(autoescape=True)
    source = CATALOG.messages[lang][key]
    names = meta.find_undeclared_variables(env.parse(source))
    values = {n: _value(n) for n in names}
    if "fields" in values:
        # As many values per field as the template's loop unpacks (label, value[, hidden]).
        loop = re.search(r"for ([\w, ]+) in fields", source)
        width = len(loop.group(1).split(",")) if loop else 2
        values["fields"] = [(_text(12), _text(100), False)[:width]] * 14
    try:
        return CATALOG.render(lang, key, **values)
    except TypeError:  # the template computes with a variable: it is a number
        return CATALOG.render(lang, key, **{n: MAXIMA.get(n, LONG_ID) for n in names})


def _keys_used_as(pattern: str) -> set[str]:
    found: set[str] = set()
    for path in Path(REPO_ROOT / "bot").rglob("*.py"):
        found |= set(re.findall(pattern, path.read_text(encoding="utf-8")))
    return found


# A staff handler's translator is its context's (``sc.t``).
CAPTION_KEYS = _keys_used_as(r'caption=(?:sc\.)?t\(\s*"([a-z0-9_.]+)"')
ANSWER_KEYS = _keys_used_as(r'query\.answer\(\s*(?:sc\.)?t\(\s*"([a-z0-9_.]+)"')


def test_the_code_scan_finds_captions_and_callback_answers() -> None:
    assert {"staff.audit.caption", "staff.stats.chart"} <= CAPTION_KEYS
    assert "staff.review.already_decided" in ANSWER_KEYS


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_fits_with_maximal_values(lang: str) -> None:
    too_long = {
        key: units for key in CATALOG.messages[lang] if (units := _units(_render(lang, key))) > MESSAGE
    }
    assert too_long == {}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_captions_and_callback_answers_fit(lang: str) -> None:
    for keys, limit in ((CAPTION_KEYS, CAPTION), (ANSWER_KEYS, CALLBACK_ANSWER)):
        for key in keys:
            assert CATALOG.has(key, lang), key
            assert _units(_render(lang, key)) <= limit, (lang, key)
    # The per-photo captions of /review's album are captions too.
    for key in CATALOG.messages[lang]:
        if key.startswith("staff.media."):
            assert _units(_render(lang, key)) <= CAPTION, key


def _literals(pattern: str) -> set[str]:
    return _keys_used_as(pattern) | {""}


def test_every_callback_data_fits_64_bytes() -> None:
    packed = [Nav(node=n).pack() for n in Node]
    packed += [Tip(func=f, parent=n).pack() for f in Function for n in Node]
    packed += [Go(func=f).pack() for f in Function]
    packed += [SetLanguage(lang=lang).pack() for lang in LANGUAGES]
    actions = _literals(r'staff_button\(\s*(?:t\("[^"]*"\)|[^,()]+),\s*"([a-z_]+)"') | {
        PERSON_PAGE,
        ENTERPRISE_PAGE,
    }
    values = [
        "",
        "91210102MA0QWE7R1T",  # a taxpayer id (the enterprise pages)
        f"{LONG_ID}.{LONG_ID}",  # a person and the newest audit row (the trail's pages)
        *_literals(r'staff_button\([^\n]*?v="([^"]*)"'),
    ]
    packed += [StaffAct(a=a, n=LONG_ID, v=v).pack() for a in actions for v in values]
    # act(text, "action", value): the text is a t(...) call, an f-string or a name.
    dialog_actions = _literals(r'\bact\(\s*(?:ctx\.t\([^)]*\)|[^,"]+|f?"[^"]*"),\s*"([a-z_]+)"')
    dialog_values = _literals(r'\bact\([^\n]*?,\s*"[a-z_]+",\s*"([^"]+)"\)') | {str(LONG_ID)}
    packed += [Act(a=a, v=v).pack() for a in dialog_actions for v in dialog_values]
    packed += [MyData(**_my_data_max()).pack()]
    too_long = [p for p in packed if len(p.encode()) > CALLBACK_DATA]
    assert too_long == []
    assert len(actions) > 5 and len(dialog_actions) > 5  # the scan found the buttons


def _my_data_max() -> dict[str, Any]:
    fields = MyData.model_fields
    return {
        name: (LONG_ID if field.annotation is int else max(_literals(r'MyData\(a="([^"]+)"'), key=len))
        for name, field in fields.items()
    }


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_of_the_longest_register_report_fits(lang: str) -> None:
    """A register of the most rows an admin may upload, every row rejected for the six longest
    reasons, under the longest file name: each page with the confirmation stays under 4,096."""
    from bot.handlers.staff.register import confirm_text, report_page
    from bot.services.registers import ENTERPRISES

    t = CATALOG.translator(lang)
    # The register's row checks pass no values to their reasons: those that need one are not theirs.
    plain = {}
    for key in CATALOG.messages[lang]:
        if key.startswith("reasons."):
            with contextlib.suppress(Exception):
                plain[key.removeprefix("reasons.")] = _units(t.reason(key.removeprefix("reasons.")))
    longest = sorted(plain, key=plain.__getitem__, reverse=True)[:6]
    rows = [[99_999, longest]] * 5000  # Settings.register_max_rows
    record = {"kind": ENTERPRISES, "file": _text(255), "accepted": 5000, "rejected": 5000, "rows": rows}
    confirm = confirm_text(t, ENTERPRISES, 5000, 5000)
    _, _, pages = report_page(t, record, 0)
    assert pages > 1
    for page in (0, pages // 2, pages - 1):
        text, shown, _ = report_page(t, record, page)
        assert shown == page
        assert _units(text + "\n\n" + confirm) <= MESSAGE, (page, _units(text))
