"""Fixtures of the hardening tests: the real dispatcher over a temporary database, as in tests/dialogs,
with a verifier that decodes unscripted images for real and a client that can send anything."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram import Dispatcher

from bot.app import create_dispatcher
from bot.config import Settings
from bot.services import Services
from tests.hardening.harness import DecodingVerifier, HostileClient
from tests.helpers.factory import make_settings
from tests.helpers.fakes import FakeSms
from tests.helpers.mocked_bot import MockedBot


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def verifier() -> DecodingVerifier:
    return DecodingVerifier()


@pytest.fixture
def sms() -> FakeSms:
    return FakeSms()


@pytest.fixture
async def services(settings: Settings, verifier: DecodingVerifier, sms: FakeSms) -> AsyncIterator[Services]:
    built = await Services.build(settings, verifier=verifier, sms=sms)
    yield built
    await built.close()


@pytest.fixture
def bot() -> MockedBot:
    return MockedBot()


@pytest.fixture
def dp(settings: Settings, services: Services) -> Dispatcher:
    return create_dispatcher(settings, services)


@pytest.fixture
def client(dp: Dispatcher, bot: MockedBot) -> HostileClient:
    return HostileClient(dp, bot)
