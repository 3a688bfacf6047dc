"""Webhook delivery: setWebhook / deleteWebhook / getWebhookInfo, the secret header, 409 on getUpdates,
retries of a failing endpoint, and an aiogram bot behind `SimpleRequestHandler` acking its updates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from tests.e2e.sandbox.harness import ACK_TOKEN, AckMiddleware, Control, declare_ack, make_router

pytestmark = pytest.mark.e2e
TOKEN = "4004:hook-token"
SECRET = "s3cret_token-1"


class Receiver:
    """A bare HTTP endpoint standing in for a bot: records what the sandbox POSTs."""

    def __init__(self) -> None:
        self.received: list[tuple[str | None, dict[str, Any]]] = []
        self.status = 200
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        return web.Response(status=self.status)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    recv = Receiver()
    app = web.Application()
    app.router.add_post("/hook", recv.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    recv.url = f"http://127.0.0.1:{port}/hook"
    yield recv
    await runner.cleanup()


async def call(control: Control, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    return await control.bot_api(TOKEN, method, **params)


async def test_webhook_delivery_conflict_retry_and_removal(control: Control, receiver: Receiver) -> None:
    # A long poll in progress ends with the conflict when a webhook is set.
    poll = asyncio.create_task(call(control, "getUpdates", timeout=10))
    await asyncio.sleep(0.2)
    status, body = await call(control, "setWebhook", url=receiver.url, secret_token="bad token!")
    assert status == 400 and "secret token" in body["description"]
    assert (await call(control, "setWebhook", url=receiver.url, secret_token=SECRET))[1]["result"] is True
    assert (await asyncio.wait_for(poll, 2))[0] == 409
    info = (await call(control, "getWebhookInfo"))[1]["result"]
    assert info["url"] == receiver.url and info["pending_update_count"] == 0

    status, body = await call(control, "getUpdates", timeout=0)
    assert status == 409 and body["description"].startswith(
        "Conflict: can't use getUpdates method while webhook is active"
    )

    # A bot that never acks: the send returns once the webhook answered and the chat stayed quiet.
    body = await control.ok(71, text="hello")
    [(secret, update)] = receiver.received
    assert secret == SECRET and update["update_id"] == body["update_id"]
    assert update["message"]["text"] == "hello"
    assert (await call(control, "getWebhookInfo"))[1]["result"]["pending_update_count"] == 0

    # A failing endpoint keeps the update queued and gets it again.
    receiver.status = 500
    send = asyncio.create_task(control.send(71, text="again", wait=10))
    for _ in range(100):
        if len(receiver.received) >= 2:
            break
        await asyncio.sleep(0.05)
    info = (await call(control, "getWebhookInfo"))[1]["result"]
    assert info["pending_update_count"] == 1 and "500" in info["last_error_message"]
    receiver.status = 200
    status, _ = await send
    assert status == 200 and len(receiver.received) >= 3
    assert {u["message"]["text"] for _, u in receiver.received[1:]} == {"again"}

    # Removed: updates queue up again for getUpdates.
    await call(control, "deleteWebhook")
    assert (await call(control, "getWebhookInfo"))[1]["result"]["url"] == ""
    status, _ = await control.send(71, text="polled", wait=0.1)
    assert status == 504
    [update] = (await call(control, "getUpdates", timeout=0))[1]["result"]
    assert update["message"]["text"] == "polled"
    await call(control, "setWebhook", url=receiver.url, drop_pending_updates=True)
    assert (await call(control, "getWebhookInfo"))[1]["result"]["pending_update_count"] == 0
    await call(control, "setWebhook", url="")  # an empty url removes it, as on Telegram
    assert (await call(control, "getUpdates", timeout=0))[0] == 200


async def test_aiogram_webhook_bot_acks(control: Control) -> None:
    """The real aiogram webhook server (updates handled in the background, so the webhook answers at
    once): the send call still returns only when the bot's sandboxAck says it has finished."""
    bot = Bot(ACK_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(control.url)))
    dp = Dispatcher()
    dp.update.outer_middleware(AckMiddleware())
    dp.include_router(make_router())
    dp.startup.register(declare_ack)
    app = web.Application()
    SimpleRequestHandler(dp, bot, secret_token=SECRET, handle_in_background=True).register(app, path="/wh")
    setup_application(app, dp, bot=bot)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/wh"
        assert await bot.set_webhook(url, secret_token=SECRET)
        body = await control.ok(72, text="/start", language_code="en")
        assert body["replies"][0]["text"].startswith("Hello, User 72")
        body = await control.ok(72, text="/slow")
        assert body["replies"], body  # waited for the ack, not for the (immediate) webhook answer
        # A wrong secret is refused by aiogram: the sandbox keeps the update and reports the error.
        await bot.set_webhook(url, secret_token="other")
        status, _ = await control.send(72, text="/start", wait=1.5)
        assert status == 504
        info = await bot.get_webhook_info()
        assert info.pending_update_count == 1 and "401" in (info.last_error_message or "")
    finally:
        await bot.delete_webhook()
        await runner.cleanup()
