"""FSM in Redis: chosen by REDIS_URL alone, survives a restart of the bot, encrypted at rest."""

from __future__ import annotations

import types
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiogram.fsm.storage.base import StorageKey
from redis.asyncio import Redis

from bot.config import Settings
from bot.domain.clock import system_clock
from bot.services.fsm import create_fsm_storage
from bot.storage.crypto import FieldCipher
from bot.storage.fsm import DatabaseStorage
from bot.storage.redis_fsm import EncryptedRedisStorage

pytestmark = pytest.mark.slow

ID_NUMBER = "652325196008160150"
NAME = "上官强兰"
KEY = StorageKey(bot_id=1, chat_id=42, user_id=42)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


def _cipher() -> FieldCipher:
    return FieldCipher.from_master(b"m" * 32)


async def test_storage_chosen_by_settings(redis_url: str, tmp_path: Path) -> None:
    services = types.SimpleNamespace(db=object(), cipher=_cipher(), clock=system_clock)
    plain = Settings(_env_file=None, sandbox=True, data_dir=tmp_path)  # type: ignore[call-arg]
    assert isinstance(create_fsm_storage(plain, services), DatabaseStorage)  # type: ignore[arg-type]
    with_redis = Settings(
        _env_file=None, sandbox=True, data_dir=tmp_path, redis_url=redis_url, fsm_ttl_hours=2
    )  # type: ignore[call-arg, arg-type]
    storage = create_fsm_storage(with_redis, services)  # type: ignore[arg-type]
    assert isinstance(storage, EncryptedRedisStorage)
    assert storage.data_ttl == timedelta(hours=2)
    await storage.close()


async def test_dialog_survives_restart_and_is_encrypted(redis_url: str, redis: Redis) -> None:
    first = EncryptedRedisStorage.connect(redis_url, _cipher(), ttl=timedelta(hours=1))
    await first.set_state(KEY, "CollectStates:card_back")
    await first.set_data(KEY, {"card": {"id_number": ID_NUMBER, "name": NAME}})
    await first.close()

    restarted = EncryptedRedisStorage.connect(redis_url, _cipher(), ttl=timedelta(hours=1))
    assert await restarted.get_state(KEY) == "CollectStates:card_back"
    assert await restarted.get_data(KEY) == {"card": {"id_number": ID_NUMBER, "name": NAME}}
    assert (await restarted.update_data(KEY, {"step": 2}))["step"] == 2

    keys = [k async for k in redis.scan_iter("*")]
    assert len(keys) == 2
    for key in keys:
        value = await redis.get(key)
        assert value is not None
        assert ID_NUMBER.encode() not in value and NAME.encode() not in value
        assert "上官".encode() not in value
        # every key expires on its own: an abandoned dialog's data does not stay in Redis
        assert 0 < await redis.ttl(key) <= 3600

    await restarted.set_data(KEY, {})
    await restarted.set_state(KEY, None)
    assert [k async for k in redis.scan_iter("*")] == []
    await restarted.close()


async def test_value_moved_to_another_user_does_not_decrypt(redis_url: str, redis: Redis) -> None:
    storage = EncryptedRedisStorage.connect(redis_url, _cipher(), ttl=timedelta(hours=1))
    await storage.set_data(KEY, {"card": {"id_number": ID_NUMBER}})
    other = StorageKey(bot_id=1, chat_id=43, user_id=43)
    sealed = await redis.get(storage.key_builder.build(KEY, "data"))
    assert sealed is not None
    await redis.set(storage.key_builder.build(other, "data"), sealed)
    with pytest.raises(ValueError):
        await storage.get_data(other)
    await storage.close()
