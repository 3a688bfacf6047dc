"""Flood control over HTTP, on as by default: a bare client gets Telegram's 429, the bot's one retry
policy (bot/session.py) waits ``retry_after`` and delivers, an album followed by a text included."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramRetryAfter
from aiogram.types import BufferedInputFile, InputMediaPhoto

from bot.sandbox import SandboxServer
from bot.session import RetryingSession
from tests.e2e.sandbox.harness import ACK_TOKEN, jpeg

pytestmark = pytest.mark.e2e

CHAT = 5


@pytest.fixture
async def flood_sbx() -> AsyncIterator[SandboxServer]:
    async with SandboxServer() as server:  # the defaults: flood control on
        server.state.get_or_create_chat(CHAT)
        yield server


async def test_a_burst_to_one_chat_is_answered_429_with_retry_after(flood_sbx: SandboxServer) -> None:
    url = f"{flood_sbx.url}/bot{ACK_TOKEN}/sendMessage"
    answers = []
    async with aiohttp.ClientSession() as http:
        for i in range(4):
            async with http.post(url, json={"chat_id": CHAT, "text": f"m{i}"}) as resp:
                answers.append((resp.status, await resp.json()))
    assert [status for status, _ in answers] == [200, 200, 200, 429]
    assert answers[3][1] == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    # A bare aiogram client sees TelegramRetryAfter; nothing was delivered for the refused call.
    bot = Bot(ACK_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(flood_sbx.url)))
    try:
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(CHAT, "m4")
        assert caught.value.retry_after == 1
    finally:
        await bot.session.close()
    texts = [m.payload.get("text") for m in flood_sbx.state.chats[CHAT].messages.values()]
    assert texts == ["m0", "m1", "m2"]


async def test_the_retry_policy_delivers_an_album_and_the_text_after_it(flood_sbx: SandboxServer) -> None:
    """/review's pattern: an eight-photo album and a text to one chat at once. The album empties the
    chat's bucket (and more); the text is refused with retry_after, waited for, and delivered."""
    bot = Bot(ACK_TOKEN, session=RetryingSession(api=TelegramAPIServer.from_base(flood_sbx.url)))
    photo = jpeg(64, 48)
    album = [InputMediaPhoto(media=BufferedInputFile(photo, f"{i}.jpg")) for i in range(8)]
    try:
        started = time.monotonic()
        sent = await bot.send_media_group(CHAT, album)
        text = await bot.send_message(CHAT, "the case")
        elapsed = time.monotonic() - started
    finally:
        await bot.session.close()
    assert len(sent) == 8 and text.text == "the case"
    # 3 in the bucket - 8 = -5: Telegram-like, the text waits about six seconds.
    assert 5.0 <= elapsed < 15.0, elapsed
    messages = flood_sbx.state.chats[CHAT].messages.values()
    kinds = ["photo" if "photo" in m.payload else "text" for m in messages]
    assert kinds == ["photo"] * 8 + ["text"]
