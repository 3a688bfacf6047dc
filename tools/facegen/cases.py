"""The face engine's accept / reject cases over ``../shared/testdata`` (used by tests and the benchmark).

Each challenge names only actions the clip really shows, from the second-by-second description in
``testdata/SOURCES.md`` (not from the engine's output). Turns are given for the raw (unmirrored)
reading: a face pointing to the image right is the user's own left. The engine's default mirror
policy (``either``) accepts them as well.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VideoCase:
    name: str
    file: str  # under testdata/videos
    challenge: str
    accept: bool
    note: str


VIDEO_CASES: tuple[VideoCase, ...] = (
    VideoCase("blink", "live_blink_eyes_closed_repeating.mp4", "blink", True, "genuine, six blinks"),
    VideoCase(
        "mouth_then_blink",
        "live_open_mouth_varun.webm",
        "open_mouth,blink",
        True,
        "genuine: mouth ~0.33 s, blink ~1.2 s",
    ),
    VideoCase(
        "shake",
        "live_head_shake_left_right_varun.webm",
        "turn_left,turn_right",
        True,
        "genuine: image-right then image-left",
    ),
    VideoCase("nod", "live_nod_up_down_varun.webm", "nod", True, "genuine: up then down"),
    VideoCase(
        "occluded",
        "live_occluded_by_paper_varun.webm",
        "turn_right",
        True,
        "genuine: paper swept twice, small turn ~3.5 s (SOURCES gives no direction: either reading)",
    ),
    VideoCase(
        "tran_live",
        "live_selfie_turns_nod_tran.mp4",
        "turn_left,turn_right,nod",
        True,
        "genuine phone selfie, 20.7 s",
    ),
    VideoCase(
        "zubair_live",
        "live_webcam_smile_wave_turns_zubair.webm",
        "turn_right,turn_left",
        True,
        "genuine webcam: image-left then image-right",
    ),
    VideoCase(
        "tran_screen",
        "spoof_screen_replay_of_live_selfie_tran.mp4",
        "turn_left,turn_right",
        False,
        "screen replay doing the same turns",
    ),
    VideoCase("zubair_phone", "spoof_phone_replay_zubair.webm", "blink", False, "phone replay, two faces"),
    VideoCase(
        "manikantha_phone",
        "spoof_phone_replay_manikantha.mp4",
        "blink",
        False,
        "phone replay with blink-like dips",
    ),
    VideoCase(
        "silentface_gif",
        "spoof_sequence_silentface_demo.gif",
        "blink",
        False,
        "live / phone / print montage, 150x322",
    ),
    VideoCase(
        "hamilton",
        "nonselfie_short_hamilton_clip.mp4",
        "open_mouth",
        False,
        "TV footage: cuts, several people",
    ),
)
