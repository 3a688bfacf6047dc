"""Face engine: liveness challenge from a selfie video, passive anti-spoofing, match against a portrait.

Pure and synchronous: bytes in, picklable dataclasses out (plain types only), so the calls run in a
process pool (see :mod:`bot.verification.pool`). dlib's models load once per process.

Which way is left: :class:`Action` ``turn_left`` is the user's own left. Whether a video is mirrored
is not known (see :data:`MirrorPolicy`); by default both readings are tried.
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
