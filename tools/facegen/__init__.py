"""Synthetic selfie videos made from one still face, for the face engine's tests and benchmark.

Everything here is **synthetic** and says so: a still photo filmed for a few seconds, a printed photo
moved and tilted in front of the camera, and frames whose landmarks are warped so the face blinks,
opens its mouth or shifts its features as in a head turn. They are generated at test time from the
public faces in ``../shared/testdata`` (never committed, those files may not be re-published).
"""

from tools.facegen.cases import VIDEO_CASES, VideoCase
from tools.facegen.make import (
    crop_square_video,
    moving_photo_video,
    still_photo_video,
    warped_actions_video,
    write_video,
)

__all__ = [
    "VIDEO_CASES",
    "VideoCase",
    "crop_square_video",
    "moving_photo_video",
    "still_photo_video",
    "warped_actions_video",
    "write_video",
]
