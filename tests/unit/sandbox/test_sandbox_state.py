"""The sandbox state on its own: update queue semantics, waiting for a handled update, memory caps."""

from __future__ import annotations

import asyncio

import pytest

from bot.sandbox import SandboxConfig, SandboxState
from bot.sandbox.errors import BotApiError

BOT = {"id": 1, "is_bot": True, "first_name": "b"}


def text_update(state: SandboxState, user_id: int, text: str) -> int:
    chat = state.get_or_create_chat(user_id)
    msg = state.add_message(chat, "user", {"text": text}, sender_user=dict(chat.user))
    return state.enqueue_update("message", dict(msg.payload), chat).update_id


async def test_offset_confirms_and_negative_offset_keeps_the_last() -> None:
    state = SandboxState(SandboxConfig())
    ids = [text_update(state, 1, f"m{i}") for i in range(5)]
    got = await state.get_updates(1, offset=None, limit=2, wait_seconds=0, allowed_updates=None)
    assert [u["update_id"] for u in got] == ids[:2]
    got = await state.get_updates(1, offset=ids[2], limit=100, wait_seconds=0, allowed_updates=None)
    assert [u["update_id"] for u in got] == ids[2:]
    got = await state.get_updates(1, offset=-1, limit=100, wait_seconds=0, allowed_updates=None)
    assert [u["update_id"] for u in got] == ids[-1:]


async def test_reset_keeps_update_ids_growing() -> None:
    state = SandboxState(SandboxConfig())
    first = text_update(state, 1, "a")
    state.reset()
    assert state.chats == {} and state.pending_updates == 0
    assert text_update(state, 1, "b") == first + 1


async def test_wait_handled_by_ack_and_by_quiet_period() -> None:
    state = SandboxState(SandboxConfig(quiet_period=0.05))
    update_id = text_update(state, 1, "x")
    waiter = state.waiters[update_id]
    # not fetched yet: the quiet period does not apply, so only the timeout ends the wait
    assert await state.wait_handled(waiter, 0.1) is False
    await state.get_updates(7, offset=None, limit=100, wait_seconds=0, allowed_updates=None)
    assert await state.wait_handled(waiter, 1.0) is True  # quiet since the fetch

    update_id = text_update(state, 1, "y")
    waiter = state.waiters[update_id]
    state.ack(7, None)  # bot 7 declares that it acks: no more guessing for its updates
    await state.get_updates(7, offset=update_id, limit=100, wait_seconds=0, allowed_updates=None)
    assert await state.wait_handled(waiter, 0.2) is False
    loop = asyncio.get_running_loop()
    loop.call_later(0.05, state.ack, 7, update_id)
    assert await state.wait_handled(waiter, 1.0) is True


async def test_bot_activity_extends_the_quiet_period() -> None:
    state = SandboxState(SandboxConfig(quiet_period=0.3))
    update_id = text_update(state, 1, "x")
    chat = state.chats[1]
    waiter = state.waiters[update_id]
    await state.get_updates(7, offset=None, limit=100, wait_seconds=0, allowed_updates=None)

    async def busy_bot() -> None:
        for i in range(4):
            await asyncio.sleep(0.1)
            state.add_message(chat, "bot", {"text": f"r{i}"}, sender_user=BOT)

    bot = asyncio.create_task(busy_bot())
    assert await state.wait_handled(waiter, 5.0) is True
    await bot
    assert [m.payload["text"] for m in waiter.replies.values()] == ["r0", "r1", "r2", "r3"]


async def test_memory_caps() -> None:
    state = SandboxState(
        SandboxConfig(max_messages_per_chat=3, max_total_file_bytes=10, max_pending_updates=2)
    )
    for i in range(5):
        text_update(state, 1, f"m{i}")
    assert list(state.chats[1].messages) == [3, 4, 5]
    assert state.pending_updates == 2
    first = state.add_file("document", b"123456", ext=".bin")
    second = state.add_file("document", b"7890ab", ext=".bin")
    assert first.file_id not in state.files and second.file_id in state.files
    assert state.file_by_path(first.file_path) is None


async def test_slow_subscriber_is_cut_off() -> None:
    state = SandboxState(SandboxConfig(event_queue_size=2))
    sub = state.subscribe(1, replay=True)
    for i in range(3):
        text_update(state, 1, f"m{i}")
    assert sub.closed
    assert await sub.queue.get() is None
    state.unsubscribe(sub, 1)
    assert state.chat_subscribers == {}


async def test_callback_answered_once_and_chat_not_found() -> None:
    state = SandboxState(SandboxConfig())
    query_id, _ = state.new_callback_query(1)
    state.answer_callback(query_id, {"text": "ok"})
    with pytest.raises(BotApiError, match="query is too old"):
        state.answer_callback(query_id, {"text": "again"})
    with pytest.raises(BotApiError, match="chat not found"):
        state.chat_for_bot(42)
    with pytest.raises(BotApiError, match="chat not found"):
        state.chat_for_bot("@someone")


async def test_a_slow_media_call_keeps_the_quiet_period_guess_waiting() -> None:
    """A bot that never acks, recompressing a photo for longer than the quiet period: the send call
    still waits for the photo (the guess counts a call being processed as activity)."""
    state = SandboxState(SandboxConfig(quiet_period=0.05))
    chat = state.get_or_create_chat(1)
    update = state.enqueue_update("message", {"text": "hi"}, chat)
    assert update.waiter is not None
    await state.get_updates(7, offset=None, limit=10, wait_seconds=0, allowed_updates=None)

    async def slow_photo() -> None:
        with state.working(chat):
            await asyncio.sleep(0.3)
        state.add_message(chat, "bot", {"photo": []}, sender_user={"id": 7})

    task = asyncio.create_task(slow_photo())
    assert await state.wait_handled(update.waiter, 5)
    assert list(update.waiter.replies) == [1]
    await task
