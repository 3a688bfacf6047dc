"""Challenge actions, reason codes and the tunable thresholds of the face engine."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

__all__ = [
    "Action",
    "FaceConfig",
    "FaceReason",
    "MirrorPolicy",
    "parse_challenge",
    "random_challenge",
]


class Action(StrEnum):
    """What the user is asked to do in the selfie video.

    ``turn_left`` / ``turn_right`` are the user's **own** left and right (turn the head so the face
    points to your left shoulder). See :class:`MirrorPolicy` for how that maps onto the image.
    ``nod`` is a clear pitch movement of the head (down or up) and back.
    """

    BLINK = "blink"
    OPEN_MOUTH = "open_mouth"
    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"
    NOD = "nod"


FACIAL_ACTIONS = (Action.BLINK, Action.OPEN_MOUTH)
HEAD_ACTIONS = (Action.TURN_LEFT, Action.TURN_RIGHT, Action.NOD)


class FaceReason(StrEnum):
    # still images and the face itself
    NO_FACE = "face_not_found"
    MULTIPLE_FACES = "face_multiple"
    TOO_SMALL = "face_too_small"
    MISMATCH = "face_mismatch"
    MATCH_UNCERTAIN = "face_match_uncertain"
    # the video container
    VIDEO_EMPTY = "video_empty"
    VIDEO_TOO_LARGE = "video_too_large"
    VIDEO_TOO_MANY_PIXELS = "video_too_many_pixels"
    VIDEO_TOO_LONG = "video_too_long"
    VIDEO_TOO_SHORT = "video_too_short"
    VIDEO_UNDECODABLE = "video_undecodable"
    VIDEO_NO_FACE = "video_no_usable_face"
    VIDEO_ALREADY_SUBMITTED = "video_already_submitted"
    # the frames' own timestamps disagree with what the container declares, go back, or give a frame
    # rate no camera records at (a long clip retimed to look short)
    VIDEO_TIMING_INCONSISTENT = "video_timing_inconsistent"
    # the picture changes all at once while the face is on screen: clips joined into one
    VIDEO_SPLICED = "video_spliced"
    # the liveness challenge and presentation-attack checks
    NO_ACTION = "liveness_no_action"
    WRONG_ACTION = "liveness_wrong_action"
    WRONG_ORDER = "liveness_wrong_order"
    UNREQUESTED_ACTION = "liveness_unrequested_action"  # another challenge-like action before/between
    ACTION_LATE = "liveness_action_late"  # a requested action outside its own time window
    MULTIPLE_PEOPLE = "liveness_multiple_faces"
    FACE_LOST = "liveness_face_lost"
    FACE_CHANGED = "liveness_face_changed"
    STILL_PHOTO = "liveness_still_photo"
    FLAT_PHOTO = "liveness_flat_photo"
    SCREEN_OR_PRINT = "liveness_screen_or_print"
    SPOOF_SUSPECTED = "liveness_spoof_suspected"  # decision `review`: staff look at the frames
    ANIMATED_PHOTO = "liveness_animated_photo"  # the head actions are a 2-D warp of one frame (cues.py)
    OUTLINE_STATIC = "liveness_outline_static"  # the hair stays put while the face turns (cues.py)


MirrorPolicy = Literal["raw", "mirrored", "either"]
"""How the image relates to the user's own left and right.

``raw``: the video is what the front camera saw (not mirrored); a user turning to their own left
shows a face pointing to the **image right**. ``mirrored``: the video was flipped like the preview.
``either`` (default): Telegram clients and phones differ and no metadata says which, so the challenge
passes when it is satisfied under one of the two readings; a challenge holding both turns must still
show them in opposite directions, in the right order, under the same reading.
"""


@dataclass(frozen=True)
class FaceConfig:
    # --- match against a reference (ID portrait or stored live face); dlib distance, 0.6 is dlib's
    # own same-person threshold on LFW. pass < threshold - margin <= review < threshold + margin <= fail
    match_threshold: float = 0.55
    review_margin: float = 0.05
    # --- video limits (a Telegram video note is at most 60 s; a challenge needs a few seconds)
    max_video_bytes: int = 20 * 1024 * 1024
    max_video_seconds: float = 30.0
    min_video_seconds: float = 1.5
    max_video_pixels: int = 1920 * 1088
    # Time is read from the decoded frames' presentation timestamps, never the declared frame rate.
    # Phones record selfies at 24-60 frames per second; more frames per second of timestamps than
    # this means the timestamps were squeezed (a 23 s clip declared as 3 s).
    max_frame_rate: float = 65.0
    # The container's frame count may differ this much (share, at least 2 frames) from the frames
    # decoded; the length it declares (count / declared rate) by at most this factor from theirs.
    timing_tolerance_share: float = 0.1
    timing_length_factor: float = 2.0
    # A cut: between two samples the whole picture changes, its colours (hue/saturation histogram)
    # and its layout (grey thumbnail) at once. Measured on ../shared/testdata: clips joined from the
    # varun recordings >= 0.50 / >= 40 at the joins; the worst genuine moment, a sheet of paper swept
    # over the face, reaches only one of the two (0.39 / 34 at most together).
    cut_histogram_distance: float = 0.45  # Bhattacharyya distance of consecutive samples' histograms
    cut_thumb_difference: float = 36.0  # mean absolute difference of 32x32 grey thumbnails (0-255)
    cut_grace_seconds: float = 0.5  # not judged while the camera settles its exposure
    sample_fps: float = 15.0  # short blinks last ~0.12 s: fewer samples would miss them
    work_short_side: int = 480  # frames larger than this are scaled down before any analysis
    detect_short_side: int = 360  # unused since BlazeFace (it sees a padded square of the frame)
    min_face_px: int = 80  # in the work frame; smaller faces carry too little detail to judge
    # --- face tracking
    min_face_fraction: float = 0.6  # share of samples where the tracked face must be visible
    max_face_gap_seconds: float = 3.0  # a strong head turn loses the frontal detector for a while
    second_face_ratio: float = 0.45  # another face at least this size (width) counts as a person
    multi_face_seconds: float = 0.3  # ... for at least this long
    same_person_distance: float = 0.6
    identity_checks: int = 3  # extra encodings, one per stretch of uninterrupted tracking
    full_detect_interval: float = 0.25  # seconds between full-frame detector passes
    # Decoding and detection a few frames ahead in a thread of their own, the passive cues and the
    # identity encodings in another: the same work and the same verdict, one decision sooner when a
    # core is free (idle machine: 0.39 s against 0.58 s, bench/RESULTS-face.md). Off by default: in
    # the pool, whose workers already fill every core, 8 notes at once took 5.2 s with them against
    # 2.8 s without (one run on the idle machine; under other load 4.6-6.4 s against 5.2-7.3 s).
    helper_threads: bool = False
    # --- actions (thresholds on the landmark measures, relative to the clip's own baseline)
    blink_ear_ratio: float = 0.75  # closed when EAR < ratio * median EAR
    blink_max_seconds: float = 2.5
    mouth_open_mar: float = 0.45  # inner-lip MAR; closed ~0.0-0.2, wide open ~0.7-1.0
    turn_yaw_delta: float = 0.15  # nose position between jaw corners, 0.5 = frontal
    nod_pitch_delta: float = 0.08  # nose position between eye line and chin
    pose_still_delta: float = 0.07  # blinks only count with the head near its baseline pose
    mirror: MirrorPolicy = "either"
    # --- the challenge as a whole: the requested actions in order, each in its own time window (it
    # starts at most this long after the previous one ended, the first after the clip began), and
    # nothing else challenge-like before or between them. Blinks are involuntary and never count as
    # unrequested; a turn or nod shorter than unrequested_min_seconds is the head passing through
    # (between two turns), not an action.
    action_window_seconds: float = 8.0
    unrequested_min_seconds: float = 0.3
    # --- presentation attacks
    # Measured with Face Mesh landmarks on BlazeFace boxes (bench/RESULTS-face.md): still photos with
    # noise 0.8-1.3, the genuine blink clip (head still) 2.8; moved prints 0.036 flat, moving genuine
    # heads >= 0.12.
    still_motion_px: float = 2.0  # landmark motion (RMS, px at 100 px inter-ocular) below = still
    flat_residual: float = 0.07  # homography residual / inter-ocular distance below = a flat photo
    flat_min_motion: float = 8.0  # ... judged only when the landmarks move at least this much
    spoof_threshold: float = 1.0  # passive score at or above = screen / print replay
    spoof_review: float = 0.6  # passive score in [review, threshold) = staff review
    # --- outputs
    best_frames: int = 2  # frames encoded and averaged for the match
    review_frames: int = 3
    jpeg_quality: int = 85
    # --- animated photos (cues.py; measured in bench/RESULTS-face.md)
    animated_residual: float = 0.17  # warp residual of the head actions below = a warped still
    outline_follow_min: float = 0.35  # share of the head's motion the hair follows below = a warped still
    animated_frames: int = 3  # peak frames of each head action compared with the neutral frame


def parse_challenge(text: str) -> list[Action]:
    """``"blink,open_mouth"`` -> ``[Action.BLINK, Action.OPEN_MOUTH]``.

    Raises ``ValueError`` for an empty challenge, an unknown action or a repeated one.
    """
    parts = [p.strip().lower() for p in text.replace(";", ",").split(",")]
    parts = [p for p in parts if p]
    if not parts:
        raise ValueError("empty challenge")
    actions: list[Action] = []
    for part in parts:
        try:
            action = Action(part.replace("-", "_"))
        except ValueError:
            known = ", ".join(a.value for a in Action)
            raise ValueError(f"unknown action {part!r}; known: {known}") from None
        if action in actions:
            raise ValueError(f"action {part!r} is repeated")
        actions.append(action)
    if len(actions) > len(Action):
        raise ValueError("too many actions")
    return actions


def random_challenge(rng: random.Random, k: int | None = None) -> list[Action]:
    """2-3 distinct actions: at least one facial action (blink / open mouth: non-rigid, a photo
    cannot do it) and at least one head movement (turn / nod: shows the face is not flat), shuffled."""
    if k is None:
        k = rng.choice((2, 3))
    if not 2 <= k <= 3:
        raise ValueError("a challenge has 2 or 3 actions")
    chosen: list[Action] = [rng.choice(FACIAL_ACTIONS), rng.choice(HEAD_ACTIONS)]
    rest: Sequence[Action] = [a for a in Action if a not in chosen]
    chosen += rng.sample(list(rest), k - 2)
    rng.shuffle(chosen)
    return chosen
