"""Fixtures: a sandbox per test, a control API client, an acking bot and a bot that never acks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.sandbox import SandboxConfig, SandboxServer
from tests.e2e.sandbox.harness import ACK_TOKEN, ECHO_TOKEN, Control, RunningBot


@pytest.fixture
async def sbx() -> AsyncIterator[SandboxServer]:
    # These check the Bot API's semantics with a bare aiogram client (no retry policy): flood control
    # is off here and tested on its own (test_sandbox_flood_e2e.py).
    config = SandboxConfig(quiet_period=0.5, send_timeout=20, flood_control=False)
    async with SandboxServer(config=config) as server:
        yield server


@pytest.fixture
async def control(sbx: SandboxServer) -> AsyncIterator[Control]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        yield Control(http, sbx.url)


@pytest.fixture
async def ack_bot(sbx: SandboxServer) -> AsyncIterator[RunningBot]:
    running = RunningBot(sbx.url, ACK_TOKEN, ack=True)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def echo_bot(sbx: SandboxServer) -> AsyncIterator[RunningBot]:
    running = RunningBot(sbx.url, ECHO_TOKEN, ack=False)
    await running.start()
    yield running
    await running.stop()
