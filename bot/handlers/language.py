"""/language: switch between the catalogues; the choice is stored and wins over Telegram's language."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot.handlers.replies import edit_or_send
from bot.i18n import LANGUAGES, Catalog, Translator
from bot.storage.repositories import Repositories
from bot.ui import SetLanguage, home_keyboard, language_keyboard


def create_router() -> Router:
    router = Router(name="language")

    @router.message(Command("language"))
    async def choose(message: Message, t: Translator) -> None:
        await message.answer(t("language.choose"), reply_markup=language_keyboard(t))

    @router.callback_query(SetLanguage.filter())
    async def set_language(
        query: CallbackQuery, callback_data: SetLanguage, repo: Repositories, catalog: Catalog
    ) -> None:
        if callback_data.lang not in LANGUAGES:
            await query.answer()
            return
        await repo.users.set_language(query.from_user.id, callback_data.lang)
        t = catalog.translator(callback_data.lang)
        await query.answer(t("language.changed"))
        await edit_or_send(
            query, t("language.changed") + "\n\n" + t("menu.home", name=None), home_keyboard(t)
        )

    return router
