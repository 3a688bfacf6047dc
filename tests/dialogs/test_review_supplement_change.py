"""补录 and 变更 with a face near the threshold: a staff review case instead of a refusal, and the staff
approval (or rejection) of each, end to end through the real dispatcher."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from aiogram.methods import SendMediaGroup

from bot.config import Settings
from bot.dialogs.change import SCOPE
from bot.domain.models import Person, ReviewKind
from bot.services import Services
from bot.ui import Function, Go
from tests.helpers.client import BotClient
from tests.helpers.fakes import FakeSms, FakeVerifier, back_reading, front_reading, verdict
from tests.helpers.functions import has_button, press, repos, text, upload_card, verify_phone
from tests.helpers.mocked_bot import MockedBot
from tests.helpers.register import WANG, ZHAO, collected_person
from tests.helpers.staff import ADMIN_ID, admin, open_case_meanwhile, reject_next, sent_to, settings

# The staff console needs an admin: these fixtures replace the dialog defaults in this module.
__all__ = ["admin", "settings"]

SUPPLEMENT = Go(func=Function.SUPPLEMENT).pack()
CHANGE = Go(func=Function.CHANGE).pack()
EXPIRED = date(2021, 5, 1)
NEW_PHONE = "13912345678"
RESIDENCE = "辽宁省沈阳市和平区南京北街1号"
TAXPAYER = 1001  # the default BotClient's user


def scripted(verifier: FakeVerifier) -> FakeVerifier:
    verifier.readings[b"front"] = front_reading()  # WANG's number
    verifier.readings[b"back"] = back_reading()
    verifier.verdicts[b"near"] = verdict("review", ["face_match_uncertain"], distance=0.56)
    verifier.verdicts[b"stranger"] = verdict("fail", ["face_mismatch"])
    verifier.verdicts[b"selfie"] = verdict("pass")
    return verifier


# --- 实名采集信息补录 ----------------------------------------------------------------------------------


async def supplement_photo_into_review(client: BotClient) -> None:
    replies = await client.press(SUPPLEMENT)
    replies = await press(client, replies, "确定")
    replies = await press(client, replies, "我已阅读并同意")
    replies = await client.send_video(b"near")
    assert "提交税务机关工作人员审核" in text(replies), text(replies)
    assert "实名信息补采保存成功" not in text(replies)


@pytest.fixture
async def waiting(client: BotClient, verifier: FakeVerifier, services: Services) -> Person:
    """A logged-in person without an on-site photo whose 补录 (face near the threshold) waits for review."""
    scripted(verifier)
    person = await collected_person(repos(services), client.user.id, WANG, with_live_photo=False)
    await supplement_photo_into_review(client)
    return person


async def test_supplement_photo_near_threshold_is_reviewed_and_approved(
    waiting: Person, client: BotClient, admin: BotClient, services: Services, bot: MockedBot
) -> None:
    repo, person = repos(services), waiting
    saved = await repo.persons.get(person.id)
    assert saved is not None and saved.live_photo is None  # nothing saved before the decision
    (case,) = await repo.review.open_for_user(client.user.id)
    assert case.kind is ReviewKind.SUPPLEMENT_FACE_NEAR_THRESHOLD and case.person_id == person.id
    assert case.payload["face"]["decision"] == "review"
    # the dialog is over; the user is told where things stand by /mydata too
    assert await services.media.get(case.payload["face"]["media"])

    before = len(bot.recorder.requests)
    replies = await admin.send("/review")
    (shown,) = [r for r in replies if r.buttons]
    assert "实名采集信息补录" in shown.text and f"个人 #{person.id}" in shown.text
    assert "冲突" not in shown.text
    albums = [m for m in bot.recorder.requests[before:] if isinstance(m, SendMediaGroup)]
    assert albums and albums[0].media[0].caption == "现场照片"
    replies = await press(admin, await press(admin, replies, "通过"), "确认通过")
    told = sent_to(replies, client.user.id)
    assert len(told) == 1 and "实名信息补采保存成功" in told[0].text
    saved = await repo.persons.get(person.id)
    assert saved is not None and saved.live_photo is not None
    assert saved.live_photo.media_id == case.payload["face"]["media"]
    assert [c.document.value for c in saved.consents] == ["face_recognition_service"]
    entries = await repo.audit.for_subject("person", person.id)
    rows = {(e.action, e.actor_user_id) for e in entries}
    assert ("person.live_photo.replace", ADMIN_ID) in rows
    assert ("person.consent.add", client.user.id) in rows  # signed by the taxpayer
    assert (await repo.review.get(case.id)).status == "approved"  # type: ignore[union-attr]
    # complete now
    replies = await client.press(SUPPLEMENT)
    assert "该证件已实名采集" in text(replies) and "缺少现场照片" not in text(replies)


async def test_supplement_waiting_for_review_is_not_submitted_twice(
    waiting: Person, client: BotClient, services: Services
) -> None:
    replies = await client.press(SUPPLEMENT)
    assert "正在由税务机关工作人员审核" in text(replies)
    assert not has_button(replies, "确定")
    (case,) = await repos(services).review.open_for_user(client.user.id)
    assert case.person_id == waiting.id


async def test_supplement_expired_card_near_threshold_approval_replaces_the_card(
    client: BotClient, admin: BotClient, verifier: FakeVerifier, services: Services
) -> None:
    scripted(verifier)
    repo = repos(services)
    person = await collected_person(repo, client.user.id, WANG, valid_to=EXPIRED)
    replies = await client.press(SUPPLEMENT)
    replies = await press(client, replies, "确定")
    replies = await upload_card(client)
    replies = await press(client, replies, "我已阅读并同意")
    replies = await client.send_video(b"near")
    assert "提交税务机关工作人员审核" in text(replies)
    assert (await repo.persons.get(person.id)).document.valid_to == EXPIRED  # type: ignore[union-attr]
    replies = await admin.send("/review")
    assert "110***********" in text(replies) and WANG not in text(replies)
    replies = await press(admin, await press(admin, replies, "通过"), "确认通过")
    assert "实名信息补采保存成功" in text(sent_to(replies, client.user.id))
    saved = await repo.persons.get(person.id)
    assert saved is not None and saved.document.valid_to == date(2040, 5, 1)
    assert saved.document.front_media_id is not None
    assert saved.live_photo is not None and saved.live_photo.media_id.startswith("live_photo")
    actions = {e.action for e in await repo.audit.for_subject("person", person.id)}
    assert {"person.document.replace", "person.live_photo.replace"} <= actions


async def test_supplement_review_rejected_tells_the_reason_and_saves_nothing(
    waiting: Person, client: BotClient, admin: BotClient, services: Services
) -> None:
    repo, person = repos(services), waiting
    replies = await reject_next(admin, "人脸与证件照片不一致")
    (told,) = sent_to(replies, client.user.id)
    assert "未通过税务机关工作人员审核" in told.text and "人脸与证件照片不一致" in told.text
    assert "【实名采集信息补录】" in told.text  # the advice names the function to do again
    saved = await repo.persons.get(person.id)
    assert saved is not None and saved.live_photo is None


async def test_supplement_case_opened_since_the_entry_is_not_doubled(
    client: BotClient, verifier: FakeVerifier, services: Services
) -> None:
    """The entry found nothing waiting; a case of this account opened meanwhile (another chat, two
    updates at once): the save opens no second one."""
    scripted(verifier)
    repo = repos(services)
    person = await collected_person(repo, client.user.id, WANG, with_live_photo=False)
    replies = await client.press(SUPPLEMENT)
    replies = await press(client, replies, "确定")
    replies = await press(client, replies, "我已阅读并同意")
    await open_case_meanwhile(
        repo, client.user.id, ReviewKind.SUPPLEMENT_FACE_NEAR_THRESHOLD, "supplement", person.id
    )
    replies = await client.send_video(b"near")
    assert "正在由税务机关工作人员审核" in text(replies) and "已提交" not in text(replies)
    assert len(await repo.review.open_for_user(client.user.id)) == 1


async def test_supplement_near_threshold_face_of_another_person_is_still_refused(
    client: BotClient, verifier: FakeVerifier, services: Services
) -> None:
    scripted(verifier)
    repo = repos(services)
    await collected_person(repo, 4242, ZHAO, "赵强")  # same (fake) face encoding as the selfie
    await collected_person(repo, client.user.id, WANG, with_live_photo=False)
    replies = await client.press(SUPPLEMENT)
    replies = await press(client, replies, "确定")
    replies = await press(client, replies, "我已阅读并同意")
    replies = await client.send_video(b"near")
    assert "已与其他证件关联" in text(replies)
    assert await repo.review.open_for_user(client.user.id) == []


async def test_supplement_approval_of_an_erased_person_is_refused(
    waiting: Person, client: BotClient, admin: BotClient, services: Services
) -> None:
    repo, person = repos(services), waiting
    await repo.persons.erase(person.id, actor_user_id=None)
    replies = await admin.send("/review")
    replies = await press(admin, await press(admin, replies, "通过"), "确认通过")
    assert "已被删除" in text(sent_to(replies, ADMIN_ID))
    assert "重新进行【实名信息采集】" in text(sent_to(replies, client.user.id))
    (case,) = [c for c in [await repo.review.get(1)] if c is not None]
    assert case.status == "rejected" and case.decision_reason == "review_reject_record_gone"


# --- 实名信息变更 ------------------------------------------------------------------------------------


async def to_face(client: BotClient) -> None:
    replies = await client.press(CHANGE)
    replies = await upload_card(client)
    replies = await press(client, replies, "我已阅读并同意")
    assert "按顺序" in text(replies)


async def change_into_review(client: BotClient, sms: FakeSms) -> None:
    await to_face(client)
    replies = await client.send_video(b"near")
    assert "需要人工核实" in text(replies)
    assert has_button(replies, "修改手机号码")
    replies = await press(client, replies, "修改手机号码")
    replies = await verify_phone(client, sms, NEW_PHONE)
    assert "139****5678" in text(replies) and "需要人工核实" in text(replies)
    replies = await press(client, replies, "修改居住地")
    replies = await client.send(RESIDENCE)
    replies = await press(client, replies, "下一步")
    assert "已提交税务机关工作人员审核" in text(replies), text(replies)
    assert "实名信息修改保存成功" not in text(replies)


async def test_change_near_threshold_is_entered_then_reviewed_and_approved(
    client: BotClient,
    admin: BotClient,
    verifier: FakeVerifier,
    services: Services,
    sms: FakeSms,
    bot: MockedBot,
) -> None:
    scripted(verifier)
    repo = repos(services)
    person = await collected_person(repo, 5000, WANG)  # collected from another Telegram account
    await change_into_review(client, sms)
    # nothing applied yet
    saved = await repo.persons.get(person.id)
    assert saved is not None and saved.phone is not None and saved.phone.number == "13800138000"
    assert saved.residence is None
    assert await repo.persons.find_by_telegram(client.user.id) is None
    (case,) = await repo.review.open_for_user(client.user.id)
    assert case.kind is ReviewKind.CHANGE_FACE_NEAR_THRESHOLD and case.person_id == person.id
    assert {"idcard_front", "idcard_back", "idcard_portrait", "live_photo"} <= {
        m.rsplit("-", 1)[0] for m in case.media_ids
    }
    replies = await admin.send("/review")
    (shown,) = [r for r in replies if r.buttons]
    assert "实名信息变更" in shown.text
    assert "新手机号码（已验证）：139****5678" in shown.text and NEW_PHONE not in shown.text
    assert "南京北街" not in shown.text
    replies = await press(admin, await press(admin, replies, "通过"), "确认通过")
    (told,) = sent_to(replies, client.user.id)
    assert "实名信息修改保存成功" in told.text
    saved = await repo.persons.get(person.id)
    assert saved is not None and saved.phone is not None and saved.phone.number == NEW_PHONE
    assert saved.residence == RESIDENCE
    assert [c.document.value for c in saved.consents] == ["face_recognition_service"]
    linked = await repo.persons.find_by_telegram(client.user.id)
    assert linked is not None and linked.id == person.id
    rows = {(e.action, e.actor_user_id) for e in await repo.audit.for_subject("person", person.id)}
    assert {("person.phone.replace", ADMIN_ID), ("person.residence.change", ADMIN_ID)} <= rows
    links = await repo.audit.for_subject("telegram_user", client.user.id)
    assert any(e.action == "telegram.link" and e.actor_user_id == ADMIN_ID for e in links)


async def test_change_waiting_for_review_is_not_submitted_twice(
    client: BotClient, verifier: FakeVerifier, services: Services, sms: FakeSms
) -> None:
    scripted(verifier)
    await collected_person(repos(services), 5000, WANG)
    await change_into_review(client, sms)
    replies = await client.press(CHANGE)
    assert "正在由税务机关工作人员审核" in text(replies) and "人像面" not in text(replies)


async def test_change_review_rejected_applies_nothing(
    client: BotClient, admin: BotClient, verifier: FakeVerifier, services: Services, sms: FakeSms
) -> None:
    scripted(verifier)
    repo = repos(services)
    person = await collected_person(repo, 5000, WANG)
    await change_into_review(client, sms)
    await repo.users.set_language(client.user.id, "en")
    replies = await reject_next(admin, "疑似非本人现场拍摄")
    (told,) = sent_to(replies, client.user.id)
    assert "did not approve" in told.text and "【Change real-name information】" in told.text
    saved = await repo.persons.get(person.id)
    assert saved is not None and saved.phone is not None and saved.phone.number == "13800138000"
    assert await repo.persons.find_by_telegram(client.user.id) is None


async def test_change_near_threshold_does_not_count_toward_the_pause(
    client: BotClient, verifier: FakeVerifier, services: Services, settings: Settings
) -> None:
    scripted(verifier)
    await collected_person(repos(services), 5000, WANG)
    # every attempt but the last is a clear failure; the last start would begin the pause …
    for _ in range(settings.change_face_attempts - 1):
        await to_face(client)
        await client.send_video(b"stranger")
        await client.send("/start")
    await to_face(client)
    replies = await client.send_video(b"near")  # … but a face near the threshold is no failure
    assert has_button(replies, "修改手机号码")
    await client.send("/start")
    replies = await client.press(CHANGE)
    assert "已暂停" not in text(replies)
    # the count stands one short of the limit: one more failure would pause
    guards = repos(services).guards
    window = timedelta(minutes=settings.change_pause_minutes)
    began = await guards.fail(
        SCOPE,
        [guards.user_key(client.user.id)],
        limit=settings.change_face_attempts,
        window=window,
        pause=window,
    )
    assert began is not None


async def test_change_review_screen_back_saves_nothing(
    client: BotClient, verifier: FakeVerifier, services: Services
) -> None:
    scripted(verifier)
    await collected_person(repos(services), 5000, WANG)
    await to_face(client)
    replies = await client.send_video(b"near")
    replies = await press(client, replies, "返回")
    assert "未保存" in text(replies)
    assert await repos(services).review.open_for_user(client.user.id) == []
