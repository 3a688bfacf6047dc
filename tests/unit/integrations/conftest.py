from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.storage.crypto import FieldCipher
from bot.storage.db import SqliteDatabase as Database

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher.from_master(b"m" * 32, key_id="k1")


@pytest_asyncio.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "bot.sqlite3")
    yield database
    await database.close()


class Recorder:
    """A local HTTP server whose answers the test scripts, recording what it was sent."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], object]] = []
        self.answers: list[Handler] = []
        self.server: TestServer | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append((request.path, dict(request.headers), body))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return await answer(request)

    def url(self, path: str) -> str:
        assert self.server is not None
        return str(self.server.make_url(path))


@pytest_asyncio.fixture
async def http() -> AsyncIterator[Recorder]:
    recorder = Recorder()
    app = web.Application()
    app.router.add_post("/{tail:.*}", recorder.handle)
    recorder.server = TestServer(app)
    await recorder.server.start_server()
    yield recorder
    await recorder.server.close()


def status(code: int, body: object | None = None) -> Handler:
    async def answer(_request: web.Request) -> web.StreamResponse:
        if body is None:
            return web.Response(status=code)
        return web.json_response(body, status=code)

    return answer
