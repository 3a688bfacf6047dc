"""The Bot API side spoken raw over HTTP: long polling, parameter encodings, Telegram's error answers."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest

from bot.sandbox import SandboxConfig, SandboxServer
from tests.e2e.sandbox.harness import Control, png

pytestmark = pytest.mark.e2e
TOKEN = "3003:raw-token_X"


async def open_chat(control: Control, user_id: int) -> None:
    """A user who wrote to the bot (nobody polls here, so the send call times out quickly)."""
    status, _ = await control.send(user_id, text="hi", wait=0.1)
    assert status == 504


async def call(control: Control, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    return await control.bot_api(TOKEN, method, **params)


async def test_get_me_and_unknown_methods(control: Control) -> None:
    status, me = await call(control, "getMe")
    assert status == 200
    assert me["result"]["id"] == 3003 and me["result"]["is_bot"] is True
    assert me["result"]["username"] == "shiming_sandbox_bot"
    assert (await call(control, "GETME"))[0] == 200  # method names are case-insensitive on Telegram
    status, body = await call(control, "sendSticker", chat_id=1)
    assert (status, body) == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found: method not found"},
    )
    status, body = await control.bot_api("not-a-token", "getMe")
    assert status == 401 and body["description"] == "Unauthorized"


async def test_long_polling_returns_as_soon_as_an_update_arrives(control: Control) -> None:
    assert (await call(control, "getUpdates", timeout=0))[1]["result"] == []
    started = time.monotonic()
    assert (await call(control, "getUpdates", timeout=0.3))[1]["result"] == []
    assert time.monotonic() - started >= 0.29

    poll = asyncio.create_task(call(control, "getUpdates", timeout=10))
    await asyncio.sleep(0.2)
    assert not poll.done()
    send = asyncio.create_task(control.send(21, text="/start@shiming_sandbox_bot now", language_code="en"))
    started = time.monotonic()
    status, body = await poll
    assert time.monotonic() - started < 1.0
    [update] = body["result"]
    message = update["message"]
    assert message["text"] == "/start@shiming_sandbox_bot now"
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 26}]
    assert message["chat"] == {"id": 21, "type": "private", "first_name": "User 21"}
    assert message["from"]["language_code"] == "en" and message["message_id"] == 1

    # a bot that never acks: the send call returns once the chat has been quiet after the fetch
    status, sent = await send
    assert status == 200 and sent["update_id"] == update["update_id"] and sent["replies"] == []

    # not confirmed yet: delivered again; confirmed by offset: gone
    again = (await call(control, "getUpdates", timeout=0))[1]["result"]
    assert [u["update_id"] for u in again] == [update["update_id"]]
    assert (await call(control, "getUpdates", offset=update["update_id"] + 1))[1]["result"] == []


async def test_allowed_updates_limit_and_conflict(control: Control) -> None:
    for uid in (31, 32, 33):
        await open_chat(control, uid)
    status, body = await call(control, "getUpdates", limit=2)
    assert [u["message"]["chat"]["id"] for u in body["result"]] == [31, 32]
    status, body = await call(control, "getUpdates", allowed_updates=["callback_query"])
    assert body["result"] == []
    status, body = await call(control, "getUpdates", allowed_updates=[])  # empty list: back to the default
    assert len(body["result"]) == 3

    first = asyncio.create_task(call(control, "getUpdates", timeout=5, offset=10**6))
    await asyncio.sleep(0.1)
    second = asyncio.create_task(call(control, "getUpdates", timeout=0.2))
    status, body = await first
    assert status == 409 and body["description"].startswith("Conflict: terminated by other getUpdates")
    assert (await second)[0] == 200


async def test_parameter_encodings(control: Control) -> None:
    await open_chat(control, 41)
    url = f"{control.url}/bot{TOKEN}/sendMessage"
    async with control.http.get(url, params={"chat_id": "41", "text": "by query"}) as resp:
        assert (await resp.json())["result"]["text"] == "by query"
    async with control.http.post(url, data={"chat_id": "41", "text": "by form"}) as resp:
        assert (await resp.json())["result"]["text"] == "by form"
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    async with control.http.post(
        url, json={"chat_id": 41, "text": "by json", "reply_markup": markup}
    ) as resp:
        result = (await resp.json())["result"]
        assert result["reply_markup"] == markup
    form = aiohttp.FormData()
    form.add_field("chat_id", "41")
    form.add_field("text", "by multipart")
    form.add_field("reply_markup", json.dumps(markup))
    async with control.http.post(url, data=form) as resp:
        result = (await resp.json())["result"]
        assert result["text"] == "by multipart" and result["message_id"] == 5

    # files: a direct multipart field, and an attach:// reference as aiogram sends them
    form = aiohttp.FormData()
    form.add_field("chat_id", "41")
    form.add_field("photo", png(50, 40), filename="direct.png")
    async with control.http.post(f"{control.url}/bot{TOKEN}/sendPhoto", data=form) as resp:
        sizes = (await resp.json())["result"]["photo"]
        assert (sizes[-1]["width"], sizes[-1]["height"]) == (50, 40)
    form = aiohttp.FormData(quote_fields=False)
    form.add_field("chat_id", "41")
    form.add_field("document", "attach://f1")
    form.add_field("f1", "data ✓".encode(), filename="说明.txt")
    async with control.http.post(f"{control.url}/bot{TOKEN}/sendDocument", data=form) as resp:
        document = (await resp.json())["result"]["document"]
        assert document["file_name"] == "说明.txt" and document["file_size"] == len("data ✓".encode())

    # re-sending by file_id, and refusing the wrong type or an unreachable URL
    status, body = await call(control, "sendPhoto", chat_id=41, photo=sizes[-1]["file_id"])
    assert status == 200 and body["result"]["photo"] == sizes
    status, body = await call(control, "sendDocument", chat_id=41, document=sizes[-1]["file_id"])
    assert body["description"] == "Bad Request: can't use file of type Photo as Document"
    status, body = await call(control, "sendPhoto", chat_id=41, photo="https://example.org/x.jpg")
    assert body["description"] == "Bad Request: failed to get HTTP URL content"
    form = aiohttp.FormData()
    form.add_field("chat_id", "41")
    form.add_field("photo", b"not an image", filename="x.jpg")
    async with control.http.post(f"{control.url}/bot{TOKEN}/sendPhoto", data=form) as resp:
        assert (await resp.json())["description"] == "Bad Request: IMAGE_PROCESS_FAILED"


async def test_telegram_errors_for_bad_parameters(control: Control) -> None:
    await open_chat(control, 51)

    async def error(method: str, **params: Any) -> str:
        status, body = await call(control, method, **params)
        assert status == 400 and body["ok"] is False and body["error_code"] == 400, body
        return str(body["description"])

    assert await error("sendMessage", chat_id=999, text="x") == "Bad Request: chat not found"
    assert await error("sendMessage", chat_id=51, text="") == "Bad Request: message text is empty"
    assert await error("sendMessage", chat_id=51, text="x" * 4097) == "Bad Request: message is too long"
    assert (await error("sendMessage", chat_id=51, text="1 < 2", parse_mode="HTML")).startswith(
        "Bad Request: can't parse entities"
    )
    assert (await error("sendMessage", chat_id=51, text="a.b", parse_mode="MarkdownV2")).startswith(
        "Bad Request: can't parse entities: Character '.' is reserved"
    )
    assert await error("sendMessage", chat_id=51, text="x", reply_markup="{oops") == (
        "Bad Request: can't parse reply keyboard markup JSON object"
    )
    bad_button = {"inline_keyboard": [[{"text": "A", "callback_data": "x" * 65}]]}
    assert await error("sendMessage", chat_id=51, text="x", reply_markup=bad_button) == (
        "Bad Request: BUTTON_DATA_INVALID"
    )
    assert await error("editMessageText", chat_id=51, message_id=77, text="x") == (
        "Bad Request: message to edit not found"
    )
    assert await error("editMessageText", chat_id=51, message_id=1, text="x") == (
        "Bad Request: message can't be edited"
    )
    sent = (await call(control, "sendMessage", chat_id=51, text="<b>same</b>", parse_mode="HTML"))[1][
        "result"
    ]
    assert sent["entities"] == [{"type": "bold", "offset": 0, "length": 4}]
    assert (
        await error(
            "editMessageText",
            chat_id=51,
            message_id=sent["message_id"],
            text="<b>same</b>",
            parse_mode="HTML",
        )
    ).startswith("Bad Request: message is not modified")
    status, edited = await call(
        control, "editMessageText", chat_id=51, message_id=sent["message_id"], text="same"
    )
    assert status == 200 and "entities" not in edited["result"] and edited["result"]["edit_date"]
    assert await error("editMessageCaption", chat_id=51, message_id=sent["message_id"], caption="c") == (
        "Bad Request: there is no caption in the message to edit"
    )
    assert (
        await error("deleteMessage", chat_id=51, message_id=500) == "Bad Request: message to delete not found"
    )
    assert (await error("answerCallbackQuery", callback_query_id="123")).startswith(
        "Bad Request: query is too old"
    )
    assert await error("sendChatAction", chat_id=51, action="dancing") == (
        "Bad Request: wrong parameter action in request"
    )
    assert (
        await error("getFile", file_id="nope")
        == "Bad Request: wrong file_id or the file is temporarily unavailable"
    )
    assert await error("setMyCommands", commands=[{"command": "Bad Command", "description": "x"}]) == (
        "Bad Request: BOT_COMMAND_INVALID"
    )


async def test_commands_menu_webhook_roundtrip(control: Control) -> None:
    scope = {"type": "chat", "chat_id": 5}
    assert (
        await call(
            control,
            "setMyCommands",
            commands=[{"command": "help", "description": "帮助"}],
            scope=scope,
            language_code="zh",
        )
    )[0] == 200
    assert (await call(control, "getMyCommands", scope=scope, language_code="zh"))[1]["result"] == [
        {"command": "help", "description": "帮助"}
    ]
    assert (await call(control, "getMyCommands"))[1]["result"] == []
    _, published = await control.get("/sandbox/api/commands")
    assert published["entries"][0]["scope"] == scope and published["by_language"] == {}
    await call(control, "deleteMyCommands", scope=scope, language_code="zh")
    assert (await call(control, "getMyCommands", scope=scope, language_code="zh"))[1]["result"] == []
    assert (await call(control, "setChatMenuButton", menu_button={"type": "commands"}))[1]["result"] is True
    assert (await call(control, "getChatMenuButton"))[1]["result"] == {"type": "commands"}

    await open_chat(control, 61)
    info = (await call(control, "getWebhookInfo"))[1]["result"]
    assert info == {"url": "", "has_custom_certificate": False, "pending_update_count": 1}
    await call(control, "deleteWebhook", drop_pending_updates=True)
    assert (await call(control, "getWebhookInfo"))[1]["result"]["pending_update_count"] == 0
    assert (await call(control, "close"))[1]["result"] is True
    assert (await call(control, "logOut"))[1]["result"] is True


async def test_download_limits() -> None:
    config = SandboxConfig(max_download_bytes=1000, max_file_bytes=5000, quiet_period=0.05)
    async with SandboxServer(config=config) as server, aiohttp.ClientSession() as http:
        control = Control(http, server.url)
        await open_chat(control, 71)
        status, _body = await control.upload(71, "document", b"x" * 2000, "big.bin", wait=0.1, caption="big")
        assert status == 504  # nobody polls; the file is stored all the same
        [message] = (await control.get("/sandbox/api/users/71/messages"))[1]["messages"][1:]
        status, err = await control.bot_api(TOKEN, "getFile", file_id=message["document"]["file_id"])
        assert err["description"] == "Bad Request: file is too big"
        status, _ = await control.upload(71, "document", b"x" * 6000, "huge.bin")
        assert status == 413
        form = aiohttp.FormData()
        form.add_field("chat_id", "71")
        form.add_field("document", b"x" * 6000, filename="huge.bin")
        async with http.post(f"{server.url}/bot{TOKEN}/sendDocument", data=form) as resp:
            assert resp.status == 413 and (await resp.json())["description"] == "Request Entity Too Large"
        status, _ = await control.get(f"/file/bot{TOKEN}/documents/nothing.bin")
        assert status == 404


async def test_video_caption_and_markup_edits(control: Control) -> None:
    await open_chat(control, 81)
    form = aiohttp.FormData()
    form.add_field("chat_id", "81")
    form.add_field("caption", "<b>clip</b>")
    form.add_field("parse_mode", "HTML")
    form.add_field("duration", "3")
    form.add_field("video", b"\x00\x00\x00\x18ftypmp42 not really", filename="clip.mp4")
    async with control.http.post(f"{control.url}/bot{TOKEN}/sendVideo", data=form) as resp:
        sent = (await resp.json())["result"]
    assert sent["video"]["duration"] == 3 and sent["video"]["mime_type"] == "video/mp4"
    assert sent["caption"] == "clip" and sent["caption_entities"][0]["type"] == "bold"

    mid = sent["message_id"]
    status, body = await call(control, "editMessageCaption", chat_id=81, message_id=mid, caption="new")
    assert status == 200 and body["result"]["caption"] == "new" and "caption_entities" not in body["result"]
    status, body = await call(control, "editMessageText", chat_id=81, message_id=mid, text="x")
    assert body["description"] == "Bad Request: there is no text in the message to edit"
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    status, body = await call(
        control, "editMessageReplyMarkup", chat_id=81, message_id=mid, reply_markup=markup
    )
    assert status == 200 and body["result"]["reply_markup"] == markup
    status, body = await call(
        control, "editMessageReplyMarkup", chat_id=81, message_id=mid, reply_markup=markup
    )
    assert body["description"].startswith("Bad Request: message is not modified")

    [_, video] = (await control.get("/sandbox/api/users/81/messages"))[1]["messages"]
    assert video["video"] and video["edited"] and video["text"] == "new"
    assert video["buttons"] == [[{"text": "Go", "callback_data": "go"}]]
    status, _ = await control.send(81, callback_data="go", message_id=mid, wait=0.1)
    assert status == 504  # nobody polls, but the press itself was accepted and queued
    updates = (await call(control, "getUpdates"))[1]["result"]
    query = updates[-1]["callback_query"]
    assert query["data"] == "go" and query["message"]["message_id"] == mid
    assert (await call(control, "answerCallbackQuery", callback_query_id=query["id"], text="ok"))[0] == 200
