"""The skeleton's promise, over HTTP: /start shows the home menu whose buttons reach all six functions."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from tests.e2e.conftest import RunningBot
from tests.helpers.sandbox_user import SandboxUser, labels, texts

FUNCTIONS_ZH = [
    "实名信息采集",
    "实名采集信息补录",
    "实名信息变更",
    "实名信息维护",
    "法人(财务负责人)绑定管理",
    "企业办税人解绑",
]
FUNCTIONS_EN = [
    "Real-name collection",
    "Supplement real-name information",
    "Change real-name information",
    "Maintain real-name information",
    "Legal rep / finance officer binding",
    "Tax handler unbinding",
]


async def walk_menu(
    user: SandboxUser, tip_word: str, names: list[str], tax: str, realname: str, mine: str, back: str
) -> set[str]:
    home = await user.send("/start")
    seen: set[str] = set()
    tip = await user.press_label(home, names[0])
    assert tip_word in texts(tip)
    seen.add(names[0])
    home = await user.press_label(tip, back)
    tax_menu = await user.press_label(home, tax)
    realname_menu = await user.press_label(tax_menu, realname)
    for name in names[:4]:
        tip = await user.press_label(realname_menu, name)
        assert tip_word in texts(tip), name
        seen.add(name)
        realname_menu = await user.press_label(tip, back)
    home = await user.send("/start")
    mine_menu = await user.press_label(home, mine)
    for name in names[4:]:
        tip = await user.press_label(mine_menu, name)
        assert tip_word in texts(tip), name
        seen.add(name)
        mine_menu = await user.press_label(tip, back)
    return seen


async def test_home_menu_in_chinese_reaches_all_functions(
    running_bot: RunningBot, make_user: Callable[..., SandboxUser]
) -> None:
    user = make_user(1)
    home = await user.send("/start")
    assert "实名采集" in texts(home)
    assert labels(home)[:3] == ["实名信息采集", "办税", "我的"]
    assert await walk_menu(user, "温馨提示", FUNCTIONS_ZH, "办税", "实名信息", "我的", "返回") == set(
        FUNCTIONS_ZH
    )


async def test_home_menu_in_english(running_bot: RunningBot, make_user: Callable[..., SandboxUser]) -> None:
    user = make_user(2, "en")
    seen = await walk_menu(
        user, "Friendly tip", FUNCTIONS_EN, "Tax services", "Real-name information", "Me", "Back"
    )
    assert seen == set(FUNCTIONS_EN)


async def test_commands_are_published_per_language(
    running_bot: RunningBot, http: aiohttp.ClientSession, sandbox: str
) -> None:
    async with http.get(f"{sandbox}/sandbox/api/commands") as resp:
        published = await resp.json()
    flat = str(published)
    assert "打开首页" in flat and "Home menu" in flat


async def test_unknown_input_is_answered(
    running_bot: RunningBot, make_user: Callable[..., SandboxUser]
) -> None:
    user = make_user(3)
    replies = await user.send("随便说点什么")
    assert "/start" in texts(replies)


async def test_dialog_continues_after_a_restart(
    running_bot: RunningBot, make_user: Callable[..., SandboxUser]
) -> None:
    """Stop the bot mid-dialog and start a new one on the same data: the user is where they were."""
    user = make_user(4)
    home = await user.send("/start")
    tip = await user.press_label(home, "实名信息采集")
    choose = await user.press_label(tip, "开始")
    prompt = await user.press_label(choose, "身份证采集")
    assert "人像面" in texts(prompt)
    await running_bot.stop()
    await running_bot.start()
    replies = await user.send("你好")
    assert "人像面" in texts(replies) and "照片" in texts(replies)  # still waiting for the front photo
    replies = await user.press_label(replies, "返回")
    assert "请选择证件类型" in texts(replies)
