"""Outer update middlewares: sandbox acknowledgement, repositories per update, language per user."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.methods import TelegramMethod
from aiogram.types import TelegramObject, Update, User

from bot.i18n import Catalog, language_for
from bot.storage.db import Database
from bot.storage.repositories import Repositories

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class SandboxAck(TelegramMethod[bool]):
    """The local sandbox's one extension of the Bot API: "this update is fully handled".

    It lets the control API return exactly when the bot is done, instead of guessing from silence.
    """

    __returning__ = bool
    __api_method__ = "sandboxAck"

    update_id: int


class SandboxAckMiddleware(BaseMiddleware):
    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        try:
            return await handler(event, data)
        finally:
            bot: Bot | None = data.get("bot")
            if isinstance(event, Update) and bot is not None:
                await bot(SandboxAck(update_id=event.update_id))


class RepositoriesMiddleware(BaseMiddleware):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        data["repo"] = Repositories(self.db)
        return await handler(event, data)


class I18nMiddleware(BaseMiddleware):
    """Gives handlers `t`: the user's stored choice wins, else Telegram's language_code."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        lang = self.catalog.default
        if user is not None:
            repo: Repositories = data["repo"]
            stored = await repo.users.touch(user.id, language_for(user.language_code, self.catalog.default))
            lang = stored
        data["t"] = self.catalog.translator(lang)
        data["lang"] = lang
        return await handler(event, data)
