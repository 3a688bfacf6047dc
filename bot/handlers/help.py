"""/help: the guide to every menu path."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.i18n import Translator
from bot.ui import home_keyboard


def create_router() -> Router:
    router = Router(name="help")

    @router.message(Command("help"))
    async def help_(message: Message, t: Translator) -> None:
        await message.answer(t("help.text"), reply_markup=home_keyboard(t))

    return router
