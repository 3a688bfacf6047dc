"""实名信息采集 while a collection of the same account waits for staff review: no second submission
(at the entry, and at the save when a case was opened since), and the function is open again once the
case is rejected; after an approval the account is collected."""

from __future__ import annotations

import pytest

from bot.domain.models import ReviewKind
from bot.services import Services
from bot.ui import Function, Go
from bot.verification.ids import DocumentType
from tests.helpers.client import BotClient
from tests.helpers.fakes import FakeSms, FakeVerifier, valid_number
from tests.helpers.functions import has_button, press, repos, text
from tests.helpers.staff import (
    admin,
    collect_into_review,
    collect_to_face,
    open_case_meanwhile,
    reject_next,
    sent_to,
    settings,
)

# The staff console needs an admin: these fixtures replace the dialog defaults in this module.
__all__ = ["admin", "settings"]

COLLECT = Go(func=Function.COLLECT).pack()
IN_REVIEW = "正在由税务机关工作人员审核"


@pytest.fixture
async def waiting(client: BotClient, verifier: FakeVerifier, sms: FakeSms) -> BotClient:
    """A taxpayer whose collection (face near the threshold) waits for review."""
    await collect_into_review(client, verifier, sms)
    return client


async def test_a_second_collection_is_refused_while_one_waits(waiting: BotClient, services: Services) -> None:
    replies = await waiting.press(COLLECT)
    assert IN_REVIEW in text(replies) and "通知您" in text(replies)
    assert has_button(replies, "首页") and not has_button(replies, "身份证采集")
    assert len(await repos(services).review.open_for_user(waiting.user.id)) == 1
    # in the language the taxpayer chose
    await repos(services).users.set_language(waiting.user.id, "en")
    replies = await waiting.press(COLLECT)
    assert "being reviewed" in text(replies) and "told the outcome" in text(replies)


@pytest.mark.parametrize("selfie", [b"selfie", b"near"])
async def test_a_case_opened_since_the_entry_stops_the_save(
    selfie: bytes, client: BotClient, verifier: FakeVerifier, sms: FakeSms, services: Services
) -> None:
    """The entry check passed; a case of this account opened meanwhile (another chat, two updates at
    once): neither a record nor a second case, whatever the face decision."""
    repo = repos(services)
    await collect_to_face(client, verifier, sms)
    await open_case_meanwhile(repo, client.user.id, ReviewKind.FACE_NEAR_THRESHOLD, "collect")
    replies = await client.send_video(selfie + str(client.user.id).encode())
    assert IN_REVIEW in text(replies), text(replies)
    assert "采集成功" not in text(replies) and "已提交" not in text(replies)
    assert len(await repo.review.open_for_user(client.user.id)) == 1
    assert await repo.persons.find_by_document(DocumentType.RESIDENT_ID, valid_number()) is None
    assert await repo.users.get_link(client.user.id) is None
    assert "当前没有进行中的操作" in text(await client.send("/cancel"))  # the dialog is over
    assert await repo.persons.find_by_telegram(client.user.id) is None


async def test_after_a_rejection_the_taxpayer_may_collect_again(
    waiting: BotClient, admin: BotClient, verifier: FakeVerifier, sms: FakeSms, services: Services
) -> None:
    replies = await reject_next(admin, "照片不清晰")
    assert "重新" in text(sent_to(replies, waiting.user.id))
    replies = await waiting.press(COLLECT)
    assert IN_REVIEW not in text(replies) and has_button(replies, "身份证采集")
    await collect_to_face(waiting, verifier, sms, by_contact=True)
    replies = await waiting.send_video(b"selfie" + str(waiting.user.id).encode())
    assert "采集成功" in text(replies), text(replies)
    repo = repos(services)
    person = await repo.persons.find_by_telegram(waiting.user.id)
    assert person is not None and person.document.number == valid_number()
    assert await repo.review.open_for_user(waiting.user.id) == []


async def test_after_an_approval_the_account_is_collected(
    waiting: BotClient, admin: BotClient, services: Services
) -> None:
    replies = await admin.send("/review")
    replies = await press(admin, await press(admin, replies, "通过"), "确认通过")
    assert "采集成功" in text(sent_to(replies, waiting.user.id))
    replies = await waiting.press(COLLECT)
    assert "本账号已完成实名采集" in text(replies) and IN_REVIEW not in text(replies)
    assert not has_button(replies, "身份证采集")
    person = await repos(services).persons.find_by_telegram(waiting.user.id)
    assert person is not None and person.live_photo is not None
