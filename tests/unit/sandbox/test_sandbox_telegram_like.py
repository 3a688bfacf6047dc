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


def _video(width: int, height: int, frames: int, fps: float) -> bytes:
    cv2 = pytest.importorskip("cv2")
    import os
    import tempfile

    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "v.mp4")
        writer = cv2.VideoWriter(path, cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height))
        for i in range(frames):
            frame = np.zeros((height, width, 3), np.uint8)
            frame[:, : width // 2] = (0, 0, 200)  # the left half red: the crop keeps the centre
            frame[0, 0] = i % 255
            writer.write(frame)
        writer.release()
        with open(path, "rb") as fh:
            return fh.read()


@pytest.mark.parametrize(
    ("size", "frames", "fps", "expected"),
    [
        ((1280, 720), 20, 10.0, (640, 2)),  # wide and large: the centre square, 640 px
        ((360, 480), 20, 10.0, (360, 2)),  # portrait, small: the centre square as it is
        ((320, 240), 140, 2.0, (240, 60)),  # 70 s: cut at 60 s
    ],
)
async def test_a_users_video_note_is_what_telegram_delivers(
    size: tuple[int, int], frames: int, fps: float, expected: tuple[int, int]
) -> None:
    from bot.sandbox.media import probe_video
    from bot.sandbox.params import Upload
    from bot.sandbox.uploads import video_object

    state = SandboxState(SandboxConfig())
    upload = Upload(data=_video(*size, frames, fps), filename="note.mp4", content_type="video/mp4")
    note = await video_object(state, upload, "video_note", from_user=True)
    side, duration = expected
    assert (note["length"], note["duration"]) == (side, duration)
    stored = state.files[note["file_id"]]
    assert note["file_size"] == stored.size == len(stored.data)
    info = probe_video(stored.data)
    assert (info.width, info.height, info.duration) == (side, side, duration)
    # Switched off, the bytes stay as sent.
    original = SandboxState(SandboxConfig(telegram_video_notes=False))
    kept = await video_object(original, upload, "video_note", from_user=True)
    assert original.files[kept["file_id"]].data == upload.data


async def test_junk_sent_as_a_video_note_is_kept_as_sent() -> None:
    from bot.sandbox.params import Upload
    from bot.sandbox.uploads import video_object

    state = SandboxState(SandboxConfig())
    note = await video_object(state, Upload("s.mp4", "video/mp4", b"selfie"), "video_note", from_user=True)
    assert state.files[note["file_id"]].data == b"selfie" and note["file_size"] == 6
