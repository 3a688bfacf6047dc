"""实名信息维护 through the real dispatcher: face step-up, the enterprise's people masked, the rules
of who may see and change whom (``bot.domain.policies``), forged buttons; a legal rep or finance
officer authorising and revoking the enterprise's tax handlers (and 解绑 of the binding so made)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from aiogram import Dispatcher
from aiogram.methods import SendMessage

from bot.config import Settings
from bot.dialogs.base import Act
from bot.domain.enterprise import Role
from bot.services import Services
from bot.storage.repositories import Repositories
from bot.ui import Function, Go
from bot.verification.ids import DocumentType
from tests.helpers.client import BotClient, Reply
from tests.helpers.fakes import FakeSms, FakeVerifier, verdict
from tests.helpers.functions import has_button, press, repos, text, verify_phone
from tests.helpers.mocked_bot import MockedBot
from tests.helpers.register import (
    LI,
    SUN,
    WANG,
    WU,
    XINGHE,
    YUNSHAN,
    ZHAO,
    ZHOU,
    collected_person,
    load_register,
    register_rows,
)

GO = Go(func=Function.MAINTAIN).pack()
NEW_PHONE = "13912345678"
WANG_USER, ZHAO_USER, LI_USER, WU_USER = 1001, 7000, 8000, 9000  # 1001 = the default client


def encoding(seed: int) -> tuple[float, ...]:
    return tuple(((i * seed) % 17) / 17 for i in range(128))


async def enterprise_id(repo: Repositories, taxpayer_id: str) -> int:
    found = await repo.enterprises.get(taxpayer_id)
    assert found is not None
    return found.id


@pytest.fixture
async def world(services: Services, verifier: FakeVerifier) -> Repositories:
    """XINGHE: WANG (legal rep, bound), LI (finance officer), ZHAO (tax handler, not bound).
    YUNSHAN: WU (tax handler, bound)."""
    verifier.verdicts[b"selfie"] = verdict("pass")
    repo = repos(services)
    await load_register(repo)
    wang = await collected_person(repo, WANG_USER, WANG, "王小明")
    await collected_person(repo, ZHAO_USER, ZHAO, "赵强", encoding=encoding(3))
    await collected_person(repo, LI_USER, LI, "李丽", encoding=encoding(5), phone="13900000001")
    wu = await collected_person(repo, WU_USER, WU, "吴芳", encoding=encoding(7))
    await repo.enterprises.bind(
        wang.id, await enterprise_id(repo, XINGHE), Role.LEGAL_REP, bound_by=WANG_USER
    )
    await repo.enterprises.bind(wu.id, await enterprise_id(repo, YUNSHAN), Role.TAX_HANDLER, bound_by=None)
    return repo


async def to_people(client: BotClient, video: bytes = b"selfie") -> str:
    replies = await client.press(GO)
    assert "刷脸登录" in text(replies) and "按顺序" in text(replies)
    assert "《人脸识别服务协议》" not in text(replies)
    replies = await client.send_video(video)
    return text(replies)


async def test_legal_rep_maintains_a_persons_phone(
    client: BotClient, world: Repositories, sms: FakeSms, verifier: FakeVerifier
) -> None:
    screen = await to_people(client)
    assert "辽宁星河商贸有限公司" in screen
    # masked: surnames and the ends of the numbers only
    assert "李*" in screen and "210***********0020" in screen
    for secret in (LI, ZHAO, "李丽", "赵强", "13900000001"):
        assert secret not in screen
    assert "沈阳云杉" not in screen and "吴*" not in screen  # the other enterprise's people
    assert [c[1][2] for c in verifier.calls if c[0] == "video"] == [1]  # type: ignore[index]
    replies = await client.press(GO)  # the step-up stays valid: straight to the list
    assert "刷脸登录" not in text(replies)
    replies = await press(client, replies, "财务负责人｜李*")
    assert "139****0001" in text(replies)
    replies = await press(client, replies, "维护")
    replies = await press(client, replies, "修改手机号码")
    replies = await verify_phone(client, sms, NEW_PHONE)
    assert "139****5678" in text(replies)
    replies = await press(client, replies, "修改居住地")
    replies = await client.send("辽宁省沈阳市和平区")
    replies = await press(client, replies, "下一步")
    assert "实名信息修改保存成功" in text(replies)
    li = await world.persons.find_by_document(DocumentType.RESIDENT_ID, LI)
    assert li is not None and li.phone is not None and li.phone.number == NEW_PHONE
    assert li.residence == "辽宁省沈阳市和平区"
    entries = await world.audit.for_subject("person", li.id)
    maintain = [e for e in entries if e.action == "enterprise.maintain"]
    assert maintain and maintain[0].actor_user_id == WANG_USER
    assert maintain[0].after is not None and maintain[0].after["changed"] == ["phone", "residence"]
    # the maintainer's own record and Telegram link are untouched
    wang = await world.persons.find_by_telegram(WANG_USER)
    assert wang is not None and wang.document.number == WANG


async def test_forged_button_with_another_enterprises_person_is_refused(
    dp: Dispatcher, bot: MockedBot, world: Repositories
) -> None:
    """A tax handler of YUNSHAN cannot see or change XINGHE's people, even with a forged callback."""
    wu_client = BotClient(dp, bot, user_id=WU_USER)
    screen = await to_people(wu_client)
    assert "沈阳云杉科技有限公司" in screen and "辽宁星河" not in screen and "李*" not in screen
    xinghe_people = await world.enterprises.people(await enterprise_id(world, XINGHE))
    li_entry = next(p for p in xinghe_people if p.number == LI)
    replies = await wu_client.press(Act(a="person", v=str(li_entry.id)).pack())
    assert "无权查看或维护该人员的信息" in text(replies)
    assert "李*" not in text(replies) and "139****0001" not in text(replies)
    # the dialog ended: nothing further can be done with a follow-up button
    replies = await wu_client.press(Act(a="maintain").pack())
    assert "失效" in text(replies)


async def test_forged_enterprise_id_is_refused(dp: Dispatcher, bot: MockedBot, world: Repositories) -> None:
    # WANG is bound to two enterprises here, so the enterprise is chosen from a list
    wang = await world.persons.find_by_telegram(WANG_USER)
    assert wang is not None
    await world.enterprises.bind(
        wang.id, await enterprise_id(world, YUNSHAN), Role.FINANCE_OFFICER, bound_by=1
    )
    client = BotClient(dp, bot, user_id=WANG_USER)
    screen = await to_people(client)
    assert "请选择要维护的企业" in screen
    haiou_like = await enterprise_id(world, "91210200MA0RNP8L2U")  # listed there, not bound
    replies = await client.press(Act(a="ent", v=str(haiou_like)).pack())
    assert "仅限已绑定企业" in text(replies)


async def test_unknown_person_id_is_refused(client: BotClient, world: Repositories) -> None:
    await to_people(client)
    replies = await client.press(Act(a="person", v="999999").pack())
    assert "无权查看或维护该人员的信息" in text(replies)


async def test_expired_stepup_is_refused_mid_dialog(
    client: BotClient, world: Repositories, settings: Settings
) -> None:
    await to_people(client)
    settings.face_stepup_minutes = -1  # as if the minutes had passed
    replies = await client.press(Act(a="person", v="1").pack())
    assert "刷脸验证未通过或已超时" in text(replies)


async def test_stepup_failure_goes_no_further(client: BotClient, world: Repositories) -> None:
    replies = await client.press(GO)
    replies = await client.send_video(b"someone-else")
    assert "人脸识别未通过" in text(replies)
    assert "辽宁星河" not in text(replies)


async def test_listed_but_not_bound_is_refused(dp: Dispatcher, bot: MockedBot, world: Repositories) -> None:
    zhao_client = BotClient(dp, bot, user_id=ZHAO_USER)
    replies = await zhao_client.press(GO)
    assert "仅限已绑定企业的法定代表人、财务负责人、办税人使用" in text(replies)
    assert has_button(replies, "首页")


async def test_removed_from_the_register_loses_the_right(client: BotClient, world: Repositories) -> None:
    rows = [r for r in register_rows() if r.taxpayer_id == XINGHE and r.doc_number != WANG]
    rows.append(replace(rows[0], role="legal_rep", doc_number=ZHOU, person_name="周建国"))
    await world.enterprises.load(rows, loaded_by=None)
    replies = await client.press(GO)
    assert "仅限已绑定企业" in text(replies)


async def test_needs_login(dp: Dispatcher, bot: MockedBot, world: Repositories) -> None:
    stranger = BotClient(dp, bot, user_id=123456)
    replies = await stranger.press(GO)
    assert "需要先登录" in text(replies) and has_button(replies, "实名信息采集")


async def test_not_collected_person_has_nothing_to_maintain(client: BotClient, world: Repositories) -> None:
    await to_people(client)
    replies = await client.press(GO)
    assert "未实名采集" in text(replies)  # 孙婷, the invoice buyer
    replies = await press(client, replies, "购票人｜孙*")
    assert "尚未完成实名采集" in text(replies)
    assert not has_button(replies, "维护")


async def test_back_walks_out_to_the_tip(client: BotClient, world: Repositories) -> None:
    await to_people(client)
    replies = await client.press(GO)
    replies = await press(client, replies, "财务负责人｜李*")
    replies = await press(client, replies, "维护")
    replies = await press(client, replies, "返回")
    assert "人员信息" in text(replies)
    replies = await press(client, replies, "返回")
    assert "关联人员" in text(replies)
    replies = await press(client, replies, "返回")
    assert "温馨提示" in text(replies)


async def test_text_where_a_button_is_expected_shows_the_step_again(
    client: BotClient, world: Repositories
) -> None:
    await to_people(client)
    replies = await client.send("李丽")
    assert "请使用按钮" in text(replies) and has_button(replies, "财务负责人｜李*")


# --- 授权办税 / 取消授权: a legal rep or finance officer authorises the enterprise's tax handlers ---------

UNBIND = Go(func=Function.UNBIND).pack()


async def person_id(repo: Repositories, number: str) -> int:
    found = await repo.persons.find_by_document(DocumentType.RESIDENT_ID, number)
    assert found is not None
    return found.id


async def handler_screen(client: BotClient, label: str = "办税人｜赵*") -> list[Reply]:
    await to_people(client)
    replies = await client.press(GO)
    return await press(client, replies, label)


async def test_authorised_tax_handler_can_maintain_and_unbind(
    dp: Dispatcher, bot: MockedBot, client: BotClient, world: Repositories, verifier: FakeVerifier
) -> None:
    xinghe, zhao = await enterprise_id(world, XINGHE), await person_id(world, ZHAO)
    replies = await handler_screen(client)
    assert "办税授权：未授权" in text(replies) and not has_button(replies, "取消授权")
    replies = await press(client, replies, "授权办税")
    screen = text(replies)
    assert "确定授权" in screen and "辽宁星河商贸有限公司" in screen
    assert "赵*" in screen and "210***********0032" in screen  # masked only
    assert "赵强" not in screen and ZHAO not in screen
    assert await world.enterprises.binding(zhao, xinghe) is None  # nothing before the confirmation
    replies = await press(client, replies, "确定授权")
    assert "授权成功" in text(replies) and "企业办税人解绑" in text(replies)
    assert has_button(replies, "办税")  # home
    binding = await world.enterprises.binding(zhao, xinghe, Role.TAX_HANDLER)
    assert binding is not None and binding.bound_by == WANG_USER
    (bound,) = await world.audit.for_subject("enterprise_binding", binding.id)
    assert bound.action == "enterprise.bind" and bound.actor_user_id == WANG_USER
    (authorised,) = [e for e in await world.audit.for_subject("person", zhao) if "tax_handler" in e.action]
    assert authorised.action == "enterprise.authorise_tax_handler" and authorised.actor_user_id == WANG_USER
    assert authorised.after is not None and authorised.after["enterprise_id"] == xinghe

    # The tax handler, on their own account: function 4 is open to them now...
    zhao_client = BotClient(dp, bot, user_id=ZHAO_USER)
    verifier.verdicts[b"zhao-selfie"] = verdict("pass")
    screen = await to_people(zhao_client, b"zhao-selfie")
    assert "辽宁星河商贸有限公司" in screen
    # ...and function 6 ends the binding the legal rep made.
    replies = await zhao_client.press(UNBIND)
    replies = await zhao_client.send(XINGHE)
    replies = await press(zhao_client, replies, "查询")
    assert "赵*" in text(replies) and "办税人" in text(replies)
    replies = await press(zhao_client, replies, "解绑")
    replies = await press(zhao_client, replies, "确定解绑")
    assert "解绑成功" in text(replies)
    assert await world.enterprises.binding(zhao, xinghe) is None

    # The legal rep sees the same: not authorised, and may authorise again.
    replies = await client.press(GO)
    replies = await press(client, replies, "办税人｜赵*")
    assert "办税授权：未授权" in text(replies) and has_button(replies, "授权办税")


async def test_authorising_needs_the_person_collected(client: BotClient, world: Repositories) -> None:
    # 孙婷, listed as tax handler too, has not completed collection
    rows = register_rows()
    rows += [replace(r, role="tax_handler") for r in rows if r.doc_number == SUN]
    await world.enterprises.load(rows, loaded_by=None)
    replies = await handler_screen(client, "办税人｜孙*")
    assert "办税授权：未授权" in text(replies) and not has_button(replies, "维护")
    replies = await press(client, replies, "授权办税")
    screen = text(replies)
    assert "尚未完成实名信息采集" in screen and "【实名信息采集】" in screen
    assert "孙*" in screen and has_button(replies, "授权办税")  # the person screen again, dialog goes on
    assert "孙婷" not in screen and SUN not in screen
    xinghe = await enterprise_id(world, XINGHE)
    assert [b.role for b in await world.enterprises.bindings_for(xinghe)] == [Role.LEGAL_REP]
    replies = await press(client, replies, "返回")
    assert "关联人员" in text(replies)


async def test_a_tax_handler_may_not_authorise(dp: Dispatcher, bot: MockedBot, world: Repositories) -> None:
    """吴芳, bound tax handler of YUNSHAN, maintains its people but authorises or revokes nobody."""
    wu_client = BotClient(dp, bot, user_id=WU_USER)
    replies = await handler_screen(wu_client, "办税人｜吴*")
    assert "办税授权：已授权" in text(replies) and has_button(replies, "维护")
    assert not has_button(replies, "授权办税") and not has_button(replies, "取消授权")
    replies = await wu_client.press(Act(a="revoke").pack())  # forged
    assert "办税人可以维护企业关联人员的信息，但不能为他人授权" in text(replies)
    assert await world.enterprises.binding(await person_id(world, WU), await enterprise_id(world, YUNSHAN))


async def test_authorising_needs_a_fresh_stepup(
    client: BotClient, world: Repositories, settings: Settings
) -> None:
    replies = await press(client, await handler_screen(client), "授权办税")
    settings.face_stepup_minutes = -1  # expired while the confirmation was on screen
    replies = await press(client, replies, "确定授权")
    assert "刷脸验证未通过或已超时" in text(replies)
    assert (
        await world.enterprises.binding(await person_id(world, ZHAO), await enterprise_id(world, XINGHE))
        is None
    )
    replies = await client.press(Act(a="yes", v="authorise").pack())  # the dialog has ended
    assert "失效" in text(replies)


async def test_revoking_ends_the_binding_as_unbind_does(
    dp: Dispatcher, bot: MockedBot, client: BotClient, world: Repositories
) -> None:
    # 王小明 is also YUNSHAN's finance officer: bound as such, he manages 吴芳's authorisation there
    yunshan, wu = await enterprise_id(world, YUNSHAN), await person_id(world, WU)
    binding = await world.enterprises.binding(wu, yunshan, Role.TAX_HANDLER)
    assert binding is not None
    await world.enterprises.bind(await person_id(world, WANG), yunshan, Role.FINANCE_OFFICER, bound_by=1)
    await to_people(client)
    replies = await client.press(GO)
    replies = await press(client, replies, "沈阳云杉科技有限公司")
    replies = await press(client, replies, "办税人｜吴*")
    assert "办税授权：已授权" in text(replies) and not has_button(replies, "授权办税")
    replies = await press(client, replies, "取消授权")
    assert "确定取消" in text(replies) and "吴*" in text(replies) and "吴芳" not in text(replies)
    replies = await press(client, replies, "返回")  # back: nothing changed
    assert "人员信息" in text(replies) and await world.enterprises.binding(wu, yunshan) is not None
    replies = await press(client, replies, "取消授权")
    replies = await press(client, replies, "确定取消授权")
    assert "取消授权成功" in text(replies)
    assert await world.enterprises.binding(wu, yunshan) is None
    actions = [(e.action, e.actor_user_id) for e in await world.audit.for_subject("person", wu)]
    assert ("enterprise.revoke_tax_handler", WANG_USER) in actions
    # the binding's own row says who ended it, as for an unbind
    ended = await world.audit.for_subject("enterprise_binding", binding.id)
    assert (ended[0].action, ended[0].actor_user_id) == ("enterprise.unbind", WANG_USER)
    assert ended[0].after is not None and ended[0].after["unbound_by"] == WANG_USER
    # 吴芳 finds no binding to unbind any more, and maintenance is closed to her
    wu_client = BotClient(dp, bot, user_id=WU_USER)
    replies = await wu_client.press(UNBIND)
    replies = await wu_client.send(YUNSHAN)
    replies = await press(wu_client, replies, "查询")
    assert "未查询到您作为办税人与该企业的绑定信息" in text(replies)
    assert "仅限已绑定企业" in text(await wu_client.press(GO))


async def test_confirmation_answers_text_stale_buttons_and_cancel(
    client: BotClient, world: Repositories
) -> None:
    replies = await press(client, await handler_screen(client), "授权办税")
    replies = await client.send("确定")
    assert "请使用按钮" in text(replies) and has_button(replies, "确定授权")
    replies = await client.press(Act(a="yes", v="revoke").pack())  # not what is being confirmed
    assert "请使用按钮" in text(replies) and has_button(replies, "确定授权")
    replies = await client.send("/cancel")
    assert "已取消" in text(replies)
    assert (
        await world.enterprises.binding(await person_id(world, ZHAO), await enterprise_id(world, XINGHE))
        is None
    )


async def test_authorised_meanwhile_is_said_over_the_person(client: BotClient, world: Repositories) -> None:
    replies = await press(client, await handler_screen(client), "授权办税")
    zhao, xinghe = await person_id(world, ZHAO), await enterprise_id(world, XINGHE)
    await world.enterprises.bind(zhao, xinghe, Role.TAX_HANDLER, bound_by=LI_USER)  # another authoriser
    replies = await press(client, replies, "确定授权")
    assert "已是本企业授权的办税人" in text(replies) and "办税授权：已授权" in text(replies)
    assert has_button(replies, "取消授权")
    binding = await world.enterprises.binding(zhao, xinghe)
    assert binding is not None and binding.bound_by == LI_USER


async def test_maintaining_someone_elses_phone_is_worded_for_them_and_they_are_told(
    client: BotClient, world: Repositories, sms: FakeSms
) -> None:
    """The prompt names the other person (no "share my contact"), the SMS tells them who asks and
    why in their own language, and they get a chat notice of the change."""
    await world.users.touch(LI_USER, "en")  # LI's Telegram speaks English; no choice stored
    await to_people(client)
    replies = await press(client, await client.press(GO), "财务负责人｜李*")
    replies = await press(client, replies, "维护")
    replies = await press(client, replies, "修改手机号码")
    assert "李*" in text(replies) and "辽宁星河商贸有限公司" in text(replies)
    assert "您本人" not in text(replies)
    replies = await client.send(NEW_PHONE)
    assert not has_button(replies, "分享我的手机号")
    assert "分享" not in text(replies)
    (sms_text,) = [t for phone, t in sms.sent if phone == NEW_PHONE]
    assert "辽宁星河商贸有限公司" in sms_text and "tell the code to that person" in sms_text
    replies = await client.send(sms.code_for(NEW_PHONE))
    replies = await press(client, replies, "下一步")
    assert "实名信息修改保存成功" in text(replies)
    (notice,) = [r for r in sent_to_chat(replies, LI_USER)]
    assert "updated your real-name record" in notice and "139****5678" in notice
    assert NEW_PHONE not in notice


def sent_to_chat(replies: list[Reply], chat_id: int) -> list[str]:
    return [r.text for r in replies if isinstance(r.method, SendMessage) and r.method.chat_id == chat_id]
