"""The last router: anything no other handler took gets an answer, never silence."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message

from bot.i18n import Translator
from bot.ui import Go, home_keyboard


def create_router() -> Router:
    router = Router(name="fallback")

    @router.callback_query(Go.filter())
    async def function_not_ready(query: CallbackQuery, t: Translator) -> None:
        # A function whose dialog is not registered (deployment switched it off) must still answer.
        await query.answer(t("common.not_available"), show_alert=True)

    @router.callback_query()
    async def stale_button(query: CallbackQuery, t: Translator) -> None:
        await query.answer(t("common.stale_button"), show_alert=True)

    @router.message(F.text.startswith("/"))
    async def unknown_command(message: Message, t: Translator) -> None:
        await message.answer(t("common.unknown_command"), reply_markup=home_keyboard(t))

    @router.message()
    async def unknown_input(message: Message, t: Translator) -> None:
        await message.answer(t("common.unknown_input"), reply_markup=home_keyboard(t))

    return router
