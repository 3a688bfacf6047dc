"""The sandbox behaves as Telegram does by default, and each behaviour can be switched off."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from bot.sandbox.config import SandboxConfig
from bot.sandbox.errors import BotApiError
from bot.sandbox.flood import FloodControl
from bot.sandbox.state import SandboxState
from bot.sandbox.uploads import check_photo_limits, photo_sizes


def _png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(buf, format="PNG")
    return buf.getvalue()


def test_a_late_callback_answer_is_too_old() -> None:
    state = SandboxState(SandboxConfig(callback_answer_timeout=0.05))
    early, _ = state.new_callback_query(1)
    late, _ = state.new_callback_query(1)
    state.answer_callback(early, {"text": None})
    time.sleep(0.1)
    with pytest.raises(BotApiError, match="query is too old"):
        state.answer_callback(late, {"text": None})


def test_without_the_deadline_a_late_answer_is_taken() -> None:
    state = SandboxState(SandboxConfig(callback_answer_timeout=None))
    query, record = state.new_callback_query(1)
    record.pressed_at -= 3600
    state.answer_callback(query, {"text": None})


@pytest.mark.parametrize(
    ("size", "refused"),
    [
        ((4000, 3000), None),
        ((9000, 1500), "PHOTO_INVALID_DIMENSIONS"),
        ((2100, 100), "PHOTO_INVALID_DIMENSIONS"),
    ],
)
def test_photo_send_limits(size: tuple[int, int], refused: str | None) -> None:
    state = SandboxState(SandboxConfig())
    if refused is None:
        check_photo_limits(state, _png(*size))
    else:
        with pytest.raises(BotApiError, match=refused):
            check_photo_limits(state, _png(*size))
    check_photo_limits(SandboxState(SandboxConfig(photo_limits=False)), _png(9000, 1500))


def test_a_photo_over_10_mb_is_refused() -> None:
    state = SandboxState(SandboxConfig(max_photo_bytes=1000))
    with pytest.raises(BotApiError, match="PHOTO_SAVE_FILE_INVALID"):
        check_photo_limits(state, _png(200, 200) + b"\0" * 1000)


async def test_photos_are_recompressed_unless_switched_off() -> None:
    data = _png(2000, 1000)
    sizes = await photo_sizes(SandboxState(SandboxConfig()), data, strict=True)
    assert [max(s["width"], s["height"]) for s in sizes] == [90, 320, 800, 1280]
    original = SandboxState(SandboxConfig(recompress_photos=False))
    sizes = await photo_sizes(original, data, strict=True)
    assert (sizes[-1]["width"], sizes[-1]["height"]) == (2000, 1000)
    assert original.files[sizes[-1]["file_id"]].data == data


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _retry_after(flood: FloodControl, bot_id: int, chat_id: int, messages: int = 1) -> int | None:
    try:
        flood.charge(bot_id, chat_id, messages)
    except BotApiError as exc:
        assert exc.error_code == 429
        assert exc.description == f"Too Many Requests: retry after {exc.retry_after}"
        return exc.retry_after
    return None


def test_one_chat_gets_a_short_burst_then_about_one_message_a_second() -> None:
    clock = _Clock()
    flood = FloodControl(SandboxConfig(), clock)
    assert [_retry_after(flood, 1, 5) for _ in range(3)] == [None, None, None]
    assert _retry_after(flood, 1, 5) == 1
    clock.now += 1.0
    assert _retry_after(flood, 1, 5) is None
    assert _retry_after(flood, 1, 5) == 1
    # Another chat has its own bucket.
    assert _retry_after(flood, 1, 6) is None


def test_an_album_leaves_the_chat_in_debt() -> None:
    clock = _Clock()
    flood = FloodControl(SandboxConfig(), clock)
    assert _retry_after(flood, 1, 5, messages=8) is None  # allowed: the bucket was full
    assert _retry_after(flood, 1, 5) == 6  # 3 - 8 = -5: six seconds until one message again
    clock.now += 6
    assert _retry_after(flood, 1, 5) is None


def test_thirty_messages_a_second_per_bot_and_twenty_a_minute_per_group() -> None:
    clock = _Clock()
    flood = FloodControl(SandboxConfig(), clock)
    assert all(_retry_after(flood, 1, chat) is None for chat in range(100, 130))
    assert _retry_after(flood, 1, 131) == 1
    assert _retry_after(flood, 2, 131) is None  # another bot
    clock.now += 10
    group = FloodControl(SandboxConfig(), clock)
    results = []
    for _ in range(21):
        results.append(_retry_after(group, 1, -100500))
        clock.now += 0.01
    assert results[:20] == [None] * 20
    assert results[20] == 3  # a twentieth of a minute


def test_flood_control_can_be_switched_off() -> None:
    flood = FloodControl(SandboxConfig(flood_control=False), _Clock())
    assert all(_retry_after(flood, 1, 5) is None for _ in range(100))
