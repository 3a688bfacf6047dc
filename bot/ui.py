"""Callback data and keyboards shared by the menu handlers and the dialogs.

Callback data is typed (aiogram `CallbackData`) so a forged or stale payload fails to parse and lands
in the fallback handler instead of reaching a dialog with nonsense values.
"""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import Translator


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


def home_keyboard(t: Translator) -> InlineKeyboardMarkup:
    return rows(
        [button(t("menu.collect"), Tip(func=Function.COLLECT, parent=Node.HOME))],
        [button(t("menu.tax"), Nav(node=Node.TAX)), button(t("menu.mine"), Nav(node=Node.MINE))],
        [button(t("menu.help"), Nav(node=Node.HELP)), button(t("menu.language"), Nav(node=Node.LANGUAGE))],
    )


def tax_keyboard(t: Translator) -> InlineKeyboardMarkup:
    return rows(
        [button(t("menu.realname"), Nav(node=Node.REALNAME))],
        [button(t("common.back"), Nav(node=Node.HOME))],
    )


def realname_keyboard(t: Translator) -> InlineKeyboardMarkup:
    return rows(
        [button(t("menu.collect"), Tip(func=Function.COLLECT, parent=Node.REALNAME))],
        [button(t("menu.supplement"), Tip(func=Function.SUPPLEMENT, parent=Node.REALNAME))],
        [button(t("menu.change"), Tip(func=Function.CHANGE, parent=Node.REALNAME))],
        [button(t("menu.maintain"), Tip(func=Function.MAINTAIN, parent=Node.REALNAME))],
        [button(t("common.back"), Nav(node=Node.TAX))],
    )


def mine_keyboard(t: Translator) -> InlineKeyboardMarkup:
    return rows(
        [button(t("menu.bind"), Tip(func=Function.BIND, parent=Node.MINE))],
        [button(t("menu.unbind"), Tip(func=Function.UNBIND, parent=Node.MINE))],
        [button(t("common.back"), Nav(node=Node.HOME))],
    )


def tip_keyboard(t: Translator, func: Function, parent: Node) -> InlineKeyboardMarkup:
    return rows(
        [button(t("common.start"), Go(func=func))],
        [button(t("common.back"), Nav(node=parent))],
    )


def back_home_keyboard(t: Translator) -> InlineKeyboardMarkup:
    return rows([button(t("common.home"), Nav(node=Node.HOME))])


def language_keyboard(t: Translator) -> InlineKeyboardMarkup:
    return rows(
        [
            button(t("language.zh_CN"), SetLanguage(lang="zh_CN")),
            button(t("language.en"), SetLanguage(lang="en")),
        ],
        [button(t("common.back"), Nav(node=Node.HOME))],
    )


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
