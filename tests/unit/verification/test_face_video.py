"""Video limits and reason codes, on videos generated here (no public test data needed)."""

from __future__ import annotations

import numpy as np
import pytest

from bot.verification.face import Action, FaceConfig, content_hash, verify_selfie_video
from tools.facegen import write_video


def _noise_video(seconds: float, size: tuple[int, int] = (160, 120), fps: float = 10.0) -> bytes:
    rng = np.random.default_rng(0)
    w, h = size
    return write_video(
        [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for _ in range(int(seconds * fps))], fps
    )


@pytest.fixture(scope="module")
def noise2s() -> bytes:
    return _noise_video(2.0)


def _codes(video: bytes, config: FaceConfig | None = None, **kw: bool) -> list[str]:
    return verify_selfie_video(video, [Action.BLINK], (), config or FaceConfig(), **kw).reasons


def test_empty_and_garbage() -> None:
    assert _codes(b"") == ["video_empty"]
    assert _codes(b"\x00not a video at all" * 100) == ["video_undecodable"]


def test_no_face(noise2s: bytes) -> None:
    v = verify_selfie_video(noise2s, [Action.BLINK])
    assert v.decision == "fail" and v.reasons == ["video_no_usable_face"]
    assert v.content_hash == content_hash(noise2s) and len(v.content_hash) == 64
    assert v.frames_sampled > 0 and v.live_encoding is None


def test_limits(noise2s: bytes) -> None:
    assert _codes(noise2s, FaceConfig(max_video_bytes=len(noise2s) - 1)) == ["video_too_large"]
    assert _codes(noise2s, FaceConfig(max_video_seconds=1.0)) == ["video_too_long"]
    assert _codes(noise2s, FaceConfig(max_video_pixels=100 * 100)) == ["video_too_many_pixels"]
    assert _codes(_noise_video(1.0)) == ["video_too_short"]


def test_sampling_is_bounded() -> None:
    video = _noise_video(2.0, fps=30.0)
    v = verify_selfie_video(video, [Action.BLINK], (), FaceConfig(sample_fps=5.0))
    assert 9 <= v.frames_sampled <= 11


def test_replay_is_refused_by_hash(noise2s: bytes) -> None:
    v = verify_selfie_video(noise2s, [Action.BLINK], seen_before=True)
    assert v.reasons == ["video_already_submitted"] and v.decision == "fail"


def test_bad_arguments(noise2s: bytes) -> None:
    with pytest.raises(ValueError):
        verify_selfie_video(noise2s, [])
    with pytest.raises(ValueError):
        verify_selfie_video(noise2s, [Action.BLINK], [(0.0, 1.0)])
