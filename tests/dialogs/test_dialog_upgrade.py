"""A dialog stored before the typed stack (FSM data version 1) survives the upgrade: it is read in the
new shape (bot/dialogs/calls.py ``upgrade``) and completes as it would have.

Each test walks a collection to a step with today's code, rewrites the stored data into the shape
version 1 stored at that step (no ``stack``, the inputs in loose keys, unversioned results), and
finishes the walk.
"""

from __future__ import annotations

from typing import Any

from aiogram.fsm.context import FSMContext

from bot.dialogs import calls
from bot.dialogs.authority import primary_reference
from bot.services import Services
from bot.storage.repositories import Repositories
from bot.verification.ids import DocumentType
from tests.dialogs.test_collect import PHONE, press, scripted, text, to_phone, to_verify_screen
from tests.helpers.client import BotClient
from tests.helpers.fakes import FakeSms, FakeVerifier, valid_number
from tests.helpers.old_dialogs import as_version_2

__all__ = ["scripted"]  # the fixture of the collection tests, the same scripted engines


def fsm(client: BotClient) -> FSMContext:
    return client.dp.fsm.get_context(client.bot, chat_id=client.user.id, user_id=client.user.id)


def as_version_1(data: dict[str, Any]) -> dict[str, Any]:
    """What version 1 stored for the same dialog: the caller by ``flow`` alone, inputs as loose keys
    (``face_refs`` set by 采集 when the authority answered, before the phone step), results bare, and
    the own values loose as in version 2."""
    data = as_version_2(data)
    old = {k: v for k, v in data.items() if k not in (calls.STACK, calls.VERSION_KEY)}
    for key in ("card", "phone", "face", "authority"):
        if isinstance(old.get(key), dict):
            old[key] = {k: v for k, v in old[key].items() if k != "v"}
    for frame in data.get(calls.STACK) or []:
        given = dict(frame.get("input") or {})
        given.pop("v", None)
        if frame["sub"] == "face":
            old["face_refs"], old["face_agreement"] = given["refs"], given["with_agreement"]
        elif frame["sub"] == "phone" and given:
            old["phone_for"] = given
        elif frame["sub"] == "authority":
            old["authority_subject"] = given or None
    if old.get("authority") and old.get("doc_type") == DocumentType.RESIDENT_ID.value:
        old.setdefault("face_refs", primary_reference(old))
    return old


async def store_as_version_1(client: BotClient) -> dict[str, Any]:
    state = fsm(client)
    data = await state.get_data()
    assert data[calls.VERSION_KEY] == calls.DIALOG_VERSION  # what today's code stores
    old = as_version_1(data)
    await state.set_data(old)
    assert calls.needs_upgrade(await state.get_data())
    return old


async def saved(services: Services) -> bool:
    repos: Repositories = services.repositories()
    person = await repos.persons.find_by_document(DocumentType.RESIDENT_ID, valid_number())
    return person is not None and person.phone is not None and person.phone.number == PHONE


async def test_after_the_card_step_of_a_collection(
    client: BotClient, scripted: FakeVerifier, sms: FakeSms, services: Services
) -> None:
    replies = await to_verify_screen(client)
    replies = await press(client, replies, "下一步")
    assert "《个人信息保护告知同意书》" in text(replies)
    assert await fsm(client).get_state() == "CollectSG:consent"
    old = await store_as_version_1(client)
    assert "v" not in old["card"] and calls.STACK not in old

    replies = await press(client, replies, "我已阅读并同意")
    upgraded = await fsm(client).get_data()
    assert upgraded[calls.VERSION_KEY] == calls.DIALOG_VERSION and upgraded["card"]["v"] == 1
    assert "手机号码" in text(replies)
    await client.send(PHONE)
    replies = await client.send(sms.code_for(PHONE))
    assert "验证成功" in text(replies)
    replies = await press(client, replies, "我已阅读并同意")
    replies = await client.send_video(b"selfie")
    assert "采集成功" in text(replies)
    assert await saved(services)
    (_, (_, _, references, _)) = next(c for c in scripted.calls if c[0] == "video")
    assert references == 1  # the portrait read before the upgrade is the reference


async def test_mid_phone_step_of_a_collection(
    client: BotClient, scripted: FakeVerifier, sms: FakeSms, services: Services
) -> None:
    await to_phone(client)
    replies = await client.send(PHONE)
    assert "验证码已发送至 138****8000" in text(replies)
    assert await fsm(client).get_state() == "PhoneSG:code"
    old = await store_as_version_1(client)
    assert old["face_refs"] and "phone_pending" in old

    replies = await client.send(sms.code_for(PHONE))
    assert "验证成功" in text(replies)
    upgraded = await fsm(client).get_data()
    assert "face_refs" not in upgraded and upgraded["phone"]["number"] == PHONE
    replies = await press(client, replies, "我已阅读并同意")
    assert "按顺序" in text(replies)
    replies = await client.send_video(b"selfie")
    assert "采集成功" in text(replies)
    assert await saved(services)
    (_, (_, _, references, _)) = next(c for c in scripted.calls if c[0] == "video")
    assert references == 1


async def test_mid_face_step_keeps_the_references_and_the_way_back(
    client: BotClient, scripted: FakeVerifier, sms: FakeSms, services: Services
) -> None:
    await to_phone(client)
    await client.send(PHONE)
    replies = await client.send(sms.code_for(PHONE))
    replies = await press(client, replies, "我已阅读并同意")
    assert await fsm(client).get_state() == "FaceSG:video"
    old = await store_as_version_1(client)
    assert old["face_agreement"] is True and len(old["face_refs"]) == 1

    # back from the video goes to the face agreement (it began with it), then on again
    replies = await press(client, replies, "返回")
    assert "《人脸识别服务协议》" in text(replies)
    frames = (await fsm(client).get_data())[calls.STACK]
    assert [f["sub"] for f in frames] == ["face"] and frames[0]["caller"] == "collect"
    replies = await press(client, replies, "我已阅读并同意")
    replies = await client.send_video(b"selfie")
    assert "采集成功" in text(replies)
    assert await saved(services)
    (_, (_, _, references, _)) = next(c for c in scripted.calls if c[0] == "video")
    assert references == 1


def test_upgrade_moves_each_input_into_its_frame() -> None:
    phone_for = {"name": "张*", "enterprise": "某某公司", "lang": "en"}
    new = calls.upgrade(
        {"flow": "maintain", "phone_for": phone_for, "edits": {}, "target_id": 7}, "PhoneSG:number"
    )
    assert new[calls.VERSION_KEY] == calls.DIALOG_VERSION and "phone_for" not in new
    (frame,) = [calls.Frame.model_validate(f) for f in new[calls.STACK]]
    assert frame.caller == "maintain" and frame.sub == "phone"
    assert calls.PhoneFor.model_validate(frame.input) == calls.PhoneFor(**phone_for)

    subject = {"doc_type": "resident_id", "number": "1", "name": "张三", "birth_date": None}
    new = calls.upgrade({"flow": "supplement", "authority_subject": subject}, "AuthoritySG:failed")
    assert calls.AuthoritySubject.model_validate(new[calls.STACK][0]["input"]).name == "张三"

    # outside a sub-dialog: no frame; a version 2 dialog is never upgraded again
    new = calls.upgrade({"flow": "collect", "face": {"decision": "pass"}}, "CollectSG:consent")
    assert new[calls.STACK] == [] and new["face"]["v"] == 1
    assert not calls.needs_upgrade(new)
