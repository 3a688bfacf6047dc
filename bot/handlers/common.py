"""/cancel works in every state; it is included before the dialogs so it always wins."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from bot.conversation import end_dialog
from bot.i18n import Translator
from bot.services import Services
from bot.ui import home_keyboard


def create_router() -> Router:
    router = Router(name="common")

    @router.message(Command("cancel"))
    async def cancel(
        message: Message, bot: Bot, state: FSMContext, t: Translator, services: Services
    ) -> None:
        had_dialog = await state.get_state() is not None
        # Dialogs save only at their last step, in one transaction: dropping the FSM data (and the
        # dialog's temporary uploads) abandons one without leaving anything half-written.
        # (【信息核实】's full values are edited down to the masked form on the way out.)
        await end_dialog(state, services, bot=bot)
        text = t("common.cancelled") if had_dialog else t("common.nothing_to_cancel")
        await message.answer(text + "\n\n" + t("menu.home", name=None), reply_markup=home_keyboard(t))

    return router
