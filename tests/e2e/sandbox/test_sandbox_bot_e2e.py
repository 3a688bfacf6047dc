"""A real aiogram bot against the sandbox, driven through the control API."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import tempfile
import time

import aiohttp
import pytest
from PIL import Image

from bot.sandbox import SandboxServer
from tests.e2e.sandbox.harness import ACK_TOKEN, Control, RunningBot, jpeg, png

pytestmark = pytest.mark.e2e


def make_video(width: int = 64, height: int = 48, frames: int = 20, fps: float = 10.0) -> bytes | None:
    cv2 = pytest.importorskip("cv2")
    import numpy as np

    fd, path = tempfile.mkstemp(suffix=".mp4")
    os.close(fd)
    try:
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
        if not writer.isOpened():
            return None
        for i in range(frames):
            writer.write(np.full((height, width, 3), i * 10 % 255, dtype=np.uint8))
        writer.release()
        with open(path, "rb") as fh:
            return fh.read()
    finally:
        os.unlink(path)


async def test_start_shows_html_text_and_inline_buttons(ack_bot: RunningBot, control: Control) -> None:
    body = await control.ok(7, text="/start", first_name="张三", language_code="en")
    assert body["callback_answer"] is None
    [reply] = body["replies"]
    assert reply["text"] == "Hello, 张三 & welcome (en)"
    assert reply["raw_text"].startswith("Hello, <b>张三</b>")
    assert reply["from"] == "bot" and not reply["edited"] and not reply["deleted"]
    assert reply["buttons"][0] == [{"text": "Edit me", "callback_data": "edit"}]
    assert reply["buttons"][2][0]["url"] == "https://example.org/"
    # the language sticks to the user until changed
    again = await control.ok(7, text="/start")
    assert again["replies"][0]["text"].endswith("(en)")
    fresh = await control.ok(8, text="/start")
    assert fresh["replies"][0]["text"].endswith("(zh-hans)")


async def test_callbacks_edit_and_answer(ack_bot: RunningBot, control: Control) -> None:
    home = (await control.ok(7, text="/start"))["replies"][0]
    body = await control.ok(7, callback_data="edit", message_id=home["message_id"])
    [edited] = body["replies"]
    assert edited["message_id"] == home["message_id"]
    assert edited["edited"] is True and edited["text"] == "Edited text"
    assert edited["buttons"] == []  # editing text without reply_markup drops the keyboard, as on Telegram
    assert body["callback_answer"] == {"text": "edited", "show_alert": False, "url": None}

    alert = await control.ok(7, callback_data="alert", message_id=home["message_id"])
    assert alert["replies"] == [] and alert["callback_answer"]["show_alert"] is True

    forged = await control.ok(7, callback_data="not-on-any-button", message_id=home["message_id"])
    assert forged["callback_answer"]["text"] == "unknown button not-on-any-button"

    status, missing = await control.send(7, callback_data="edit", message_id=424242)
    assert status == 400 and "not found" in missing["error"]

    history = (await control.get("/sandbox/api/users/7/messages"))[1]["messages"]
    assert [m["from"] for m in history] == ["user", "bot"]
    assert history[1]["edited"] is True


async def test_bot_sends_photo_album_and_document(
    ack_bot: RunningBot, control: Control, sbx: SandboxServer
) -> None:
    [photo] = (await control.ok(5, text="/photo"))["replies"]
    assert photo["photo"] is True and photo["text"] == "A red square" and photo["file_id"]
    status, data = await control.get(f"/sandbox/api/files/{photo['file_id']}")
    # Telegram recompresses: the largest size is a JPEG of the sent PNG's 800x600.
    assert status == 200 and data[:2] == b"\xff\xd8" and data != png(800, 600)
    with Image.open(io.BytesIO(data)) as img:
        assert img.size == (800, 600)

    # getFile + the file download URL, as another bot (or aiogram's bot.download) uses them
    status, info = await control.bot_api(ACK_TOKEN, "getFile", file_id=photo["file_id"])
    assert status == 200 and info["result"]["file_size"] == len(data)
    status, downloaded = await control.get(f"/file/bot{ACK_TOKEN}/{info['result']['file_path']}")
    assert status == 200 and downloaded == data

    album = (await control.ok(5, text="/album"))["replies"]
    assert len(album) == 2 and all(m["photo"] for m in album)
    assert album[0]["media_group_id"] == album[1]["media_group_id"] is not None
    assert album[0]["text"] == "one"

    [doc] = (await control.ok(5, text="/doc"))["replies"]
    assert doc["document"]["file_name"] == "receipt.txt"
    assert doc["document"]["mime_type"] == "text/plain"
    status, content = await control.get(f"/sandbox/api/files/{doc['document']['file_id']}")
    assert content == "回执 receipt".encode()


async def test_user_uploads_photo_document_video(ack_bot: RunningBot, control: Control) -> None:
    original = jpeg(1000, 750)
    status, body = await control.upload(9, "photo", original, "id.jpg", caption="front side")
    assert status == 200, body
    # Recompressed like Telegram: 90, 320, 800 px and the largest (1000 px is under 1280).
    assert re.fullmatch(r"photo 1000x750 \d+ bytes 4 sizes caption=front side", body["replies"][0]["text"])

    status, body = await control.upload(9, "photo", original, "id.jpg", forwarded="1")
    assert body["replies"][0]["text"].startswith("forwarded photo")

    status, body = await control.upload(9, "document", b"%PDF-1.4 fake", "合同.pdf")
    assert body["replies"][0]["text"] == "document 合同.pdf 13 bytes"

    video = make_video()
    if video is not None:
        status, body = await control.upload(9, "video", video, "clip.mp4")
        assert body["replies"][0]["text"] == "video 64x48 2s video/mp4"
        status, body = await control.upload(9, "video_note", video, "note.mp4")
        assert body["replies"][0]["text"] == "video note 48 2s"
    status, body = await control.upload(9, "video", b"not a video", "junk.mp4")
    assert body["replies"][0]["text"] == "video 0x0 0s video/mp4"

    history = (await control.get("/sandbox/api/users/9/messages"))[1]["messages"]
    user_photo = history[0]
    assert user_photo["from"] == "user" and user_photo["photo"] and user_photo["text"] == "front side"
    status, data = await control.get(f"/sandbox/api/files/{user_photo['file_id']}")
    with Image.open(io.BytesIO(data)) as largest:  # recompressed, same size
        assert largest.format == "JPEG" and largest.size == (1000, 750)


async def test_contact_keyboards_deletes_and_errors(ack_bot: RunningBot, control: Control) -> None:
    [kb] = (await control.ok(3, text="/keyboard"))["replies"]
    assert kb["keyboard"] == [["📱 Share"], ["Back"]]
    [answer] = (await control.ok(3, contact={"phone_number": "+8613800138000"}))["replies"]
    assert answer["text"] == "phone +8613800138000 of 3"
    [removed] = (await control.ok(3, text="/remove"))["replies"]
    assert removed["remove_keyboard"] is True and removed["keyboard"] == []

    gone, kept = (await control.ok(3, text="/delete"))["replies"]
    assert gone["deleted"] is True and gone["text"] == "short-lived"
    assert kept["text"] == "deleted one"

    [errors] = (await control.ok(3, text="/errors"))["replies"]
    assert errors["text"].splitlines() == [
        "Bad Request: message to edit not found",
        'Bad Request: can\'t parse entities: Unsupported start tag "br" at byte offset 0',
        "Bad Request: chat not found",
    ]


async def test_ack_waits_past_the_quiet_period(ack_bot: RunningBot, control: Control) -> None:
    started = time.monotonic()
    body = await control.ok(4, text="/slow")
    assert time.monotonic() - started >= 0.8
    assert [m["text"] for m in body["replies"]] == ["slow answer"]


async def test_no_ack_bot_falls_back_to_quiet_period(echo_bot: RunningBot, control: Control) -> None:
    body = await control.ok(11, text="hello echo")
    assert [m["text"] for m in body["replies"]] == ["hello echo"]
    [photo] = (await control.ok(11, text="/photo"))["replies"]
    assert photo["photo"]


async def test_timeout_when_no_bot_polls(control: Control) -> None:
    status, body = await control.send(12, text="anyone?", wait=0.3)
    assert status == 504 and body["ok"] is False and body["replies"] == []


async def test_commands_sms_health_reset(ack_bot: RunningBot, control: Control) -> None:
    await control.ok(2, text="/commands")
    _, published = await control.get("/sandbox/api/commands")
    assert published["by_language"] == {
        "": [{"command": "start", "description": "开始"}],
        "en": [{"command": "start", "description": "Start"}],
    }
    async with control.http.post(
        f"{control.url}/sandbox/api/sms", json={"phone": "13800138000", "text": "验证码 123456"}
    ) as resp:
        assert resp.status == 200
    async with control.http.post(
        f"{control.url}/sandbox/api/sms", json={"phone": "13900139000", "text": "other"}
    ) as resp:
        assert resp.status == 200
    _status, sms = await control.get("/sandbox/api/sms", phone="13800138000")
    assert [m["text"] for m in sms["messages"]] == ["验证码 123456"]
    assert sms["messages"][0]["sent_at"].endswith("Z")

    _, health = await control.get("/sandbox/api/health")
    assert health["ok"] and health["users"] == 1 and health["bot_polling"] and health["acking_bots"] == [1001]

    async with control.http.post(f"{control.url}/sandbox/api/reset") as resp:
        assert resp.status == 200
    assert (await control.get("/sandbox/api/users/2/messages"))[1]["messages"] == []
    assert (await control.get("/sandbox/api/sms"))[1]["messages"] == []
    # the bot keeps polling with its old offset after a reset
    assert (await control.ok(2, text="after reset"))["replies"][0]["text"] == "after reset"


async def test_event_stream(ack_bot: RunningBot, control: Control) -> None:
    await control.ok(6, text="before")
    events: list[tuple[str, dict[str, object]]] = []
    ids: list[int] = []
    async with control.http.get(f"{control.url}/sandbox/api/users/6/events") as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")

        async def read() -> None:
            kind = ""
            async for raw in resp.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("id: "):
                    ids.append(int(line[4:]))
                elif line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    events.append((kind, json.loads(line[6:])))
                    if len(events) == 5:
                        return

        reader = asyncio.create_task(read())
        home = (await control.ok(6, text="/start"))["replies"][0]
        await control.ok(6, callback_data="edit", message_id=home["message_id"])
        await asyncio.wait_for(reader, 5)
    kinds = [(kind, data["from"], data["text"]) for kind, data in events]
    assert kinds[:2] == [("new", "user", "before"), ("new", "bot", "before")]
    assert kinds[2:4] == [("new", "user", "/start"), ("new", "bot", home["text"])]
    assert kinds[4] == ("edited", "bot", "Edited text")
    # Each event's id is the chat's revision (the replay shows the chat as of revision 2), and the
    # snapshot says its revision: a page drops the events its snapshot already holds.
    assert ids == [2, 2, 3, 4, 5]
    assert (await control.get("/sandbox/api/users/6/messages"))[1]["revision"] == 5


async def test_two_hundred_concurrent_users(ack_bot: RunningBot, control: Control) -> None:
    async def user(uid: int) -> list[str]:
        texts: list[str] = []
        for n in range(2):
            body = await control.ok(uid, text=f"user {uid} message {n}")
            texts.extend(m["text"] for m in body["replies"])
        return texts

    started = time.monotonic()
    results = await asyncio.gather(*(user(1000 + i) for i in range(200)))
    elapsed = time.monotonic() - started
    for i, texts in enumerate(results):
        assert texts == [f"user {1000 + i} message 0", f"user {1000 + i} message 1"]
    assert elapsed < 30


async def test_same_user_concurrent_sends_keep_order(ack_bot: RunningBot, control: Control) -> None:
    bodies = await asyncio.gather(*(control.ok(77, text=f"m{n}") for n in range(10)))
    for body in bodies:
        [reply] = body["replies"]
        user_text = reply["text"]
        assert user_text.startswith("m")
    history = (await control.get("/sandbox/api/users/77/messages"))[1]["messages"]
    pairs = [(history[i]["text"], history[i + 1]["text"]) for i in range(0, len(history), 2)]
    assert all(a == b for a, b in pairs)
    assert [m["message_id"] for m in history] == list(range(1, 21))


async def test_thumbnail_is_an_image(ack_bot: RunningBot, control: Control, sbx: SandboxServer) -> None:
    await control.upload(15, "photo", jpeg(1200, 900), "big.jpg")
    message = next(iter(sbx.state.chats[15].messages.values()))
    tiny, small, medium, large = message.payload["photo"]
    assert max(tiny["width"], tiny["height"]) == 90 and max(medium["width"], medium["height"]) == 800
    assert (large["width"], large["height"]) == (1200, 900)
    assert all(size["file_size"] > 0 for size in message.payload["photo"])
    assert max(small["width"], small["height"]) == 320
    _, data = await control.get(f"/sandbox/api/files/{small['file_id']}")
    import io

    with Image.open(io.BytesIO(data)) as thumb:
        assert thumb.size == (320, 240)


async def test_bad_control_requests(control: Control) -> None:
    status, body = await control.send(1)
    assert status == 400 and "nothing to send" in body["error"]
    async with control.http.post(f"{control.url}/sandbox/api/users/abc/send", json={"text": "x"}) as resp:
        assert resp.status == 400
    form = aiohttp.FormData()
    form.add_field("photo", b"a", filename="a.jpg")
    form.add_field("video", b"b", filename="b.mp4")
    async with control.http.post(f"{control.url}/sandbox/api/users/1/send", data=form) as resp:
        assert resp.status == 400
    status, body = await control.get("/sandbox/api/files/nope")
    assert status == 404


async def test_curl_style_bodies(ack_bot: RunningBot, control: Control) -> None:
    url = f"{control.url}/sandbox/api/users/19/send"
    # what `curl -d '{"text": "/start"}'` sends: JSON labelled as a urlencoded form
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    async with control.http.post(
        url, data='{"text": "/start", "language_code": "en"}', headers=form_type
    ) as resp:
        body = await resp.json()
        assert resp.status == 200 and body["replies"][0]["text"].endswith("(en)")
    async with control.http.post(url, data={"text": "form field"}) as resp:
        assert (await resp.json())["replies"][0]["text"] == "form field"


async def test_a_big_photo_arrives_as_telegram_makes_it(
    ack_bot: RunningBot, control: Control, sbx: SandboxServer
) -> None:
    await control.upload(16, "photo", png(3000, 2000), "card.png")
    message = next(iter(sbx.state.chats[16].messages.values()))
    largest = message.payload["photo"][-1]
    assert (largest["width"], largest["height"]) == (1280, 853)
    _, data = await control.get(f"/sandbox/api/files/{largest['file_id']}")
    assert data[:2] == b"\xff\xd8" and len(data) == largest["file_size"]


async def test_a_bot_photo_over_the_limits_is_refused(control: Control, sbx: SandboxServer) -> None:
    form = aiohttp.FormData()
    form.add_field("chat_id", "17")
    form.add_field("photo", png(9000, 1500), filename="wide.png")
    sbx.state.get_or_create_chat(17)  # the chat must exist
    async with control.http.post(f"{control.url}/bot{ACK_TOKEN}/sendPhoto", data=form) as resp:
        body = await resp.json()
    assert resp.status == 400 and body["description"] == "Bad Request: PHOTO_INVALID_DIMENSIONS"
