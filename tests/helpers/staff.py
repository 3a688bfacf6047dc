"""Helpers of the staff console's dialog tests: a taxpayer taken through collection into review."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.methods import SendMessage

from bot.config import Settings
from bot.domain.models import ReviewKind
from bot.storage.repositories import Repositories
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


async def grant(admin: BotClient, user_id: int, role: str = "reviewer") -> BotClient:
    """The admin grants ``role`` through the console; the staff member's client in the same chat room."""
    replies = await admin.send(f"/grant {user_id} {role}")
    assert "已授予" in text(replies)
    return BotClient(admin.dp, admin.bot, user_id=user_id)


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


async def collect_to_face(
    client: BotClient,
    verifier: FakeVerifier,
    sms: FakeSms,
    *,
    number: str | None = None,
    phone: str = "13800138000",
    by_contact: bool = False,
) -> list[Reply]:
    """Runs 实名信息采集 up to the liveness challenge, the phone proven by SMS code or, ``by_contact``,
    by sharing the account's own contact (a second code to the same account may be rate limited). The
    selfie ``b"near" + tag`` is then a face comparison near the threshold, ``b"selfie" + tag`` a pass
    (tag: the user id)."""
    tag = str(client.user.id).encode()
    verifier.readings[b"front" + tag] = front_reading(number or valid_number())
    verifier.readings[b"back" + tag] = back_reading()
    verifier.verdicts[b"near" + tag] = verdict("review", ["face_match_uncertain"], distance=0.56)
    verifier.verdicts[b"selfie" + tag] = verdict("pass")
    replies = await client.press(Go(func=Function.COLLECT).pack())
    replies = await press(client, replies, "身份证采集")
    replies = await client.send_photo(b"front" + tag)
    replies = await press(client, replies, "确定")
    replies = await client.send_photo(b"back" + tag)
    replies = await press(client, replies, "下一步")
    replies = await press(client, replies, "我已阅读并同意")
    await client.send(phone)
    replies = await (client.share_contact(phone) if by_contact else client.send(sms.code_for(phone)))
    return await press(client, replies, "我已阅读并同意")


async def collect_into_review(
    client: BotClient, verifier: FakeVerifier, sms: FakeSms, **options: Any
) -> None:
    """Runs 实名信息采集 (``options``: those of :func:`collect_to_face`) with a face comparison near the
    threshold, so the case goes to review."""
    await collect_to_face(client, verifier, sms, **options)
    replies = await client.send_video(b"near" + str(client.user.id).encode())
    assert "审核" in text(replies), text(replies)


async def open_case_meanwhile(
    repo: Repositories, user_id: int, kind: ReviewKind, flow: str, person_id: int | None = None
) -> None:
    """A case of ``flow`` for ``user_id`` opened behind a dialog's back (another chat of the account,
    two updates at once), after the dialog's entry found none."""
    await repo.review.open_case(
        kind,
        user_id,
        reasons=["face_match_uncertain"],
        media_ids=[],
        payload={"flow": flow},
        person_id=person_id,
    )


async def reject_next(admin: BotClient, reason: str) -> list[Reply]:
    """/review → 【不通过】 → the reason labelled ``reason``: what everyone was sent."""
    replies = await admin.send("/review")
    replies = await press(admin, replies, "不通过")
    return await press(admin, replies, reason)
