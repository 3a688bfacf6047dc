"""实名采集信息补录 through the real dispatcher, and the expired-card reminder at every login."""

from __future__ import annotations

from datetime import date

from bot.services import Services
from bot.ui import Function, Go
from tests.helpers.client import BotClient
from tests.helpers.fakes import FakeVerifier, back_reading, front_reading, valid_number, verdict
from tests.helpers.functions import has_button, press, repos, text, upload_card
from tests.helpers.register import WANG, ZHAO, collected_person

GO = Go(func=Function.SUPPLEMENT).pack()
EXPIRED = date(2021, 5, 1)
REMINDER = "身份证件过期，请到'【办税】-【实名信息】-【实名信息补录】'功能下进行实名信息采集补录"


def scripted(verifier: FakeVerifier) -> FakeVerifier:
    verifier.readings[b"front"] = front_reading()
    verifier.readings[b"back"] = back_reading()
    verifier.verdicts[b"selfie"] = verdict("pass")
    return verifier


async def test_needs_login(client: BotClient) -> None:
    replies = await client.press(GO)
    assert "需要先登录" in text(replies)
    assert has_button(replies, "实名信息采集")


async def test_complete_record(client: BotClient, services: Services) -> None:
    await collected_person(repos(services), client.user.id, WANG)
    replies = await client.press(GO)
    assert "该证件已实名采集" in text(replies)
    assert "缺少现场照片" not in text(replies)


async def test_missing_live_photo_is_captured(
    client: BotClient, services: Services, verifier: FakeVerifier
) -> None:
    scripted(verifier)
    person = await collected_person(repos(services), client.user.id, WANG, with_live_photo=False)
    replies = await client.press(GO)
    assert "该证件已实名采集，但缺少现场照片" in text(replies)
    replies = await press(client, replies, "确定")
    assert "《人脸识别服务协议》" in text(replies)
    replies = await press(client, replies, "我已阅读并同意")
    replies = await client.send_video(b"selfie")
    assert "实名信息补采保存成功" in text(replies)
    saved = await repos(services).persons.get(person.id)
    assert saved is not None and saved.live_photo is not None
    # no stored portrait: liveness only
    assert [c[1][2] for c in verifier.calls if c[0] == "video"] == [0]  # type: ignore[index]
    actions = [e.action for e in await repos(services).audit.for_subject("person", person.id)]
    assert "person.live_photo.replace" in actions
    # the face agreement signed in this dialog is kept with its version and text hash
    assert [c.document.value for c in saved.consents] == ["face_recognition_service"]
    assert saved.consents[0].version and len(saved.consents[0].text_hash) == 64
    assert "person.consent.add" in actions


async def test_reminder_at_every_login_only_when_expired(client: BotClient, services: Services) -> None:
    replies = await client.send("/start")
    assert REMINDER not in text(replies)
    await collected_person(repos(services), client.user.id, WANG, valid_to=EXPIRED)
    for _ in range(2):
        replies = await client.send("/start")
        assert REMINDER in text(replies)
        assert has_button(replies, "实名采集信息补录")


async def test_no_reminder_for_a_valid_card(client: BotClient, services: Services) -> None:
    await collected_person(repos(services), client.user.id, WANG)
    assert REMINDER not in text(await client.send("/start"))


async def test_expired_card_is_collected_again(
    client: BotClient, services: Services, verifier: FakeVerifier
) -> None:
    scripted(verifier)
    person = await collected_person(repos(services), client.user.id, WANG, valid_to=EXPIRED)
    replies = await client.press(GO)
    assert "身份证已过期，请重新采集" in text(replies)
    replies = await press(client, replies, "确定")
    assert "人像面" in text(replies)
    replies = await upload_card(client)
    replies = await press(client, replies, "我已阅读并同意")
    replies = await client.send_video(b"selfie")
    assert "实名信息补采保存成功" in text(replies)
    saved = await repos(services).persons.get(person.id)
    assert saved is not None and saved.document.valid_to == date(2040, 5, 1)
    assert saved.document.front_media_id is not None
    # the face was compared with the stored live face (one reference)
    assert [c[1][2] for c in verifier.calls if c[0] == "video"] == [1]  # type: ignore[index]
    replies = await client.send("/start")
    assert REMINDER not in text(replies)


async def test_expired_card_replaced_by_another_number_is_refused(
    client: BotClient, services: Services, verifier: FakeVerifier
) -> None:
    scripted(verifier)
    verifier.readings[b"front"] = front_reading(valid_number("11010119900307567"))
    person = await collected_person(repos(services), client.user.id, WANG, valid_to=EXPIRED)
    replies = await client.press(GO)
    replies = await press(client, replies, "确定")
    replies = await upload_card(client)
    assert "不一致" in text(replies)
    saved = await repos(services).persons.get(person.id)
    assert saved is not None and saved.document.valid_to == EXPIRED


async def test_face_of_another_person_is_refused(
    client: BotClient, services: Services, verifier: FakeVerifier
) -> None:
    scripted(verifier)
    repo = repos(services)
    await collected_person(repo, 4242, ZHAO, "赵强")  # same (fake) face encoding as the selfie
    person = await collected_person(repo, client.user.id, WANG, with_live_photo=False)
    replies = await client.press(GO)
    replies = await press(client, replies, "确定")
    replies = await press(client, replies, "我已阅读并同意")
    replies = await client.send_video(b"selfie")
    assert "已与其他证件关联" in text(replies)
    saved = await repo.persons.get(person.id)
    assert saved is not None and saved.live_photo is None


async def test_back_from_the_card_returns_to_the_question(
    client: BotClient, services: Services, verifier: FakeVerifier
) -> None:
    await collected_person(repos(services), client.user.id, WANG, valid_to=EXPIRED)
    replies = await client.press(GO)
    replies = await press(client, replies, "确定")
    replies = await press(client, replies, "返回")
    assert "身份证已过期，请重新采集" in text(replies)
    replies = await press(client, replies, "返回")
    assert "温馨提示" in text(replies)


async def test_english(client_en: BotClient, services: Services) -> None:
    await collected_person(repos(services), client_en.user.id, WANG)
    replies = await client_en.press(GO)
    assert "collection is complete" in text(replies)
