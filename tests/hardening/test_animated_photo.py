"""Animated-photo attacks (issue 16, item 1): one still photo made to perform the challenge in 2-D.

Synthetic: built at test time with tools/facegen/animate.py from a public photo in ../shared/testdata
(skipped without it). Each is sent with the same photo's encoding as the portrait, as the attacker
would: the match passes, so liveness alone must refuse it. The genuine clips that must still pass
are tests/unit/verification/test_face_testdata.py::test_public_clip.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from bot.verification.face import FaceConfig, encode_face_image, parse_challenge, verify_selfie_video
from tools.facegen.animate import ANIMATED_CASES, AnimatedCase, animated_photo_video

pytestmark = pytest.mark.slow

# every style, both action sets, on one photo (the benchmark runs all three photos)
CASES = [c for c in ANIMATED_CASES if c.photo.endswith("obama.jpg")]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_animated_photo_is_refused(case: AnimatedCase, testdata: Path) -> None:
    path = testdata / "faces" / case.photo
    photo = np.asarray(cv2.imread(str(path)), np.uint8)
    portrait = encode_face_image(path.read_bytes()).encoding
    assert portrait is not None
    video = animated_photo_video(photo, case.actions, style=case.style)
    v = verify_selfie_video(video, parse_challenge(case.challenge), [portrait], FaceConfig(mirror="raw"))
    assert v.decision == "fail", (v.reasons, v.liveness.events)
    assert "liveness_animated_photo" in v.reasons, v.reasons
    assert v.match_distance is not None and v.match_distance < 0.5  # the portrait does match
    cues = dict(v.liveness.spoof_cues)
    assert cues["warp_residual"] < FaceConfig().animated_residual


def test_noisier_animation_is_still_refused(testdata: Path) -> None:
    """Three times the sensor noise does not hide the warp (the residual is read on blurred crops)."""
    photo = np.asarray(cv2.imread(str(testdata / "faces/face_recognition/biden2.jpg")), np.uint8)
    video = animated_photo_video(photo, ["yaw_right", "yaw_left"], style="slide", noise=6.0, seed=4)
    v = verify_selfie_video(video, parse_challenge("turn_left,turn_right"), (), FaceConfig(mirror="raw"))
    assert v.decision == "fail" and "liveness_animated_photo" in v.reasons, v.reasons
