"""The sandbox web chat (issue 9) in headless Chromium, against the real bot and the real engines.

A tester's walk: create a simulated user, /start, the menu, 实名信息采集 with a composed ID card (see
test_collect_e2e.py: a fictitious identity with a real recorded face) up to the phone step, then the SMS
code in the inbox beside the chat and the phone shared with a request_contact button. Screenshots of every
step go to test-artifacts/webchat/ (gitignored). Skips when Playwright or Chromium is missing.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e import test_collect_e2e as collect

if TYPE_CHECKING:
    from playwright.async_api import FilePayload, Locator, Page

    from tests.e2e.conftest import RunningBot
    from tests.e2e.webchat.conftest import Screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BOT_TIMEOUT_MS = 120_000  # OCR of a card on a loaded 2-core machine
PHONE = "13800138000"

# The collection test's bot (real engines from tests/e2e/conftest.py, challenge pinned to the selfie clip).
e2e_settings = collect.e2e_settings
running_bot = collect.running_bot


def bot_message(page: Page, text: str) -> Locator:
    return page.locator("#messages .msg.bot", has_text=text).last


async def wait_bot(page: Page, text: str) -> Locator:
    message = bot_message(page, text)
    await message.wait_for(timeout=BOT_TIMEOUT_MS)
    return message


def inline_button(page: Page, label: str) -> Locator:
    """The (first) inline button labelled `label` on the latest bot message that has one."""
    button = page.get_by_role("button", name=label)
    return page.locator("#messages .msg.bot").filter(has=button).last.get_by_role("button", name=label).first


async def upload_photo(page: Page, data: bytes, name: str) -> None:
    await page.get_by_role("button", name="发送照片、视频或文件").click()
    dialog = page.locator("#attach-dialog")
    payload: FilePayload = {"name": name, "mimeType": "image/jpeg", "buffer": data}
    await dialog.get_by_label("选择文件").set_input_files(files=payload)
    assert await dialog.get_by_role("radio", name="照片").is_checked()  # chosen from the file's type
    await dialog.get_by_role("button", name="发送").click()
    await dialog.wait_for(state="hidden")


async def test_collection_up_to_phone_in_the_browser(
    running_bot: RunningBot, sandbox: str, card_photos: tuple[bytes, bytes, Any], page: Page, shot: Screenshot
) -> None:
    front, back, _ = card_photos
    await page.goto(sandbox + "/")

    # No user yet: the picker asks for one.
    await page.get_by_label("用户 ID").fill("601")
    await page.get_by_label("名字").fill("网页测试")
    await page.get_by_role("radio", name="中文 (zh-hans)").check()
    await shot("pick-user")
    await page.get_by_role("button", name="进入聊天").click()
    composer = page.get_by_role("textbox", name="消息")
    await page.get_by_role("button", name="开始 /start").wait_for()
    assert await composer.evaluate("el => el === document.activeElement")

    # Typing, then the inline buttons of the menu.
    await composer.fill("/start")
    await composer.press("Enter")
    await page.locator("#messages .msg.user", has_text="/start").wait_for()
    await inline_button(page, "实名信息采集").wait_for(timeout=BOT_TIMEOUT_MS)
    await shot("home")
    await inline_button(page, "实名信息采集").click()
    await inline_button(page, "开始").wait_for(timeout=BOT_TIMEOUT_MS)
    await inline_button(page, "开始").click()
    await inline_button(page, "身份证采集").wait_for(timeout=BOT_TIMEOUT_MS)
    await shot("choose-document")
    await inline_button(page, "身份证采集").click()
    await wait_bot(page, "人像面")

    # The card: front (the portrait comes back as a photo), confirm, back.
    await upload_photo(page, front, "front.jpg")
    await page.locator("#messages .msg.user img.media").first.wait_for()
    await wait_bot(page, "人像面识别完成")
    await page.locator("#messages .msg.bot img.media").last.wait_for()
    assert await page.locator("#messages .msg.bot img.media").count() >= 1
    await shot("front-read")
    await inline_button(page, "确定").click()
    await upload_photo(page, back, "back.jpg")
    verify = await wait_bot(page, "【信息核实】")
    assert "⚠️" not in await verify.inner_text()
    await shot("verify")

    # Keyboard only: focus the inline button and press Enter.
    next_button = inline_button(page, "下一步")
    await next_button.focus()
    await page.keyboard.press("Enter")
    await inline_button(page, "我已阅读并同意").wait_for(timeout=BOT_TIMEOUT_MS)
    await shot("consent")
    await inline_button(page, "我已阅读并同意").click()
    await wait_bot(page, "请输入您本人的手机号码")
    await shot("phone-prompt")

    # The phone step: the code arrives in the SMS inbox beside the chat; the reply keyboard's
    # request_contact button shares the typed number instead.
    await composer.fill(PHONE)
    await composer.press("Enter")
    sms = page.locator("#sms-list .sms-item", has_text=PHONE).first
    await sms.wait_for(timeout=BOT_TIMEOUT_MS)
    assert re.search(r"\d{6}", await sms.inner_text())
    await wait_bot(page, "验证码已发送")
    share = page.locator("#reply-keyboard").get_by_role("button", name="分享我的手机号")
    await share.wait_for(timeout=BOT_TIMEOUT_MS)
    await shot("sms-and-share-button")
    await share.click()
    contact = page.locator("#contact-dialog")
    await contact.get_by_label("手机号码").fill(PHONE)
    await shot("share-contact")
    await contact.get_by_role("button", name="分享").click()
    await page.locator("#messages .msg.user", has_text=PHONE).last.wait_for()
    await wait_bot(page, "验证成功")
    await page.locator("#reply-keyboard").wait_for(state="hidden")  # ReplyKeyboardRemove
    await shot("phone-verified")

    # A phone-sized screen: one column, the SMS inbox behind a button.
    await page.set_viewport_size({"width": 390, "height": 844})
    await shot("phone-layout")
    sms_button = page.get_by_role("button", name="短信")
    await sms_button.click()
    await page.locator("#sms-panel").get_by_role("heading", name="短信收件箱").wait_for()
    await shot("phone-sms-inbox")
    await page.keyboard.press("Escape")
    await page.locator("#sms-panel").wait_for(state="hidden")
    assert await sms_button.evaluate("el => el === document.activeElement")
