"""Callback data and keyboards shared by the menu handlers and the dialogs.

Callback data is typed (aiogram `CallbackData`) so a forged or stale payload fails to parse and lands
in the fallback handler instead of reaching a dialog with nonsense values.

The menus' keyboards and the tips' texts depend on the language alone: each is built once per
language and catalogue (:func:`per_language`) instead of on every update, which packed every
button's callback data and validated every button model again (issue 22). They are shared between
messages: never modify one these functions return (copy its rows instead).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from enum import StrEnum
from typing import Concatenate, ParamSpec, TypeVar

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import Translator

_P = ParamSpec("_P")
_T = TypeVar("_T")


class Function(StrEnum):
    """The guide's six functions, in its order."""

    COLLECT = "collect"
    SUPPLEMENT = "supplement"
    CHANGE = "change"
    MAINTAIN = "maintain"
    BIND = "bind"
    UNBIND = "unbind"


class Node(StrEnum):
    HOME = "home"
    TAX = "tax"
    REALNAME = "realname"
    MINE = "mine"
    HELP = "help"
    LANGUAGE = "language"


class Nav(CallbackData, prefix="nav"):
    node: Node


class Tip(CallbackData, prefix="tip"):
    func: Function
    parent: Node


class Go(CallbackData, prefix="go"):
    """Start a function's dialog (pressed on its tip screen)."""

    func: Function


class SetLanguage(CallbackData, prefix="lang"):
    lang: str


# Where each function sits in the guide's menu tree; the tip's "back" returns there.
FUNCTION_PARENT: dict[Function, Node] = {
    Function.SUPPLEMENT: Node.REALNAME,
    Function.CHANGE: Node.REALNAME,
    Function.MAINTAIN: Node.REALNAME,
    Function.BIND: Node.MINE,
    Function.UNBIND: Node.MINE,
}


def button(text: str, data: CallbackData | str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data if isinstance(data, str) else data.pack())


def rows(*rows_: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[list(r) for r in rows_ if r])


def per_language(
    build: Callable[Concatenate[Translator, _P], _T],
) -> Callable[Concatenate[Translator, _P], _T]:
    """``build(t, *args)`` once per language, catalogue and (hashable) arguments; the result shared."""
    name = build.__qualname__

    def cached(t: Translator, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        key = ("ui", name, t.lang, *args, *sorted(kwargs.items()))
        return t.catalog.memo(key, lambda: build(t, *args, **kwargs))

    functools.update_wrapper(cached, build)
    return cached


@per_language
def home_keyboard(t: Translator) -> InlineKeyboardMarkup:
    return rows(
        [button(t("menu.collect"), Tip(func=Function.COLLECT, parent=Node.HOME))],
        [button(t("menu.tax"), Nav(node=Node.TAX)), button(t("menu.mine"), Nav(node=Node.MINE))],
        [button(t("menu.help"), Nav(node=Node.HELP)), button(t("menu.language"), Nav(node=Node.LANGUAGE))],
    )


@per_language
def tax_keyboard(t: Translator) -> InlineKeyboardMarkup:
    return rows(
        [button(t("menu.realname"), Nav(node=Node.REALNAME))],
        [button(t("common.back"), Nav(node=Node.HOME))],
    )


@per_language
def realname_keyboard(t: Translator) -> InlineKeyboardMarkup:
    return rows(
        [button(t("menu.collect"), Tip(func=Function.COLLECT, parent=Node.REALNAME))],
        [button(t("menu.supplement"), Tip(func=Function.SUPPLEMENT, parent=Node.REALNAME))],
        [button(t("menu.change"), Tip(func=Function.CHANGE, parent=Node.REALNAME))],
        [button(t("menu.maintain"), Tip(func=Function.MAINTAIN, parent=Node.REALNAME))],
        [button(t("common.back"), Nav(node=Node.TAX))],
    )


@per_language
def mine_keyboard(t: Translator) -> InlineKeyboardMarkup:
    return rows(
        [button(t("menu.bind"), Tip(func=Function.BIND, parent=Node.MINE))],
        [button(t("menu.unbind"), Tip(func=Function.UNBIND, parent=Node.MINE))],
        [button(t("common.back"), Nav(node=Node.HOME))],
    )


@per_language
def tip_keyboard(t: Translator, func: Function, parent: Node) -> InlineKeyboardMarkup:
    return rows(
        [button(t("common.start"), Go(func=func))],
        [button(t("common.back"), Nav(node=parent))],
    )


@per_language
def back_home_keyboard(t: Translator) -> InlineKeyboardMarkup:
    return rows([button(t("common.home"), Nav(node=Node.HOME))])


@per_language
def language_keyboard(t: Translator) -> InlineKeyboardMarkup:
    return rows(
        [
            button(t("language.zh_CN"), SetLanguage(lang="zh_CN")),
            button(t("language.en"), SetLanguage(lang="en")),
        ],
        [button(t("common.back"), Nav(node=Node.HOME))],
    )


@per_language
def tip_text(t: Translator, func: Function) -> str:
    return "\n".join(
        [
            f"<b>{t('menu.' + func.value)}</b>",
            "",
            t("tip.title"),
            t("tip." + func.value),
            "",
            t("tip.steps_title"),
            t(f"tip.{func.value}_steps"),
        ]
    )
