"""Which FSM storage the dispatcher gets: chosen by settings alone (REDIS_URL set = Redis)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from aiogram.fsm.storage.base import BaseStorage

from bot.config import Settings
from bot.storage.fsm import SQLiteStorage

if TYPE_CHECKING:
    from bot.services import Services


def create_fsm_storage(settings: Settings, services: Services) -> BaseStorage:
    if settings.redis_url is None:
        return SQLiteStorage(services.db, services.cipher)
    # Imported here so the embedded deployment never loads the Redis client.
    from bot.storage.redis_fsm import EncryptedRedisStorage

    return EncryptedRedisStorage.connect(
        settings.redis_url.get_secret_value(),
        services.cipher,
        ttl=timedelta(hours=settings.fsm_ttl_hours),
    )
