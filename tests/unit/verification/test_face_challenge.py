"""Fast tests of the face engine's pure parts: challenges, order, mirror policy, decisions, codes."""

from __future__ import annotations

import pickle
import random
import tomllib
from pathlib import Path

import pytest

from bot.verification.face import (
    Action,
    FaceConfig,
    FaceReason,
    FaceVerdict,
    InMemoryReplayGuard,
    LivenessResult,
    ReplayGuard,
    parse_challenge,
    random_challenge,
)
from bot.verification.face.config import FACIAL_ACTIONS, HEAD_ACTIONS
from bot.verification.face.liveness import ActionEvent, check_order
from bot.verification.face.match import decide, distance

REPO = Path(__file__).resolve().parents[3]


def test_parse_challenge() -> None:
    assert parse_challenge("blink,open_mouth") == [Action.BLINK, Action.OPEN_MOUTH]
    assert parse_challenge(" Turn_Left , nod ") == [Action.TURN_LEFT, Action.NOD]
    for bad in ("", " , ", "blink,smile", "blink,blink"):
        with pytest.raises(ValueError):
            parse_challenge(bad)


def test_random_challenge_is_sensible() -> None:
    rng = random.Random(7)
    seen = set()
    for _ in range(300):
        ch = random_challenge(rng)
        assert 2 <= len(ch) <= 3
        assert len(set(ch)) == len(ch)
        assert any(a in FACIAL_ACTIONS for a in ch)
        assert any(a in HEAD_ACTIONS for a in ch)
        seen.add(tuple(ch))
    assert len(seen) > 20
    assert len(random_challenge(rng, 2)) == 2
    with pytest.raises(ValueError):
        random_challenge(rng, 4)


def _ev(*kinds: str) -> list[ActionEvent]:
    return [ActionEvent(k, float(i), float(i) + 0.2) for i, k in enumerate(kinds)]


def test_order_is_checked() -> None:
    events = _ev("open_mouth", "blink", "open_mouth")
    ok, found, _, reason = check_order(events, [Action.OPEN_MOUTH, Action.BLINK], "either")
    assert ok and found == ["open_mouth", "blink"] and reason is None
    ok, _, _, reason = check_order(_ev("blink", "open_mouth"), [Action.OPEN_MOUTH, Action.BLINK], "either")
    assert not ok and reason is FaceReason.WRONG_ORDER
    ok, _, _, reason = check_order(_ev("blink"), [Action.NOD], "either")
    assert not ok and reason is FaceReason.WRONG_ACTION
    ok, _, _, reason = check_order([], [Action.NOD], "either")
    assert not ok and reason is FaceReason.NO_ACTION


def test_left_is_the_users_own_left() -> None:
    # raw camera: a face pointing to the image right has turned to the user's own left
    right_then_left = _ev("yaw_image_right", "yaw_image_left")
    assert check_order(right_then_left, [Action.TURN_LEFT, Action.TURN_RIGHT], "raw")[0]
    assert not check_order(right_then_left, [Action.TURN_RIGHT, Action.TURN_LEFT], "raw")[0]
    assert check_order(right_then_left, [Action.TURN_RIGHT, Action.TURN_LEFT], "mirrored")[0]
    # unknown mirroring: either reading, but one reading for the whole video
    ok, _, mirrored, _ = check_order(right_then_left, [Action.TURN_RIGHT, Action.TURN_LEFT], "either")
    assert ok and mirrored is True
    both_same_way = _ev("yaw_image_right", "yaw_image_right")
    assert not check_order(both_same_way, [Action.TURN_LEFT, Action.TURN_RIGHT], "either")[0]


def test_match_bands() -> None:
    cfg = FaceConfig(match_threshold=0.55, review_margin=0.05)
    assert decide(0.3, cfg) == ("pass", [])
    assert decide(0.52, cfg) == ("review", ["face_match_uncertain"])
    assert decide(0.58, cfg) == ("review", ["face_match_uncertain"])
    assert decide(0.7, cfg) == ("fail", ["face_mismatch"])
    assert distance((0.0,) * 128, (0.0,) * 127 + (1.0,)) == 1.0
    with pytest.raises(ValueError):
        distance((0.0,) * 3, (0.0,) * 3)


def test_replay_guard() -> None:
    guard = InMemoryReplayGuard(capacity=2)
    assert isinstance(guard, ReplayGuard)
    assert not guard.check_and_remember("a")
    assert guard.check_and_remember("a")
    guard.remember("b")
    guard.remember("c")
    assert not guard.seen("a") and guard.seen("c")


def test_verdict_is_picklable_plain_data() -> None:
    v = FaceVerdict(
        decision="review",
        match_distance=0.5,
        liveness=LivenessResult(True, ["blink"], [("blink", 0.1, 0.2)], False, [], 0.1, (("frame", 0.0),)),
        reasons=["face_match_uncertain"],
        content_hash="0" * 64,
        live_encoding=(0.1,) * 128,
        best_frame_jpeg=b"\xff\xd8",
        review_frames_jpeg=[b"x"],
        timings={"total": 1.0},
    )
    assert pickle.loads(pickle.dumps(v)) == v


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_every_code_and_action_has_a_message(lang: str) -> None:
    data = tomllib.loads((REPO / "locales" / lang / "reasons_face.toml").read_text("utf-8"))
    for code in FaceReason:
        assert data["reasons"].get(code.value), code
    for action in Action:
        assert data["liveness"]["action"].get(action.value), action
    prefixes = ("face_", "liveness_", "video_")
    assert all(code.value.startswith(prefixes) for code in FaceReason)


def test_same_recording_rule() -> None:
    from bot.verification.face import same_recording

    a = tuple(range(1, 9))
    assert same_recording(a, a)
    flipped = tuple(x ^ ((1 << 40) - 1) for x in a)  # 40 bits differ in every frame
    assert not same_recording(a, flipped)
    one_off = (*a[:7], a[7] ^ ((1 << 40) - 1))  # one frame differs: still the same recording
    assert same_recording(a, one_off)
    assert not same_recording((), ()) and not same_recording(a, a[:4])
