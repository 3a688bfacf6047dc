"""Fixtures of the hardening tests: the real dispatcher of tests/helpers/dispatcher.py, with a verifier that
decodes unscripted images for real and a client that can send anything."""

from __future__ import annotations

import pytest
from aiogram import Dispatcher

from tests.hardening.harness import DecodingVerifier, HostileClient
from tests.helpers.dispatcher import bot, clock, dp, services, settings, sms
from tests.helpers.mocked_bot import MockedBot


@pytest.fixture
def verifier() -> DecodingVerifier:
    return DecodingVerifier()


@pytest.fixture
def client(dp: Dispatcher, bot: MockedBot) -> HostileClient:
    return HostileClient(dp, bot)


__all__ = ["bot", "clock", "dp", "services", "settings", "sms"]
