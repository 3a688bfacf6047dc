"""实名信息采集 end to end: the real bot, the real engines (OCR, faces, liveness) and the sandbox over HTTP.

The card is composed at test time (never committed): a fictitious identity rendered by tools/cardgen with,
as its portrait, a frame of one public test clip's person; the selfie is another clip of the same person
(`live_open_mouth_varun.webm`: mouth opens at ~0.3–0.9 s, a blink at ~1.2 s, mouth again ~1.3–1.9 s),
with the challenge pinned to what that clip shows. Which of these cases are real recordings and which are
composed is said in each test.
"""

from __future__ import annotations

import io
import random
from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.config import Settings
from bot.services import build_verifier
from bot.services.verifier import Verifier
from bot.verification.ids import DocumentType, add_years, age_on, expected_validity_years
from tests.e2e.conftest import RunningBot
from tests.helpers.factory import make_settings
from tests.helpers.sandbox_user import SandboxUser, texts

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SELFIE = "videos/live_open_mouth_varun.webm"
PORTRAIT_CLIP = "videos/live_nod_up_down_varun.webm"  # same man, another recording


def _frame(path: Path, seconds: float) -> Image.Image:
    import cv2

    capture = cv2.VideoCapture(str(path))
    capture.set(cv2.CAP_PROP_POS_MSEC, seconds * 1000)
    ok, bgr = capture.read()
    capture.release()
    assert ok, path
    return Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def _portrait(testdata: Path) -> Image.Image:
    """The face of a frontal frame, cropped like an ID photo (head and shoulders, 3:4)."""
    import dlib

    frame = _frame(testdata / PORTRAIT_CLIP, 0.5)
    import numpy as np

    faces = dlib.get_frontal_face_detector()(np.asarray(frame), 1)
    assert faces, "no face in the portrait frame"
    f = max(faces, key=lambda r: r.width())
    cx, cy, w = (f.left() + f.right()) / 2, (f.top() + f.bottom()) / 2, f.width()
    box = (int(cx - w * 0.9), int(cy - w * 1.15), int(cx + w * 0.9), int(cy + w * 1.25))
    return frame.crop(box)


def _jpeg(img: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    img.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


@pytest.fixture(scope="session")
def card_photos(testdata: Path) -> tuple[bytes, bytes, Any]:
    try:
        from tools.cardgen.identities import random_identity, with_fields
        from tools.cardgen.render import find_cjk_fonts, render_back, render_front
    except ImportError:
        pytest.skip("the card generator is not available")
    fonts = find_cjk_fonts()
    if not fonts:
        pytest.skip("no CJK font installed to compose a card (Debian: fonts-wqy-zenhei)")
    rng = random.Random(20261127)
    identity = random_identity(rng, today=date(2026, 11, 27))
    # Issued in 2021, with the length the rules give for the age at issue, so the card is valid today.
    issued = date(2021, 3, 1)
    years = expected_validity_years(age_on(identity.birth_date, issued))
    identity = with_fields(identity, valid_from=issued, valid_to=add_years(issued, years) if years else None)
    front = render_front(identity, _portrait(testdata), font=fonts[0])
    back = render_back(identity, font=fonts[0])

    # A phone photo of a card lies on something: put it on a plain desk with a margin.
    def on_desk(card: Image.Image) -> bytes:
        desk = Image.new("RGB", (card.width + 160, card.height + 160), (96, 84, 70))
        desk.paste(card, (80, 80), card if card.mode == "RGBA" else None)
        return _jpeg(desk)

    return on_desk(front), on_desk(back), identity


@pytest.fixture(scope="session")
async def engines() -> AsyncIterator[Verifier]:
    """One process pool for every end-to-end test: models load once per worker."""
    verifier = build_verifier(Settings(_env_file=None, bot_token=None))  # type: ignore[call-arg]
    await verifier.pool.start()
    yield verifier
    await verifier.pool.close()


@pytest.fixture
def e2e_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, liveness_challenge="open_mouth,blink")


@pytest.fixture
async def running_bot(sandbox: str, e2e_settings: Settings, engines: Verifier) -> AsyncIterator[RunningBot]:
    running = RunningBot(e2e_settings, sandbox, verifier=engines)
    await running.start()
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
    from bot.storage.repositories import Repositories

    repo = Repositories(running_bot.services.db, running_bot.services.cipher)
    person = await repo.persons.find_by_document(DocumentType.RESIDENT_ID, identity.id_number)
    assert person is not None and person.live_photo is not None


async def test_screen_replay_is_refused(
    running_bot: RunningBot,
    make_user: Callable[..., SandboxUser],
    card_photos: tuple[bytes, bytes, Any],
    testdata: Path,
) -> None:
    """A real recording of a screen replaying a selfie (another person): refused, nothing saved."""
    front, back, identity = card_photos
    user = make_user(502)
    assert running_bot.services is not None
    await walk_to_video(user, front, back, ZH)
    replies = await user.upload(
        "video", (testdata / "videos/spoof_screen_replay_of_live_selfie_tran.mp4").read_bytes(), "replay.mp4"
    )
    assert "人脸识别未通过" in texts(replies), texts(replies)
    assert "采集成功" not in texts(replies)
    from bot.storage.repositories import Repositories

    repo = Repositories(running_bot.services.db, running_bot.services.cipher)
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
