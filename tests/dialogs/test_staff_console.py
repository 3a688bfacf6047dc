"""Look-ups, statistics and the audit export through the real dispatcher."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from aiogram import Dispatcher
from aiogram.methods import SendDocument, SendPhoto
from aiogram.types import BufferedInputFile

from bot.domain.outcomes import EventOutcome
from bot.services import Services
from bot.storage.repositories import Repositories
from bot.ui import Function, Go
from tests.helpers.client import BotClient
from tests.helpers.fakes import FakeSms, FakeVerifier, valid_number
from tests.helpers.mocked_bot import MockedBot
from tests.helpers.register import WANG, XINGHE, load_register
from tests.helpers.staff import ADMIN_ID, admin, collect_into_review, press, reject_next, settings, text

# The console needs an admin: these fixtures replace the dialog defaults in this module.
__all__ = ["admin", "settings"]

TAXPAYER_ID = 5001


def repos(services: Services) -> Repositories:
    return services.repositories()


async def approved_person(
    admin: BotClient, verifier: FakeVerifier, sms: FakeSms, dp: Dispatcher, bot: MockedBot
) -> None:
    taxpayer = BotClient(dp, bot, user_id=TAXPAYER_ID)
    await collect_into_review(taxpayer, verifier, sms)
    replies = await admin.send("/review")
    await press(admin, await press(admin, replies, "通过"), "确认通过")


# --- /person, /enterprise -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", [valid_number(), "138 0013 8000", str(TAXPAYER_ID), f"tg:{TAXPAYER_ID}", "#1", "个人 #1"]
)
async def test_person_lookup_by_number_phone_or_telegram_id_is_masked(
    query: str,
    admin: BotClient,
    verifier: FakeVerifier,
    sms: FakeSms,
    dp: Dispatcher,
    bot: MockedBot,
    services: Services,
) -> None:
    await approved_person(admin, verifier, sms, dp, bot)
    (reply,) = await admin.send(f"/person {query}")
    assert "个人 #1" in reply.text
    assert valid_number() not in reply.text and "110***********" in reply.text
    assert "王**" in reply.text and "138****8000" in reply.text
    assert "《个人信息保护告知同意书》" in reply.text and "《人脸识别服务协议》" in reply.text
    assert str(TAXPAYER_ID) in reply.text  # the linked account
    assert "person.collect" in reply.text  # the audit trail
    entries = await repos(services).audit.for_subject("person", 1)
    lookups = [e for e in entries if e.action == "staff.lookup.person"]
    assert lookups and lookups[0].actor_user_id == ADMIN_ID
    assert "13800138000" not in str(lookups[0].after) and valid_number() not in str(lookups[0].after)


async def test_a_bare_record_number_is_not_a_telegram_id_but_the_answer_says_how(
    admin: BotClient, verifier: FakeVerifier, sms: FakeSms, dp: Dispatcher, bot: MockedBot
) -> None:
    """ "个人 #1" is how the console names people: `/person 1` would be Telegram id 1 (ambiguous), so
    it finds nothing, and says to write `/person #1`."""
    await approved_person(admin, verifier, sms, dp, bot)
    (reply,) = await admin.send("/person 1")
    assert "没有找到" in reply.text and "/person #1" in reply.text
    (missing,) = await admin.send("/person #99")
    assert "没有找到" in missing.text and "/person #99" not in missing.text


async def test_person_not_found_and_usage(admin: BotClient) -> None:
    (missing,) = await admin.send("/person 13912345678")
    assert "没有找到" in missing.text
    (usage,) = await admin.send("/person")
    assert "用法" in usage.text


async def test_enterprise_lookup_shows_people_masked(admin: BotClient, services: Services) -> None:
    await load_register(repos(services))
    (reply,) = await admin.send(f"/enterprise {XINGHE}")
    assert "辽宁星河商贸有限公司" in reply.text and "正常" in reply.text
    assert "法定代表人：王**" in reply.text
    assert WANG not in reply.text and "110***********1233" in reply.text
    assert "财务负责人" in reply.text and "办税人" in reply.text and "购票人" in reply.text
    (missing,) = await admin.send("/enterprise 91210102MA0QWE7R2T")
    assert "校验位" in missing.text or "没有找到" in missing.text


# --- /stats ------------------------------------------------------------------------------------------------


async def test_stats_text_and_png_chart(
    admin: BotClient, verifier: FakeVerifier, sms: FakeSms, dp: Dispatcher, bot: MockedBot, services: Services
) -> None:
    await approved_person(admin, verifier, sms, dp, bot)
    repo = repos(services)
    await repo.events.record("collect", "start", EventOutcome.STARTED, user_id=6001)
    await repo.events.record(
        "collect", "card", EventOutcome.REJECTED, user_id=6001, reason_code="image_too_blurry"
    )
    before = len(bot.recorder.requests)
    replies = await admin.send("/stats 7d")
    body = text(replies)
    assert "统计" in body and "实名信息采集" in body
    assert "开始 2" in body and "完成 1" in body and "未通过 1" in body
    # Every label in words: no flow, step, outcome or reason code.
    assert "照片太模糊" in body
    for code in ("collect", "image_too_blurry", "rejected", "passed", "started", "card", "face", "stepup"):
        assert code not in body, code
    assert "当前待审核案件：0" in body
    photos = [m for m in bot.recorder.requests[before:] if isinstance(m, SendPhoto)]
    assert len(photos) == 1
    assert isinstance(photos[0].photo, BufferedInputFile)
    assert photos[0].photo.data.startswith(b"\x89PNG")
    actions = [e.action for e in await repo.audit.between(*_wide())]
    assert "staff.stats" in actions


async def test_stats_of_a_scripted_day_through_the_bot(
    admin: BotClient, verifier: FakeVerifier, sms: FakeSms, dp: Dispatcher, bot: MockedBot
) -> None:
    """Issue 21's day: a taxpayer's collection goes to review and they try twice more while it
    waits; it is approved; they then open 补录 of their complete record. A second taxpayer's case is
    rejected. Each run has one outcome, the refused re-entries are no runs, nothing is in review."""
    first = BotClient(dp, bot, user_id=6101)
    await collect_into_review(first, verifier, sms)
    for _ in range(2):
        replies = await first.press(Go(func=Function.COLLECT).pack())
        assert "正在由税务机关工作人员审核" in text(replies)
    replies = await admin.send("/review")
    await press(admin, await press(admin, replies, "通过"), "确认通过")
    replies = await first.press(Go(func=Function.SUPPLEMENT).pack())
    assert "该证件已实名采集" in text(replies)
    second = BotClient(dp, bot, user_id=6102)
    await collect_into_review(
        second, verifier, sms, number=valid_number("11010119900307125"), phone="13800138009"
    )
    await reject_next(admin, "人脸")
    (stats, *_) = [r for r in await admin.send("/stats today") if r.text]
    collect = next(line for line in stats.text.splitlines() if line.startswith("<b>实名信息采集</b>"))
    assert "开始 2，完成 1，审核中 0，审核未通过 1" in collect and "中途放弃 0" in collect, collect
    supplement = next(line for line in stats.text.splitlines() if line.startswith("<b>实名采集信息补录</b>"))
    assert "开始 1，完成 0" in supplement and "已告知无需办理 1" in supplement and "中途放弃 0" in supplement
    assert "重复进入" in stats.text and "：2" in stats.text
    assert "当前待审核案件：0 个" in stats.text


async def test_stats_rejects_a_bad_period(admin: BotClient) -> None:
    (reply,) = await admin.send("/stats yesterday-ish")
    assert "无法识别的期间" in reply.text


# --- /audit -------------------------------------------------------------------------------------------------


async def test_audit_export_is_a_masked_csv(
    admin: BotClient, verifier: FakeVerifier, sms: FakeSms, dp: Dispatcher, bot: MockedBot
) -> None:
    await approved_person(admin, verifier, sms, dp, bot)
    await admin.send(f"/person {valid_number()}")
    before = len(bot.recorder.requests)
    await admin.send("/audit today")
    (document,) = [m for m in bot.recorder.requests[before:] if isinstance(m, SendDocument)]
    assert isinstance(document.document, BufferedInputFile)
    assert (document.document.filename or "").endswith(".csv")
    content = document.document.data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(content)))
    actions = {r["action"] for r in rows}
    assert {"review.open", "review.decide", "person.collect", "staff.lookup.person"} <= actions
    assert valid_number() not in content and "13800138000" not in content and "王小明" not in content
    (usage,) = await admin.send("/audit")
    assert "用法" in usage.text


async def test_audit_export_keeps_the_enterprise_public_and_its_people_masked(
    admin: BotClient, bot: MockedBot, services: Services
) -> None:
    """An enterprise's name and taxpayer id are public registration data: readable in the export;
    the people on its register stay masked."""
    await load_register(repos(services))
    await admin.send(f"/enterprise {XINGHE}")
    before = len(bot.recorder.requests)
    await admin.send("/audit today")
    (document,) = [m for m in bot.recorder.requests[before:] if isinstance(m, SendDocument)]
    assert isinstance(document.document, BufferedInputFile)
    content = document.document.data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(content)))
    loads = [r for r in rows if r["action"] == "enterprise.load"]
    assert any("辽宁星河商贸有限公司" in r["after"] and XINGHE in r["after"] for r in loads)
    assert any(r["subject_id"] == XINGHE for r in rows if r["action"] == "staff.lookup.enterprise")
    assert "王小明" not in content and "110101199003071233" not in content and "13800138000" not in content


def _wide() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(days=1), now + timedelta(days=1)
