"""Abuse (issue 8 §3): per-user throttling of updates and of expensive steps, the queue position shown
while verifications wait, OTP brute force stopped, document numbers not enumerable."""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiogram import Dispatcher

from bot.middlewares import ThrottlingMiddleware
from bot.services import Services
from bot.services.otp import OtpService, VerifyStatus
from bot.storage.db import SqliteDatabase as Database
from tests.hardening.harness import (
    HostileClient,
    Identity,
    Walk,
    current,
    load_permit,
    script,
    text,
    walk_until,
)
from tests.helpers.fakes import FakeSms, FakeVerifier
from tests.helpers.mocked_bot import MockedBot


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle_of(dp: Dispatcher) -> ThrottlingMiddleware:
    found = [m for m in dp.update.outer_middleware._middlewares if isinstance(m, ThrottlingMiddleware)]
    assert len(found) == 1
    return found[0]


@pytest.fixture
def throttle_clock(dp: Dispatcher) -> Clock:
    """The throttle's monotonic clock (not the services' wall clock, the ``clock`` fixture)."""
    clock = Clock()
    middleware = throttle_of(dp)
    middleware.updates.clock = clock
    middleware.media.clock = clock
    return clock


# --- throttling ---------------------------------------------------------------------------------------


async def test_a_flood_of_messages_is_throttled_with_one_notice(
    client: HostileClient, services: Services, throttle_clock: Clock
) -> None:
    burst = services.settings.throttle_burst
    notice = services.catalog.render("zh_CN", "throttle.messages", seconds=1)
    answered, notices, silent = 0, 0, 0
    for i in range(burst + 20):
        replies = await client.send(f"刷屏 {i}")
        if notice in text(replies):
            notices += 1
        elif replies:
            answered += 1
        else:
            silent += 1
    assert (answered, notices, silent) == (burst, 1, 19)
    throttle_clock.now += 1 / services.settings.throttle_rate  # one token back
    assert "没有看懂" in text(await client.send("你好"))


async def test_throttled_button_presses_get_an_alert(
    client: HostileClient, services: Services, throttle_clock: Clock
) -> None:
    for _ in range(services.settings.throttle_burst):
        await client.press("d:zz:")
    replies = await client.press("d:zz:")
    assert "过于频繁" in text(replies)
    replies = await client.press("d:zz:")  # dropped, but the spinner is still ended
    assert [r.method.__class__.__name__ for r in replies] == ["AnswerCallbackQuery"]


async def test_expensive_uploads_have_their_own_limit(
    client: HostileClient,
    dp: Dispatcher,
    verifier: FakeVerifier,
    sms: FakeSms,
    services: Services,
    throttle_clock: Clock,
) -> None:
    ident = Identity(1, "id")
    script(verifier, ident)
    await walk_until(Walk(client), dp, ident, sms, "CardSG:front", {})
    before = len([c for c in verifier.calls if c[0] == "read"])
    media_burst = services.settings.throttle_media_burst
    notices = 0
    for _ in range(media_burst + 5):
        replies = await client.send_photo(b"blurry-photo")
        notices += "上传照片或视频过于频繁" in text(replies)
        throttle_clock.now += 0.6  # slower than the message limit, faster than the media limit
    reads = len([c for c in verifier.calls if c[0] == "read"]) - before
    # Each read costs seconds of a worker; the limit holds them to the burst (plus the refill).
    refill = (media_burst + 5) * 0.6 * services.settings.throttle_media_per_minute / 60
    assert reads <= media_burst + int(refill) + 1
    assert notices == 1


async def test_queue_position_is_shown_while_verifications_wait(
    client: HostileClient, dp: Dispatcher, verifier: FakeVerifier, sms: FakeSms
) -> None:
    ident = Identity(2, "id")
    script(verifier, ident)
    await walk_until(Walk(client), dp, ident, sms, "CardSG:front", {})
    verifier.waiting = 7
    replies = await client.send_photo(ident.upload("front"))
    assert "前面还有 7 位" in text(replies)


# --- OTP brute force ------------------------------------------------------------------------------------


async def test_otp_brute_force_in_the_dialog_is_stopped(
    client: HostileClient, dp: Dispatcher, bot: MockedBot, verifier: FakeVerifier, sms: FakeSms
) -> None:
    ident = Identity(3, "id")
    script(verifier, ident)
    walk = Walk(client)
    await walk_until(walk, dp, ident, sms, "PhoneSG:code", {})
    right = sms.code_for(ident.phone)
    wrong = [f"{(int(right) + k) % 1_000_000:06d}" for k in range(1, 6)]
    for guess in wrong:
        await client.send(guess)
    replies = await client.send(right)  # the right code, after five wrong ones: refused
    assert "验证成功" not in text(replies)
    assert (await current(dp, bot, client.user.id))[0] == "PhoneSG:code"
    replies = walk.note(replies)
    replies = await walk.press("重新发送")  # and no new code within the minute
    assert len([s for s in sms.sent if s[0] == ident.phone]) == 1


async def test_otp_guesses_per_phone_per_day_are_bounded(tmp_path: Path) -> None:
    """A day of attacking one phone with every allowed send: at most sends × tries guesses."""
    db = await Database.open(tmp_path / "otp.sqlite3")

    class Sms:
        async def send(self, phone: str, text: str) -> None:
            pass

        async def close(self) -> None:
            pass

    now = [datetime(2026, 11, 27, tzinfo=UTC)]
    otp = OtpService(db, Sms(), b"k" * 32, clock=lambda: now[0])
    guesses, day_end = 0, now[0] + timedelta(days=1)
    try:
        while now[0] < day_end:
            if (await otp.send_code(1, "13800138000", lambda c: c)).sent:
                for k in range(20):
                    result = await otp.verify(1, "13800138000", f"{k:06d}x")
                    if result.status is VerifyStatus.TOO_MANY_TRIES:
                        break
                    guesses += 1
            now[0] += timedelta(seconds=61)
    finally:
        await db.close()
    assert guesses <= 10 * 5  # 10 sends a day × 5 tries: 50 of 1,000,000 codes, p = 5e-5 a day


# --- enumeration ------------------------------------------------------------------------------------------


@pytest.mark.slow
async def test_document_numbers_cannot_be_enumerated_in_collection(
    dp: Dispatcher, bot: MockedBot, verifier: FakeVerifier, sms: FakeSms, services: Services
) -> None:
    """Typing a permit number gives the same answer, in the same time, whether it is collected or not."""
    collected = Identity(10, "other")
    await load_permit(services, collected)
    owner = HostileClient(dp, bot, user_id=9101)
    script(verifier, collected)
    walk = Walk(owner)
    await walk_until(walk, dp, collected, sms, "CollectSG:other_field", {})
    end = await walk_until(walk, dp, collected, sms, None, {})
    assert "采集成功" in text(end), text(end)

    timings: dict[str, list[float]] = {"collected": [], "fresh": []}
    shown: dict[str, set[str]] = {"collected": set(), "fresh": set()}
    for i in range(30):
        for kind, number in (("collected", collected.permit), ("fresh", f"H{20_000_000 + i:08d}")):
            prober = HostileClient(dp, bot, user_id=9200 + 2 * i + (kind == "fresh"))
            probe = Identity(100 + i, "other")
            pwalk = Walk(prober)
            await walk_until(pwalk, dp, probe, sms, "CollectSG:other_field", {})
            await prober.send("某某")  # name
            started = time.perf_counter()
            replies = await prober.send(number)
            timings[kind].append(time.perf_counter() - started)
            shown[kind].add(text(replies))
    assert shown["collected"] == shown["fresh"] and len(shown["fresh"]) == 1
    med_c, med_f = statistics.median(timings["collected"]), statistics.median(timings["fresh"])
    # No extra work for a collected number: the medians agree within scheduling noise.
    assert abs(med_c - med_f) < max(0.005, 0.5 * med_f), (med_c, med_f)
    print(
        f"\nenumeration probe: median answer {med_c * 1000:.2f} ms (collected) vs {med_f * 1000:.2f} ms (not)"
    )
