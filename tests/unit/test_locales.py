"""Every key exists in every language; every template renders; the guide's quoted messages are present."""

from __future__ import annotations

import re

import pytest
from jinja2 import Environment, meta

from bot.config import REPO_ROOT
from bot.i18n import LANGUAGES, Catalog, language_for

CATALOG = Catalog.load(REPO_ROOT / "locales")


def test_same_keys_in_every_language() -> None:
    keys = {lang: set(CATALOG.messages[lang]) for lang in LANGUAGES}
    base = keys["zh_CN"]
    for lang, found in keys.items():
        assert found - base == set(), f"{lang} has keys zh_CN lacks"
        assert base - found == set(), f"{lang} lacks keys"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_templates_parse_and_use_the_same_variables(lang: str) -> None:
    env = Environment(autoescape=True)
    for key, source in CATALOG.messages[lang].items():
        names = meta.find_undeclared_variables(env.parse(source))
        other = CATALOG.messages["zh_CN"][key]
        assert names == meta.find_undeclared_variables(env.parse(other)), key


def test_html_in_catalogue_is_balanced() -> None:
    for lang in LANGUAGES:
        for key, source in CATALOG.messages[lang].items():
            for tag in ("b", "i", "code", "u"):
                opened = len(re.findall(f"<{tag}>", source))
                assert opened == len(re.findall(f"</{tag}>", source)), (lang, key)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("zh-hans", "zh_CN"),
        ("zh-CN", "zh_CN"),
        ("zh_TW", "zh_CN"),
        ("en", "en"),
        ("en-GB", "en"),
        ("ru", "zh_CN"),
        (None, "zh_CN"),
        ("", "zh_CN"),
    ],
)
def test_language_for(code: str | None, expected: str) -> None:
    assert language_for(code) == expected


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_policy_code_reads_as_a_reason(lang: str) -> None:
    """/stats prints rejection codes with `t.reason`; policy refusals are among them."""
    from bot.domain.policies import Denial

    t = Catalog.load(REPO_ROOT / "locales", "zh_CN").translator(lang)
    unknown = t.reason("no_such_code_at_all")
    for denial in Denial:
        assert t.reason(str(denial)) == t("policy." + str(denial)) != unknown
