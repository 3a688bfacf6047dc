"""Faults (issue 8 §2) through the real dispatcher: duplicate delivery, a busy database, a full disk,
the SMS gateway / identity authority / verification pool failing or timing out. Each ends in a clear,
localized message and a way to retry; never a crash, never a lost step.

The SIGKILL-and-restart case, which needs a real process, is in test_kill_restart.py.
"""

from __future__ import annotations

import asyncio
import errno
import sqlite3
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.methods import SendMessage
from aiogram.types import MessageEntity, Update
from aiohttp import web

from bot.app import create_dispatcher
from bot.config import Settings
from bot.middlewares import update_fingerprint
from bot.services import Services
from tests.hardening.harness import (
    HostileClient,
    Identity,
    Walk,
    current,
    load_permit,
    script,
    text,
    walk_until,
)
from tests.helpers.factory import make_settings
from tests.helpers.fakes import FakeSms, FakeVerifier
from tests.helpers.mocked_bot import MockedBot


def visible(bot: MockedBot) -> int:
    """Bot API calls the user could see (the sandbox's ack is bookkeeping)."""
    return sum(1 for m in bot.recorder.requests if type(m).__name__ != "SandboxAck")


def zh(services: Services, key: str) -> str:
    return services.catalog.render("zh_CN", key)


# --- the same update twice ---------------------------------------------------------------------------


async def test_same_update_twice_is_handled_once(
    client: HostileClient, dp: Dispatcher, bot: MockedBot
) -> None:
    message = client.msg(text="/start")
    message = message.model_copy(update={"entities": [MessageEntity(type="bot_command", offset=0, length=6)]})
    update = Update(update_id=777_001, message=message)
    await dp.feed_update(bot, update)
    made = visible(bot)
    assert made > 0
    await dp.feed_update(bot, update)  # Telegram redelivers: same id, same content
    assert visible(bot) == made


async def test_redelivery_mid_dialog_does_not_advance_twice(
    client: HostileClient,
    dp: Dispatcher,
    bot: MockedBot,
    verifier: FakeVerifier,
    sms: FakeSms,
    services: Services,
) -> None:
    ident = Identity(1, "id")
    script(verifier, ident)
    walk = Walk(client)
    await walk_until(walk, dp, ident, sms, "PhoneSG:number", {})
    number_msg = client.msg(text=ident.phone)
    update = Update(update_id=777_100, message=number_msg)
    await dp.feed_update(bot, update)
    await dp.feed_update(bot, update)
    assert len([s for s in sms.sent if s[0] == ident.phone]) == 1  # one code, not two
    assert (await current(dp, bot, client.user.id))[0] == "PhoneSG:code"


async def test_a_restarted_sandbox_reusing_update_ids_is_not_mistaken_for_redelivery(
    client: HostileClient, dp: Dispatcher, bot: MockedBot
) -> None:
    # The sandbox numbers updates from 1 again after a restart: same id, another event.
    first = Update(update_id=5, message=client.msg(text="你好"))
    second = Update(update_id=5, message=client.msg(text="你好"))
    assert update_fingerprint(first) != update_fingerprint(second)
    await dp.feed_update(bot, first)
    made = visible(bot)
    await dp.feed_update(bot, second)
    assert visible(bot) > made


async def test_a_failed_update_gives_its_claim_back(
    client: HostileClient, dp: Dispatcher, bot: MockedBot, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.storage.repositories.users import UserRepo

    async def broken(*_: Any, **__: Any) -> None:
        raise sqlite3.OperationalError("database is locked")

    update = Update(update_id=777_200, message=client.msg(text="你好"))
    with monkeypatch.context() as m:
        m.setattr(UserRepo, "get", broken)
        await dp.feed_update(bot, update)
    sent = [m.text for m in bot.recorder.requests if isinstance(m, SendMessage)]
    assert zh(services, "errors.busy") in sent[-1]
    await dp.feed_update(bot, update)  # redelivered after the fault: handled this time
    sent = [m.text for m in bot.recorder.requests if isinstance(m, SendMessage)]
    assert zh(services, "errors.busy") not in sent[-1]


# --- a busy database ---------------------------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Floods of updates from one user are part of these tests; throttling has its own tests.
    return make_settings(tmp_path, throttle_burst=100_000, throttle_media_burst=100_000)


@pytest.mark.slow
async def test_database_locked_by_another_process_gives_an_apology_then_works(
    client: HostileClient,
    dp: Dispatcher,
    bot: MockedBot,
    services: Services,
    settings: Settings,
    verifier: FakeVerifier,
    sms: FakeSms,
) -> None:
    ident = Identity(2, "id")
    script(verifier, ident)
    walk = Walk(client)
    await walk_until(walk, dp, ident, sms, "PhoneSG:number", {})
    # Another process (a backup tool, an admin's sqlite3 shell) holds the write lock longer than the
    # bot's busy timeout (5 s).
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(settings.db_path, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        locked.set()
        release.wait(30)
        conn.execute("ROLLBACK")
        conn.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        await asyncio.to_thread(locked.wait, 10)
        replies = await client.send(ident.phone)
    finally:
        release.set()
        await asyncio.to_thread(holder.join)
    assert zh(services, "errors.busy") in text(replies)
    assert (await current(dp, bot, client.user.id))[0] == "PhoneSG:number"  # nothing was lost
    replies = await client.send(ident.phone)  # the user sends it again
    assert "验证码已发送" in text(replies)


# --- a full disk --------------------------------------------------------------------------------


async def test_disk_full_writing_a_photo_gives_an_apology_then_works(
    client: HostileClient,
    dp: Dispatcher,
    bot: MockedBot,
    services: Services,
    verifier: FakeVerifier,
    sms: FakeSms,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ident = Identity(3, "id")
    script(verifier, ident)
    walk = Walk(client)
    await walk_until(walk, dp, ident, sms, "CardSG:front", {})

    def full(*_: Any, **__: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr("bot.storage.media._write_atomically", full)
        replies = await client.send_photo(ident.upload("front"))
    assert zh(services, "errors.disk_full") in text(replies)
    assert (await current(dp, bot, client.user.id))[0] == "CardSG:front"
    replies = await client.send_photo(ident.upload("front"))
    assert "人像面识别完成" in text(replies)


async def test_database_full_gives_an_apology_then_works(
    client: HostileClient, dp: Dispatcher, bot: MockedBot, services: Services
) -> None:
    # SQLite's own "database or disk is full" (SQLITE_FULL), produced for real by capping the file.
    writer = services.db._writer
    pages = (await (await writer.execute("PRAGMA page_count")).fetchone())[0]  # type: ignore[index]
    await writer.execute(f"PRAGMA max_page_count = {pages}")
    apologies = 0
    try:
        for i in range(400):
            replies = await client.send(f"消息 {i} " + "填充" * 200)
            if zh(services, "errors.disk_full") in text(replies):
                apologies += 1
                break
    finally:
        await writer.execute("PRAGMA max_page_count = 1073741823")
    assert apologies == 1, "the database never filled up"
    replies = await client.send("/start")
    assert "实名采集" in text(replies)


# --- the SMS gateway and the identity authority --------------------------------------------------


class SlowService:
    """A local HTTP endpoint that answers late (a timeout) or with 503 until told to recover."""

    def __init__(self) -> None:
        self.mode = "slow"
        self.calls = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        body = await request.json()
        if self.mode == "slow":
            await asyncio.sleep(5)
        if self.mode == "error":
            return web.json_response({"error": "maintenance"}, status=503)
        if "doc_type" in body:
            return web.json_response({"matched": True, "photo": None, "reason": None})
        self.last_sms = body
        return web.json_response({"ok": True})


@pytest.fixture
async def slow_service() -> AsyncIterator[tuple[SlowService, str]]:
    service = SlowService()
    app = web.Application()
    app.router.add_post("/sms", service.handle)
    app.router.add_post("/identity", service.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield service, f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def http_bot(
    tmp_path: Path, slow_service: tuple[SlowService, str], verifier: FakeVerifier
) -> AsyncIterator[tuple[Dispatcher, Services, SlowService]]:
    service, base = slow_service
    settings = make_settings(
        tmp_path,
        sms_gateway_url=f"{base}/sms",
        identity_authority_url=f"{base}/identity",
        integration_timeout=0.3,
        integration_retries=1,
    )
    services = await Services.build(settings, verifier=verifier)
    yield create_dispatcher(settings, services), services, service
    await services.close()


@pytest.mark.parametrize("fault", ["slow", "error"])
async def test_sms_gateway_timing_out_or_failing(
    http_bot: tuple[Dispatcher, Services, SlowService], verifier: FakeVerifier, fault: str
) -> None:
    dp, services, service = http_bot
    bot = MockedBot()
    client = HostileClient(dp, bot, user_id=3101)
    ident = Identity(4, "id")
    script(verifier, ident)
    walk = Walk(client)
    fake_sms = FakeSms()  # unused by the bot here: the HTTP gateway is the real one
    await walk_until(walk, dp, ident, fake_sms, "PhoneSG:number", {})
    service.mode = fault
    started = datetime.now(UTC)
    replies = walk.note(await client.send(ident.phone))
    waited = (datetime.now(UTC) - started).total_seconds()
    assert zh(services, "reasons.sms_unavailable") in text(replies)
    assert waited < 4, "the user must not wait for the gateway's full stall"
    service.mode = "ok"
    replies = await walk.press("重新发送")
    assert "验证码已发送" in text(replies), text(replies)


@pytest.mark.parametrize("fault", ["slow", "error"])
async def test_identity_authority_timing_out_or_failing(
    http_bot: tuple[Dispatcher, Services, SlowService], verifier: FakeVerifier, fault: str
) -> None:
    dp, services, service = http_bot
    bot = MockedBot()
    client = HostileClient(dp, bot, user_id=3201)
    ident = Identity(5, "other")
    await load_permit(services, ident)
    walk = Walk(client)
    await walk_until(walk, dp, ident, FakeSms(), "CollectSG:other_confirm", {})
    await walk.press("保存实名")  # → the consent step
    service.mode = fault
    replies = await walk.press("我已阅读并同意")
    assert zh(services, "reasons.identity_unavailable") in text(replies)
    assert (await current(dp, bot, client.user.id))[0] == "CollectSG:other_confirm"
    service.mode = "ok"
    replies = walk.note(await client.press(walk.button("重试")))
    assert "身份核验通过" in text(replies), text(replies)


async def test_verification_pool_unavailable_then_retry(
    client: HostileClient,
    dp: Dispatcher,
    bot: MockedBot,
    verifier: FakeVerifier,
    sms: FakeSms,
    services: Services,
) -> None:
    ident = Identity(6, "id")
    script(verifier, ident)
    walk = Walk(client)
    await walk_until(walk, dp, ident, sms, "CardSG:front", {})
    verifier.unavailable = True
    replies = await client.send_photo(ident.upload("front"))
    assert zh(services, "reasons.verification_unavailable") in text(replies)
    verifier.unavailable = False
    replies = walk.note(await client.send_photo(ident.upload("front")))
    assert "人像面识别完成" in text(replies)
    end = await walk_until(walk, dp, ident, sms, None, {})
    assert "采集成功" in text(end)


# --- the same update twice at once (two replicas), and what a plain update writes (issue 22) ------


async def test_same_update_on_two_replicas_at_once_is_handled_once(
    client: HostileClient,
    dp: Dispatcher,
    bot: MockedBot,
    verifier: FakeVerifier,
    sms: FakeSms,
    services: Services,
    settings: Settings,
) -> None:
    """Both replicas read "not claimed yet"; the first write transaction decides: the loser's rolls
    back (its claim conflicts) before it sends a code or moves the dialog."""
    ident = Identity(7, "id")
    script(verifier, ident)
    await walk_until(Walk(client), dp, ident, sms, "PhoneSG:number", {})
    other = create_dispatcher(settings, services)  # a second replica on the same records
    update = Update(update_id=777_300, message=client.msg(text=ident.phone))
    await asyncio.gather(dp.feed_update(bot, update), other.feed_update(bot, update))
    assert len([s for s in sms.sent if s[0] == ident.phone]) == 1
    assert (await current(dp, bot, client.user.id))[0] == "PhoneSG:code"
    await dp.feed_update(bot, update)  # and a later redelivery is recognised by its claim
    assert len([s for s in sms.sent if s[0] == ident.phone]) == 1


async def test_a_plain_step_commits_once_with_its_claim(
    client: HostileClient, dp: Dispatcher, bot: MockedBot, services: Services
) -> None:
    from bot.storage.db import COUNTERS

    walk = Walk(client)
    walk.note(await client.send("/start"))
    await walk.press("办税")
    commits = COUNTERS.commits
    update = Update(update_id=777_400, message=client.msg(text="陈大文"))  # a step with no dialog: no write
    await dp.feed_update(bot, update)
    assert COUNTERS.commits == commits + 1  # the claim alone, once handled
    await walk.press("实名信息")  # a menu press that writes the dialog state
    commits = COUNTERS.commits
    await walk.press("实名信息采集")
    assert COUNTERS.commits - commits == 1, "the claim must ride in the step's own write"
    async with services.db.read() as conn:
        rows = await (await conn.execute("SELECT count(*) FROM processed_updates")).fetchone()
    assert rows is not None and rows[0] >= 4
