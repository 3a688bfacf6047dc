"""The lasting face pause (issue 16, item 4) through the real dispatcher.

After repeated failed selfies the pause belongs to the person (the document's blind index and the
face) and to the Telegram account: a new dialog, a restarted bot, another account with the same
document, or another document with the same face all meet it; each pause is longer than the one
before; staff see it in /person and may lift it (audited), after which the person can try again.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from aiogram import Dispatcher

from bot.app import create_dispatcher
from bot.config import Settings
from bot.domain.clock import Clock, FixedClock
from bot.domain.face_pause import PausePolicy
from bot.services import Services
from bot.storage.repositories import Repositories
from bot.ui import Function, Go
from bot.verification.ids import DocumentType
from tests.helpers.client import BotClient, Reply
from tests.helpers.fakes import (
    ENCODING,
    OTHER_ENCODING,
    FakeSms,
    FakeVerifier,
    back_reading,
    front_reading,
    valid_number,
    verdict,
)
from tests.helpers.mocked_bot import MockedBot
from tests.helpers.staff import ADMIN_ID, admin, press, settings, text

__all__ = ["admin", "clock", "settings"]

START = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
POLICY = PausePolicy(
    limit=3,
    window=timedelta(hours=24),
    base=timedelta(minutes=30),
    cap=timedelta(days=1),
    forget=timedelta(days=30),
)
OTHER_NUMBER = valid_number("11010119900307125")


@pytest.fixture
def clock() -> Clock:
    return FixedClock(START)


def repos(services: Services) -> Repositories:
    return services.repositories()


async def to_face(client: BotClient, verifier: FakeVerifier, sms: FakeSms, number: str) -> list[Reply]:
    """实名信息采集 up to the face step: the replies once the phone is proven (the face agreement, or
    the pause)."""
    tag = str(client.user.id).encode() + number.encode()
    verifier.readings[b"front" + tag] = front_reading(number)
    verifier.readings[b"back" + tag] = back_reading()
    replies = await client.send("/start")
    replies = await client.press(Go(func=Function.COLLECT).pack())
    replies = await press(client, replies, "身份证采集")
    replies = await client.send_photo(b"front" + tag)
    replies = await press(client, replies, "确定")
    replies = await client.send_photo(b"back" + tag)
    replies = await press(client, replies, "下一步")
    replies = await press(client, replies, "我已阅读并同意")
    phone = "1380013" + str(client.user.id)[-4:]
    await client.send(phone)
    # the account's own contact proves the number (a second code within minutes is rate limited)
    return await client.share_contact(phone)


async def fail_selfies(client: BotClient, verifier: FakeVerifier, n: int, *, encoding: bool = False) -> str:
    """``n`` failed selfies (new recordings each time); ``encoding``: the face is seen (a mismatch)."""
    replies: list[Reply] = []
    for i in range(n):
        video = f"bad-{client.user.id}-{i}-{len(verifier.calls)}".encode()
        failed = verdict("fail", ["face_mismatch"])
        verifier.verdicts[video] = replace(failed, live_encoding=ENCODING) if encoding else failed
        replies = await client.send_video(video)
    return text(replies)


async def test_three_failures_pause_survives_new_dialog_and_restart(
    client: BotClient,
    verifier: FakeVerifier,
    sms: FakeSms,
    services: Services,
    bot: MockedBot,
    settings: Settings,
) -> None:
    replies = await to_face(client, verifier, sms, valid_number())
    replies = await press(client, replies, "我已阅读并同意")
    said = await fail_selfies(client, verifier, 1)
    assert "未通过" in said and "还可以再试 2 次" in said
    said = await fail_selfies(client, verifier, 2)
    assert "已暂停" in said and "30 分钟" in said
    # /start and a new collection: the face step is refused, the dialog ends
    replies = await to_face(client, verifier, sms, valid_number())
    assert "已暂停" in text(replies) and "《人脸识别服务协议》" not in text(replies)
    # the bot restarted: a new dispatcher over the same database
    restarted = BotClient(create_dispatcher(settings, services), bot)
    replies = await to_face(restarted, verifier, sms, valid_number())
    assert "已暂停" in text(replies)
    events = await repos(services).events.between(START.replace(hour=0), START.replace(hour=23))
    reasons = [e.reason_code for e in events if e.step == "face"]
    assert reasons.count("face_mismatch") == 3 and "face_paused" in reasons


async def test_new_account_with_the_same_document_is_paused(
    client: BotClient, dp: Dispatcher, bot: MockedBot, verifier: FakeVerifier, sms: FakeSms
) -> None:
    replies = await to_face(client, verifier, sms, valid_number())
    await press(client, replies, "我已阅读并同意")
    assert "已暂停" in await fail_selfies(client, verifier, 3)
    second = BotClient(dp, bot, user_id=1002)
    replies = await to_face(second, verifier, sms, valid_number())
    assert "已暂停" in text(replies)


async def test_new_account_and_document_with_the_same_face_is_paused(
    client: BotClient, dp: Dispatcher, bot: MockedBot, verifier: FakeVerifier, sms: FakeSms
) -> None:
    replies = await to_face(client, verifier, sms, valid_number())
    await press(client, replies, "我已阅读并同意")
    assert "已暂停" in await fail_selfies(client, verifier, 3, encoding=True)
    third = BotClient(dp, bot, user_id=1003)
    replies = await to_face(third, verifier, sms, OTHER_NUMBER)
    replies = await press(third, replies, "我已阅读并同意")
    verifier.verdicts[b"same face"] = verdict("pass", encoding=ENCODING)
    replies = await third.send_video(b"same face")
    assert "已暂停" in text(replies) and "采集成功" not in text(replies)
    # another face on that account is not concerned
    fourth = BotClient(dp, bot, user_id=1004)
    replies = await to_face(fourth, verifier, sms, valid_number("11010119900307127"))
    replies = await press(fourth, replies, "我已阅读并同意")
    verifier.verdicts[b"other face"] = verdict("pass", encoding=OTHER_ENCODING)
    assert "采集成功" in text(await fourth.send_video(b"other face"))


async def test_each_pause_is_longer(
    client: BotClient, verifier: FakeVerifier, sms: FakeSms, clock: FixedClock
) -> None:
    replies = await to_face(client, verifier, sms, valid_number())
    await press(client, replies, "我已阅读并同意")
    assert "30 分钟" in await fail_selfies(client, verifier, 3)
    clock.advance(minutes=31)
    replies = await to_face(client, verifier, sms, valid_number())
    await press(client, replies, "我已阅读并同意")
    assert "60 分钟" in await fail_selfies(client, verifier, 3)


async def test_staff_see_and_lift_the_pause_then_the_person_can_try(
    client: BotClient,
    admin: BotClient,
    verifier: FakeVerifier,
    sms: FakeSms,
    services: Services,
) -> None:
    replies = await to_face(client, verifier, sms, valid_number())
    await press(client, replies, "我已阅读并同意")
    assert "已暂停" in await fail_selfies(client, verifier, 3)
    replies = await admin.send(f"/person {valid_number()}")
    assert "人脸识别暂停" in text(replies) and "暂停至" in text(replies)
    replies = await press(admin, replies, "解除人脸识别暂停")
    assert "已解除" in text(replies)
    repo = repos(services)
    keys = [
        repo.face_pauses.user_key(client.user.id),
        repo.face_pauses.document_key(DocumentType.RESIDENT_ID, valid_number()),
    ]
    assert await repo.face_pauses.paused_until(keys) is None
    entries = await repo.audit.between(START.replace(hour=0), START.replace(hour=23))
    assert any(e.action == "face_pause.lift" and e.actor_user_id == ADMIN_ID for e in entries)
    # the person tries again: the face step is open
    replies = await to_face(client, verifier, sms, valid_number())
    assert "《人脸识别服务协议》" in text(replies)


async def test_staff_lift_on_a_collected_person(
    client: BotClient, admin: BotClient, verifier: FakeVerifier, sms: FakeSms, services: Services
) -> None:
    """A collected person's pause (e.g. after failed step-ups) is shown on their record and lifted."""
    replies = await to_face(client, verifier, sms, valid_number())
    replies = await press(client, replies, "我已阅读并同意")
    verifier.verdicts[b"good"] = verdict("pass")
    assert "采集成功" in text(await client.send_video(b"good"))
    repo = repos(services)
    pauses = repo.face_pauses
    keys = [pauses.user_key(client.user.id), pauses.document_key(DocumentType.RESIDENT_ID, valid_number())]
    for _ in range(3):
        await pauses.fail(keys, POLICY, doc_key=keys[1])
    replies = await admin.send(f"/person {valid_number()}")
    assert "暂停至" in text(replies)
    replies = await press(admin, replies, "解除人脸识别暂停")
    assert await pauses.paused_until(keys) is None
    person = await repo.persons.find_by_document(DocumentType.RESIDENT_ID, valid_number())
    assert person is not None
    trail = await repo.audit.for_subject("person", person.id, limit=50)
    assert any(e.action == "person.face_pause.lift" for e in trail)
