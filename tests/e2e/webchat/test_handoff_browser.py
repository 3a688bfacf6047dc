"""扫一扫 in headless Chromium, against the real bot and the real engines: the demo e-tax website shows a
QR code and a short code → the QR code (read from the page's pixels by OpenCV) is the deep link → the web
chat "scans" it for a simulated user → the bot shows the same short code → 实名信息采集 with the
composed card and the real selfie clip (challenge pinned to it, as test_collect_e2e.py does) → the
website shows "实名采集成功" with the result its backend verified. Screenshots go to test-artifacts/webchat/.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot.config import Settings
from tests.e2e import test_collect_e2e as collect
from tests.e2e.cards import SELFIE
from tests.e2e.handoff_env import Portal, decode_qr, free_port, portal, sandbox, sandbox_server
from tests.e2e.webchat.test_webchat_e2e import BOT_TIMEOUT_MS, PHONE, inline_button, upload_photo, wait_bot
from tests.helpers.factory import make_settings

if TYPE_CHECKING:
    from playwright.async_api import FilePayload, Page

    from tests.e2e.webchat.conftest import Screenshot

__all__ = ["portal", "sandbox", "sandbox_server"]

# The collection test's bot: real engines, the challenge pinned to the selfie clip.
running_bot = collect.running_bot

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def e2e_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, liveness_challenge="open_mouth,blink", handoff_port=free_port())


async def upload_video_note(page: Page, data: bytes) -> None:
    await page.get_by_role("button", name="发送照片、视频或文件").click()
    dialog = page.locator("#attach-dialog")
    payload: FilePayload = {"name": "selfie.webm", "mimeType": "video/webm", "buffer": data}
    await dialog.get_by_label("选择文件").set_input_files(files=payload)
    await dialog.get_by_role("radio", name="视频消息（圆形）").check()
    await dialog.get_by_role("button", name="发送").click()
    await dialog.wait_for(state="hidden")


async def test_website_qr_to_collection_in_the_browser(
    portal: Portal,
    card_photos: tuple[bytes, bytes, Any],
    testdata: Path,
    page: Page,
    shot: Screenshot,
) -> None:
    front, back, _ = card_photos
    website = page
    await website.goto(portal.sandbox + "/portal/")
    await website.get_by_role("button", name="获取二维码").click()
    qr = website.locator("#qr-image")
    await qr.wait_for()
    short_code = (await website.locator("#short-code").inner_text()).strip()
    assert re.fullmatch(r"[A-Z0-9]{4}", short_code)
    await website.get_by_text("等待扫码").wait_for(timeout=BOT_TIMEOUT_MS)
    await shot("website-qr")

    # The code as the page shows it: its pixels, decoded, are the deep link.
    link = decode_qr(await qr.screenshot())
    assert link == await qr.get_attribute("data-deep-link")
    match = re.fullmatch(r"https://t\.me/shiming_sandbox_bot\?start=([A-Za-z0-9_-]{1,64})", link)
    assert match, link

    # "扫一扫" in the web chat: the deep link opened for simulated user 611.
    chat = await website.context.new_page()
    await chat.goto(f"{portal.sandbox}/?start={match.group(1)}&user=611")
    confirm = await wait_bot(chat, "请核对网页上显示的验证码")
    assert short_code in await confirm.inner_text()  # the same code as on the website
    assert "start=" not in chat.url  # scanned once: a reload does not send it again
    await website.get_by_text("已扫码").wait_for(timeout=BOT_TIMEOUT_MS)
    await shot("website-scanned")
    await inline_button(chat, "确认，继续").click()

    # 实名信息采集, as test_webchat_e2e.py walks it, to the end.
    await inline_button(chat, "身份证采集").wait_for(timeout=BOT_TIMEOUT_MS)
    await inline_button(chat, "身份证采集").click()
    await wait_bot(chat, "人像面")
    await upload_photo(chat, front, "front.jpg")
    await wait_bot(chat, "人像面识别完成")
    await inline_button(chat, "确定").click()
    await upload_photo(chat, back, "back.jpg")
    await wait_bot(chat, "【信息核实】")
    await inline_button(chat, "下一步").click()
    await inline_button(chat, "我已阅读并同意").wait_for(timeout=BOT_TIMEOUT_MS)
    await inline_button(chat, "我已阅读并同意").click()
    await wait_bot(chat, "请输入您本人的手机号码")
    composer = chat.get_by_role("textbox", name="消息")
    await composer.fill(PHONE)
    await composer.press("Enter")
    sms = chat.locator("#sms-list .sms-item", has_text=PHONE).first
    await sms.wait_for(timeout=BOT_TIMEOUT_MS)
    found = re.search(r"(?<!\d)\d{6}(?!\d)", (await sms.inner_text()).replace(PHONE, ""))
    assert found
    await composer.fill(found.group(0))
    await composer.press("Enter")
    await wait_bot(chat, "验证成功")
    await inline_button(chat, "我已阅读并同意").wait_for(timeout=BOT_TIMEOUT_MS)
    await inline_button(chat, "我已阅读并同意").click()
    await wait_bot(chat, "按顺序")
    await upload_video_note(chat, (testdata / SELFIE).read_bytes())
    await wait_bot(chat, "采集成功")
    await wait_bot(chat, "已将结果告知")

    # The website learns it by itself (polling its backend, which checks the signature).
    status = website.locator("#status")
    await website.get_by_text("实名采集成功").wait_for(timeout=BOT_TIMEOUT_MS)
    assert (await status.inner_text()).strip() == "实名采集成功"
    assert "签名已验证" in await website.locator("#verified").inner_text()
    assert "*" in await website.locator("#result-fields").inner_text()  # masked, never in full
    await shot("website-done")
