"""Prepared videos that try to pass any challenge by their timing (issue 16, item 2), on public clips.

Each attack is built here from genuine recordings in ../shared/testdata (tools/facegen/splice.py; the
tests skip when the data is absent) and must be refused:

* **joined**: the varun open-mouth, head-shake and nod clips (one man) joined into one 13.9 s file,
  so one video holds every action. Before this change it passed 28 of the 66 possible challenges.
  The join itself is caught (``video_spliced``); and with that cue switched off, the order rule
  alone ("only what was asked, each action in its own window") leaves at most 6 of 66.
* **retimed**: the MP4 clock of a clip multiplied 8x without re-encoding a frame (the joined clip
  declares 1.7 s, the 20.7 s tran selfie 2.6 s); the WebM clock of the shake clip 4x. Time is read
  from the frames' timestamps, and a camera gives no 240 frames a second: ``video_timing_inconsistent``.

The genuine clips still pass their challenges: tests/unit/verification/test_face_testdata.py.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.verification.face import Action, FaceConfig, verify_selfie_video
from bot.verification.face.liveness import ActionEvent, check_order
from bot.verification.face.video import VideoInfo, sample_frames
from tools.facegen.splice import join_clips, retime_mp4, retime_webm

pytestmark = pytest.mark.slow

VARUN = ("live_open_mouth_varun.webm", "live_head_shake_left_right_varun.webm", "live_nod_up_down_varun.webm")


def all_challenges() -> list[list[Action]]:
    facial = (Action.BLINK, Action.OPEN_MOUTH)
    head = (Action.TURN_LEFT, Action.TURN_RIGHT, Action.NOD)
    return [
        list(p)
        for k in (2, 3)
        for combo in itertools.combinations(facial + head, k)
        if set(combo) & set(facial) and set(combo) & set(head)
        for p in itertools.permutations(combo)
    ]


@functools.cache
def _joined(root: Path) -> bytes:
    return join_clips([(root / "videos" / name).read_bytes() for name in VARUN])


def test_joined_clips_are_refused_as_spliced(testdata: Path) -> None:
    joined = _joined(testdata)
    for challenge in ([Action.OPEN_MOUTH, Action.TURN_LEFT], [Action.BLINK, Action.NOD, Action.TURN_RIGHT]):
        v = verify_selfie_video(joined, challenge)
        assert v.decision == "fail" and v.reasons == ["video_spliced"], v.reasons


def test_joined_clips_pass_few_challenges_by_the_order_rule_alone(testdata: Path) -> None:
    """The cut cue off: the joined clip's actions, against all 66 challenges."""
    no_cut = FaceConfig(cut_histogram_distance=9.0)
    v = verify_selfie_video(_joined(testdata), [Action.OPEN_MOUTH, Action.TURN_LEFT], (), no_cut)
    others = [r for r in v.reasons if not r.startswith("liveness_")]
    assert not others, v.reasons
    events = [ActionEvent(k, a, b) for k, a, b in v.liveness.events]
    kinds = {e.kind for e in events}
    assert {"open_mouth", "yaw_image_right", "yaw_image_left", "nod"} <= kinds, (
        events
    )  # every action is there
    passed = [c for c in all_challenges() if check_order(events, c, no_cut.mirror, no_cut)[0]]
    assert len(passed) <= 6, passed


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("joined, MP4 clock x8", lambda root: retime_mp4(_joined(root), 8)),
        (
            "tran selfie, MP4 clock x8",
            lambda root: retime_mp4((root / "videos" / "live_selfie_turns_nod_tran.mp4").read_bytes(), 8),
        ),
        (
            "shake, WebM clock x4",
            lambda root: retime_webm(
                (root / "videos" / "live_head_shake_left_right_varun.webm").read_bytes(), 4
            ),
        ),
    ],
)
def test_a_retimed_clip_is_refused(testdata: Path, name: str, build: Callable[[Path], bytes]) -> None:
    video = build(testdata)
    for challenge in all_challenges()[:3]:
        v = verify_selfie_video(video, challenge)
        assert v.decision == "fail" and v.reasons == ["video_timing_inconsistent"], (name, v.reasons)


def test_the_genuine_clips_keep_their_timing(testdata: Path) -> None:
    """Every public recording's timestamps agree with its frames, and none is taken for a join: the
    genuine clips, the replays, the GIF, and the TV clip (whose cuts are between similar shots)."""
    for path in sorted((testdata / "videos").iterdir()):
        info = VideoInfo()
        try:
            for _ in sample_frames(path.read_bytes(), FaceConfig(), info):
                pass
        except Exception as exc:  # the test names what was raised
            pytest.fail(f"{path.name}: {exc}")
        assert info.duration > 2.0, path.name
