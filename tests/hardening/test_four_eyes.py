"""Four eyes (issue 15, the insider attacks): no staff member decides a case of their own or of someone
tied to them through an enterprise, no admin grants themselves a role, and a staged register load is
confirmed or cancelled only by the admin who uploaded it. Each attack is run as the insider would, through
the real dispatcher, on both record backends, and each refusal is an audit row.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from aiogram import Dispatcher

from bot.config import Settings
from bot.domain.enterprise import Role as EnterpriseRole
from bot.domain.models import ReviewKind
from bot.services import Services
from bot.storage.repositories import Repositories
from bot.ui import Function, Go
from bot.verification.idcard import SideReading
from bot.verification.ids import DocumentType
from tests.helpers.client import BotClient, Reply
from tests.helpers.factory import make_settings
from tests.helpers.fakes import FakeSms, FakeVerifier, back_reading, front_reading, verdict
from tests.helpers.mocked_bot import MockedBot
from tests.helpers.postgres import database_url
from tests.helpers.register import LI, REGISTER, WANG, XINGHE, collected_person, load_register
from tests.helpers.staff import ADMIN_ID, press, sent_to, text

__all__ = ["database_url"]

REVIEWER_ID = 700001
SECOND_ADMIN_ID = 700002
COLLECT = Go(func=Function.COLLECT).pack()
PHONE = "13800138000"
# WANG's identity (legal rep of XINGHE in the fixture register), typed by whoever sends the photos.
# The reviewer's stored face, far from the selfie's: a face match would make the case theirs anyway.
FAR_FACE = tuple(0.9 for _ in range(128))
TYPED_FRONT = (
    ("姓名", "王小明"),
    ("性别", "男"),
    ("民族", "汉"),
    ("出生日期", "1990-03-07"),
    ("住址", "北京市东城区景山前街4号"),
    ("公民身份号码", WANG),
)


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return make_settings(tmp_path, admin_ids=[ADMIN_ID], database_url=database_url)


@pytest.fixture
def verifier() -> FakeVerifier:
    scripted = FakeVerifier()
    scripted.readings[b"no-portrait"] = SideReading(
        side="front", front=None, problems=["idcard_portrait_not_found"]
    )
    scripted.readings[b"back"] = back_reading()
    scripted.readings[b"front"] = front_reading(LI, name="李丽", sex="女")
    scripted.verdicts[b"selfie"] = verdict("pass", distance=None)
    return scripted


def repos(services: Services) -> Repositories:
    return Repositories(services.db, services.cipher)


@pytest.fixture
def admin(dp: Dispatcher, bot: MockedBot) -> BotClient:
    return BotClient(dp, bot, user_id=ADMIN_ID)


@pytest.fixture
async def reviewer(admin: BotClient, dp: Dispatcher, bot: MockedBot) -> BotClient:
    assert "已授予" in text(await admin.send(f"/grant {REVIEWER_ID} reviewer"))
    return BotClient(dp, bot, user_id=REVIEWER_ID)


async def typed_case(client: BotClient, settings: Settings, sms: FakeSms) -> None:
    """The attack's first half: a front "with no readable portrait" every try, then any identity typed
    on 【信息核实】, and the collection goes to review as an unreadable card."""
    replies = await client.press(COLLECT)
    replies = await press(client, replies, "身份证采集")
    for _ in range(settings.max_step_retries):
        replies = await client.send_photo(b"no-portrait")
    replies = await press(client, replies, "手动填写证件信息")
    replies = await client.send_photo(b"back")
    for label, value in TYPED_FRONT:
        replies = await press(client, replies, "修改" + label)
        replies = await client.send(value)
        assert "已更新" in text(replies), text(replies)
    replies = await press(client, replies, "下一步")
    replies = await press(client, replies, "我已阅读并同意")
    await client.send(PHONE)
    replies = await client.send(sms.code_for(PHONE))
    replies = await press(client, replies, "我已阅读并同意")
    replies = await client.send_video(b"selfie")
    assert "人工核对" in text(replies), text(replies)


async def refusals(repo: Repositories, case_id: int) -> list[dict[str, object]]:
    entries = await repo.audit.for_subject("review_case", case_id)
    return [dict(e.after or {}) for e in reversed(entries) if e.action == "review.four_eyes"]


def approve_data(case_id: int) -> str:
    return f"st:rv_ok:{case_id}:"


def reject_data(case_id: int) -> str:
    return f"st:rv_rs:{case_id}:0"


async def test_a_reviewer_cannot_approve_the_case_they_typed_themselves(
    reviewer: BotClient, admin: BotClient, settings: Settings, sms: FakeSms, services: Services
) -> None:
    """Attack: a reviewer sends a front with no portrait, types someone else's identity, then opens
    /review and approves their own case (or forges the button)."""
    repo = repos(services)
    await typed_case(reviewer, settings, sms)
    (case,) = await repo.review.open_for_user(REVIEWER_ID)

    replies = await reviewer.send("/review")
    (shown,) = [r for r in replies if r.buttons]
    assert "您不能审核此案件" in shown.text and "本人 Telegram 账号" in shown.text
    assert not any("通过" in caption for row in shown.buttons for caption, _ in row)

    for forged in (approve_data(case.id), reject_data(case.id), f"st:rv_no:{case.id}:"):
        answer = await reviewer.press(forged)
        assert "您不能审核此案件" in text(answer), text(answer)
    assert await repo.persons.find_by_document(DocumentType.RESIDENT_ID, WANG) is None
    assert (await repo.review.get(case.id)).status == "open"  # type: ignore[union-attr]
    assert [r["at"] for r in await refusals(repo, case.id)] == ["view", "approve", "reject", "reject"]
    assert {r["reason"] for r in await refusals(repo, case.id)} == {"policy_review_own_account"}

    # Another staff member, unrelated, decides it as before.
    replies = await admin.send("/review")
    assert "您不能审核此案件" not in text(replies)
    replies = await press(admin, replies, "通过")
    replies = await press(admin, replies, "确认通过")
    assert "采集成功" in text(sent_to(replies, REVIEWER_ID))


async def test_the_same_person_from_a_second_account_is_refused(
    reviewer: BotClient, services: Services
) -> None:
    """Attack: the reviewer's own record gets a 补录 case from another Telegram account of theirs."""
    repo = repos(services)
    person = await collected_person(repo, REVIEWER_ID, WANG)
    case = await repo.review.open_case(
        ReviewKind.SUPPLEMENT_FACE_NEAR_THRESHOLD,
        555001,
        reasons=["face_match_uncertain"],
        media_ids=[],
        payload={"flow": "supplement"},
        person_id=person.id,
    )
    answer = await reviewer.press(approve_data(case.id))
    assert "同一人" in text(answer), text(answer)
    assert [r["reason"] for r in await refusals(repo, case.id)] == ["policy_review_same_person"]
    assert (await repo.review.get(case.id)).status == "open"  # type: ignore[union-attr]


async def test_a_reviewer_cannot_decide_for_someone_of_their_own_enterprise(
    reviewer: BotClient,
    admin: BotClient,
    settings: Settings,
    sms: FakeSms,
    services: Services,
    dp: Dispatcher,
    bot: MockedBot,
) -> None:
    """Attack: the finance officer of an enterprise, granted reviewer, approves a case naming the
    enterprise's legal representative (typed by an accomplice)."""
    repo = repos(services)
    await load_register(repo)
    enterprise = await repo.enterprises.get(XINGHE)
    assert enterprise is not None
    mine = await collected_person(repo, REVIEWER_ID, LI, "李丽", encoding=FAR_FACE)
    await repo.enterprises.bind(mine.id, enterprise.id, EnterpriseRole.FINANCE_OFFICER, bound_by=None)
    accomplice = BotClient(dp, bot, user_id=555002)
    await typed_case(accomplice, settings, sms)
    (case,) = await repo.review.open_for_user(accomplice.user.id)

    answer = await reviewer.press(approve_data(case.id))
    assert "同一企业" in text(answer), text(answer)
    answer = await reviewer.press(reject_data(case.id))
    assert "同一企业" in text(answer), text(answer)
    assert await repo.persons.find_by_document(DocumentType.RESIDENT_ID, WANG) is None
    assert {r["reason"] for r in await refusals(repo, case.id)} == {"policy_review_related_enterprise"}


async def test_the_rule_is_checked_again_at_the_moment_of_the_decision(
    reviewer: BotClient, settings: Settings, sms: FakeSms, services: Services, dp: Dispatcher, bot: MockedBot
) -> None:
    """Attack: the case is shown while the reviewer looks unrelated; they then bind themselves to the
    enterprise (or link their account) and press the approve button they were shown."""
    repo = repos(services)
    await load_register(repo)
    accomplice = BotClient(dp, bot, user_id=555003)
    await typed_case(accomplice, settings, sms)
    replies = await reviewer.send("/review")
    assert "您不能审核此案件" not in text(replies)
    replies = await press(reviewer, replies, "通过")  # the confirmation screen
    enterprise = await repo.enterprises.get(XINGHE)
    assert enterprise is not None
    mine = await collected_person(repo, REVIEWER_ID, LI, "李丽", encoding=FAR_FACE)
    await repo.enterprises.bind(mine.id, enterprise.id, EnterpriseRole.FINANCE_OFFICER, bound_by=None)
    replies = await press(reviewer, replies, "确认通过")
    assert "同一企业" in text(replies), text(replies)
    assert "采集成功" not in text(sent_to(replies, accomplice.user.id))
    assert await repo.persons.find_by_document(DocumentType.RESIDENT_ID, WANG) is None
    (case,) = await repo.review.open_for_user(accomplice.user.id)
    assert [r["at"] for r in await refusals(repo, case.id)] == ["approve"]


async def test_an_admin_cannot_grant_themselves_a_role(
    admin: BotClient, dp: Dispatcher, bot: MockedBot, services: Services
) -> None:
    """Attack: an admin granted in the bot re-grants themselves (e.g. to hide who gave the role)."""
    repo = repos(services)
    await admin.send(f"/grant {SECOND_ADMIN_ID} admin")
    second = BotClient(dp, bot, user_id=SECOND_ADMIN_ID)
    replies = await second.send(f"/grant {SECOND_ADMIN_ID} reviewer")
    assert "未授予" in text(replies) and "自己" in text(replies), text(replies)
    member = await repo.staff.role_of(SECOND_ADMIN_ID)
    assert member is not None and member.value == "admin"
    entries = await repo.audit.for_subject("telegram_user", SECOND_ADMIN_ID)
    refused = [e for e in entries if e.action == "staff.grant.refused"]
    assert refused and refused[0].actor_user_id == SECOND_ADMIN_ID
    assert (refused[0].after or {})["reason"] == "policy_self_grant"


async def test_only_the_uploader_may_cancel_a_staged_load(
    admin: BotClient, dp: Dispatcher, bot: MockedBot, services: Services
) -> None:
    """Attack: a second admin cancels (or confirms) a load another admin staged and is checking."""
    repo = repos(services)
    await admin.send(f"/grant {SECOND_ADMIN_ID} admin")
    second = BotClient(dp, bot, user_id=SECOND_ADMIN_ID)
    replies: list[Reply] = await admin.send_document(REGISTER.read_bytes(), "register.csv")
    cancel = replies[-1].button_data("取消")
    confirm = replies[-1].button_data("确认导入")
    for data in (cancel, confirm):
        answer = await second.press(data)
        assert "只有上传该文件的管理员" in text(answer), text(answer)
    load_id = int(cancel.split(":")[2])
    load = await repo.staff.get_load(load_id)
    assert load is not None and load.status == "pending"
    assert await repo.enterprises.count() == 0
    entries = list(reversed(await repo.audit.for_subject("register_load", load_id)))
    assert [(e.after or {}).get("at") for e in entries if e.action == "register.refused_decision"] == [
        "cancel",
        "confirm",
    ]
    # the uploader still decides
    assert "已取消导入" in text(await admin.press(cancel))
