"""Which FSM storage the dispatcher gets: chosen by settings alone (REDIS_URL set = Redis)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import SimpleEventIsolation

from bot.config import Settings
from bot.storage.fsm import DatabaseStorage

if TYPE_CHECKING:
    from bot.services import Services


def create_fsm_storage(settings: Settings, services: Services) -> BaseStorage:
    if settings.redis_url is None:
        return DatabaseStorage(services.db, services.cipher, clock=services.clock)
    # Imported here so the embedded deployment never loads the Redis client.
    from bot.storage.redis_fsm import EncryptedRedisStorage

    return EncryptedRedisStorage.connect(
        settings.redis_url.get_secret_value(),
        services.cipher,
        ttl=timedelta(hours=settings.fsm_ttl_hours),
    )


def create_event_isolation(storage: BaseStorage) -> BaseEventIsolation:
    """One update at a time per user. A lock in this process is enough for the embedded mode; with
    Redis (several replicas) the lock must be in Redis too, or two replicas could interleave one
    user's steps."""
    from aiogram.fsm.storage.redis import RedisStorage

    if isinstance(storage, RedisStorage):
        return storage.create_isolation()
    return SimpleEventIsolation()
