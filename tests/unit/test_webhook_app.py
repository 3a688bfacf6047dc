"""The webhook replica's readiness and draining, without a network or a real bot."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aiogram import Bot, Dispatcher
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from bot.storage.db import SqliteDatabase as Database
from bot.webhook import DrainingRequestHandler, readiness


class Redis:
    def __init__(self, up: bool) -> None:
        self.up = up

    async def ping(self) -> bool:
        if not self.up:
            raise ConnectionError("down")
        return True


async def test_readiness_reports_each_failing_part(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    try:
        services: Any = SimpleNamespace(db=db, verifier=SimpleNamespace(redis=Redis(True)))
        dp: Any = SimpleNamespace(storage=SimpleNamespace(redis=Redis(True)))
        assert await readiness(services, dp) == {}
        dp.storage.redis.up = False
        services.verifier.redis.up = False
        assert await readiness(services, dp) == {
            "fsm": "ConnectionError",
            "verification_queue": "ConnectionError",
        }
    finally:
        await db.close()
    problems = await readiness(services, SimpleNamespace(storage=object()))  # type: ignore[arg-type]
    assert set(problems) == {"database", "verification_queue"}


async def test_a_draining_replica_refuses_updates_with_503() -> None:
    bot = Bot("1:test-token")
    handler = DrainingRequestHandler(Dispatcher(), bot, secret_token="s")
    handler.accepting = False
    response = await handler.handle(make_mocked_request("POST", "/webhook"))
    assert isinstance(response, web.Response) and response.status == 503
    assert handler.idle.is_set() and handler.active == 0
    await bot.session.close()
