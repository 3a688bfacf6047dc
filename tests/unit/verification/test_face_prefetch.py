"""The engine's two helper threads (decoding ahead, passive cues beside): same verdict as without them,
errors where they would have been, no thread left behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.verification.face import Action, FaceConfig, engine, verify_selfie_video
from bot.verification.face.config import FaceReason
from bot.verification.face.video import Frame, VideoRejected, prefetch
from tools.facegen import write_video


def _frames(n: int, fail_at: int | None = None, closed: list[bool] | None = None) -> Iterator[Frame]:
    try:
        for i in range(n):
            if i == fail_at:
                raise VideoRejected(FaceReason.VIDEO_SPLICED, f"cut at {i}")
            yield Frame(index=i, t=i / 10.0, bgr=np.full((4, 4, 3), i, np.uint8))
    finally:
        if closed is not None:
            closed.append(True)


def _decode_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "face-decode"]


def test_order_and_work_in_the_thread() -> None:
    names: list[str] = []

    def work(f: Frame) -> int:
        names.append(threading.current_thread().name)
        return f.index * 2

    assert list(prefetch(_frames(50), work, depth=3)) == [2 * i for i in range(50)]
    assert set(names) == {"face-decode"}
    assert not _decode_threads()


def test_error_arrives_after_the_frames_before_it() -> None:
    closed: list[bool] = []
    got: list[int] = []
    with pytest.raises(VideoRejected) as err:
        for i in prefetch(_frames(20, fail_at=7, closed=closed), lambda f: f.index):
            got.append(i)
    assert got == list(range(7)) and err.value.code is FaceReason.VIDEO_SPLICED
    assert closed == [True] and not _decode_threads()


def test_error_of_the_work_itself() -> None:
    def work(f: Frame) -> int:
        if f.index == 3:
            raise ValueError("broken frame")
        return f.index

    got: list[int] = []
    with pytest.raises(ValueError, match="broken frame"):
        for i in prefetch(_frames(10), work):
            got.append(i)
    assert got == [0, 1, 2]


def test_leaving_early_stops_the_decoder() -> None:
    closed: list[bool] = []
    gen = prefetch(_frames(10_000, closed=closed), lambda f: f.index, depth=2)
    assert next(gen) == 0
    gen.close()  # what the engine does when the loop is left (an exception in the caller)
    assert closed == [True] and not _decode_threads()


def test_same_verdict_as_without_the_threads(testdata: Path) -> None:
    clip = (testdata / "videos" / "live_head_shake_left_right_varun.webm").read_bytes()
    challenge = [Action.TURN_LEFT, Action.TURN_RIGHT]
    threaded = verify_selfie_video(clip, challenge, (), FaceConfig(helper_threads=True))
    assert not _decode_threads()
    serial = verify_selfie_video(clip, challenge, (), FaceConfig())  # off by default
    assert threaded.decision == "pass" and threaded.frames_sampled == serial.frames_sampled > 0
    assert (threaded.decision, threaded.reasons) == (serial.decision, serial.reasons)
    assert threaded.fingerprint == serial.fingerprint
    # the passive cues (computed beside) and the animation cues, to the last digit
    assert threaded.liveness.spoof_cues == serial.liveness.spoof_cues
    assert dict(threaded.liveness.spoof_cues)["frame_fraction"] is not None
    assert threaded.face_encoding == serial.face_encoding


def test_off_by_default_no_thread_started(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kw: Any) -> None:
        raise AssertionError("a helper thread was asked for")

    monkeypatch.setattr(engine, "prefetch", refuse)
    monkeypatch.setattr(engine, "ThreadPoolExecutor", refuse)
    engine._BESIDE.clear()
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 255, (120, 160, 3), dtype=np.uint8) for _ in range(20)]
    assert verify_selfie_video(write_video(frames, 10.0), [Action.BLINK]).reasons == ["video_no_usable_face"]


def test_rejected_stream_leaves_no_thread() -> None:
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (120, 160, 3), dtype=np.uint8) for _ in range(20)]
    cfg = FaceConfig(max_video_seconds=1.0, helper_threads=True)
    v = verify_selfie_video(write_video(frames, 10.0), [Action.BLINK], (), cfg)
    assert v.reasons == ["video_too_long"]
    assert not _decode_threads()
