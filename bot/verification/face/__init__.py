"""Face engine: liveness challenge from a selfie video, passive anti-spoofing, match against a portrait.

Pure and synchronous: bytes in, picklable dataclasses out (plain types only), so the calls run in a
process pool (see :mod:`bot.verification.pool`). The models (MODELS.md: MediaPipe BlazeFace and Face
Mesh, dlib's 5-point model and ResNet encoder; all licences allow a proprietary deployment) load once
per process.

Which way is left: :class:`Action` ``turn_left`` is the user's own left. Whether a video is mirrored
is not known (see :data:`MirrorPolicy`); by default both readings are tried, one reading per video.

How a selfie video is judged (:func:`verify_selfie_video`):

1. limits: bytes, pixels, duration (``video_*``); frames sampled at ``sample_fps`` (15/s by default,
   enough for a 0.12 s blink), scaled to a 480 px short side;
2. one face tracked through the clip (BlazeFace over the whole frame a few times a second, a window
   around the face in between; it keeps turned faces); the face must be visible in most frames, with
   no long gap, no second person of comparable size, and the same identity after every break in
   tracking (``liveness_face_*``, ``liveness_multiple_faces``);
3. the requested actions, in order, from 68 points of the 468-point Face Mesh
   (``liveness_no_action`` /
   ``_wrong_action`` / ``_wrong_order``); other movements in between are allowed (people blink);
4. presentation attacks: a still picture (no landmark motion), a flat one (a homography explains
   every frame's 68 points: a print or photo moved and tilted), a screen or print seen by its
   passive cues (bezel / border edges, glare, blur; ``liveness_screen_or_print``, with a band below
   the threshold that goes to staff review as ``liveness_spoof_suspected``); a photo animated in 2-D
   (its inner face slid, squashed or turned on its mesh): the head actions' frames are explained by a
   smooth warp of a neutral frame and the hair does not follow the head (:mod:`.cues`;
   ``liveness_animated_photo``, ``liveness_outline_static``);
5. the match of the best frames' mean encoding against the references (``face_mismatch`` /
   ``face_match_uncertain``).

Replays: the verdict carries the sha256 ``content_hash`` and a ``fingerprint`` (:mod:`.fingerprint`:
frame hashes and the clip's movements, unchanged by mirroring, cropping, small rotations, brightness
and re-encoding); the caller keeps them and passes ``seen_before=True`` (:class:`ReplayGuard`,
:func:`same_recording`).

Known limits: the animation cues are read on head actions (turns, nods; the random challenge always
holds one), so a challenge of blinks and mouth openings alone is not protected by them; they and the
passive cues were set on a few public clips and on the attacks of tools/facegen.
"""

from __future__ import annotations

from .config import Action, FaceConfig, FaceReason, MirrorPolicy, parse_challenge, random_challenge
from .detect import load_models, warmup
from .engine import (
    FaceEncodingResult,
    FaceVerdict,
    compare_images,
    content_hash,
    encode_face_image,
    encode_pil_image,
    verify_selfie_video,
)
from .fingerprint import same_recording
from .liveness import LivenessResult
from .match import Decision, MatchResult
from .replay import InMemoryReplayGuard, ReplayGuard

__all__ = [
    "Action",
    "Decision",
    "FaceConfig",
    "FaceEncodingResult",
    "FaceReason",
    "FaceVerdict",
    "InMemoryReplayGuard",
    "LivenessResult",
    "MatchResult",
    "MirrorPolicy",
    "ReplayGuard",
    "compare_images",
    "content_hash",
    "encode_face_image",
    "encode_pil_image",
    "load_models",
    "parse_challenge",
    "random_challenge",
    "same_recording",
    "verify_selfie_video",
    "warmup",
]
