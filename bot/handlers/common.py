"""/cancel works in every state; it is included before the dialogs so it always wins."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from bot.i18n import Translator
from bot.ui import home_keyboard


def create_router() -> Router:
    router = Router(name="common")

    @router.message(Command("cancel"))
    async def cancel(message: Message, state: FSMContext, t: Translator) -> None:
        had_dialog = await state.get_state() is not None
        # Dialogs save only at their last step, in one transaction: dropping the FSM data is enough
        # to abandon one without leaving anything half-written.
        await state.clear()
        text = t("common.cancelled") if had_dialog else t("common.nothing_to_cancel")
        await message.answer(text + "\n\n" + t("menu.home", name=None), reply_markup=home_keyboard(t))

    return router
