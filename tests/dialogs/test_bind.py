"""法人(财务负责人)绑定管理 and 企业办税人解绑 through the real dispatcher, each refusal included."""

from __future__ import annotations

import pytest
from aiogram import Dispatcher

from bot.dialogs.base import Act
from bot.domain.enterprise import Role
from bot.services import Services
from bot.storage.repositories import Repositories
from bot.ui import Function, Go
from bot.verification.ids import uscc_check_char
from tests.helpers.client import BotClient, Reply
from tests.helpers.functions import has_button, press, repos, text
from tests.helpers.mocked_bot import MockedBot
from tests.helpers.register import HAIOU, WANG, XINGHE, YUNSHAN, ZHAO, collected_person, load_register

BIND = Go(func=Function.BIND).pack()
UNBIND = Go(func=Function.UNBIND).pack()
ZHAO_USER = 7000
# Valid but not in the register.
UNKNOWN = "91210102MA0QWE7R2" + uscc_check_char("91210102MA0QWE7R2")


@pytest.fixture
async def world(services: Services, client: BotClient) -> Repositories:
    repo = repos(services)
    await load_register(repo)
    await collected_person(repo, client.user.id, WANG, "王小明")
    await collected_person(repo, ZHAO_USER, ZHAO, "赵强", encoding=tuple(0.5 for _ in range(128)))
    return repo


async def bind(client: BotClient, taxpayer_id: str, role_label: str) -> str:
    replies = await client.press(BIND)
    assert "纳税人识别号" in text(replies)
    replies = await client.send(taxpayer_id)
    replies = await press(client, replies, role_label)
    assert "✅ " + role_label in text(replies) or has_button(replies, "✅ " + role_label)
    replies = await press(client, replies, "绑定")
    assert "请在下列企业中选择" in text(replies), text(replies)
    replies = await press(client, replies, "（" + taxpayer_id + "）")
    return text(replies)


async def test_bind_as_legal_rep(client: BotClient, world: Repositories) -> None:
    screen = await bind(client, XINGHE, "法定代表人")
    assert "绑定成功" in screen and "辽宁星河商贸有限公司" in screen
    person = await world.persons.find_by_telegram(client.user.id)
    assert person is not None
    xinghe = await world.enterprises.get(XINGHE)
    assert xinghe is not None
    binding = await world.enterprises.binding(person.id, xinghe.id, Role.LEGAL_REP)
    assert binding is not None and binding.bound_by == client.user.id
    audit = await world.audit.for_subject("enterprise_binding", binding.id)
    assert audit[0].action == "enterprise.bind" and audit[0].actor_user_id == client.user.id
    # the same binding again is refused
    assert "无需重复绑定" in await bind(client, XINGHE, "法定代表人")


async def test_bind_as_finance_officer(client: BotClient, world: Repositories) -> None:
    assert "绑定成功" in await bind(client, YUNSHAN, "财务负责人")


async def refused_bind(client: BotClient, taxpayer_id: str, role_label: str) -> str:
    """The pop-up lists nothing: the same answer for an unknown id and an enterprise not listing you."""
    await client.press(BIND)
    replies = await client.send(taxpayer_id)
    replies = await press(client, replies, role_label)
    replies = await press(client, replies, "绑定")
    assert "请在下列企业中选择" not in text(replies)
    return text(replies)


async def test_bind_in_a_role_not_listed_is_refused(client: BotClient, world: Repositories) -> None:
    screen = await refused_bind(client, XINGHE, "财务负责人")
    assert "绑定失败" in screen and "未找到您可以以该身份绑定的企业" in screen
    assert await refused_bind(client, YUNSHAN, "法定代表人") == screen.replace(XINGHE, YUNSHAN)
    person = await world.persons.find_by_telegram(client.user.id)
    assert person is not None and await world.enterprises.bindings_of(person.id) == []


async def test_bind_to_a_deregistered_enterprise_is_refused(client: BotClient, world: Repositories) -> None:
    assert "不是正常状态" in await bind(client, HAIOU, "法定代表人")


async def test_taxpayer_id_is_checked(client: BotClient, world: Repositories) -> None:
    await client.press(BIND)
    replies = await client.send(XINGHE[:17] + ("A" if XINGHE[17] != "A" else "B"))
    assert "校验不通过" in text(replies)
    replies = await client.send("91210102MA0QWE7RI1")  # I is not in the alphabet
    assert "格式不正确" in text(replies)
    replies = await client.send(UNKNOWN)
    replies = await press(client, replies, "法定代表人")
    replies = await press(client, replies, "绑定")
    assert "未找到您可以以该身份绑定的企业" in text(replies)
    replies = await client.send(XINGHE.lower())  # normalised; the dialog asks for the id again
    assert "请选择身份类型" in text(replies)


async def test_forged_enterprise_button_is_refused(client: BotClient, world: Repositories) -> None:
    await client.press(BIND)
    replies = await client.send(XINGHE)
    replies = await press(client, replies, "法定代表人")
    await press(client, replies, "绑定")
    haiou = await world.enterprises.get(HAIOU)
    assert haiou is not None
    replies = await client.press(Act(a="ent", v=str(haiou.id)).pack())
    assert "绑定失败" in text(replies)


async def test_bind_needs_login(dp: Dispatcher, bot: MockedBot, world: Repositories) -> None:
    replies = await BotClient(dp, bot, user_id=424242).press(BIND)
    assert "需要先登录" in text(replies) and has_button(replies, "实名信息采集")


# --- 企业办税人解绑 ---------------------------------------------------------------------------------


async def unbind_query(client: BotClient, taxpayer_id: str) -> list[Reply]:
    replies = await client.press(UNBIND)
    replies = await client.send(taxpayer_id)
    assert "查询" in text(replies)
    return await press(client, replies, "查询")


async def test_tax_handler_unbinds(dp: Dispatcher, bot: MockedBot, world: Repositories) -> None:
    zhao = await world.persons.find_by_telegram(ZHAO_USER)
    xinghe = await world.enterprises.get(XINGHE)
    assert zhao is not None and xinghe is not None
    await world.enterprises.bind(zhao.id, xinghe.id, Role.TAX_HANDLER, bound_by=None)
    client = BotClient(dp, bot, user_id=ZHAO_USER)
    replies = await unbind_query(client, XINGHE)
    screen = text(replies)
    assert (
        "辽宁星河商贸有限公司" in screen and "办税人" in screen and "赵*" in screen and "赵强" not in screen
    )
    replies = await press(client, replies, "解绑")
    assert "确定解除" in text(replies)
    replies = await press(client, replies, "取消")
    assert await world.enterprises.binding(zhao.id, xinghe.id) is not None
    replies = await press(client, replies, "解绑")
    replies = await press(client, replies, "确定解绑")
    assert "解绑成功" in text(replies)
    assert await world.enterprises.binding(zhao.id, xinghe.id) is None
    # a second time there is nothing to unbind
    assert "未查询到您作为办税人与该企业的绑定信息" in text(await unbind_query(client, XINGHE))


async def test_unbind_refused_when_not_a_listed_tax_handler(client: BotClient, world: Repositories) -> None:
    person = await world.persons.find_by_telegram(client.user.id)
    xinghe = await world.enterprises.get(XINGHE)
    assert person is not None and xinghe is not None
    # even with a binding (made by staff), the register must list the person as tax handler
    await world.enterprises.bind(person.id, xinghe.id, Role.TAX_HANDLER, bound_by=None)
    replies = await unbind_query(client, XINGHE)
    assert "未查询到您作为办税人与该企业的绑定信息" in text(replies)
    assert await world.enterprises.binding(person.id, xinghe.id) is not None


async def test_unbind_unknown_enterprise_and_login(
    client: BotClient, world: Repositories, dp: Dispatcher, bot: MockedBot
) -> None:
    replies = await unbind_query(client, UNKNOWN)
    assert "未查询到您作为办税人与该企业的绑定信息" in text(replies)
    replies = await BotClient(dp, bot, user_id=434343).press(UNBIND)
    assert "需要先登录" in text(replies)


async def test_back_and_unexpected_input(client: BotClient, world: Repositories) -> None:
    replies = await client.press(BIND)
    replies = await client.send(XINGHE)
    replies = await client.send("hello")  # text where a button is expected
    assert "按钮" in text(replies)
    replies = await press(client, replies, "返回")  # back from the role to the number
    assert "纳税人识别号" in text(replies)
    replies = await press(client, replies, "返回")
    assert "温馨提示" in text(replies)
    replies = await client.press(UNBIND)
    replies = await client.send_photo(b"not text")
    assert "纳税人识别号" in text(replies)
