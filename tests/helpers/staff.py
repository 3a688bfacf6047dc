"""Helpers of the staff console's dialog tests: a taxpayer taken through collection into review."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiogram import Dispatcher
from aiogram.methods import SendMessage

from bot.config import Settings
from bot.ui import Function, Go
from tests.helpers.client import BotClient, Reply
from tests.helpers.factory import make_settings
from tests.helpers.fakes import FakeSms, FakeVerifier, back_reading, front_reading, valid_number, verdict
from tests.helpers.mocked_bot import MockedBot

ADMIN_ID = 900001


# Fixtures of a dialog test module that also drives the staff console: import both into it.
@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return make_settings(tmp_path, admin_ids=[ADMIN_ID], database_url=database_url)


@pytest.fixture
def admin(dp: Dispatcher, bot: MockedBot) -> BotClient:
    return BotClient(dp, bot, user_id=ADMIN_ID)


def text(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies)


async def press(client: BotClient, replies: list[Reply], label: str) -> list[Reply]:
    for reply in reversed(replies):
        for row in reply.buttons:
            for caption, data in row:
                if label in caption:
                    return await client.press(data)
    raise AssertionError(f"no button {label!r} in {[r.buttons for r in replies]}")


def sent_to(replies: list[Reply], chat_id: int) -> list[Reply]:
    return [r for r in replies if isinstance(r.method, SendMessage) and r.method.chat_id == chat_id]


async def collect_into_review(
    client: BotClient,
    verifier: FakeVerifier,
    sms: FakeSms,
    *,
    number: str | None = None,
    phone: str = "13800138000",
) -> None:
    """Runs 实名信息采集 with a face comparison near the threshold, so the case goes to review."""
    tag = str(client.user.id).encode()
    verifier.readings[b"front" + tag] = front_reading(number or valid_number())
    verifier.readings[b"back" + tag] = back_reading()
    verifier.verdicts[b"near" + tag] = verdict("review", ["face_match_uncertain"], distance=0.56)
    replies = await client.press(Go(func=Function.COLLECT).pack())
    replies = await press(client, replies, "身份证采集")
    replies = await client.send_photo(b"front" + tag)
    replies = await press(client, replies, "确定")
    replies = await client.send_photo(b"back" + tag)
    replies = await press(client, replies, "下一步")
    replies = await press(client, replies, "我已阅读并同意")
    await client.send(phone)
    replies = await client.send(sms.code_for(phone))
    replies = await press(client, replies, "我已阅读并同意")
    replies = await client.send_video(b"near" + tag)
    assert "审核" in text(replies), text(replies)


async def reject_next(admin: BotClient, reason: str) -> list[Reply]:
    """/review → 【不通过】 → the reason labelled ``reason``: what everyone was sent."""
    replies = await admin.send("/review")
    replies = await press(admin, replies, "不通过")
    return await press(admin, replies, reason)
