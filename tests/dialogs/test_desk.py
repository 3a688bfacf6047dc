"""Issue 21 on the taxpayer's side: 【信息核实】's full values masked on every way out of the step, and
the card step's advice (each engine reason its own words, the tries left)."""

from __future__ import annotations

import pytest

from bot.services import Services
from bot.ui import Function, Go, Nav, Node
from bot.verification.idcard import SideReading
from tests.dialogs.test_collect import press, scripted, text, to_front, to_verify_screen
from tests.helpers.client import BotClient, Reply
from tests.helpers.fakes import FakeVerifier, front, valid_number
from tests.helpers.postgres import database_url

__all__ = ["database_url", "scripted"]  # both record backends; the scripted card and selfie


def edits(replies: list[Reply]) -> list[str]:
    return [r.text for r in replies if r.method.__class__.__name__ == "EditMessageText"]


@pytest.mark.parametrize("way_out", ["/cancel", "/start"])
async def test_leaving_verify_by_command_masks_the_full_values(
    client: BotClient, scripted: FakeVerifier, way_out: str
) -> None:
    replies = await to_verify_screen(client)
    assert f"<tg-spoiler>{valid_number()}</tg-spoiler>" in text(replies)
    replies = await client.send(way_out)
    (masked,) = edits(replies)
    assert valid_number() not in masked and "110***********" in masked
    assert "景山前街4号" not in masked and "已部分隐藏" in masked


async def test_leaving_a_correction_prompt_by_cancel_masks_it_too(
    client: BotClient, scripted: FakeVerifier
) -> None:
    replies = await to_verify_screen(client)
    replies = await press(client, replies, "修改住址")
    assert "当前内容：<tg-spoiler>北京市东城区景山前街4号</tg-spoiler>" in text(replies)
    replies = await client.send("/cancel")
    (masked,) = edits(replies)
    assert "景山前街4号" not in masked and "已部分隐藏" in masked
    # Nothing is left to mask (the dialog is gone): a second /cancel edits nothing.
    assert edits(await client.send("/cancel")) == []


async def test_leaving_by_home_masks_the_full_values(client: BotClient, scripted: FakeVerifier) -> None:
    replies = await to_verify_screen(client)
    replies = await press(client, replies, "修改住址")
    replies = await press(client, replies, "返回")  # back on 【信息核实】: shown in full again
    replies = await client.press(Nav(node=Node.HOME).pack())
    masked = [m for m in edits(replies) if "【信息核实】" in m]
    assert masked and all(valid_number() not in m and "景山前街4号" not in m for m in masked)


# --- the card step's advice --------------------------------------------------------------------------


async def test_failed_front_says_how_many_tries_are_left(
    client: BotClient, verifier: FakeVerifier, services: Services
) -> None:
    verifier.readings[b"blurry"] = SideReading(side=None, problems=["image_too_blurry"])
    await to_front(client)
    allowed = services.settings.max_step_retries
    for left in range(allowed - 1, 0, -1):
        replies = await client.send_photo(b"blurry")
        assert "照片太模糊" in text(replies)
        assert f"本步骤还可以再上传 {left} 次" in text(replies), text(replies)
    replies = await client.send_photo(b"blurry")
    assert "还可以再上传" not in text(replies)


async def test_each_portrait_reason_is_its_own_advice(client: BotClient, verifier: FakeVerifier) -> None:
    """The engine could not locate the photo area; or located it and found no face in it: two
    different problems, two different pieces of advice."""
    verifier.readings[b"no_area"] = SideReading(
        side="front", front=front(), portrait_jpeg=None, problems=["idcard_portrait_not_found"]
    )
    verifier.readings[b"no_face"] = SideReading(side="front", front=front(), portrait_jpeg=b"\xff\xd8blank")
    verifier.face_encodings[b"\xff\xd8blank"] = None
    await to_front(client)
    located = text(await client.send_photo(b"no_area"))
    no_face = text(await client.send_photo(b"no_face"))
    assert "没有找到身份证上的人像照片" in located and "没有检测到人脸" not in located
    assert "没有检测到人脸" in no_face and "没有找到身份证上的人像照片" not in no_face


async def test_starting_a_function_again_masks_the_full_values(
    client: BotClient, scripted: FakeVerifier
) -> None:
    """An old 【开始】 button pressed on 【信息核实】 abandons the dialog: masked on the way out."""
    await to_verify_screen(client)
    replies = await client.press(Go(func=Function.COLLECT).pack())
    masked = [m for m in edits(replies) if "【信息核实】" in m]
    assert masked and all(valid_number() not in m for m in masked)
