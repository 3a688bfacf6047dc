"""Outer update middlewares: sandbox acknowledgement, repositories per update, language per user."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.methods import TelegramMethod
from aiogram.types import TelegramObject, Update, User

from bot.i18n import Catalog, language_for
from bot.storage.crypto import FieldCipher
from bot.storage.db import Database
from bot.storage.repositories import Repositories
from bot.storage.timeutil import utcnow

TOUCH_INTERVAL = timedelta(minutes=5)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class SandboxAck(TelegramMethod[bool]):
    """The local sandbox's one extension of the Bot API: "this update is fully handled".

    It lets the control API return exactly when the bot is done, instead of guessing from silence.
    """

    __returning__ = bool
    __api_method__ = "sandboxAck"

    update_id: int | None = None  # None: "this bot acknowledges updates" (sent once at start-up)


class SandboxAckMiddleware(BaseMiddleware):
    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        try:
            return await handler(event, data)
        finally:
            bot: Bot | None = data.get("bot")
            if isinstance(event, Update) and bot is not None:
                await bot(SandboxAck(update_id=event.update_id))


class RepositoriesMiddleware(BaseMiddleware):
    def __init__(self, db: Database, cipher: FieldCipher) -> None:
        self.db = db
        self.cipher = cipher

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        data["repo"] = Repositories(self.db, self.cipher)
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
            record = await repo.users.get(user.id)
            # last_seen is for retention and statistics; minute precision is plenty and saves a
            # write transaction on almost every update.
            if record is None or utcnow() - record.last_seen > TOUCH_INTERVAL:
                await repo.users.touch(user.id)
            data["account"] = record
            lang = record.language if record and record.language else language_for(user.language_code, lang)
        data["t"] = self.catalog.translator(lang)
        data["lang"] = lang
        return await handler(event, data)
