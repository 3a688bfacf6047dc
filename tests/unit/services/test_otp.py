from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from bot.domain.phone import InvalidPhoneNumber
from bot.integrations.sms import SmsError
from bot.services.otp import OtpService, RateLimit, SendStatus, VerifyStatus
from bot.storage.db import SqliteDatabase as Database

PHONE = "13800138000"
SECRET = b"s" * 32


class FakeSms:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.fail = False

    async def send(self, phone: str, text: str) -> None:
        if self.fail:
            raise SmsError("down")
        self.sent.append((phone, text))

    async def close(self) -> None:
        return None

    def last_code(self) -> str:
        match = re.search(r"\d{6}", self.sent[-1][1])
        assert match is not None
        return match.group(0)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def text_for(code: str) -> str:
    return f"您的验证码是 {code}，5分钟内有效。"


@pytest_asyncio.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "otp.sqlite3")
    yield database
    await database.close()


@pytest.fixture
def sms() -> FakeSms:
    return FakeSms()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def otp(db: Database, sms: FakeSms, clock: Clock) -> OtpService:
    return OtpService(db, sms, SECRET, clock=clock)


async def test_send_and_verify(otp: OtpService, sms: FakeSms, db: Database, clock: Clock) -> None:
    result = await otp.send_code(1, "+86 138-0013-8000", text_for)
    assert result.sent and result.expires_at == clock.now + timedelta(minutes=5)
    assert sms.sent[0][0] == PHONE and sms.sent[0][1].startswith("您的验证码是")
    code = sms.last_code()
    async with db.read() as conn:
        rows = [tuple(r) for r in await (await conn.execute("SELECT * FROM otp_codes")).fetchall()]
    assert code not in repr(rows) and PHONE not in repr(rows)
    assert (await otp.verify(1, PHONE, f" {code} ")).ok
    assert (await otp.verify(1, PHONE, code)).status is VerifyStatus.NO_CODE  # used up


async def test_code_is_bound_to_user_and_phone(otp: OtpService, sms: FakeSms) -> None:
    await otp.send_code(1, PHONE, text_for)
    code = sms.last_code()
    assert (await otp.verify(2, PHONE, code)).status is VerifyStatus.NO_CODE
    assert (await otp.verify(1, "13900139000", code)).status is VerifyStatus.NO_CODE
    assert (await otp.verify(1, "garbage", code)).status is VerifyStatus.NO_CODE
    assert (await otp.verify(1, PHONE, code)).ok


async def test_wrong_tries_then_locked(otp: OtpService, sms: FakeSms) -> None:
    await otp.send_code(1, PHONE, text_for)
    code = sms.last_code()
    wrong = "000000" if code != "000000" else "111111"
    for left in (4, 3, 2, 1):
        result = await otp.verify(1, PHONE, wrong)
        assert result.status is VerifyStatus.WRONG and result.tries_left == left
    assert (await otp.verify(1, PHONE, wrong)).status is VerifyStatus.TOO_MANY_TRIES
    assert (await otp.verify(1, PHONE, code)).status is VerifyStatus.TOO_MANY_TRIES  # even the right one


async def test_expiry(otp: OtpService, sms: FakeSms, clock: Clock) -> None:
    await otp.send_code(1, PHONE, text_for)
    clock.advance(minutes=5)
    assert (await otp.verify(1, PHONE, sms.last_code())).status is VerifyStatus.EXPIRED


async def test_no_code(otp: OtpService) -> None:
    assert (await otp.verify(1, PHONE, "123456")).status is VerifyStatus.NO_CODE


async def test_newer_code_replaces_older(otp: OtpService, sms: FakeSms, clock: Clock) -> None:
    await otp.send_code(1, PHONE, text_for)
    first = sms.last_code()
    clock.advance(minutes=1)
    await otp.send_code(1, PHONE, text_for)
    second = sms.last_code()
    if first != second:
        assert (await otp.verify(1, PHONE, first)).status is VerifyStatus.WRONG
    assert (await otp.verify(1, PHONE, second)).ok


async def test_one_send_a_minute_per_phone_and_per_user(otp: OtpService, clock: Clock) -> None:
    start = clock.now
    assert (await otp.send_code(1, PHONE, text_for)).sent
    clock.advance(seconds=20)
    same_user = await otp.send_code(1, "13900139000", text_for)
    assert same_user.status is SendStatus.RATE_LIMITED and same_user.limit is RateLimit.USER_MINUTE
    assert same_user.retry_at == start + timedelta(minutes=1)
    assert same_user.retry_after(clock.now) == timedelta(seconds=40)
    same_phone = await otp.send_code(2, PHONE, text_for)
    assert same_phone.status is SendStatus.RATE_LIMITED and same_phone.limit is RateLimit.PHONE_MINUTE
    clock.advance(seconds=40)
    assert (await otp.send_code(2, PHONE, text_for)).sent


async def test_ten_a_day(otp: OtpService, clock: Clock) -> None:
    start = clock.now
    for _ in range(10):
        assert (await otp.send_code(1, PHONE, text_for)).sent
        clock.advance(minutes=2)
    by_user = await otp.send_code(1, "13900139000", text_for)
    assert by_user.limit is RateLimit.USER_DAY and by_user.retry_at == start + timedelta(days=1)
    by_phone = await otp.send_code(2, PHONE, text_for)
    assert by_phone.limit is RateLimit.PHONE_DAY
    clock.now = start + timedelta(days=1)
    assert (await otp.send_code(2, PHONE, text_for)).sent  # the first send left the window


async def test_failed_sms_does_not_use_the_quota(otp: OtpService, sms: FakeSms) -> None:
    sms.fail = True
    assert (await otp.send_code(1, PHONE, text_for)).status is SendStatus.SMS_FAILED
    sms.fail = False
    assert (await otp.send_code(1, PHONE, text_for)).sent


async def test_concurrent_sends_cannot_both_pass(otp: OtpService, sms: FakeSms) -> None:
    results = await asyncio.gather(*(otp.send_code(1, PHONE, text_for) for _ in range(5)))
    assert sum(r.sent for r in results) == 1 and len(sms.sent) == 1


async def test_invalid_phone(otp: OtpService) -> None:
    with pytest.raises(InvalidPhoneNumber):
        await otp.send_code(1, "12345", text_for)


async def test_prune(otp: OtpService, clock: Clock) -> None:
    await otp.send_code(1, PHONE, text_for)
    clock.advance(days=3)
    assert await otp.prune() == 1


def test_short_secret_refused(db: Database, sms: FakeSms) -> None:
    with pytest.raises(ValueError):
        OtpService(db, sms, b"short")
