"""Message catalogues: every user-visible text lives in `locales/<lang>/*.toml` as a Jinja2 template.

Templates are rendered with HTML autoescape because the bot sends with parse mode HTML: markup in
the catalogue is trusted, every value passed in (names, addresses, anything a user typed) is escaped.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

from jinja2 import Environment, StrictUndefined, Template

from bot.domain.clock import CHINA

_T = TypeVar("_T")

LANGUAGES = ("zh_CN", "en")
DEFAULT_LANGUAGE = "zh_CN"


def _flatten(prefix: str, table: Mapping[str, Any], out: dict[str, str], origin: Path) -> None:
    for key, value in table.items():
        full = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping):
            _flatten(full, value, out, origin)
        elif isinstance(value, str):
            if full in out:
                raise ValueError(f"{origin}: key {full!r} is defined twice in this language")
            out[full] = value
        else:
            raise ValueError(f"{origin}: key {full!r} must be a string")


def language_for(code: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """Map a Telegram `language_code` (IETF tag) to one of our catalogues."""
    if not code:
        return default
    code = code.lower().replace("_", "-")
    if code.startswith("zh"):
        return "zh_CN"
    if code.startswith("en"):
        return "en"
    return default


@dataclass
class Catalog:
    messages: dict[str, dict[str, str]]
    default: str = DEFAULT_LANGUAGE
    _env: Environment = field(init=False, repr=False)
    _compiled: dict[tuple[str, str], Template] = field(init=False, repr=False, default_factory=dict)
    # Texts without any Jinja2 markup, as rendered the first time (most menu and button labels): a
    # render costs a template context each time, ≈ 20 µs, several times per update (issue 22).
    _static: dict[tuple[str, str], str] = field(init=False, repr=False, compare=False, default_factory=dict)
    _memo: dict[Hashable, Any] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._env = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=False)

    @classmethod
    def load(cls, root: Path, default: str = DEFAULT_LANGUAGE) -> Catalog:
        messages: dict[str, dict[str, str]] = {}
        for lang in LANGUAGES:
            flat: dict[str, str] = {}
            for path in sorted((root / lang).glob("*.toml")):
                with path.open("rb") as fh:
                    _flatten("", tomllib.load(fh), flat, path)
            messages[lang] = flat
        return cls(messages=messages, default=default)

    def has(self, key: str, lang: str | None = None) -> bool:
        return key in self.messages[lang or self.default]

    def render(self, lang: str, key: str, /, **values: Any) -> str:
        lang = lang if lang in self.messages else self.default
        if not values:
            text = self._static.get((lang, key))
            if text is not None:
                return text
        source = self.messages[lang].get(key)
        if source is None:
            # A missing key is a bug caught by the catalogue test; show the key rather than crash a dialog.
            source = self.messages[self.default].get(key, key)
        template = self._compiled.get((lang, key))
        if template is None:
            template = self._env.from_string(source)
            self._compiled[(lang, key)] = template
        text = template.render(**values).strip()
        if not values and not any(mark in source for mark in ("{{", "{%", "{#")):
            self._static[(lang, key)] = text
        return text

    def memo(self, key: Hashable, build: Callable[[], _T]) -> _T:
        """``build()`` once per ``key`` for the life of this catalogue: what is made of its texts alone
        (a menu's keyboard in one language), so it is not rebuilt on every update."""
        try:
            return self._memo[key]  # type: ignore[no-any-return]
        except KeyError:
            made = self._memo[key] = build()
            return made

    def translator(self, lang: str) -> Translator:
        return Translator(self, lang if lang in self.messages else self.default)


@dataclass(frozen=True)
class Translator:
    """What handlers receive as `t`: `t("menu.home")`, `t("reasons." + code)`."""

    catalog: Catalog
    lang: str

    def __call__(self, key: str, /, **values: Any) -> str:
        return self.catalog.render(self.lang, key, **values)

    def reason(self, code: str, **values: Any) -> str:
        # Policy refusals (bot.domain.policies) keep their words under `policy.`: the same code is
        # both a dialog answer and a statistics row.
        for key in (f"reasons.{code}", f"policy.{code}"):
            if self.catalog.has(key, self.lang):
                return self.catalog.render(self.lang, key, **values)
        return self.catalog.render(self.lang, "reasons.unknown", code=code)

    def moment(self, at: datetime, *, zone: bool = True) -> str:
        """A stored (aware, UTC) moment as everyone reads it: China time to the minute, with the zone
        written (``zone=False`` in a list whose heading already names it)."""
        if at.tzinfo is None:
            raise ValueError("naive datetime: pass an aware one")
        local = at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
        return self("time.china", at=local) if zone else local

    def day(self, value: date) -> str:
        """A calendar date in the reader's language (1994年1月8日 / 8 January 1994)."""
        return self("time.day", year=value.year, month=value.month, day=value.day)

    def official(self, group: str, value: str) -> str:
        """A value printed on a Chinese document (``group`` ``sex`` or ``ethnicity``) in the reader's
        language, the printed wording in brackets when that is not Chinese, so it can be checked
        against the card. An unknown value is shown as it is."""
        key = f"{group}.{value}"
        if not self.catalog.has(key, self.lang):
            return value
        shown = self(key)
        return shown if shown == value else self("time.official", shown=shown, official=value)

    @property
    def telegram_code(self) -> str:
        return "zh-hans" if self.lang == "zh_CN" else self.lang
