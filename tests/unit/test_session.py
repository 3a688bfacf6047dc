"""The one retry policy (bot/session.py) against a scripted Bot API server."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest, TelegramNetworkError, TelegramRetryAfter
from aiohttp import ClientResponseError, web

from bot.session import RetryingSession, RetryPolicy

OK_MESSAGE = {
    "message_id": 1,
    "date": 0,
    "chat": {"id": 5, "type": "private"},
    "text": "hi",
}


class Script:
    """Answers each call of a method with the next scripted (status, body), then 200 OK."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, Any]]] = []
        self.calls: list[tuple[str, float]] = []
        self.bodies: list[tuple[str, bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls.append((method, time.monotonic()))
        self.bodies.append((request.content_type, await request.read()))
        if self.answers:
            status, body = self.answers.pop(0)
            return web.json_response(body, status=status)
        result: Any = OK_MESSAGE if method.lower().startswith("send") else True
        return web.json_response({"ok": True, "result": result})


@pytest.fixture
async def server() -> AsyncIterator[tuple[Script, str]]:
    script = Script()
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", script.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield script, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def _bot(url: str, policy: RetryPolicy | None = None) -> Bot:
    session = RetryingSession(api=TelegramAPIServer.from_base(url), policy=policy)
    return Bot("1:test", session=session)


def _flood(seconds: int) -> tuple[int, dict[str, Any]]:
    return 429, {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {seconds}",
        "parameters": {"retry_after": seconds},
    }


async def test_429_is_retried_after_the_time_telegram_asks(server: tuple[Script, str]) -> None:
    script, url = server
    script.answers = [_flood(1)]
    bot = _bot(url)
    try:
        message = await bot.send_message(5, "hi")
    finally:
        await bot.session.close()
    assert message.message_id == 1
    assert len(script.calls) == 2
    assert script.calls[1][1] - script.calls[0][1] >= 0.95


async def test_retries_are_bounded(server: tuple[Script, str]) -> None:
    script, url = server
    script.answers = [_flood(1)] * 10
    bot = _bot(url, RetryPolicy(attempts=3))
    try:
        with pytest.raises(TelegramRetryAfter):
            await bot.send_message(5, "hi")
    finally:
        await bot.session.close()
    assert len(script.calls) == 3


async def test_a_long_retry_after_is_not_waited_for(server: tuple[Script, str]) -> None:
    script, url = server
    script.answers = [_flood(3600)]
    bot = _bot(url)
    try:
        with pytest.raises(TelegramRetryAfter):
            await bot.send_message(5, "hi")
    finally:
        await bot.session.close()
    assert len(script.calls) == 1


async def test_server_errors_are_retried_and_bad_requests_are_not(server: tuple[Script, str]) -> None:
    script, url = server
    script.answers = [(502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})]
    bot = _bot(url, RetryPolicy(backoff=0.01))
    try:
        await bot.send_message(5, "hi")
        assert len(script.calls) == 2
        refused = {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
        script.answers = [(400, refused)]
        with pytest.raises(TelegramBadRequest):
            await bot.send_message(5, "hi")
        assert len(script.calls) == 3
    finally:
        await bot.session.close()


async def test_a_refused_connection_is_retried_then_given_up() -> None:
    # Port 9 on loopback: nothing listens, the connection is refused, so the request never left.
    bot = _bot("http://127.0.0.1:9", RetryPolicy(attempts=3, backoff=0.01))
    started = time.monotonic()
    try:
        with pytest.raises(TelegramNetworkError):
            await bot.send_message(5, "hi")
    finally:
        await bot.session.close()
    assert time.monotonic() - started < 5


async def test_a_download_that_failed_before_any_byte_is_retried() -> None:
    answers = [web.Response(status=502), web.Response(status=503)]
    seen: list[float] = []

    async def file(request: web.Request) -> web.Response:
        seen.append(time.monotonic())
        return answers.pop(0) if answers else web.Response(body=b"register bytes")

    app = web.Application()
    app.router.add_get("/file/bot{token}/{path:.+}", file)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    bot = _bot(f"http://127.0.0.1:{port}", RetryPolicy(backoff=0.01))
    try:
        data = await bot.download_file("documents/file_1.csv")
        assert data is not None and data.read() == b"register bytes" and len(seen) == 3
        answers.append(web.Response(status=404))  # a client error is not retried
        with pytest.raises(ClientResponseError):
            await bot.download_file("documents/file_2.csv")
        assert len(seen) == 4
    finally:
        await bot.session.close()
        await runner.cleanup()


def _updates(n: int) -> tuple[int, dict[str, Any]]:
    return 200, {"ok": True, "result": [{"update_id": i} for i in range(n)]}


@pytest.mark.parametrize(("batch", "waits"), [(1, True), (7, True), (8, False), (0, False)])
async def test_get_updates_after_a_small_batch_waits_for_company(
    server: tuple[Script, str], batch: int, waits: bool
) -> None:
    # One update per getUpdates is a whole HTTP request per update: after a small batch the next poll
    # waits out the gathering window; after an empty long poll (idle) or a full batch it does not.
    script, url = server
    script.answers = [_updates(batch), _updates(0)]
    session = RetryingSession(api=TelegramAPIServer.from_base(url), gather_s=0.2)
    bot = Bot("1:test", session=session)
    try:
        assert len(await bot.get_updates(timeout=0)) == batch
        await bot.get_updates(timeout=0)
        await bot.send_message(5, "hi")  # other methods never wait
    finally:
        await bot.session.close()
    (_, first), (_, second), (_, third) = script.calls
    assert (second - first >= 0.2) is waits
    assert third - second < 0.2


async def test_a_callback_answered_after_telegrams_deadline_does_not_end_the_handler(
    server: tuple[Script, str],
) -> None:
    script, url = server
    late = {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: query is too old and response timeout expired or query ID is invalid",
    }
    bot = _bot(url)
    try:
        script.answers = [(400, late)]
        assert await bot.answer_callback_query("q1") is True  # moot: the user's spinner has ended
        # Any other refusal of a callback answer, and the same text on another method, still raise.
        too_long = {"ok": False, "error_code": 400, "description": "Bad Request: text is too long"}
        script.answers = [(400, too_long)]
        with pytest.raises(TelegramBadRequest):
            await bot.answer_callback_query("q2", text="x")
        script.answers = [(400, late)]
        with pytest.raises(TelegramBadRequest):
            await bot.send_message(5, "hi")
        assert [m for m, _ in script.calls] == ["answerCallbackQuery"] * 2 + ["sendMessage"]
    finally:
        await bot.session.close()


async def test_calls_go_as_json_and_uploads_as_multipart(server: tuple[Script, str]) -> None:
    import json

    from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup

    script, url = server
    bot = _bot(url)
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="返回", callback_data="b")]])
    try:
        await bot.send_message(5, "你好 & <b>", reply_markup=keyboard, disable_notification=True)
        ctype, raw = script.bodies[-1]
        assert ctype == "application/json"
        body = json.loads(raw)
        assert body["chat_id"] == 5 and body["text"] == "你好 & <b>" and body["disable_notification"] is True
        assert body["reply_markup"] == {"inline_keyboard": [[{"text": "返回", "callback_data": "b"}]]}
        await bot.send_document(5, BufferedInputFile(b"%PDF-1", "a.pdf"), caption="x")
        assert script.bodies[-1][0] == "multipart/form-data"
    finally:
        await bot.session.close()


def test_the_json_body_is_aiograms_fields_without_the_none_ones() -> None:
    """json_body dumps without the None fields (issue 22: a third of its CPU); what it sends must be
    what the full dump gives once aiogram's prepare_value has dropped them, Defaults resolved."""
    import json

    from aiogram.client.default import DefaultBotProperties
    from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMediaGroup, SendMessage
    from aiogram.types import (
        InlineKeyboardButton,
        InlineKeyboardMarkup,
        InputMediaPhoto,
        LinkPreviewOptions,
        MessageEntity,
        ReplyParameters,
    )

    session = RetryingSession()
    defaults = DefaultBotProperties(parse_mode="HTML", protect_content=True)
    bot = Bot("42:TEST", session=session, default=defaults)
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="返回", callback_data="nav:home")], []]
    )
    methods: list[Any] = [
        SendMessage(chat_id=5, text="你好", reply_markup=keyboard),
        SendMessage(
            chat_id=5,
            text="x",
            parse_mode=None,
            entities=[MessageEntity(type="bold", offset=0, length=1)],
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            reply_parameters=ReplyParameters(message_id=3),
        ),
        EditMessageText(chat_id=5, message_id=2, text="t", reply_markup=keyboard),
        AnswerCallbackQuery(callback_query_id="1", text="", show_alert=False),
        SendMediaGroup(
            chat_id=5, media=[InputMediaPhoto(media="f1", caption="c"), InputMediaPhoto(media="f2")]
        ),
    ]
    for method in methods:
        files: dict[str, Any] = {}
        full = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = session.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if prepared is not None and prepared != "":
                full[key] = prepared
        body = session.json_body(bot, method)
        assert body is not None and json.loads(body) == full, type(method).__name__
    assert json.loads(session.json_body(bot, methods[0]) or b"")["parse_mode"] == "HTML"
    assert json.loads(session.json_body(bot, methods[1]) or b"").get("parse_mode") is None
