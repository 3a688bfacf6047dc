"""/mydata and PIPL deletion requests, from the taxpayer's request to the admin's decision."""

from __future__ import annotations

import pytest
from aiogram import Dispatcher

from bot.domain.staff import DeletionStatus
from bot.services import Services
from bot.storage.repositories import Repositories
from bot.verification.ids import DocumentType
from tests.helpers.client import BotClient
from tests.helpers.fakes import FakeSms, FakeVerifier, valid_number
from tests.helpers.mocked_bot import MockedBot
from tests.helpers.staff import ADMIN_ID, admin, collect_into_review, press, sent_to, settings, text

# The console needs an admin: these fixtures replace the dialog defaults in this module.
__all__ = ["admin", "settings"]

TAXPAYER_ID = 5001


@pytest.fixture
async def taxpayer(
    admin: BotClient, verifier: FakeVerifier, sms: FakeSms, dp: Dispatcher, bot: MockedBot
) -> BotClient:
    """A taxpayer whose collection went through review and was approved."""
    client = BotClient(dp, bot, user_id=TAXPAYER_ID)
    await collect_into_review(client, verifier, sms)
    replies = await admin.send("/review")
    await press(admin, await press(admin, replies, "通过"), "确认通过")
    return client


def repos(services: Services) -> Repositories:
    return services.repositories()


async def test_mydata_shows_masked_data(taxpayer: BotClient) -> None:
    (reply,) = await taxpayer.send("/mydata")
    assert "我的个人信息" in reply.text
    assert "110***********" in reply.text and valid_number() not in reply.text
    assert "王**" in reply.text and "138****8000" in reply.text
    assert "《个人信息保护告知同意书》" in reply.text
    assert "个人信息保护法" in reply.text
    assert any("申请删除" in label for row in reply.buttons for label, _ in row)


async def test_mydata_for_someone_unknown(client: BotClient) -> None:
    (reply,) = await client.send("/mydata")
    assert "没有保存您的实名信息" in reply.text
    assert not any("申请删除" in label for row in reply.buttons for label, _ in row)


async def test_deletion_request_carried_out_by_an_admin(
    taxpayer: BotClient, admin: BotClient, services: Services
) -> None:
    repo = repos(services)
    person = await repo.persons.find_by_telegram(TAXPAYER_ID)
    assert person is not None and person.live_photo is not None
    live_media = person.live_photo.media_id
    assert await services.media.exists(live_media)

    replies = await taxpayer.send("/mydata")
    replies = await press(taxpayer, replies, "申请删除")
    assert "确认申请删除" in text(replies)
    replies = await press(taxpayer, replies, "确认申请删除")
    assert "已提交删除申请" in text(replies)
    (again,) = await taxpayer.send("/mydata")
    assert "正在处理中" in again.text

    replies = await admin.send("/deletions")
    assert "删除申请 #1" in text(replies) and str(TAXPAYER_ID) in text(replies)
    replies = await press(admin, await press(admin, replies, "执行删除"), "确认永久删除")
    told = sent_to(replies, TAXPAYER_ID)
    assert len(told) == 1 and "已删除" in told[0].text
    assert "已执行" in text(sent_to(replies, ADMIN_ID))

    assert await repo.persons.find_by_document(DocumentType.RESIDENT_ID, valid_number()) is None
    assert not await services.media.exists(live_media)
    case = await repo.review.get(1)
    assert case is not None and case.payload == {} and case.media_ids == ()
    request = await repo.staff.deletion_request(1)
    assert request is not None and request.status is DeletionStatus.DONE and request.decided_by == ADMIN_ID
    actions = {e.action for e in await repo.audit.for_subject("person", person.id)}
    assert "person.erase" in actions
    (after,) = await taxpayer.send("/mydata")
    assert "没有保存您的实名信息" in after.text
    (empty,) = await admin.send("/deletions")
    assert "没有待处理" in empty.text


async def test_deletion_request_refused_with_a_reason(
    taxpayer: BotClient, admin: BotClient, services: Services
) -> None:
    replies = await taxpayer.send("/mydata")
    replies = await press(taxpayer, replies, "申请删除")
    await press(taxpayer, replies, "确认申请删除")
    replies = await admin.send("/deletions")
    replies = await press(admin, replies, "拒绝")
    replies = await press(admin, replies, "依法需要继续保存")
    told = sent_to(replies, TAXPAYER_ID)
    assert len(told) == 1 and "未被执行" in told[0].text and "依法需要继续保存" in told[0].text
    assert await repos(services).persons.find_by_telegram(TAXPAYER_ID) is not None
    request = await repos(services).staff.deletion_request(1)
    assert request is not None and request.status is DeletionStatus.REFUSED
    # Deciding twice changes nothing.
    again = await admin.press("st:del_do:1:")
    assert "其他管理员" in text(again)


async def test_reviewer_cannot_handle_deletions(
    taxpayer: BotClient, admin: BotClient, dp: Dispatcher, bot: MockedBot, services: Services
) -> None:
    await admin.send("/grant 777002 reviewer")
    reviewer = BotClient(dp, bot, user_id=777002)
    (refused,) = await reviewer.send("/deletions")
    assert "仅限管理员" in refused.text
    replies = await taxpayer.send("/mydata")
    replies = await press(taxpayer, replies, "申请删除")
    await press(taxpayer, replies, "确认申请删除")
    forged = await reviewer.press("st:del_do:1:")
    assert "该按钮已失效" in text(forged)
    assert await repos(services).persons.find_by_telegram(TAXPAYER_ID) is not None
