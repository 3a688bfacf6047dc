"""Steps shared by the dialog tests of the functions 2–6 (补录, 变更, 维护, 绑定, 解绑)."""

from __future__ import annotations

from bot.services import Services
from bot.storage.repositories import Repositories
from tests.helpers.client import BotClient, Reply
from tests.helpers.fakes import FakeSms


def repos(services: Services) -> Repositories:
    return services.repositories()


def text(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies)


def has_button(replies: list[Reply], label: str) -> bool:
    return any(label in caption for r in replies for row in r.buttons for caption, _ in row)


async def press(client: BotClient, replies: list[Reply], label: str) -> list[Reply]:
    for reply in reversed(replies):
        for row in reply.buttons:
            for caption, data in row:
                if label in caption:
                    return await client.press(data)
    raise AssertionError(f"no button {label!r} in {[r.buttons for r in replies]}")


async def upload_card(client: BotClient, front: bytes = b"front", back: bytes = b"back") -> list[Reply]:
    """Front → portrait 【确定】 → back → 【信息核实】 → 【下一步】."""
    replies = await client.send_photo(front)
    assert "人像面识别完成" in text(replies), text(replies)
    replies = await press(client, replies, "确定")
    replies = await client.send_photo(back)
    assert "【信息核实】" in text(replies)
    return await press(client, replies, "下一步")


async def verify_phone(client: BotClient, sms: FakeSms, phone: str) -> list[Reply]:
    replies = await client.send(phone)
    assert "验证码已发送" in text(replies), text(replies)
    return await client.send(sms.code_for(phone))
