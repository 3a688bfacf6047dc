"""实名信息采集 with an ID card the engine cannot read: after the last try of a side whose failure was
"could not read enough", the user may type the fields; the collection ends in a staff review case
("unreadable card") that the approval turns into the record. Photos that are clearly no card, the wrong
side or too poor keep their answers (the pause)."""

from __future__ import annotations

from datetime import date

import pytest

from bot.config import Settings
from bot.domain.models import ReviewKind
from bot.services import Services
from bot.ui import Function, Go
from bot.verification.idcard import SideReading
from bot.verification.ids import DocumentType
from tests.helpers.client import BotClient, Reply
from tests.helpers.fakes import FakeSms, FakeVerifier, back_reading, front_reading, valid_number, verdict
from tests.helpers.functions import has_button, press, repos, text
from tests.helpers.register import WANG, collected_person
from tests.helpers.staff import admin, reject_next, sent_to, settings

# The staff console needs an admin: these fixtures replace the dialog defaults in this module.
__all__ = ["admin", "settings"]

COLLECT = Go(func=Function.COLLECT).pack()
NUMBER = valid_number()
PHONE = "13800138000"
EXPIRED = date(2021, 5, 1)
NO_PORTRAIT = SideReading(side="front", front=None, problems=["idcard_portrait_not_found"])
PARTLY = SideReading(side=None, problems=["idcard_partly_read"])
TYPED_FRONT = (
    ("姓名", "王小明"),
    ("性别", "男"),
    ("民族", "汉"),
    ("出生日期", "1990-03-07"),
    ("住址", "北京市东城区景山前街4号"),
    ("公民身份号码", NUMBER),
)
TYPED_BACK = (("签发机关", "北京市公安局东城分局"), ("有效期限", "2020.05.01-2040.05.01"))


def scripted(verifier: FakeVerifier) -> FakeVerifier:
    verifier.readings[b"front"] = front_reading()
    verifier.readings[b"back"] = back_reading()
    verifier.readings[b"no-portrait"] = NO_PORTRAIT
    verifier.readings[b"partly"] = PARTLY
    verifier.readings[b"blurry"] = SideReading(side=None, problems=["image_too_blurry", "idcard_not_found"])
    verifier.readings[b"wrong-side"] = back_reading()
    verifier.verdicts[b"selfie"] = verdict("pass", distance=None)
    return verifier


async def fail_side(client: BotClient, photo: bytes, tries: int) -> list[Reply]:
    replies: list[Reply] = []
    for _ in range(tries):
        replies = await client.send_photo(photo)
    return replies


async def unread_front(client: BotClient, settings: Settings) -> list[Reply]:
    """实名信息采集 → 身份证采集 → a front read without a portrait, every try."""
    replies = await client.press(COLLECT)
    replies = await press(client, replies, "身份证采集")
    return await fail_side(client, b"no-portrait", settings.max_step_retries)


async def type_fields(
    client: BotClient, replies: list[Reply], fields: tuple[tuple[str, str], ...]
) -> list[Reply]:
    for label, value in fields:
        replies = await press(client, replies, "修改" + label)
        replies = await client.send(value)
        assert "已更新" in text(replies), text(replies)
    return replies


async def finish_collection(client: BotClient, replies: list[Reply], sms: FakeSms) -> list[Reply]:
    """【下一步】 on 【信息核实】 → consent → phone → face agreement → selfie."""
    replies = await press(client, replies, "下一步")
    assert "《个人信息保护告知同意书》" in text(replies), text(replies)
    replies = await press(client, replies, "我已阅读并同意")
    await client.send(PHONE)
    replies = await client.send(sms.code_for(PHONE))
    replies = await press(client, replies, "我已阅读并同意")
    return await client.send_video(b"selfie")


async def typed_front_into_review(client: BotClient, settings: Settings, sms: FakeSms) -> None:
    replies = await unread_front(client, settings)
    assert has_button(replies, "手动填写证件信息"), text(replies)
    assert "已暂停" not in text(replies)
    replies = await press(client, replies, "手动填写证件信息")
    assert "已保留您上传的人像面照片" in text(replies) and "国徽面" in text(replies)
    replies = await client.send_photo(b"back")
    assert "【信息核实】" in text(replies) and "手动填写" in text(replies)
    assert "（未识别）" in text(replies)
    replies = await type_fields(client, replies, TYPED_FRONT)
    replies = await finish_collection(client, replies, sms)
    assert "人工核对" in text(replies), text(replies)
    assert "采集成功" not in text(replies)


@pytest.fixture
async def typed(client: BotClient, verifier: FakeVerifier, sms: FakeSms, settings: Settings) -> BotClient:
    """A taxpayer whose collection with a typed front waits for review."""
    scripted(verifier)
    await typed_front_into_review(client, settings, sms)
    return client


async def test_typed_front_goes_to_review_and_the_approval_saves_the_record(
    typed: BotClient, admin: BotClient, verifier: FakeVerifier, services: Services
) -> None:
    client, repo = typed, repos(services)
    # liveness only: no portrait was cropped from an unread front
    assert [c[1][2] for c in verifier.calls if c[0] == "video"] == [0]  # type: ignore[index]
    assert await repo.persons.find_by_document(DocumentType.RESIDENT_ID, NUMBER) is None
    (case,) = await repo.review.open_for_user(client.user.id)
    assert case.kind is ReviewKind.UNREADABLE_CARD and case.reasons[0] == "review_card_typed"
    kinds = {m.rsplit("-", 1)[0] for m in case.media_ids}
    assert {"idcard_front", "idcard_back", "live_photo"} <= kinds and "idcard_portrait" not in kinds
    assert case.payload["card"]["manual"] == ["front"]
    replies = await admin.send("/review")
    (shown,) = [r for r in replies if r.buttons]
    assert "证件无法识别但可能有效" in shown.text and "手动填写" in shown.text
    assert NUMBER not in shown.text and "王**" in shown.text
    replies = await press(admin, await press(admin, replies, "通过"), "确认通过")
    assert "采集成功" in text(sent_to(replies, client.user.id))
    person = await repo.persons.find_by_document(DocumentType.RESIDENT_ID, NUMBER)
    assert person is not None and person.name == "王小明" and person.document.portrait_media_id is None
    assert person.document.front_media_id is not None and person.live_photo is not None
    assert (await repo.users.get_link(client.user.id)) is not None


async def test_typed_case_rejected_tells_the_taxpayer(
    typed: BotClient, admin: BotClient, services: Services
) -> None:
    replies = await reject_next(admin, "证件信息有误或证件无效")
    (told,) = sent_to(replies, typed.user.id)
    assert "证件信息有误或证件无效" in told.text and "【实名信息采集】" in told.text
    assert await repos(services).persons.find_by_document(DocumentType.RESIDENT_ID, NUMBER) is None


async def test_typed_back_keeps_the_portrait_for_the_face_match(
    client: BotClient, verifier: FakeVerifier, sms: FakeSms, services: Services, settings: Settings
) -> None:
    scripted(verifier)
    replies = await client.press(COLLECT)
    replies = await press(client, replies, "身份证采集")
    replies = await client.send_photo(b"front")
    replies = await press(client, replies, "确定")
    replies = await fail_side(client, b"partly", settings.max_step_retries)
    assert "国徽面" in text(replies) and has_button(replies, "手动填写证件信息")
    replies = await press(client, replies, "手动填写证件信息")
    assert "【信息核实】" in text(replies) and "王小明" in text(replies)
    replies = await press(client, replies, "下一步")  # the back fields are still missing
    assert "请先修改" in text(replies)
    replies = await type_fields(client, replies, TYPED_BACK)
    replies = await finish_collection(client, replies, sms)
    assert "人工核对" in text(replies)
    assert [c[1][2] for c in verifier.calls if c[0] == "video"] == [1]  # type: ignore[index]
    (case,) = await repos(services).review.open_for_user(client.user.id)
    assert case.kind is ReviewKind.UNREADABLE_CARD and case.payload["card"]["manual"] == ["back"]
    assert "idcard_portrait" in {m.rsplit("-", 1)[0] for m in case.media_ids}


async def test_what_the_engine_read_of_the_front_is_kept_to_be_completed(
    client: BotClient, verifier: FakeVerifier, settings: Settings
) -> None:
    scripted(verifier)
    verifier.readings[b"no-portrait"] = SideReading(
        side="front", front=front_reading(id_number=None).front, problems=["idcard_portrait_not_found"]
    )
    replies = await unread_front(client, settings)
    replies = await press(client, replies, "手动填写证件信息")
    replies = await client.send_photo(b"back")
    assert "王小明" in text(replies) and "（未识别）" in text(replies)  # only the number is missing
    replies = await type_fields(client, replies, TYPED_FRONT[-1:])
    replies = await press(client, replies, "下一步")
    assert "《个人信息保护告知同意书》" in text(replies)


async def test_typed_fields_are_checked_like_corrections(
    client: BotClient, verifier: FakeVerifier, settings: Settings
) -> None:
    scripted(verifier)
    replies = await unread_front(client, settings)
    replies = await press(client, replies, "手动填写证件信息")
    replies = await client.send_photo(b"back")
    replies = await type_fields(client, replies, TYPED_FRONT[:-1])
    replies = await type_fields(
        client, replies, (("公民身份号码", NUMBER[:-1] + ("0" if NUMBER[-1] != "0" else "1")),)
    )
    assert "校验不通过" in text(replies)
    replies = await press(client, replies, "下一步")
    assert "请先修改" in text(replies)


async def test_a_typed_collected_number_is_not_told_before_review(
    client: BotClient,
    admin: BotClient,
    verifier: FakeVerifier,
    sms: FakeSms,
    services: Services,
    settings: Settings,
) -> None:
    scripted(verifier)
    await collected_person(repos(services), 4242, WANG)  # WANG == NUMBER
    await typed_front_into_review(client, settings, sms)  # no "该证件已实名采集" on the way
    replies = await admin.send("/review")
    replies = await press(admin, await press(admin, replies, "通过"), "确认通过")
    assert "该证件已实名采集" in text(sent_to(replies, client.user.id))


async def test_offer_back_retakes_and_unexpected_input_is_answered(
    client: BotClient, verifier: FakeVerifier, settings: Settings
) -> None:
    scripted(verifier)
    replies = await unread_front(client, settings)
    replies = await client.send("你好")
    assert "手动填写证件信息" in text(replies) and has_button(replies, "返回")
    replies = await press(client, replies, "返回")
    assert "人像面" in text(replies)
    replies = await client.send_photo(b"front")  # a readable front after all: the usual path
    assert "人像面识别完成" in text(replies)


@pytest.mark.parametrize("photo", [b"not-a-card", b"blurry", b"wrong-side"])
async def test_clearly_no_card_keeps_the_pause(
    photo: bytes, client: BotClient, verifier: FakeVerifier, settings: Settings
) -> None:
    scripted(verifier)
    replies = await client.press(COLLECT)
    replies = await press(client, replies, "身份证采集")
    replies = await fail_side(client, photo, settings.max_step_retries)
    assert "已暂停" in text(replies)
    assert not has_button(replies, "手动填写证件信息")


async def test_supplement_of_an_expired_card_may_type_it_and_the_approval_replaces_it(
    client: BotClient, admin: BotClient, verifier: FakeVerifier, services: Services, settings: Settings
) -> None:
    scripted(verifier)
    repo = repos(services)
    person = await collected_person(repo, client.user.id, WANG, valid_to=EXPIRED)
    replies = await client.press(Go(func=Function.SUPPLEMENT).pack())
    replies = await press(client, replies, "确定")
    replies = await fail_side(client, b"no-portrait", settings.max_step_retries)
    replies = await press(client, replies, "手动填写证件信息")
    replies = await client.send_photo(b"back")
    replies = await type_fields(client, replies, TYPED_FRONT)
    replies = await press(client, replies, "下一步")
    replies = await press(client, replies, "我已阅读并同意")
    replies = await client.send_video(b"selfie")
    assert "人工核对" in text(replies) and "实名信息补采保存成功" not in text(replies)
    # compared with the stored live face, as without typing
    assert [c[1][2] for c in verifier.calls if c[0] == "video"] == [1]  # type: ignore[index]
    (case,) = await repo.review.open_for_user(client.user.id)
    assert case.kind is ReviewKind.UNREADABLE_CARD and case.person_id == person.id
    assert case.reasons[0] == "review_card_typed"
    replies = await client.press(Go(func=Function.SUPPLEMENT).pack())
    assert "正在由税务机关工作人员审核" in text(replies)
    replies = await admin.send("/review")
    assert f"申请人：已采集的个人 #{person.id}" in text(replies) and "冲突" not in text(replies)
    replies = await press(admin, await press(admin, replies, "通过"), "确认通过")
    assert "实名信息补采保存成功" in text(sent_to(replies, client.user.id))
    saved = await repo.persons.get(person.id)
    assert saved is not None and saved.document.valid_to == date(2040, 5, 1)
    assert saved.document.front_media_id is not None and saved.document.portrait_media_id is None


async def test_change_does_not_offer_the_typed_path(
    client: BotClient, verifier: FakeVerifier, services: Services, settings: Settings
) -> None:
    scripted(verifier)
    await collected_person(repos(services), 5000, WANG)
    replies = await client.press(Go(func=Function.CHANGE).pack())
    replies = await fail_side(client, b"no-portrait", settings.max_step_retries)
    assert "已暂停" in text(replies) and not has_button(replies, "手动填写证件信息")
