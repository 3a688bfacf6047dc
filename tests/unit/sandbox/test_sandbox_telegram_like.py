"""The sandbox behaves as Telegram does by default, and each behaviour can be switched off."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from bot.sandbox.config import SandboxConfig
from bot.sandbox.errors import BotApiError
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
