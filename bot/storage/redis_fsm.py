"""aiogram FSM storage in Redis, encrypted like :mod:`bot.storage.fsm` (the data holds ID fields).

aiogram's ``RedisStorage`` with its key TTLs does the keeping; this subclass only seals the data dict
with :class:`FieldCipher`, bound to the Redis key it is stored under (a value copied to another user's
key does not decrypt). aiogram's ``json_dumps`` hook is not enough for that: it never sees the key.
The state name ("CollectStates:card_front") is not personal and stays readable for operators.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from redis.asyncio import Redis

from bot.storage.crypto import FieldCipher

__all__ = ["EncryptedRedisStorage"]


class EncryptedRedisStorage(RedisStorage):
    def __init__(self, redis: Redis, cipher: FieldCipher, *, ttl: timedelta) -> None:
        # with_destiny: aiogram-dialog style secondary FSMs never collide with the main one.
        super().__init__(
            redis,
            key_builder=DefaultKeyBuilder(with_destiny=True),
            state_ttl=ttl,
            data_ttl=ttl,
        )
        self._cipher = cipher

    @classmethod
    def connect(cls, url: str, cipher: FieldCipher, *, ttl: timedelta) -> EncryptedRedisStorage:
        return cls(Redis.from_url(url), cipher, ttl=ttl)

    def _context(self, redis_key: str) -> str:
        return "fsm-redis:" + redis_key

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        if not isinstance(data, dict):
            raise DataNotDictLikeError(f"Data must be a dict or dict-like object, got {type(data).__name__}")
        redis_key = self.key_builder.build(key, "data")
        if not data:
            await self.redis.delete(redis_key)
            return
        sealed = self._cipher.encrypt_text(
            json.dumps(data, ensure_ascii=False), context=self._context(redis_key)
        )
        await self.redis.set(redis_key, sealed, ex=self.data_ttl)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        redis_key = self.key_builder.build(key, "data")
        value = await self.redis.get(redis_key)
        if value is None:
            return {}
        token = value.decode("ascii") if isinstance(value, bytes) else str(value)
        loaded = json.loads(self._cipher.decrypt_text(token, context=self._context(redis_key)))
        if not isinstance(loaded, dict):
            raise DataNotDictLikeError("stored FSM data is not a dict")
        return loaded
