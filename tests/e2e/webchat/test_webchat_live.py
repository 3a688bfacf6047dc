"""The web chat's controls and live updates in headless Chromium, against a scripted bot.

The test itself plays the bot over the Bot API (getUpdates, sendMessage, editMessageText, ...), so every
kind of change is produced on purpose and what the page sends is checked exactly: Telegram HTML rendered
safely, inline buttons by keyboard, callback alerts, typing, edits, deletions, a one-time reply keyboard
with a request_contact button, a photo, an SMS code used from the inbox, and a video note recorded with
Chromium's synthetic camera (MediaRecorder). English user, so the page speaks English.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from PIL import Image

if TYPE_CHECKING:
    from playwright.async_api import Page

    from tests.e2e.webchat.conftest import Screenshot

pytestmark = [pytest.mark.e2e]

USER = 901


class ScriptedBot:
    """A bot that acks (sandboxAck), so each send of the page returns once the test has answered."""

    token = "4242:webchat-scripted"

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http, self.base, self.offset = http, base, 0

    async def _post(self, method: str, request: Callable[[], dict[str, Any]]) -> Any:
        # The sandbox's flood control is on (as on Telegram): wait as long as it asks, like a bot does.
        for _ in range(5):
            async with self.http.post(f"{self.base}/bot{self.token}/{method}", **request()) as resp:
                body = await resp.json()
            if body.get("error_code") != 429:
                break
            await asyncio.sleep(body["parameters"]["retry_after"])
        assert body["ok"], (method, body)
        return body["result"]

    async def call(self, method: str, **params: Any) -> Any:
        return await self._post(method, lambda: {"json": params})

    async def send_photo(self, chat_id: int, data: bytes, caption: str) -> dict[str, Any]:
        def form() -> aiohttp.FormData:
            fields = aiohttp.FormData()
            fields.add_field("chat_id", str(chat_id))
            fields.add_field("photo", data, filename="photo.jpg", content_type="image/jpeg")
            fields.add_field("caption", caption)
            fields.add_field("parse_mode", "HTML")
            return fields

        result: dict[str, Any] = await self._post("sendPhoto", lambda: {"data": form()})
        return result

    async def next_update(self) -> dict[str, Any]:
        async with asyncio.timeout(20):
            while True:
                updates = await self.call("getUpdates", offset=self.offset, timeout=5, limit=1)
                if updates:
                    self.offset = updates[0]["update_id"] + 1
                    update: dict[str, Any] = updates[0]
                    return update

    async def ack(self, update: dict[str, Any]) -> None:
        await self.call("sandboxAck", update_id=update["update_id"])


async def say_hi(http: aiohttp.ClientSession, sandbox: str, user: int, name: str) -> None:
    """The user says "hi" and becomes known to the sandbox (no bot answers: the send gives up after a
    second)."""
    async with http.post(
        f"{sandbox}/sandbox/api/users/{user}/send",
        params={"timeout": "1"},
        json={"text": "hi", "first_name": name, "language_code": "en"},
    ) as resp:
        assert resp.status == 504


HTML = (
    "<b>Welcome</b>, <i>Alice</i>: <u>under</u> <s>old</s> <code>a&lt;b</code>\n"
    "<pre>line 1\n  line 2</pre>\n"
    '<a href="https://example.com/help">help page</a> <a href="javascript:alert(1)">trap</a> '
    "&lt;script&gt;alert(1)&lt;/script&gt; &amp; <tg-spoiler>secret</tg-spoiler>"
)
MENU = {
    "inline_keyboard": [
        [{"text": "Collect", "callback_data": "collect"}, {"text": "Help", "callback_data": "help"}],
        [{"text": "Website", "url": "https://example.com"}],
    ]
}


# Every visible control needs an accessible name (label, aria-label or text).
UNNAMED_CONTROLS = """() => [
  ...document.querySelectorAll("button, input, select, textarea, a[href], [tabindex]")]
  .filter((el) => el.checkVisibility() && el.type !== "hidden")
  .filter((el) => !(el.getAttribute("aria-label") || el.getAttribute("aria-labelledby")
    || (el.labels && el.labels.length) || el.textContent.trim() || el.getAttribute("title")
    || el.getAttribute("alt") || el.querySelector("img[alt]:not([alt=''])")))
  .map((el) => el.outerHTML.slice(0, 120))"""


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 200), (40, 120, 200)).save(out, "JPEG")
    return out.getvalue()


async def test_live_chat_controls(
    sandbox: str, http: aiohttp.ClientSession, page: Page, shot: Screenshot
) -> None:
    from playwright.async_api import expect

    bot = ScriptedBot(http, sandbox)
    await bot.call("sandboxAck")  # "I ack every update": sends wait for the test's answers
    await page.goto(sandbox + "/")

    # A new English-speaking user; the page switches its labels to English.
    await page.get_by_label("用户 ID").fill(str(USER))
    await page.get_by_label("名字").fill("Alice")
    await page.get_by_role("radio", name="English (en)").check()
    await page.get_by_role("button", name="进入聊天").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await page.get_by_role("button", name="Start /start").click()
    update = await bot.next_update()
    message = update["message"]
    assert message["text"] == "/start" and message["entities"][0]["type"] == "bot_command"
    assert message["from"]["first_name"] == "Alice" and message["from"]["language_code"] == "en"

    # Telegram HTML: the allowed tags become elements, everything else stays visible text.
    hello = await bot.call("sendMessage", chat_id=USER, text=HTML, parse_mode="HTML", reply_markup=MENU)
    await bot.ack(update)
    node = page.locator(f"#m-{hello['message_id']}")
    text = node.locator(".text")
    await expect(text.locator("b")).to_have_text("Welcome")
    await expect(text.locator("i")).to_have_text("Alice")
    await expect(text.locator("code")).to_have_text("a<b")
    await expect(text.locator("pre")).to_have_text("line 1\n  line 2")
    assert await text.locator("a", has_text="help page").get_attribute("href") == "https://example.com/help"
    assert await text.locator("a", has_text="trap").get_attribute("href") is None
    assert "<script>alert(1)</script> &" in await text.inner_text()
    assert await page.locator("#messages script").count() == 0
    await expect(node.get_by_role("link", name="Website")).to_have_attribute("href", "https://example.com/")
    assert await page.evaluate(UNNAMED_CONTROLS) == []
    await shot("html-and-buttons")

    # Inline keyboard by keyboard: one tab stop, arrows move, Enter presses.
    await node.get_by_role("button", name="Collect").focus()
    await page.keyboard.press("ArrowRight")
    await expect(node.get_by_role("button", name="Help")).to_be_focused()
    await page.keyboard.press("Enter")
    update = await bot.next_update()
    query = update["callback_query"]
    assert query["data"] == "help" and query["message"]["message_id"] == hello["message_id"]
    await bot.call("sendChatAction", chat_id=USER, action="typing")
    await expect(page.locator("#typing")).to_have_text("the bot is typing…")
    await bot.call(
        "answerCallbackQuery", callback_query_id=query["id"], text="Help is coming", show_alert=True
    )
    await bot.call(
        "editMessageText",
        chat_id=USER,
        message_id=hello["message_id"],
        text="<i>Edited</i> menu",
        parse_mode="HTML",
        reply_markup={"inline_keyboard": [[{"text": "Back", "callback_data": "back"}]]},
    )
    await bot.ack(update)
    alert = page.get_by_role("alertdialog")
    await expect(alert).to_contain_text("Help is coming")
    await expect(text.locator("i")).to_have_text("Edited")
    await expect(node.locator(".meta")).to_contain_text("edited")
    await expect(node.get_by_role("button", name="Back")).to_be_visible()
    await shot("alert-and-edit")
    await page.keyboard.press("Enter")
    await expect(alert).to_be_hidden()

    # Deletion.
    doomed = await bot.call("sendMessage", chat_id=USER, text="This will vanish")
    await expect(page.locator(f"#m-{doomed['message_id']}")).to_be_visible()
    await bot.call("deleteMessage", chat_id=USER, message_id=doomed["message_id"])
    await expect(page.locator(f"#m-{doomed['message_id']}")).to_have_count(0)

    # A one-time reply keyboard with a request_contact button.
    await bot.call(
        "sendMessage",
        chat_id=USER,
        text="Your phone, please",
        reply_markup={
            "keyboard": [[{"text": "Share my phone", "request_contact": True}], ["Type it"]],
            "one_time_keyboard": True,
            "resize_keyboard": True,
            "input_field_placeholder": "Phone number",
        },
    )
    keyboard = page.locator("#reply-keyboard")
    composer = page.get_by_role("textbox", name="Message")
    await expect(keyboard).to_be_visible()
    await expect(composer).to_have_attribute("placeholder", "Phone number")
    await shot("reply-keyboard")
    await keyboard.get_by_role("button", name="Type it").click()
    update = await bot.next_update()
    assert update["message"]["text"] == "Type it"
    await bot.ack(update)
    await expect(keyboard).to_be_hidden()  # one-time: folded after use, the toggle brings it back
    await page.get_by_role("button", name="Keyboard buttons").click()
    await keyboard.get_by_role("button", name="Share my phone").click()
    dialog = page.get_by_role("dialog", name="Share your phone number")
    await dialog.get_by_label("Phone number").fill("12")
    await dialog.get_by_role("button", name="Share").click()
    await expect(dialog.get_by_role("alert")).to_have_text("Type a valid phone number")
    await dialog.get_by_label("Phone number").fill("+86 138 0013 8000")
    await dialog.get_by_role("button", name="Share").click()
    update = await bot.next_update()
    contact = update["message"]["contact"]
    assert contact["phone_number"] == "+86 138 0013 8000" and contact["user_id"] == USER
    await bot.call("sendMessage", chat_id=USER, text="Thanks", reply_markup={"remove_keyboard": True})
    await bot.ack(update)
    await expect(page.locator("#messages .msg.user .contact-card")).to_contain_text("+86 138 0013 8000")
    await expect(page.get_by_role("button", name="Keyboard buttons")).to_be_hidden()

    # A photo from the bot; an SMS code taken from the inbox into the message box.
    photo = await bot.send_photo(USER, _jpeg(), "<b>Your</b> portrait")
    image = page.locator(f"#m-{photo['message_id']} img.media")
    await expect(image).to_be_visible()
    assert await image.evaluate("img => img.complete && img.naturalWidth") == 320
    sms = {"phone": "+8613800138000", "text": "Your code is 654321"}
    async with http.post(f"{sandbox}/sandbox/api/sms", data=json.dumps(sms)) as resp:
        assert resp.status == 200
    await page.get_by_role("button", name="Use code 654321").click()
    await expect(composer).to_have_value("654321")
    await composer.press("Enter")
    update = await bot.next_update()
    assert update["message"]["text"] == "654321"
    await bot.ack(update)
    await shot("photo-and-sms")

    # A video note from the (synthetic) webcam.
    await page.get_by_role("button", name="Record a video note").click()
    recorder = page.get_by_role("dialog", name="Record a video note")
    await expect(recorder.locator("#record-status")).to_have_text("Camera ready")
    await recorder.get_by_role("button", name="Start recording").click()
    await page.wait_for_timeout(1500)
    await shot("recording")
    await recorder.get_by_role("button", name="Stop recording").click()
    await recorder.get_by_role("button", name="Send").click()
    update = await bot.next_update()
    note = update["message"]["video_note"]
    assert note["file_size"] > 1000
    await bot.ack(update)
    await expect(page.locator("#messages .msg.user video.round-video")).to_have_count(1)
    await expect(composer).to_be_focused()

    # A phone-sized screen: the side panels become drawers, Escape closes them and focus goes back.
    await page.set_viewport_size({"width": 390, "height": 844})
    await shot("phone-layout")
    users = page.get_by_role("button", name="Users")
    await users.click()
    await expect(page.get_by_label("Pick a user")).to_be_focused()
    assert await page.evaluate(UNNAMED_CONTROLS) == []
    await shot("phone-users-drawer")
    await page.keyboard.press("Escape")
    await expect(users).to_be_focused()
    await expect(page.locator("#users-panel")).to_be_hidden()

    # A reset of the sandbox: both streams reconnect and the page shows the now empty chat and inbox.
    async with http.post(f"{sandbox}/sandbox/api/reset") as resp:
        assert resp.status == 200
    await expect(page.locator("#messages .msg")).to_have_count(0, timeout=20_000)
    await expect(page.get_by_role("button", name="Start /start")).to_be_visible()
    await expect(page.locator("#sms-list li")).to_have_count(0, timeout=20_000)
    await shot("after-reset")


async def test_opening_a_known_user_by_url_keeps_name_and_language(
    sandbox: str, http: aiohttp.ClientSession, page: Page
) -> None:
    from playwright.async_api import expect

    user, name = 31, "欧阳·Alexandra Konstantinopoulou-Smith"
    # The user is known to the sandbox (no bot answers: the send gives up after a second).
    await say_hi(http, sandbox, user, name)
    bot = ScriptedBot(http, sandbox)
    await bot.call("sandboxAck")
    await bot.next_update()  # the "hi" above
    await page.goto(f"{sandbox}/?user={user}")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await page.locator("#composer-text").fill("/start")
    await page.locator("#composer-text").press("Enter")
    message = (await bot.next_update())["message"]
    assert message["from"]["first_name"] == name and message["from"]["language_code"] == "en"
    # The picker shows the whole name (the option's text and its title).
    option = page.locator(f'#user-select option[value="{user}"]')
    assert name in (await option.text_content() or "") and name in (await option.get_attribute("title") or "")


async def test_emoji_render_in_colour(sandbox: str, http: aiohttp.ClientSession, page: Page) -> None:
    """The bot's buttons and texts use emoji (✅ 🗑 📷): the page's font stack finds a colour emoji
    font (Noto Color Emoji here, installed by .ci/run), so they are not tofu or grey outlines."""
    from playwright.async_api import expect

    user = 32
    await say_hi(http, sandbox, user, "Emoji")
    bot = ScriptedBot(http, sandbox)
    await page.goto(f"{sandbox}/?user={user}")
    # The page has loaded the chat (the user's own message is shown) before the bot answers: on a
    # loaded machine a message sent while the page was still connecting was looked for too early.
    await expect(page.locator("#messages .msg.user").last).to_contain_text("hi", timeout=15_000)
    await bot.call("sendMessage", chat_id=user, text="✅🗑📷✅🗑📷")
    bubble = page.locator("#messages .msg.bot").last
    await expect(bubble).to_contain_text("✅🗑📷", timeout=15_000)
    png_bytes = await bubble.locator(".text").first.screenshot()
    import numpy as np

    with Image.open(io.BytesIO(png_bytes)) as img:
        hsv = np.asarray(img.convert("RGB").convert("HSV"))
    colourful = int(((hsv[..., 1] > 120) & (hsv[..., 2] > 80)).sum())
    # A colour glyph fills a good part of its box with saturated pixels; monochrome text has none.
    assert colourful > 200, colourful


async def test_changes_while_the_page_loads_its_snapshot_are_kept(
    sandbox: str, http: aiohttp.ClientSession, page: Page
) -> None:
    """The page subscribes, then fetches the chat's snapshot. What the bot does between the server
    taking that snapshot and the page applying it arrives as events first: a reply (and its edit) must
    stay on screen, and a message the bot deleted in that gap must not come back from the snapshot.
    (扫一扫 sends `/start <token>` while the page is still connecting: on a loaded CI machine the
    bot's answer fell into this gap and vanished.)"""
    from playwright.async_api import Route, expect

    user = 33
    await say_hi(http, sandbox, user, "Gap")
    bot = ScriptedBot(http, sandbox)
    await bot.next_update()  # the "hi" above
    stale = await bot.call("sendMessage", chat_id=user, text="to be deleted")

    taken, release = asyncio.Event(), asyncio.Event()

    async def hold_snapshot(route: Route) -> None:
        response = await route.fetch()  # the server's snapshot, taken now
        taken.set()
        await release.wait()
        await route.fulfill(response=response)

    await page.route("**/sandbox/api/users/*/messages", hold_snapshot)
    await page.goto(f"{sandbox}/?user={user}&start=gap-token")
    update = await bot.next_update()
    assert update["message"]["text"] == "/start gap-token"
    await asyncio.wait_for(taken.wait(), 15)
    # In the gap: a reply, its edit, and the older message deleted.
    reply = await bot.call("sendMessage", chat_id=user, text="welcome")
    await bot.call("editMessageText", chat_id=user, message_id=reply["message_id"], text="welcome, edited")
    await bot.call("deleteMessage", chat_id=user, message_id=stale["message_id"])
    await asyncio.sleep(0.5)  # the events reach the page before the snapshot does
    release.set()

    bot_messages = page.locator("#messages .msg.bot")
    await expect(bot_messages).to_have_count(1)
    await expect(bot_messages.first).to_contain_text("welcome, edited")
    await expect(page.locator("#messages .msg.user")).to_have_count(2)  # "hi" and the /start
    await page.unroute("**/sandbox/api/users/*/messages")
