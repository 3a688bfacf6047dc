"""实名信息变更 through the real dispatcher: card + face against the stored live face, no login needed."""

from __future__ import annotations

from aiogram import Dispatcher

from bot.config import Settings
from bot.services import Services
from bot.ui import Function, Go
from tests.helpers.client import BotClient
from tests.helpers.fakes import FakeSms, FakeVerifier, back_reading, front_reading, verdict
from tests.helpers.functions import has_button, press, repos, text, upload_card, verify_phone
from tests.helpers.mocked_bot import MockedBot
from tests.helpers.register import WANG, collected_person

GO = Go(func=Function.CHANGE).pack()
NEW_PHONE = "13912345678"


def scripted(verifier: FakeVerifier) -> FakeVerifier:
    verifier.readings[b"front"] = front_reading()  # WANG's number
    verifier.readings[b"back"] = back_reading()
    verifier.verdicts[b"selfie"] = verdict("pass")
    verifier.verdicts[b"stranger"] = verdict("fail", ["face_mismatch"])
    verifier.verdicts[b"near"] = verdict("review", ["face_match_uncertain"], distance=0.56)
    return verifier


async def to_face(client: BotClient) -> None:
    replies = await client.press(GO)
    assert "人像面" in text(replies)
    replies = await upload_card(client)
    assert "《人脸识别服务协议》" in text(replies)
    replies = await press(client, replies, "我已阅读并同意")
    assert "按顺序" in text(replies)


async def test_change_phone_and_residence_relinks_the_account(
    client: BotClient, services: Services, verifier: FakeVerifier, sms: FakeSms
) -> None:
    scripted(verifier)
    repo = repos(services)
    person = await collected_person(repo, 5000, WANG)  # collected from another Telegram account
    assert await repo.persons.find_by_telegram(client.user.id) is None
    await to_face(client)
    replies = await client.send_video(b"selfie")
    assert "身份验证通过" in text(replies) and "138****8000" in text(replies)
    # compared with the stored live face
    assert [c[1][2] for c in verifier.calls if c[0] == "video"] == [1]  # type: ignore[index]
    replies = await press(client, replies, "修改手机号码")
    replies = await verify_phone(client, sms, NEW_PHONE)
    assert "139****5678" in text(replies) and "已验证" in text(replies)
    replies = await press(client, replies, "修改居住地")
    replies = await client.send("x")
    assert "2–120" in text(replies)
    replies = await client.send("辽宁省沈阳市和平区南京北街1号")
    assert "辽宁省沈阳市和平区南京北街1号" in text(replies)
    replies = await press(client, replies, "下一步")
    assert "实名信息修改保存成功" in text(replies)
    saved = await repo.persons.get(person.id)
    assert saved is not None and saved.phone is not None and saved.phone.number == NEW_PHONE
    assert saved.residence == "辽宁省沈阳市和平区南京北街1号"
    assert [c.document.value for c in saved.consents] == ["face_recognition_service"]  # signed here
    linked = await repo.persons.find_by_telegram(client.user.id)
    assert linked is not None and linked.id == person.id
    actions = {e.action for e in await repo.audit.for_subject("person", person.id)}
    assert {"person.phone.replace", "person.residence.change"} <= actions


async def test_no_record_is_told_only_after_the_face_check(
    client: BotClient, services: Services, verifier: FakeVerifier
) -> None:
    scripted(verifier)
    replies = await client.press(GO)
    assert "实名信息采集" not in text(replies)  # nothing said before the card was read
    replies = await upload_card(client)
    # The same steps as for a collected number (issue 15, probing): the face check first.
    assert "请先进行【实名信息采集】" not in text(replies)
    assert "《人脸识别服务协议》" in text(replies)
    replies = await press(client, replies, "我已阅读并同意")
    replies = await client.send_video(b"selfie")
    assert "请先进行【实名信息采集】" in text(replies)
    assert has_button(replies, "实名信息采集")


async def test_mismatch_cannot_go_on(
    client: BotClient, services: Services, verifier: FakeVerifier, settings: Settings
) -> None:
    scripted(verifier)
    person = await collected_person(repos(services), 5000, WANG)
    await to_face(client)
    for _ in range(settings.max_step_retries):
        replies = await client.send_video(b"stranger")
        assert "人脸识别未通过" in text(replies)
        assert "身份验证通过" not in text(replies)
    assert "已暂停" in text(replies)
    assert await repos(services).persons.find_by_telegram(client.user.id) is None
    saved = await repos(services).persons.get(person.id)
    assert saved == person


async def test_failed_attempts_pause_the_function_and_start_does_not_lift_it(
    client: BotClient,
    services: Services,
    verifier: FakeVerifier,
    settings: Settings,
    dp: Dispatcher,
    bot: MockedBot,
) -> None:
    scripted(verifier)
    await collected_person(repos(services), 5000, WANG)
    for _ in range(settings.change_face_attempts):
        await to_face(client)
        await client.send_video(b"stranger")
        await client.send("/start")  # abandoning the face check counts as a failed attempt
    replies = await client.press(GO)
    assert "已暂停" in text(replies) and "分钟" in text(replies)
    await client.send("/start")
    replies = await client.press(GO)
    assert "已暂停" in text(replies)
    # another Telegram account with the same card is paused too, once the card was read
    other = BotClient(dp, bot, user_id=6006)
    replies = await other.press(GO)
    replies = await upload_card(other)
    assert "已暂停" in text(replies)
    assert "《人脸识别服务协议》" not in text(replies)


async def test_a_pass_resets_the_count(
    client: BotClient, services: Services, verifier: FakeVerifier, settings: Settings
) -> None:
    scripted(verifier)
    await collected_person(repos(services), 5000, WANG)
    for _ in range(settings.change_face_attempts - 1):
        await to_face(client)
        await client.send("/start")
    await to_face(client)
    replies = await client.send_video(b"selfie")
    assert "身份验证通过" in text(replies)
    await client.send("/start")
    await to_face(client)  # not paused


async def test_forged_edit_button_without_verification(client: BotClient, verifier: FakeVerifier) -> None:
    scripted(verifier)
    replies = await client.press("d:save:")
    assert "失效" in text(replies) and "实名信息修改保存成功" not in text(replies)


async def test_back_from_the_card_and_from_the_edit_screen(
    client: BotClient, services: Services, verifier: FakeVerifier
) -> None:
    scripted(verifier)
    await collected_person(repos(services), 5000, WANG)
    replies = await client.press(GO)
    replies = await press(client, replies, "返回")
    assert "温馨提示" in text(replies)
    await to_face(client)
    replies = await client.send_video(b"selfie")
    replies = await press(client, replies, "返回")
    assert "未保存" in text(replies)
    assert await repos(services).persons.find_by_telegram(client.user.id) is None
