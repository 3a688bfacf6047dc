"""The real dispatcher over a temporary database with a mocked Telegram session and scripted engines:
the fixtures of tests/dialogs and tests/hardening (each folder's conftest loads them; hardening overrides
`verifier` and `client`; a module pins the time by overriding `clock`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram import Dispatcher

from bot.app import create_dispatcher
from bot.config import Settings
from bot.domain.clock import Clock, system_clock
from bot.services import Services
from tests.helpers.client import BotClient
from tests.helpers.factory import make_settings
from tests.helpers.fakes import EveryResidentKnown, FakeSms, FakeVerifier
from tests.helpers.mocked_bot import MockedBot


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return make_settings(tmp_path, database_url=database_url)


@pytest.fixture
def verifier() -> FakeVerifier:
    return FakeVerifier()


@pytest.fixture
def sms() -> FakeSms:
    return FakeSms()


@pytest.fixture
def clock() -> Clock:
    """The services' clock; a test module pins it by overriding this fixture (a ``FixedClock``)."""
    return system_clock


@pytest.fixture
async def services(
    settings: Settings, verifier: FakeVerifier, sms: FakeSms, clock: Clock
) -> AsyncIterator[Services]:
    built = await Services.build(settings, verifier=verifier, sms=sms, clock=clock)
    built.identity = EveryResidentKnown(built.db, built.cipher)  # type: ignore[assignment]
    yield built
    await built.close()


@pytest.fixture
def bot() -> MockedBot:
    return MockedBot()


@pytest.fixture
def dp(settings: Settings, services: Services) -> Dispatcher:
    return create_dispatcher(settings, services)


@pytest.fixture
def client(dp: Dispatcher, bot: MockedBot) -> BotClient:
    return BotClient(dp, bot)


@pytest.fixture
def client_en(dp: Dispatcher, bot: MockedBot) -> BotClient:
    return BotClient(dp, bot, user_id=2002, language_code="en")
