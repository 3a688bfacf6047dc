"""The bot, its portal handoff API and the sandbox's demo e-tax website wired as ``make run`` wires them
(bot/__main__.py), for the handoff's end-to-end and browser tests. Import the fixtures into a test module
(``sandbox_server``, ``sandbox``, ``portal``) and give it an ``e2e_settings`` and ``running_bot``."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from bot.app import create_bot
from bot.config import SANDBOX_PORTAL_ID
from bot.handoff_api import serve_portal_api
from bot.sandbox import SandboxServer
from bot.sandbox.portal import connect_portal_demo
from tests.e2e.conftest import RunningBot

PORTAL_KEY = "sandbox-portal-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def decode_qr(png: bytes) -> str:
    """The text of the one QR code in a PNG (a screenshot or the API's image), read by OpenCV."""
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    # OpenCV's classic detector misses a valid code now and then (14 of 400 random deep links, all 400
    # read by its ArUco-based detector): the test then failed at random. Both are tried.
    for detector in (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco()):
        text, points, _ = detector.detectAndDecode(image)
        if points is not None and text:
            return str(text)
    raise AssertionError("no QR code found")


@dataclass
class Portal:
    api: str  # the bot's portal API
    sandbox: str  # the sandbox (web chat at /, demo website at /portal/)
    running: RunningBot


@pytest.fixture
async def sandbox_server() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(host="127.0.0.1", port=0) as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> str:
    return sandbox_server.url


@pytest.fixture
async def portal(sandbox_server: SandboxServer, running_bot: RunningBot) -> AsyncIterator[Portal]:
    services = running_bot.services
    assert services is not None
    bot = create_bot(running_bot.settings, api_base=sandbox_server.url)
    try:
        async with serve_portal_api(services, bot) as url:
            assert url is not None
            key = services.settings.portals()[SANDBOX_PORTAL_ID].key.get_secret_value()
            assert key == PORTAL_KEY
            connect_portal_demo(sandbox_server.app, url, key)
            yield Portal(url, sandbox_server.url, running_bot)
    finally:
        await bot.session.close()
