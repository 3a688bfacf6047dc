"""The functions 2–6 end to end: the real bot polling the local sandbox, driven over its control API.

Bind, unbind and the maintenance rules run with a scripted verifier (what they test is the dialog and
the policies, not the engines). Change and supplement run with the real engines: the stored live face
is a frame of one public recording of a man, the card is composed at test time with a fictitious
identity (tools/cardgen, as in test_collect_e2e), and the selfie is another real recording of the same
man — or, for the refusal, the stored face is someone else's photo.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.dialogs.base import Act
from bot.domain.clock import system_clock
from bot.domain.enterprise import Role
from bot.domain.models import CollectedRecord, IdentityDocument, LivePhoto, PhoneNumber
from bot.services.verifier import PoolVerifier
from bot.storage.repositories import Repositories
from bot.verification.ids import DocumentType
from tests.e2e.cards import SELFIE, jpeg, portrait
from tests.e2e.conftest import RunningBot, register_identity
from tests.helpers.factory import make_settings
from tests.helpers.fakes import verdict
from tests.helpers.register import LI, WANG, WU, XINGHE, YUNSHAN, ZHAO, collected_person, load_register
from tests.helpers.sandbox_user import SandboxUser, texts

pytestmark = [pytest.mark.e2e]

Replies = list[dict[str, Any]]


def repo_of(running: RunningBot) -> Repositories:
    assert running.services is not None
    return running.services.repositories()


async def open_function(user: SandboxUser, *path: str) -> Replies:
    """/start, then the menu path by button labels, then the tip's 【开始】."""
    replies = await user.send("/start")
    for label in path:
        replies = await user.press_label(replies, label)
    assert "温馨提示" in texts(replies), texts(replies)
    return await user.press_label(replies, "开始")


async def enterprise_id(repo: Repositories, taxpayer_id: str) -> int:
    found = await repo.enterprises.get(taxpayer_id)
    assert found is not None
    return found.id


# --- scripted engines: bind, unbind, maintenance rules ------------------------------------------------


async def test_bind_and_unbind_over_http(
    running_bot: RunningBot, make_user: Callable[..., SandboxUser]
) -> None:
    repo = repo_of(running_bot)
    await load_register(repo)
    await collected_person(repo, 801, WANG, "王小明")
    zhao = await collected_person(repo, 802, ZHAO, "赵强", encoding=tuple(0.5 for _ in range(128)))
    await repo.enterprises.bind(zhao.id, await enterprise_id(repo, XINGHE), Role.TAX_HANDLER, bound_by=None)

    wang = make_user(801)
    replies = await open_function(wang, "我的", "法人(财务负责人)绑定管理")
    replies = await wang.send(XINGHE)
    replies = await wang.press_label(replies, "法定代表人")
    replies = await wang.press_label(replies, "绑定")
    replies = await wang.press_label(replies, XINGHE)
    assert "绑定成功" in texts(replies), texts(replies)
    # refused: not the registered finance officer of this enterprise
    replies = await open_function(wang, "我的", "法人(财务负责人)绑定管理")
    replies = await wang.send(XINGHE)
    replies = await wang.press_label(replies, "财务负责人")
    replies = await wang.press_label(replies, "绑定")
    assert "绑定失败" in texts(replies), texts(replies)  # the pop-up lists nothing
    # refused: not a tax handler of the enterprise
    replies = await open_function(wang, "我的", "企业办税人解绑")
    replies = await wang.send(XINGHE)
    replies = await wang.press_label(replies, "查询")
    assert "未查询到您作为办税人与该企业的绑定信息" in texts(replies), texts(replies)

    handler = make_user(802)
    replies = await open_function(handler, "我的", "企业办税人解绑")
    replies = await handler.send(XINGHE)
    replies = await handler.press_label(replies, "查询")
    assert "辽宁星河商贸有限公司" in texts(replies) and "赵*" in texts(replies)
    replies = await handler.press_label(replies, "解绑")
    replies = await handler.press_label(replies, "确定解绑")
    assert "解绑成功" in texts(replies), texts(replies)
    assert await repo.enterprises.bindings_of(zhao.id) == []


async def test_maintenance_over_http_refuses_another_enterprises_person(
    running_bot: RunningBot, make_user: Callable[..., SandboxUser]
) -> None:
    running_bot.verifier.verdicts[b"selfie"] = verdict("pass")
    repo = repo_of(running_bot)
    await load_register(repo)
    wu = await collected_person(repo, 803, WU, "吴芳")
    await collected_person(repo, 804, LI, "李丽", encoding=tuple(0.5 for _ in range(128)))
    await repo.enterprises.bind(wu.id, await enterprise_id(repo, YUNSHAN), Role.TAX_HANDLER, bound_by=None)

    user = make_user(803)
    replies = await open_function(user, "办税", "实名信息", "实名信息维护")
    assert "刷脸登录" in texts(replies)
    replies = await user.upload("video_note", b"selfie", "selfie.mp4")
    screen = texts(replies)
    assert "沈阳云杉科技有限公司" in screen and "周*" in screen and "李*" not in screen, screen
    assert WU not in screen and "吴芳" not in screen
    li_entry = next(
        p for p in await repo.enterprises.people(await enterprise_id(repo, XINGHE)) if p.number == LI
    )
    list_message = next(m for m in reversed(replies) if m.get("buttons"))
    forged = Act(a="person", v=str(li_entry.id)).pack()
    replies = await user.press(forged, list_message["message_id"])
    assert "无权查看或维护该人员的信息" in texts(replies), texts(replies)
    assert "李*" not in texts(replies)


# --- real engines: change and supplement -------------------------------------------------------------


@pytest.fixture
def real_settings(tmp_path: Path) -> Settings:
    # The challenge the selfie recording shows (see test_collect_e2e).
    return make_settings(tmp_path, liveness_challenge="open_mouth,blink")


@pytest.fixture
async def real_bot(
    sandbox: str, real_settings: Settings, engines: PoolVerifier, card_photos: tuple[bytes, bytes, Any]
) -> AsyncIterator[RunningBot]:
    running = RunningBot(real_settings, sandbox, verifier=engines)
    await running.start()
    await register_identity(running, card_photos[2])  # number and name; no photo on file
    yield running
    await running.stop()


async def stored_person(
    repo: Repositories,
    engines: PoolVerifier,
    identity: Any,
    face_jpeg: bytes,
    *,
    user_id: int | None,
    valid_to: date | None,
) -> int:
    """A collected person with the card's identity whose stored live face is ``face_jpeg``'s."""
    encoded = await engines.encode_face(face_jpeg)
    assert encoded.ok and encoded.encoding
    document = IdentityDocument(
        doc_type=DocumentType.RESIDENT_ID,
        number=identity.id_number,
        name=identity.name,
        valid_from=None if valid_to is None else date(valid_to.year - 10, valid_to.month, valid_to.day),
        valid_to=valid_to,
    )
    person = await repo.persons.save_collected(
        CollectedRecord(
            telegram_user_id=user_id or 999_999,
            document=document,
            consents=(),
            phone=PhoneNumber("13800138000", system_clock()),
            live_photo=LivePhoto(media_id="live-e2e", encoding=tuple(encoded.encoding)),
        )
    )
    if user_id is None:
        await repo.users.unlink(999_999, actor_user_id=None)
    return person.id


async def walk_card(user: SandboxUser, replies: Replies, front: bytes, back: bytes) -> Replies:
    assert "人像面" in texts(replies), texts(replies)
    replies = await user.upload("photo", front, "front.jpg")
    assert "人像面识别完成" in texts(replies), texts(replies)
    replies = await user.press_label(replies, "确定")
    replies = await user.upload("photo", back, "back.jpg")
    assert "【信息核实】" in texts(replies) and "⚠️" not in texts(replies), texts(replies)
    replies = await user.press_label(replies, "下一步")
    replies = await user.press_label(replies, "我已阅读并同意")
    assert "按顺序" in texts(replies), texts(replies)
    return replies


@pytest.mark.slow
async def test_change_with_real_face_comparison(
    real_bot: RunningBot,
    make_user: Callable[..., SandboxUser],
    card_photos: tuple[bytes, bytes, Any],
    engines: PoolVerifier,
    testdata: Path,
) -> None:
    """Stored face: a frame of one recording; selfie: another real recording of the same man."""
    front, back, identity = card_photos
    repo = repo_of(real_bot)
    person_id = await stored_person(
        repo, engines, identity, jpeg(portrait(testdata)), user_id=None, valid_to=date(2041, 3, 1)
    )
    user = make_user(811)
    replies = await open_function(user, "办税", "实名信息", "实名信息变更")
    await walk_card(user, replies, front, back)
    replies = await user.upload("video_note", (testdata / SELFIE).read_bytes(), "selfie.mp4")
    assert "身份验证通过" in texts(replies), texts(replies)
    replies = await user.press_label(replies, "修改手机号码")
    replies = await user.send("13912345678")
    code = "".join(ch for ch in (await user.sms("13912345678"))[-1]["text"] if ch.isdigit())[:6]
    replies = await user.send(code)
    replies = await user.press_label(replies, "下一步")
    assert "实名信息修改保存成功" in texts(replies), texts(replies)
    linked = await repo.persons.find_by_telegram(811)
    assert linked is not None and linked.id == person_id
    assert linked.phone is not None and linked.phone.number == "13912345678"


@pytest.mark.slow
async def test_change_refuses_another_face(
    real_bot: RunningBot,
    make_user: Callable[..., SandboxUser],
    card_photos: tuple[bytes, bytes, Any],
    engines: PoolVerifier,
    testdata: Path,
) -> None:
    """Stored face: a public photo of someone else; selfie: the real recording. Nothing changes."""
    front, back, identity = card_photos
    repo = repo_of(real_bot)
    other = (testdata / "faces/face_recognition/obama.jpg").read_bytes()
    await stored_person(repo, engines, identity, other, user_id=None, valid_to=date(2041, 3, 1))
    user = make_user(812)
    replies = await open_function(user, "办税", "实名信息", "实名信息变更")
    await walk_card(user, replies, front, back)
    replies = await user.upload("video_note", (testdata / SELFIE).read_bytes(), "selfie.mp4")
    assert "人脸识别未通过" in texts(replies), texts(replies)
    assert "身份验证通过" not in texts(replies)
    assert await repo.persons.find_by_telegram(812) is None


@pytest.mark.slow
async def test_supplement_of_an_expired_card_with_real_engines(
    real_bot: RunningBot,
    make_user: Callable[..., SandboxUser],
    card_photos: tuple[bytes, bytes, Any],
    engines: PoolVerifier,
    testdata: Path,
) -> None:
    front, back, identity = card_photos
    repo = repo_of(real_bot)
    person_id = await stored_person(
        repo, engines, identity, jpeg(portrait(testdata)), user_id=813, valid_to=date(2021, 3, 1)
    )
    user = make_user(813)
    replies = await user.send("/start")
    assert "身份证件过期，请到'【办税】-【实名信息】-【实名信息补录】'" in texts(replies), texts(replies)
    replies = await open_function(user, "办税", "实名信息", "实名采集信息补录")
    assert "身份证已过期，请重新采集" in texts(replies), texts(replies)
    replies = await user.press_label(replies, "确定")
    await walk_card(user, replies, front, back)
    replies = await user.upload("video_note", (testdata / SELFIE).read_bytes(), "selfie.mp4")
    assert "实名信息补采保存成功" in texts(replies), texts(replies)
    saved = await repo.persons.get(person_id)
    assert saved is not None and saved.document.valid_to == identity.valid_to
    replies = await user.send("/start")
    assert "身份证件过期" not in texts(replies)
