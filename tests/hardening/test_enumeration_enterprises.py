"""Enumeration of taxpayer ids through 绑定 / 解绑 (issue 8 §3): a person who is not on an enterprise's
register should not learn from the bot whether a taxpayer id exists.

Bind lists an enterprise in its pop-up only when the register lists the person in the chosen role there,
and unbind answers one "no binding of yours" whether the id is unknown, the person is not its tax
handler, or not bound: the same text for an existing and an unknown id.
"""

from __future__ import annotations

import pytest
from aiogram import Dispatcher

from bot.services import Services
from bot.storage.repositories import Repositories
from bot.ui import Function, Go
from bot.verification.ids import uscc_check_char
from tests.helpers.client import BotClient, Reply
from tests.helpers.functions import press, text
from tests.helpers.mocked_bot import MockedBot
from tests.helpers.register import WANG, XINGHE, YUNSHAN, ZHAO, collected_person, load_register

UNKNOWN = "91210102MA0QWE7R2" + uscc_check_char("91210102MA0QWE7R2")  # well-formed, in no register


@pytest.fixture
async def repo(services: Services) -> Repositories:
    repo = services.repositories()
    await load_register(repo)
    await collected_person(repo, 7001, ZHAO, "赵强", encoding=tuple(0.5 for _ in range(128)))
    await collected_person(repo, 7002, WANG, "王小明")
    return repo


async def bind_probe(client: BotClient, taxpayer_id: str) -> str:
    await client.press(Go(func=Function.BIND).pack())
    replies: list[Reply] = await client.send(taxpayer_id)
    replies = await press(client, replies, "法定代表人")
    replies = await press(client, replies, "绑定")
    return text(replies).replace(taxpayer_id, "<id>")


async def unbind_probe(client: BotClient, taxpayer_id: str) -> str:
    await client.press(Go(func=Function.UNBIND).pack())
    replies = await client.send(taxpayer_id)
    replies = await press(client, replies, "查询")
    return text(replies).replace(taxpayer_id, "<id>")


async def test_bind_does_not_reveal_whether_a_taxpayer_id_exists(
    dp: Dispatcher, bot: MockedBot, repo: Repositories
) -> None:
    zhao = BotClient(dp, bot, user_id=7001)  # a tax handler of XINGHE only: nothing to bind anywhere
    assert await bind_probe(zhao, YUNSHAN) == await bind_probe(zhao, UNKNOWN)


async def test_unbind_does_not_reveal_whether_a_taxpayer_id_exists(
    dp: Dispatcher, bot: MockedBot, repo: Repositories
) -> None:
    wang = BotClient(dp, bot, user_id=7002)  # a tax handler of no enterprise
    assert await unbind_probe(wang, XINGHE) == await unbind_probe(wang, UNKNOWN)
