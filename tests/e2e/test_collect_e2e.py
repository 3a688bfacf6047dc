"""实名信息采集 end to end: the real bot, the real engines (OCR, faces, liveness) and the sandbox over HTTP.

The card is composed at test time (never committed): a fictitious identity rendered by tools/cardgen with,
as its portrait, a frame of one public test clip's person; the selfie is another clip of the same person
(`live_open_mouth_varun.webm`: mouth opens at ~0.3–0.9 s, a blink at ~1.2 s, mouth again ~1.3–1.9 s),
with the challenge pinned to what that clip shows. Which of these cases are real recordings and which are
composed is said in each test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.services.verifier import PoolVerifier
from bot.verification.ids import DocumentType
from tests.e2e.cards import SELFIE, jpeg, portrait, trim_video
from tests.e2e.conftest import RunningBot, register_identity
from tests.helpers.factory import make_settings
from tests.helpers.sandbox_user import SandboxUser, texts

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def e2e_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, liveness_challenge="open_mouth,blink")


@pytest.fixture
async def running_bot(
    sandbox: str,
    e2e_settings: Settings,
    engines: PoolVerifier,
    card_photos: tuple[bytes, bytes, Any],
    testdata: Path,
) -> AsyncIterator[RunningBot]:
    running = RunningBot(e2e_settings, sandbox, verifier=engines)
    await running.start()
    # The identity authority knows the card's person and holds a photo of that man (another frame
    # than the card's portrait): the selfie must match it, the card portrait being the second check.
    await register_identity(running, card_photos[2], jpeg(portrait(testdata)))
    yield running
    await running.stop()


async def walk_to_video(user: SandboxUser, front: bytes, back: bytes, words: dict[str, str]) -> None:
    home = await user.send("/start")
    tip = await user.press_label(home, words["collect"])
    choose = await user.press_label(tip, words["start"])
    prompt = await user.press_label(choose, words["id_card"])
    assert words["front"] in texts(prompt)
    replies = await user.upload("photo", front, "front.jpg")
    assert words["front_read"] in texts(replies), texts(replies)
    assert any(r.get("photo") for r in replies)  # the cropped portrait, shown back
    replies = await user.press_label(replies, words["ok"])
    replies = await user.upload("photo", back, "back.jpg")
    assert words["verify"] in texts(replies), texts(replies)
    assert "⚠️" not in texts(replies), texts(replies)
    replies = await user.press_label(replies, words["next"])
    replies = await user.press_label(replies, words["agree"])
    replies = await user.send("13800138000")
    code = (await user.sms("13800138000"))[-1]["text"]
    digits = "".join(ch for ch in code if ch.isdigit())[:6]
    replies = await user.send(digits)
    replies = await user.press_label(replies, words["agree"])
    assert words["challenge"] in texts(replies)


ZH = {
    "collect": "实名信息采集",
    "start": "开始",
    "id_card": "身份证采集",
    "front": "人像面",
    "front_read": "人像面识别完成",
    "ok": "确定",
    "verify": "【信息核实】",
    "next": "下一步",
    "agree": "我已阅读并同意",
    "challenge": "按顺序",
    "success": "采集成功",
}
EN = {
    "collect": "Real-name collection",
    "start": "Start",
    "id_card": "Resident ID card",
    "front": "portrait side",
    "front_read": "Portrait side read",
    "ok": "OK",
    "verify": "Check information",
    "next": "Next",
    "agree": "I have read and agree",
    "challenge": "in this order",
    "success": "Collection successful",
}


@pytest.mark.parametrize(("language", "words"), [("zh-hans", ZH), ("en", EN)])
async def test_collection_with_real_engines(
    running_bot: RunningBot,
    make_user: Callable[..., SandboxUser],
    card_photos: tuple[bytes, bytes, Any],
    testdata: Path,
    language: str,
    words: dict[str, str],
) -> None:
    """Composed card (fictitious identity, real recorded face) + a real selfie recording of the same man."""
    front, back, identity = card_photos
    user = make_user(501, language)
    await walk_to_video(user, front, back, words)
    replies = await user.upload("video_note", (testdata / SELFIE).read_bytes(), "selfie.mp4")
    assert words["success"] in texts(replies), texts(replies)
    assert running_bot.services is not None

    repo = running_bot.services.repositories()
    person = await repo.persons.find_by_document(DocumentType.RESIDENT_ID, identity.id_number)
    assert person is not None and person.live_photo is not None


async def test_screen_replay_is_refused(
    running_bot: RunningBot,
    make_user: Callable[..., SandboxUser],
    card_photos: tuple[bytes, bytes, Any],
    testdata: Path,
) -> None:
    """A real recording of a screen replaying a selfie (another person): refused, nothing saved.

    The recording lasts 21 s, over the selfie limit: as sent it is refused for its length; its first
    12 s (re-encoded at test time, with the head turns in it) are refused as a replay; the same 12 s
    re-encoded again at another size are refused as already submitted (perceptual fingerprint)."""
    front, back, identity = card_photos
    user = make_user(502)
    assert running_bot.services is not None
    await walk_to_video(user, front, back, ZH)
    replay = testdata / "videos/spoof_screen_replay_of_live_selfie_tran.mp4"
    replies = await user.upload("video", replay.read_bytes(), "replay.mp4")
    assert "视频太长" in texts(replies), texts(replies)
    replies = await user.upload("video", trim_video(replay, 12.0), "replay12.mp4")
    assert "人脸识别未通过" in texts(replies), texts(replies)
    assert "采集成功" not in texts(replies)
    # The same 12 s re-encoded at 90 % size: other bytes, the same recording.
    replies = await user.upload("video", trim_video(replay, 12.0, scale=0.9), "replay12-small.mp4")
    assert "已经提交过" in texts(replies), texts(replies)

    repo = running_bot.services.repositories()
    assert await repo.persons.find_by_document(DocumentType.RESIDENT_ID, identity.id_number) is None


async def test_forwarded_video_is_refused(
    running_bot: RunningBot,
    make_user: Callable[..., SandboxUser],
    card_photos: tuple[bytes, bytes, Any],
    testdata: Path,
) -> None:
    front, back, _ = card_photos
    user = make_user(503)
    await walk_to_video(user, front, back, ZH)
    replies = await user.upload("video", (testdata / SELFIE).read_bytes(), "selfie.mp4", forwarded=True)
    assert "转发" in texts(replies)


async def test_wrong_side_and_text_instead_of_photo(
    running_bot: RunningBot,
    make_user: Callable[..., SandboxUser],
    card_photos: tuple[bytes, bytes, Any],
) -> None:
    _, back, _ = card_photos
    user = make_user(504)
    home = await user.send("/start")
    tip = await user.press_label(home, "实名信息采集")
    choose = await user.press_label(tip, "开始")
    await user.press_label(choose, "身份证采集")
    replies = await user.send("我的身份证")
    assert "照片" in texts(replies)
    replies = await user.upload("photo", back, "back.jpg")
    assert "人像面" in texts(replies), texts(replies)
    replies = await user.upload("photo", b"not an image at all", "x.jpg")
    assert "未能识别" in texts(replies) or "图片" in texts(replies), texts(replies)
