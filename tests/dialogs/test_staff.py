"""The staff console through the real dispatcher: roles, what non-staff get, the review queue."""

from __future__ import annotations

import pytest
from aiogram import Dispatcher
from aiogram.methods import AnswerCallbackQuery, SendMediaGroup, SendMessage

from bot.domain.staff import StaffRole
from bot.handlers.staff.common import StaffAct
from bot.services import Services
from bot.storage.repositories import Repositories
from bot.verification.ids import DocumentType
from tests.helpers.client import BotClient
from tests.helpers.fakes import FakeSms, FakeVerifier, valid_number
from tests.helpers.mocked_bot import MockedBot
from tests.helpers.staff import ADMIN_ID, admin, collect_into_review, grant, press, sent_to, settings, text

# The console needs an admin: these fixtures replace the dialog defaults in this module.
__all__ = ["admin", "settings"]

STRANGER_ID = 777001
REVIEWER_ID = 777002

STAFF_COMMANDS = (
    "/staff",
    "/review",
    f"/person {valid_number()}",
    "/person 13800138000",
    "/enterprise 91110000100000000X",
    f"/grant {STRANGER_ID} admin",
    f"/revoke {REVIEWER_ID}",
    "/stats",
    "/stats 30d",
    "/audit 7d",
    "/deletions",
    "/register",
)


@pytest.fixture
def stranger(dp: Dispatcher, bot: MockedBot) -> BotClient:
    return BotClient(dp, bot, user_id=STRANGER_ID)


@pytest.fixture
async def reviewer(admin: BotClient) -> BotClient:
    return await grant(admin, REVIEWER_ID)


def repos(services: Services) -> Repositories:
    return services.repositories()


# --- non-staff get nothing ----------------------------------------------------------------------------


async def test_non_staff_get_the_unknown_command_answer_for_every_staff_command(
    stranger: BotClient, services: Services
) -> None:
    (baseline,) = await stranger.send("/no_such_command")
    for command in STAFF_COMMANDS:
        replies = await stranger.send(command)
        assert len(replies) == 1, command
        assert replies[0].text == baseline.text, command
        assert replies[0].buttons == baseline.buttons, command
    assert await repos(services).staff.role_of(STRANGER_ID) is None
    actions = {e.action for e in await repos(services).audit.for_subject("telegram_user", STRANGER_ID)}
    assert not any(a.startswith("staff.") for a in actions)


async def test_non_staff_forged_staff_buttons_are_stale_buttons(
    stranger: BotClient,
    admin: BotClient,
    verifier: FakeVerifier,
    sms: FakeSms,
    dp: Dispatcher,
    bot: MockedBot,
    services: Services,
) -> None:
    taxpayer = BotClient(dp, bot, user_id=5001)
    await collect_into_review(taxpayer, verifier, sms)
    case = await repos(services).review.next_open()
    assert case is not None
    (baseline,) = await stranger.press("st:nothing:0:")
    for action in ("rv_ok", "rv_yes", "rv_rs", "rv_next", "del_do", "del_yes", "reg_ok", "reg_no"):
        replies = await stranger.press(StaffAct(a=action, n=case.id, v="0").pack())
        assert [r.text for r in replies] == [baseline.text], action
        assert isinstance(replies[0].method, AnswerCallbackQuery)
    assert (await repos(services).review.get(case.id)).status == "open"  # type: ignore[union-attr]


async def test_non_staff_register_upload_is_just_an_unknown_message(
    stranger: BotClient, services: Services
) -> None:
    (baseline,) = await stranger.send("hello")
    replies = await stranger.send_document(b"doc_type,number,name\n", "registry.csv")
    assert [r.text for r in replies] == [baseline.text]
    assert await repos(services).identity_registry.count() == 0


# --- roles ---------------------------------------------------------------------------------------------


async def test_admin_from_settings_sees_every_command(admin: BotClient) -> None:
    (reply,) = await admin.send("/staff")
    for command in (
        "/review",
        "/person",
        "/enterprise",
        "/grant",
        "/revoke",
        "/stats",
        "/audit",
        "/deletions",
    ):
        assert command in reply.text
    assert "管理员" in reply.text
    assert "待审核案件：0 个" in reply.text and "待处理的删除申请：0 个" in reply.text


async def test_reviewer_sees_only_reviewer_commands_and_cannot_grant(
    reviewer: BotClient, services: Services
) -> None:
    (reply,) = await reviewer.send("/staff")
    assert "/review" in reply.text and "/person" in reply.text
    assert "/grant" not in reply.text and "/stats" not in reply.text
    for command in (f"/grant {STRANGER_ID} admin", f"/grant {REVIEWER_ID} admin", f"/revoke {REVIEWER_ID}"):
        (refused,) = await reviewer.send(command)
        assert "仅限管理员" in refused.text
    repo = repos(services)
    assert await repo.staff.role_of(STRANGER_ID) is None
    assert await repo.staff.role_of(REVIEWER_ID) is StaffRole.REVIEWER
    denied = [
        e for e in await repo.audit.for_subject("telegram_user", REVIEWER_ID) if e.action == "staff.denied"
    ]
    assert len(denied) == 3


async def test_grant_and_revoke_are_audited_and_take_effect(
    admin: BotClient, dp: Dispatcher, bot: MockedBot, services: Services
) -> None:
    newcomer = BotClient(dp, bot, user_id=STRANGER_ID)
    (before,) = await newcomer.send("/staff")
    assert "未知命令" in before.text
    (done,) = await admin.send(f"/grant {STRANGER_ID} admin")
    assert str(STRANGER_ID) in done.text
    (after,) = await newcomer.send("/staff")
    assert "/grant" in after.text
    (revoked,) = await admin.send(f"/revoke {STRANGER_ID}")
    assert "已撤销" in revoked.text
    (gone,) = await newcomer.send("/staff")
    assert gone.text == before.text
    actions = [e.action for e in await repos(services).audit.for_subject("telegram_user", STRANGER_ID)]
    assert "staff.grant" in actions and "staff.revoke" in actions


async def test_grant_usage_and_settings_admins_are_untouchable(admin: BotClient, services: Services) -> None:
    (usage,) = await admin.send("/grant someone boss")
    assert "用法" in usage.text
    (fixed,) = await admin.send(f"/revoke {ADMIN_ID}")
    assert "ADMIN_IDS" in fixed.text
    (none,) = await admin.send("/revoke 4242")
    assert "没有被授予" in none.text


# --- the review queue -------------------------------------------------------------------------------


async def test_review_shows_photos_masked_fields_and_reasons(
    reviewer: BotClient, verifier: FakeVerifier, sms: FakeSms, dp: Dispatcher, bot: MockedBot
) -> None:
    taxpayer = BotClient(dp, bot, user_id=5001)
    await collect_into_review(taxpayer, verifier, sms)
    before = len(bot.recorder.requests)
    replies = await reviewer.send("/review")
    albums = [m for m in bot.recorder.requests[before:] if isinstance(m, SendMediaGroup)]
    assert len(albums) == 1
    assert len(albums[0].media) == 5  # front, back, portrait, live photo, one selfie frame
    assert albums[0].media[0].caption == "身份证人像面"
    (case,) = [r for r in replies if r.buttons]
    assert "人脸比对结果接近阈值" in case.text
    assert "110***********" in case.text and valid_number() not in case.text
    assert "王**" in case.text and "王小明" not in case.text
    assert "138****8000" in case.text
    assert "景山前街" not in case.text
    assert "待审核案件：1" in case.text


async def test_approve_saves_the_record_and_tells_the_taxpayer(
    reviewer: BotClient,
    verifier: FakeVerifier,
    sms: FakeSms,
    dp: Dispatcher,
    bot: MockedBot,
    services: Services,
) -> None:
    taxpayer = BotClient(dp, bot, user_id=5001)
    await collect_into_review(taxpayer, verifier, sms)
    replies = await reviewer.send("/review")
    replies = await press(reviewer, await press(reviewer, replies, "通过"), "确认通过")
    told = sent_to(replies, 5001)
    assert len(told) == 1 and "采集成功" in told[0].text
    assert "已审核通过" in text(sent_to(replies, REVIEWER_ID))
    repo = repos(services)
    person = await repo.persons.find_by_document(DocumentType.RESIDENT_ID, valid_number())
    assert person is not None
    assert person.phone is not None and person.phone.number == "13800138000"
    assert person.live_photo is not None and person.document.front_media_id is not None
    assert {c.document.value for c in person.consents} == {
        "personal_info_protection",
        "face_recognition_service",
    }
    assert (await repo.users.get_link(5001)) is not None
    assert await repo.review.count_open() == 0
    # A second press (or a second reviewer) changes nothing.
    again = await reviewer.press(StaffAct(a="rv_ok", n=1).pack())
    assert "其他审核员" in text(again)
    (empty,) = await reviewer.send("/review")
    assert "没有待审核" in empty.text


async def test_reject_with_a_reason_tells_the_taxpayer_in_their_language(
    reviewer: BotClient,
    verifier: FakeVerifier,
    sms: FakeSms,
    dp: Dispatcher,
    bot: MockedBot,
    services: Services,
) -> None:
    taxpayer = BotClient(dp, bot, user_id=5002)
    await collect_into_review(taxpayer, verifier, sms)
    # The language they chose (stored) decides, not the reviewer's.
    await repos(services).users.set_language(5002, "en")
    replies = await reviewer.send("/review")
    replies = await press(reviewer, replies, "不通过")
    assert "请选择不通过的原因" in text(replies)
    replies = await press(reviewer, replies, "照片不清晰")
    told = sent_to(replies, 5002)
    assert len(told) == 1
    assert "did not approve" in told[0].text
    assert "unclear" in told[0].text and "photograph your ID card again" in told[0].text
    repo = repos(services)
    assert await repo.persons.find_by_document(DocumentType.RESIDENT_ID, valid_number()) is None
    case = await repo.review.get(1)
    assert case is not None and case.status == "rejected"
    assert case.decision_reason == "review_reject_photo_unclear"
    assert case.decided_by == REVIEWER_ID


async def test_a_taxpayer_who_never_chose_a_language_is_told_in_their_telegram_language(
    admin: BotClient,
    verifier: FakeVerifier,
    sms: FakeSms,
    dp: Dispatcher,
    bot: MockedBot,
    services: Services,
) -> None:
    """No stored choice: the language_code of the taxpayer's last update decides the notice and its
    keyboard (it was zh_CN for everyone before)."""
    taxpayer = BotClient(dp, bot, user_id=5005)
    await collect_into_review(taxpayer, verifier, sms)
    # Their Telegram is switched to English; they never pick a language in the menu.
    await BotClient(dp, bot, user_id=5005, language_code="en-GB").send("/help")
    account = await repos(services).users.get(5005)
    assert account is not None and account.language is None and account.telegram_language == "en-GB"
    replies = await admin.send("/review")
    replies = await press(admin, replies, "不通过")
    replies = await press(admin, replies, "照片不清晰")
    (told,) = sent_to(replies, 5005)
    assert "did not approve" in told.text and "很抱歉" not in told.text
    captions = [caption for row in told.buttons for caption, _ in row]
    assert "Real-name collection" in captions and "Tax services" in captions


async def test_skip_moves_to_the_next_case(
    admin: BotClient, verifier: FakeVerifier, sms: FakeSms, dp: Dispatcher, bot: MockedBot
) -> None:
    first, second = BotClient(dp, bot, user_id=5001), BotClient(dp, bot, user_id=5003)
    await collect_into_review(first, verifier, sms)
    await collect_into_review(
        second, verifier, sms, number=valid_number("11010119900307567"), phone="13900139000"
    )
    replies = await admin.send("/review")
    assert "#1" in text(replies) and "待审核案件：2" in text(replies)
    replies = await press(admin, replies, "跳过")
    assert "#2" in text(replies)
    replies = await press(admin, replies, "跳过")
    assert "#1" in text(replies)  # wraps around


async def test_approve_of_an_already_collected_number_rejects_and_explains(
    admin: BotClient, verifier: FakeVerifier, sms: FakeSms, dp: Dispatcher, bot: MockedBot, services: Services
) -> None:
    taxpayer = BotClient(dp, bot, user_id=5001)
    await collect_into_review(taxpayer, verifier, sms)
    other = BotClient(dp, bot, user_id=5004)
    await collect_into_review(other, verifier, sms, phone="13900139000")
    replies = await admin.send("/review")
    await press(admin, await press(admin, replies, "通过"), "确认通过")
    replies = await admin.press(StaffAct(a="rv_next", n=1).pack())
    replies = await press(admin, await press(admin, replies, "通过"), "确认通过")
    assert "该证件已实名采集" in text(sent_to(replies, 5004))
    case = await repos(services).review.get(2)
    assert case is not None and case.decision_reason == "review_reject_already_collected"


async def test_review_actions_are_audited(
    reviewer: BotClient,
    verifier: FakeVerifier,
    sms: FakeSms,
    dp: Dispatcher,
    bot: MockedBot,
    services: Services,
) -> None:
    taxpayer = BotClient(dp, bot, user_id=5001)
    await collect_into_review(taxpayer, verifier, sms)
    replies = await reviewer.send("/review")
    await press(reviewer, await press(reviewer, replies, "通过"), "确认通过")
    entries = await repos(services).audit.for_subject("review_case", 1)
    actions = {(e.action, e.actor_user_id) for e in entries}
    assert ("review.view", REVIEWER_ID) in actions
    assert ("review.decide", REVIEWER_ID) in actions


async def test_staff_messages_are_sent_only_to_staff(
    reviewer: BotClient, verifier: FakeVerifier, sms: FakeSms, dp: Dispatcher, bot: MockedBot
) -> None:
    taxpayer = BotClient(dp, bot, user_id=5001)
    await collect_into_review(taxpayer, verifier, sms)
    before = len(bot.recorder.requests)
    await reviewer.send("/review")
    chats = {m.chat_id for m in bot.recorder.requests[before:] if isinstance(m, SendMessage | SendMediaGroup)}
    assert chats == {REVIEWER_ID}
