"""Attacks on the face step's limits (issue 16, items 4 and 5), through the real dispatcher.

* **Retry farming**: three failed selfies, then /start and a new collection, a restarted bot, a
  second Telegram account with the same document, or another document with the same face: the
  pause holds each time, and the video engine is not even asked.
* **Not a live capture**: a forwarded video is refused; a file, or a clip whose container names an
  editor or converter, is refused (``selfie_not_live = "refuse"``) or judged stricter (the default:
  what would go to staff review fails).
* **A short header on a long clip**: the length Telegram states (from the sender) disagrees with the
  frames' own timestamps: ``video_timing_inconsistent``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from aiogram import Dispatcher

from bot.services import Services
from tests.dialogs.test_face_pause import fail_selfies, to_face
from tests.hardening.harness import DecodingVerifier, HostileClient
from tests.helpers.client import Reply
from tests.helpers.fakes import ENCODING, FakeSms, valid_number, verdict
from tests.helpers.mocked_bot import MockedBot
from tools.facegen import write_video


def text(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies)


async def press(client: HostileClient, replies: list[Reply], label: str) -> list[Reply]:
    for reply in reversed(replies):
        for row in reply.buttons:
            for caption, data in row:
                if label in caption:
                    return await client.press(data)
    raise AssertionError(f"no button {label!r}")


async def at_selfie(
    client: HostileClient, verifier: DecodingVerifier, sms: FakeSms, number: str | None = None
) -> list[Reply]:
    """Through the collection to the selfie step, the face notice agreed to."""
    replies = await to_face(client, verifier, sms, number or valid_number())
    return await press(client, replies, "我已阅读并同意")


def _video_calls(verifier: DecodingVerifier) -> int:
    return sum(1 for c in verifier.calls if c[0] == "video")


async def test_retry_farming_meets_the_pause_everywhere(
    client: HostileClient, dp: Dispatcher, bot: MockedBot, verifier: DecodingVerifier, sms: FakeSms
) -> None:
    await at_selfie(client, verifier, sms)
    assert "已暂停" in await fail_selfies(client, verifier, 3, encoding=True)
    asked = _video_calls(verifier)
    await client.send("/cancel")
    assert "已暂停" in text(await to_face(client, verifier, sms, valid_number()))
    other_account = HostileClient(dp, bot, user_id=4242)
    assert "已暂停" in text(await to_face(other_account, verifier, sms, valid_number()))
    assert _video_calls(verifier) == asked  # no selfie was even looked at
    # a third account and another document, but the same face
    third = HostileClient(dp, bot, user_id=4343)
    await at_selfie(third, verifier, sms, valid_number("11010119900307125"))
    verifier.verdicts[b"same face, new take"] = verdict("pass", encoding=ENCODING)
    replies = await third.send_video(b"same face, new take")
    assert "已暂停" in text(replies) and "采集成功" not in text(replies)


async def test_a_forwarded_video_is_refused(
    client: HostileClient, verifier: DecodingVerifier, sms: FakeSms
) -> None:
    await at_selfie(client, verifier, sms)
    verifier.verdicts[b"someone's clip"] = verdict("pass")
    replies = await client.send_video_as(b"someone's clip", forwarded=True)
    assert "不要转发" in text(replies) and _video_calls(verifier) == 0


def _editor_clip() -> bytes:
    """A clip written by FFmpeg's libraries (OpenCV's writer): its container says "Lavf"."""
    rng = np.random.default_rng(1)
    return write_video([rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(10)], 10.0)


async def test_editor_made_clip_and_file_are_judged_stricter(
    client: HostileClient, verifier: DecodingVerifier, sms: FakeSms, services: Services
) -> None:
    assert services.settings.selfie_not_live == "stricter"
    clip = _editor_clip()
    # what a live video note would send to staff review fails for this clip
    verifier.verdicts[clip] = verdict("review", ["face_match_uncertain"], distance=0.56)
    await at_selfie(client, verifier, sms)
    replies = await client.send_video_as(clip)
    assert "人脸识别未通过" in text(replies) and "编辑或转码" in text(replies)
    assert "审核" not in text(replies).replace("人工审核", "")  # no review case was opened
    # a clear pass stays a pass (a phone's own muxer may also be a library: stricter, not refused)
    verifier.verdicts[clip + b"2"] = replace(verdict("pass"), content_hash="y")
    replies = await client.send_file(clip + b"2", "selfie.mp4", "video/mp4")
    assert "采集成功" in text(replies)


async def test_refuse_setting_refuses_files_and_editor_clips(
    client: HostileClient, verifier: DecodingVerifier, sms: FakeSms, services: Services
) -> None:
    services.settings = services.settings.model_copy(update={"selfie_not_live": "refuse"})
    await at_selfie(client, verifier, sms)
    replies = await client.send_file(b"a file", "selfie.mp4", "video/mp4")
    assert "不要以文件形式" in text(replies)
    replies = await client.send_video_as(_editor_clip())
    assert "编辑或转码" in text(replies)
    assert _video_calls(verifier) == 0


async def test_a_length_declared_shorter_than_the_frames_is_refused(
    client: HostileClient, verifier: DecodingVerifier, sms: FakeSms
) -> None:
    """Attack: the header says 3 s (passing Telegram's up-front length check), the frames' own
    timestamps run 14 s."""
    await at_selfie(client, verifier, sms)
    verifier.verdicts[b"long clip, short header"] = replace(verdict("pass"), duration=14.0)
    replies = await client.send_video_as(b"long clip, short header", duration=3)
    assert "时间信息与画面不符" in text(replies) and "采集成功" not in text(replies)
    verifier.verdicts[b"honest clip"] = replace(verdict("pass"), duration=4.4, content_hash="h")
    assert "采集成功" in text(await client.send_video_as(b"honest clip", duration=4))


async def test_photo_attacks_that_fail_liveness_still_pause_their_face(
    client: HostileClient, dp: Dispatcher, bot: MockedBot, verifier: DecodingVerifier, sms: FakeSms
) -> None:
    """Attack: three animated-photo attempts (liveness fails, so no live face), then the same face on
    another account with another document. The engine gives the failing face's encoding on a
    liveness failure too (``face_encoding``), so the pause keys that face."""
    await at_selfie(client, verifier, sms)
    for i in range(3):
        video = f"animated photo {i}".encode()
        failed = verdict("fail", ["liveness_animated_photo"])
        assert failed.live_encoding is None
        verifier.verdicts[video] = replace(failed, face_encoding=ENCODING)
        replies = await client.send_video(video)
    assert "已暂停" in text(replies)
    other = HostileClient(dp, bot, user_id=4545)
    await at_selfie(other, verifier, sms, valid_number("11010119900307125"))
    verifier.verdicts[b"the same face, now live"] = verdict("pass", encoding=ENCODING)
    replies = await other.send_video(b"the same face, now live")
    assert "已暂停" in text(replies) and "采集成功" not in text(replies)
