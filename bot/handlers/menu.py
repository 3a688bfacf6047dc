"""Home menu, the guide's menu tree and each function's friendly tip (温馨提示)."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from aiogram import Bot, F, Router
from aiogram.filters import CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.conversation import end_dialog
from bot.domain.clock import china_date
from bot.handlers.replies import edit_or_send
from bot.i18n import Translator
from bot.services import Services
from bot.storage.repositories import Repositories
from bot.ui import (
    Function,
    Nav,
    Node,
    Tip,
    button,
    home_keyboard,
    language_keyboard,
    mine_keyboard,
    realname_keyboard,
    rows,
    tax_keyboard,
    tip_keyboard,
    tip_text,
)


class Account(Protocol):
    """What a handler reads of the account the I18n middleware loaded (``data["account"]``)."""

    @property
    def person_id(self) -> int | None: ...


def home_text(t: Translator, name: str | None) -> str:
    return t("menu.home", name=name)


def node_screen(t: Translator, node: Node, name: str | None) -> tuple[str, InlineKeyboardMarkup]:
    match node:
        case Node.HOME:
            return home_text(t, name), home_keyboard(t)
        case Node.TAX:
            return t("menu.tax_title"), tax_keyboard(t)
        case Node.REALNAME:
            return t("menu.realname_title"), realname_keyboard(t)
        case Node.MINE:
            return t("menu.mine_title"), mine_keyboard(t)
        case Node.HELP:
            return t("help.text"), home_keyboard(t)
        case Node.LANGUAGE:
            return t("language.choose"), language_keyboard(t)


async def login_reminder(
    repo: Repositories, t: Translator, user_id: int, today: date, account: Account | None = None
) -> str | None:
    """The reminder of every login (/start) when the linked person's current ID card is expired.

    ``account``: the user's row as this update read it (the I18n middleware, with its link); an
    account linked to no person has no card to remind of, and the person look-up (three statements)
    is skipped."""
    if account is not None and account.person_id is None:
        return None
    person = await repo.persons.find_by_telegram(user_id)
    if person is None or not person.id_card_expired(today):
        return None
    return t("supplement.login_reminder")


def reminder_keyboard(t: Translator) -> InlineKeyboardMarkup:
    return rows([button(t("menu.supplement"), Tip(func=Function.SUPPLEMENT, parent=Node.REALNAME))])


def create_router() -> Router:
    router = Router(name="menu")

    # A deep link (`/start <token>`, the e-tax website's QR code) is bot/dialogs/handoff.py's.
    @router.message(CommandStart(deep_link=False))
    async def start(
        message: Message,
        bot: Bot,
        state: FSMContext,
        t: Translator,
        services: Services,
        repo: Repositories,
        account: Account | None = None,
    ) -> None:
        # /start always leads home: an abandoned dialog must not trap the user.
        await end_dialog(state, services, bot=bot)
        name = message.from_user.first_name if message.from_user else None
        await message.answer(home_text(t, name), reply_markup=home_keyboard(t))
        if message.from_user is not None:
            # Every login (= /start of a linked account) reminds a person whose ID card has expired.
            today = china_date(repo.clock())
            reminder = await login_reminder(repo, t, message.from_user.id, today, account)
            if reminder is not None:
                await message.answer(reminder, reply_markup=reminder_keyboard(t))

    @router.callback_query(Nav.filter())
    async def navigate(
        query: CallbackQuery,
        callback_data: Nav,
        bot: Bot,
        state: FSMContext,
        t: Translator,
        services: Services,
    ) -> None:
        if callback_data.node is Node.HOME:
            await end_dialog(state, services, bot=bot)
        text, keyboard = node_screen(t, callback_data.node, query.from_user.first_name)
        await edit_or_send(query, text, keyboard)
        await query.answer()

    @router.callback_query(Tip.filter())
    async def tip(query: CallbackQuery, callback_data: Tip, t: Translator) -> None:
        await edit_or_send(
            query, tip_text(t, callback_data.func), tip_keyboard(t, callback_data.func, callback_data.parent)
        )
        await query.answer()

    # Typing 首页 / 菜单 outside a dialog leads home too: the same handler, registered a second time.
    router.message(StateFilter(None), F.text.in_({"首页", "菜单", "menu", "Menu", "home", "Home"}))(start)

    return router
