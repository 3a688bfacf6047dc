"""End-to-end: the real bot (built by the same factory as `__main__`) polling the local sandbox over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiogram import Dispatcher

from bot.app import create_bot, create_dispatcher
from bot.config import Settings
from bot.sandbox import SandboxServer
from bot.services import Services, build_verifier
from bot.services.verifier import PoolVerifier
from tests.e2e.cards import compose_card_photos
from tests.helpers.factory import make_settings
from tests.helpers.fakes import FakeVerifier
from tests.helpers.sandbox_user import SandboxUser


@dataclass
class RunningBot:
    """A bot process-in-a-task that can be stopped and started again on the same data directory."""

    settings: Settings
    sandbox_url: str
    verifier: Any = None  # the engines; menu-only tests pass a scripted one to skip loading models
    task: asyncio.Task[None] | None = None
    services: Services | None = None
    dp: Dispatcher | None = None

    async def start(self) -> None:
        self.services = await Services.build(
            self.settings, sandbox_url=self.sandbox_url, verifier=self.verifier
        )
        bot = create_bot(self.settings, api_base=self.sandbox_url)
        dp = self.dp = create_dispatcher(self.settings, self.services)
        started = asyncio.Event()
        dp.startup.register(lambda: started.set())

        async def run() -> None:
            try:
                await dp.start_polling(bot, handle_signals=False, close_bot_session=True, polling_timeout=1)
            finally:
                assert self.services is not None
                await self.services.close()

        self.task = asyncio.create_task(run())
        await asyncio.wait_for(started.wait(), 30)

    async def stop(self) -> None:
        # Cancelling start_polling's task would leave aiogram's inner polling loop running: a
        # restarted bot would then poll beside the old one. stop_polling() ends it properly.
        if self.task is not None and self.dp is not None:
            with contextlib.suppress(RuntimeError):
                await self.dp.stop_polling()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self.task, 30)
            self.task = None


@pytest.fixture
async def sandbox() -> AsyncIterator[str]:
    async with SandboxServer(host="127.0.0.1", port=0) as server:
        yield server.url


@pytest.fixture
def e2e_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
async def running_bot(sandbox: str, e2e_settings: Settings) -> AsyncIterator[RunningBot]:
    # The menu needs no engines: a scripted verifier avoids starting a process pool for nothing.
    running = RunningBot(e2e_settings, sandbox, verifier=FakeVerifier())
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=180)) as session:
        yield session


@pytest.fixture
def make_user(http: aiohttp.ClientSession, sandbox: str) -> Callable[..., SandboxUser]:
    def factory(user_id: int, language_code: str = "zh-hans", **_: Any) -> SandboxUser:
        return SandboxUser(http, sandbox, user_id, language_code)

    return factory


@pytest.fixture(scope="session")
async def engines() -> AsyncIterator[PoolVerifier]:
    """One process pool for every end-to-end test that needs the real engines: models load once per worker."""
    verifier = build_verifier(Settings(_env_file=None, sandbox=True))  # type: ignore[call-arg]
    await verifier.pool.start()
    yield verifier
    await verifier.pool.close()


async def register_identity(running: RunningBot, identity: Any, photo: bytes | None = None) -> None:
    """The card's identity in the sandbox identity authority's registry, as staff load it."""
    from bot.domain.identity import IdentityRecord
    from bot.verification.ids import DocumentType

    assert running.services is not None
    from bot.storage.repositories import Repositories

    record = IdentityRecord(
        DocumentType.RESIDENT_ID, identity.id_number, identity.name, identity.birth_date, photo
    )
    await Repositories(running.services.db, running.services.cipher).identity_registry.load(
        [record], loaded_by=None
    )


@pytest.fixture(scope="session")
def card_photos(testdata: Path) -> tuple[bytes, bytes, Any]:
    """Front and back photos of a card composed at test time, and the identity printed on it."""
    return compose_card_photos(testdata)
