"""The home menu, the guide's menu tree, tips, help, language and fallbacks, through the real dispatcher."""

from __future__ import annotations

from aiogram.methods import AnswerCallbackQuery

from bot.ui import Function, Go, Nav, Node, Tip
from tests.helpers.client import BotClient

SPEC_MENU_NAMES = {
    "menu.collect": "实名信息采集",
    "menu.supplement": "实名采集信息补录",
    "menu.change": "实名信息变更",
    "menu.maintain": "实名信息维护",
    "menu.bind": "法人(财务负责人)绑定管理",
    "menu.unbind": "企业办税人解绑",
}


async def test_start_shows_home_menu_in_chinese(client: BotClient) -> None:
    (reply,) = await client.send("/start")
    assert "实名采集" in reply.text
    labels = [text for row in reply.buttons for text, _ in row]
    assert labels[:3] == ["实名信息采集", "办税", "我的"]


async def test_start_in_english_for_english_users(client_en: BotClient) -> None:
    (reply,) = await client_en.send("/start")
    assert "Real-name information collection" in reply.text
    assert reply.buttons[0][0][0] == "Real-name collection"


async def test_menu_tree_reaches_all_six_functions_with_tips(client: BotClient) -> None:
    (home,) = await client.send("/start")
    reached: dict[str, str] = {}

    async def open_tip(data: str) -> None:
        replies = await client.press(data)
        tip = replies[0]
        assert "温馨提示" in tip.text and "操作步骤" in tip.text
        assert tip.buttons[0][0][0].endswith("开始")
        assert Go.unpack(tip.buttons[0][0][1]).func
        assert Nav.unpack(tip.buttons[1][0][1]).node
        reached[Tip.unpack(data).func] = tip.text

    await open_tip(home.button_data("实名信息采集"))
    (tax,) = [r for r in await client.press(home.button_data("办税")) if r.buttons]
    (realname,) = [r for r in await client.press(tax.button_data("实名信息")) if r.buttons]
    for label in ("实名信息采集", "实名采集信息补录", "实名信息变更", "实名信息维护"):
        await open_tip(realname.button_data(label))
    (mine,) = [r for r in await client.press(home.button_data("我的")) if r.buttons]
    for label in ("法人(财务负责人)绑定管理", "企业办税人解绑"):
        await open_tip(mine.button_data(label))
    assert set(reached) == {f.value for f in Function}


async def test_tip_back_returns_to_parent_menu(client: BotClient) -> None:
    replies = await client.press(Tip(func=Function.BIND, parent=Node.MINE).pack())
    back = replies[0].button_data("返回")
    (mine,) = [r for r in await client.press(back) if r.buttons]
    assert "我的" in mine.text


async def test_help_explains_every_menu_path(client: BotClient) -> None:
    (reply,) = await client.send("/help")
    for name in SPEC_MENU_NAMES.values():
        assert name in reply.text
    for command in ("/start", "/cancel", "/language"):
        assert command in reply.text


async def test_guides_tell_the_staff_review_paths(client: BotClient, client_en: BotClient) -> None:
    """A card typed after the tries (采集, 补录) and a face near the threshold (采集, 补录, 变更) go to
    staff review: the step guides and /help say so, in both languages."""
    guides = {
        func: (await client.press(Tip(func=func, parent=Node.REALNAME).pack()))[0].text
        for func in (Function.COLLECT, Function.SUPPLEMENT, Function.CHANGE)
    }
    for func in (Function.COLLECT, Function.SUPPLEMENT):
        assert "手动填写证件信息" in guides[func] and "审核" in guides[func]
    assert "手动填写" not in guides[Function.CHANGE]  # 变更 offers no typed path
    for guide in guides.values():
        assert "临界值" in guide and "通知您" in guide
    (help_zh,) = await client.send("/help")
    (help_en,) = await client_en.send("/help")
    assert "人工审核" in help_zh.text and "手动填写证件信息" in help_zh.text and "临界值" in help_zh.text
    assert "Staff review" in help_en.text and "type its information" in help_en.text


async def test_language_switch_is_remembered(client: BotClient) -> None:
    (choose,) = await client.send("/language")
    replies = await client.press(choose.button_data("English"))
    assert any("English" in r.text for r in replies)
    (home,) = await client.send("/start")
    assert "Real-name information collection" in home.text


async def test_unknown_text_and_command_get_an_answer(client: BotClient) -> None:
    (reply,) = await client.send("what is this?")
    assert "/start" in reply.text
    (reply,) = await client.send("/nonsense")
    assert "/help" in reply.text


async def test_forged_callback_data_is_answered(client: BotClient) -> None:
    replies = await client.press("nav:does-not-exist")
    assert isinstance(replies[0].method, AnswerCallbackQuery)
    assert "失效" in replies[0].text


async def test_cancel_without_dialog(client: BotClient) -> None:
    (reply,) = await client.send("/cancel")
    assert "没有进行中的操作" in reply.text


async def test_user_input_is_escaped(client: BotClient) -> None:
    client.user = client.user.model_copy(update={"first_name": "<b>x</b>&"})
    (reply,) = await client.send("/start")
    assert "&lt;b&gt;x&lt;/b&gt;&amp;" in reply.text


async def test_typing_home_outside_a_dialog_shows_the_home_menu(client: BotClient) -> None:
    (home,) = await client.send("/start")
    (reply,) = await client.send("菜单")
    assert reply.text == home.text
    assert [text for row in reply.buttons for text, _ in row][:3] == ["实名信息采集", "办税", "我的"]
