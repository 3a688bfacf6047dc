"""Time from the frames' own timestamps, the challenge as a whole, and what wrote the file (issue 16).

Everything here is synthetic and built in the test: noise and colour videos written with OpenCV,
their MP4 clock rewritten by tools/facegen/splice.py; the action events are given directly.
"""

from __future__ import annotations

import numpy as np
import pytest

from bot.verification.face import Action, FaceConfig, verify_selfie_video
from bot.verification.face.config import FaceReason
from bot.verification.face.container import editing_tool, writer_names
from bot.verification.face.liveness import ActionEvent, check_order, missing_actions
from bot.verification.face.video import VideoInfo, check_timing, sample_frames
from tools.facegen import write_video
from tools.facegen.splice import retime_mp4

CFG = FaceConfig()


def _scene(
    seed: int, seconds: float, fps: float = 30.0, size: tuple[int, int] = (160, 120)
) -> list[np.ndarray]:
    """A room of its own colour (a gradient and some texture) that drifts slowly, as a hand-held
    camera does."""
    rng = np.random.default_rng(seed)
    w, h = size
    colour = np.array([(60, 90, 200), (200, 120, 40), (40, 180, 60), (150, 40, 160)][seed % 4], np.float32)
    ramp = np.linspace(0.2, 1.0, w * 2, dtype=np.float32)[None, :: 1 if seed % 2 else -1, None]
    texture = rng.normal(0.0, 12.0, (h * 2, w * 2, 1)).astype(np.float32)
    base = np.clip(colour[None, None, :] * ramp + texture, 0, 255).astype(np.uint8)
    return [
        np.ascontiguousarray(base[i % 8 : i % 8 + h, i % 8 : i % 8 + w]) for i in range(int(seconds * fps))
    ]


def _codes(video: bytes, config: FaceConfig = CFG) -> list[str]:
    return verify_selfie_video(video, [Action.BLINK, Action.NOD], (), config).reasons


# --- timestamps --------------------------------------------------------------------------------


def test_times_come_from_the_timestamps() -> None:
    video = write_video(_scene(1, 2.0, fps=25.0), 25.0)
    info = VideoInfo()
    frames = list(sample_frames(video, CFG, info))
    assert abs(info.duration - 2.0) < 0.05 and abs(info.frame_rate - 25.0) < 0.5
    assert all(abs(f.t - f.index / 25.0) < 1e-3 for f in frames)


def test_a_clip_retimed_to_look_short_is_refused() -> None:
    """Attack: the MP4 clock sped up 8x without re-encoding (a 6 s clip declares 0.75 s)."""
    video = write_video(_scene(2, 6.0), 30.0)
    retimed = retime_mp4(video, 8)
    assert _codes(retimed) == [FaceReason.VIDEO_TIMING_INCONSISTENT.value]


def test_a_long_clip_whose_header_declares_it_short_is_held_to_its_real_length() -> None:
    """Attack: only the declared durations rewritten; the frames keep their real (long) times."""
    video = write_video(_scene(3, 4.0, fps=10.0), 10.0)
    edited = retime_mp4(video, 8, durations_only=True)
    assert _codes(edited, FaceConfig(max_video_seconds=2.0)) == [FaceReason.VIDEO_TOO_LONG.value]


@pytest.mark.parametrize(
    ("times", "declared", "fps", "problem"),
    [
        ([0.0, 0.033, 0.033, 0.1], 0, 30.0, "do not increase"),
        ([0.0, 0.05, 0.04, 0.1], 0, 30.0, "do not increase"),
        ([i / 240 for i in range(240)], 0, 240.0, "frames per second"),
        ([i / 30 for i in range(90)], 150, 30.0, "declared"),  # 90 frames, 150 declared
        ([i / 30 for i in range(90)], 90, 10.0, "declared"),  # 3 s of timestamps, 9 s declared
    ],
)
def test_timestamps_that_disagree_with_the_frames(
    times: list[float], declared: int, fps: float, problem: str
) -> None:
    found = check_timing(times, declared, fps, CFG)
    assert found is not None and problem in found


def test_a_variable_rate_phone_clip_is_accepted() -> None:
    rng = np.random.default_rng(0)
    steps = rng.uniform(1 / 35, 1 / 18, 200)  # a dim room: 18-35 frames per second
    times = [0.0, *np.cumsum(steps)]
    assert check_timing(times, len(times), 30.0, CFG) is None
    assert check_timing(times, 0, 30.0, CFG) is None  # no count declared (a browser's WebM)


def test_clips_joined_into_one_are_refused_as_spliced() -> None:
    """Attack: two recordings (other place, other colours) one after the other in one file."""
    joined = write_video(_scene(4, 2.0) + _scene(5, 2.0), 30.0)
    assert _codes(joined) == [FaceReason.VIDEO_SPLICED.value]
    assert _codes(write_video(_scene(4, 4.0), 30.0)) != [FaceReason.VIDEO_SPLICED.value]


# --- the challenge as a whole --------------------------------------------------------------------


def _ev(*spec: tuple[str, float, float]) -> list[ActionEvent]:
    return [ActionEvent(k, a, b) for k, a, b in spec]


def test_an_unrequested_action_before_or_between_is_refused() -> None:
    challenge = [Action.OPEN_MOUTH, Action.NOD]
    between = _ev(("open_mouth", 1.0, 1.5), ("yaw_image_right", 2.0, 2.8), ("nod", 3.0, 3.8))
    ok, found, _, reason = check_order(between, challenge, "either", CFG)
    assert not ok and found == ["open_mouth"] and reason is FaceReason.UNREQUESTED_ACTION
    before = _ev(("nod", 0.2, 1.0), ("open_mouth", 1.5, 2.0), ("nod", 3.0, 3.8))
    ok, found, _, reason = check_order(before, challenge, "either", CFG)
    assert not ok and found == [] and reason is FaceReason.WRONG_ORDER  # a requested one, too early


def test_blinks_repeats_flickers_and_what_follows_are_tolerated() -> None:
    challenge = [Action.TURN_LEFT, Action.TURN_RIGHT, Action.NOD]
    events = _ev(
        ("blink", 0.5, 0.6),  # people blink
        ("yaw_image_right", 1.0, 2.0),  # turn left (raw)
        ("yaw_image_right", 2.2, 2.6),  # ... held through a flicker
        ("nod", 2.9, 3.0),  # the head passing through between the turns
        ("yaw_image_left", 3.2, 4.0),  # turn right
        ("nod", 4.5, 5.5),
        ("nod", 6.0, 7.0),  # nodded twice
        ("open_mouth", 8.0, 8.5),  # after the last requested action: the user is done
    )
    ok, found, mirrored, reason = check_order(events, challenge, "either", CFG)
    assert ok and found == ["turn_left", "turn_right", "nod"] and mirrored is False and reason is None


def test_each_action_in_its_own_window() -> None:
    challenge = [Action.BLINK, Action.NOD]
    late = _ev(("blink", 1.0, 1.1), ("nod", 1.1 + CFG.action_window_seconds + 0.5, 12.0))
    ok, found, _, reason = check_order(late, challenge, "either", CFG)
    assert not ok and found == ["blink"] and reason is FaceReason.ACTION_LATE
    first_late = _ev(("blink", CFG.action_window_seconds + 1.0, 9.2), ("nod", 9.5, 10.5))
    assert check_order(first_late, challenge, "either", CFG)[3] is FaceReason.ACTION_LATE
    on_time = _ev(("blink", 1.0, 1.1), ("nod", 1.1 + CFG.action_window_seconds - 0.5, 9.0))
    assert check_order(on_time, challenge, "either", CFG)[0]


def test_one_clip_holding_every_action_passes_few_challenges() -> None:
    """Attack (events of a joined clip): each action once, in one order. Only challenges that are its
    opening sequence (a blink may be skipped: blinks are never unrequested) can pass: of the 66
    possible ones 6 at most (3 under each mirror reading)."""
    import itertools

    clip = _ev(
        ("open_mouth", 0.5, 1.0),
        ("blink", 1.5, 1.6),
        ("yaw_image_right", 2.5, 3.2),
        ("yaw_image_left", 4.0, 4.8),
        ("nod", 5.5, 6.5),
    )
    facial, head = ("blink", "open_mouth"), ("turn_left", "turn_right", "nod")
    challenges = [
        perm
        for k in (2, 3)
        for combo in itertools.combinations(facial + head, k)
        if set(combo) & set(facial) and set(combo) & set(head)
        for perm in itertools.permutations(combo)
    ]
    assert len(challenges) == 66
    passed = [c for c in challenges if check_order(clip, [Action(a) for a in c], "either", CFG)[0]]
    assert len(passed) <= 6, passed


def test_the_missing_actions_are_named() -> None:
    challenge = [Action.OPEN_MOUTH, Action.BLINK, Action.NOD]
    assert missing_actions(challenge, ["open_mouth"]) == ["blink", "nod"]
    assert missing_actions(challenge, []) == ["open_mouth", "blink", "nod"]


# --- what wrote the file -----------------------------------------------------------------------


def test_an_editor_or_library_is_named_by_the_container() -> None:
    made = write_video(_scene(6, 0.5), 30.0)  # OpenCV's writer: FFmpeg's libavformat
    assert any(n.lower().startswith("lavf") for n in writer_names(made))
    assert editing_tool(made) is not None
    assert editing_tool(b"not a video") is None
    # a WebM whose muxer is a browser's recorder
    webm = bytes.fromhex("1a45dfa3") + b"\x80" + bytes.fromhex("18538067") + b"\x8f"
    webm += bytes.fromhex("1549a966") + b"\x8a" + bytes.fromhex("4d80") + b"\x86Chrome"
    assert writer_names(webm) == ["Chrome"] and editing_tool(webm) is None
