"""Dates decided by the China calendar and times shown in China time, on a pinned clock.

The services' clock is a FixedClock (the `clock` fixture overridden here): every decision of a step
(card expiry, the login reminder, an SMS code's 5 minutes, /stats "today") reads it, so the boundary
minutes can be pinned: 23:59 and 00:00 in Beijing are 15:59 and 16:00 UTC of the day before.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from aiogram import Dispatcher
from aiogram.methods import SendDocument
from aiogram.types import BufferedInputFile

from bot.domain.clock import FixedClock
from bot.domain.outcomes import EventOutcome
from bot.handlers.staff.audit_export import AT_COLUMN
from bot.services import Services
from bot.ui import Function, Go
from tests.helpers.client import BotClient
from tests.helpers.fakes import FakeSms, FakeVerifier, back_reading, front_reading, valid_number
from tests.helpers.mocked_bot import MockedBot
from tests.helpers.register import WANG, collected_person
from tests.helpers.staff import admin, collect_into_review, collect_to_face, press, settings, text

__all__ = ["admin", "settings"]

LAST_MINUTE = datetime(2026, 12, 1, 15, 59, tzinfo=UTC)  # 2026-12-01 23:59 in Beijing
MIDNIGHT = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # 2026-12-02 00:00 in Beijing
LAST_DAY = date(2026, 12, 1)
EXPIRED = "身份证已过期"
REMINDER = "身份证件过期"
PHONE = "13800138000"

# Born 1995-01-08: 21 at issue, so a 10-year card, 2016-12-01 to 2026-12-01.
BORN = date(1995, 1, 8)
NUMBER = valid_number("11010119950108123")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(LAST_MINUTE)


async def _to_verify_screen(client: BotClient, verifier: FakeVerifier) -> str:
    verifier.readings[b"front"] = front_reading(NUMBER, birth_date=BORN)
    verifier.readings[b"back"] = back_reading(valid_from=date(2016, 12, 1), valid_to=LAST_DAY)
    replies = await client.press(Go(func=Function.COLLECT).pack())
    replies = await press(client, replies, "身份证采集")
    replies = await client.send_photo(b"front")
    replies = await press(client, replies, "确定")
    replies = await client.send_photo(b"back")
    assert "【信息核实】" in text(replies), text(replies)
    return text(replies)


@pytest.mark.parametrize(
    ("moment", "expired"),
    [
        (datetime(2026, 11, 30, 16, 0, tzinfo=UTC), False),  # 00:00 of its last day
        (LAST_MINUTE, False),  # 23:59 of its last day
        (MIDNIGHT, True),  # 00:00 of the day after
    ],
)
async def test_a_card_is_valid_through_the_whole_of_its_last_day_in_beijing(
    client: BotClient, verifier: FakeVerifier, clock: FixedClock, moment: datetime, expired: bool
) -> None:
    clock.moment = moment
    screen = await _to_verify_screen(client, verifier)
    assert (EXPIRED in screen) is expired, screen


async def test_the_expiry_reminder_starts_at_beijing_midnight(
    client: BotClient, services: Services, clock: FixedClock
) -> None:
    await collected_person(services.repositories(), client.user.id, WANG, valid_to=LAST_DAY)
    assert REMINDER not in text(await client.send("/start"))
    clock.advance(minutes=1)
    assert REMINDER in text(await client.send("/start"))


@pytest.mark.parametrize(("seconds", "accepted"), [(299, True), (300, False)])
async def test_an_sms_code_lasts_five_minutes_of_the_services_clock(
    client: BotClient, verifier: FakeVerifier, sms: FakeSms, clock: FixedClock, seconds: int, accepted: bool
) -> None:
    verifier.readings[b"front"] = front_reading()
    verifier.readings[b"back"] = back_reading()
    replies = await client.press(Go(func=Function.COLLECT).pack())
    replies = await press(client, replies, "身份证采集")
    replies = await client.send_photo(b"front")
    replies = await press(client, replies, "确定")
    replies = await client.send_photo(b"back")
    replies = await press(client, replies, "下一步")
    await press(client, replies, "我已阅读并同意")
    assert "验证码已发送" in text(await client.send(PHONE))
    clock.advance(seconds=seconds)
    replies = await client.send(sms.code_for(PHONE))
    assert ("验证码已过期" not in text(replies)) is accepted, text(replies)
    assert ("《人脸识别服务协议》" in text(replies)) is accepted, text(replies)


async def test_stats_today_is_the_beijing_day(
    admin: BotClient, services: Services, clock: FixedClock
) -> None:
    repo = services.repositories()
    await repo.events.record("collect", "start", EventOutcome.STARTED, user_id=6001)  # 23:59, Dec 1
    assert "开始 1" in text(await admin.send("/stats today"))
    clock.advance(minutes=1)  # 00:00, Dec 2: a new day, nothing yet
    await repo.events.record("collect", "start", EventOutcome.STARTED, user_id=6002)
    await repo.events.record("collect", "start", EventOutcome.STARTED, user_id=6003)
    body = text(await admin.send("/stats today"))
    assert "2026-12-02" in body and "开始 2" in body, body
    assert "开始 3" in text(await admin.send("/stats 2d"))


async def test_times_read_in_china_time_with_the_zone(
    admin: BotClient,
    verifier: FakeVerifier,
    sms: FakeSms,
    dp: Dispatcher,
    bot: MockedBot,
    clock: FixedClock,
) -> None:
    clock.moment = datetime(2026, 12, 1, 18, 22, 41, tzinfo=UTC)  # 2026-12-02 02:22 in Beijing
    taxpayer = BotClient(dp, bot, user_id=5001)
    await collect_into_review(taxpayer, verifier, sms)
    review = text(await admin.send("/review"))
    assert "2026-12-02 02:22（北京时间）" in review, review
    await press(admin, await press(admin, await admin.send("/review"), "通过"), "确认通过")

    mine = text(await taxpayer.send("/mydata"))
    assert "2026-12-02 02:22（北京时间）" in mine and "UTC" not in mine, mine
    person = text(await admin.send(f"/person {valid_number()}"))
    assert "2026-12-02 02:22（北京时间）" in person and "UTC" not in person, person
    assert "最近的操作记录（北京时间）" in person

    before = len(bot.recorder.requests)
    await admin.send("/audit today")  # the Beijing day 2026-12-02
    (document,) = [m for m in bot.recorder.requests[before:] if isinstance(m, SendDocument)]
    assert isinstance(document.document, BufferedInputFile)
    rows = list(csv.DictReader(io.StringIO(document.document.data.decode("utf-8-sig"))))
    assert rows and all(r[AT_COLUMN] == "2026-12-02T02:22:41+08:00" for r in rows), rows


async def test_english_reads_china_time(
    verifier: FakeVerifier, sms: FakeSms, dp: Dispatcher, bot: MockedBot, clock: FixedClock
) -> None:
    clock.moment = datetime(2026, 12, 1, 18, 22, 41, tzinfo=UTC)
    taxpayer = BotClient(dp, bot, user_id=5002)
    await collect_to_face(taxpayer, verifier, sms)
    await taxpayer.send_video(b"selfie5002")
    english = BotClient(dp, bot, user_id=5002, language_code="en")
    mine = text(await english.send("/mydata"))
    assert "2026-12-02 02:22 (China time)" in mine and "UTC" not in mine, mine
