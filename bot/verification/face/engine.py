"""The two entry points: a still image to an encoding, a selfie video to a verdict."""

from __future__ import annotations

import hashlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from ..images import ImageLimits, ImageRejected, decode_image, to_bgr_array
from . import antispoof, cues, fingerprint
from .config import Action, FaceConfig, FaceReason
from .cues import FaceCrop
from .detect import MESH_TO_68, DetectedFace, detect_near, encode, find_faces, mesh_points
from .liveness import (
    ActionEvent,
    LivenessResult,
    Observation,
    check_order,
    extract_events,
    eye_aspect_ratio,
    mouth_aspect_ratio,
    pitch_ratio,
    rigidity,
    yaw_ratio,
)
from .match import Decision, MatchResult, decide, distance, min_distance
from .video import Frame, VideoInfo, VideoRejected, prefetch, sample_frames

__all__ = ["FaceEncodingResult", "FaceVerdict", "compare_images", "encode_face_image", "verify_selfie_video"]

U8 = npt.NDArray[np.uint8]
F64 = npt.NDArray[np.float64]
T = TypeVar("T")

_STILL_MAX_SIDE = 1200
_STILL_LIMITS = ImageLimits()


@dataclass(frozen=True)
class FaceEncodingResult:
    encoding: tuple[float, ...] | None  # None when rejected
    reasons: list[str]
    faces: int  # faces found (of a size that counts)
    box: tuple[int, int, int, int] | None = None  # in the decoded image's pixels (EXIF applied)
    face_jpeg: bytes | None = None  # the face with some margin, for showing back to the user

    @property
    def ok(self) -> bool:
        return self.encoding is not None


@dataclass(frozen=True)
class FaceVerdict:
    decision: Decision
    match_distance: float | None
    liveness: LivenessResult
    reasons: list[str]
    content_hash: str  # sha256 hex of the video bytes: the caller's replay check
    live_encoding: tuple[float, ...] | None = None  # only when liveness passed: a live face to store
    # The best frames' encoding whenever a face was encoded, liveness failed or not: what a lasting
    # pause keys the failing face by (a photo or replay attack fails liveness, and must not leave the
    # pause without its face). Never to be stored as a person's live face.
    face_encoding: tuple[float, ...] | None = None
    best_frame_jpeg: bytes | None = None
    review_frames_jpeg: list[bytes] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    duration: float = 0.0
    frames_sampled: int = 0
    # frame hashes and the clip's movements (fingerprint.py): compare with :func:`same_recording` to
    # catch an altered copy of an earlier submission (the content hash only catches identical bytes)
    fingerprint: tuple[int, ...] = ()


def _jpeg(bgr: U8, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return bytes(buf.tobytes()) if ok else b""


def _gray(bgr: U8) -> U8:
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))


def _rgb(bgr: U8) -> U8:
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


# --- still images ----------------------------------------------------------------------------------


def _still_faces(bgr: U8) -> tuple[U8, float, list[DetectedFace]]:
    h, w = bgr.shape[:2]
    s = min(1.0, _STILL_MAX_SIDE / max(h, w))
    work = bgr
    if s < 1.0:
        work = np.asarray(
            cv2.resize(bgr, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA), np.uint8
        )
    # the whole image first; a small face in a big photo (a full-length portrait, a whole card) needs
    # a second pass over overlapping tiles, held to a higher score: small tiles of fur or foliage come
    # close to a face (the dogs photo of the test data: 0.74; every real face there: >= 0.77 whole)
    faces = find_faces(work)
    if not faces:
        faces = find_faces(work, grid=4, min_score=0.8)
    return work, s, faces


def encode_face_image(data: bytes, config: FaceConfig | None = None) -> FaceEncodingResult:
    """One face in a still image (a portrait cropped from a card, a whole card front, a photo)."""
    config = config or FaceConfig()
    try:
        img = decode_image(data, _STILL_LIMITS)
    except ImageRejected as exc:
        return FaceEncodingResult(None, [str(exc.code)], 0)
    return _encode_pil(img, config)


def _encode_pil(img: Image.Image, config: FaceConfig) -> FaceEncodingResult:
    work, s, faces = _still_faces(to_bgr_array(img))
    if not faces:
        return FaceEncodingResult(None, [FaceReason.NO_FACE.value], 0)
    main = faces[0]
    counted = [f for f in faces if f.width >= config.second_face_ratio * main.width]
    box = tuple(round(v / s) for v in main.box)
    if len(counted) > 1:
        return FaceEncodingResult(None, [FaceReason.MULTIPLE_FACES.value], len(counted))
    if main.width < 40:  # dlib's aligned chip is 150 px; below ~40 px the encoding is mostly noise
        return FaceEncodingResult(None, [FaceReason.TOO_SMALL.value], 1)
    enc = encode(_rgb(work), main)
    x0, y0, x1, y1 = main.box
    m = main.width // 2
    crop = work[max(0, y0 - m) : y1 + m, max(0, x0 - m) : x1 + m]
    return FaceEncodingResult(
        encoding=tuple(float(v) for v in enc),
        reasons=[],
        faces=1,
        box=(box[0], box[1], box[2], box[3]),
        face_jpeg=_jpeg(crop, config.jpeg_quality),
    )


def compare_images(a: bytes, b: bytes, config: FaceConfig | None = None) -> MatchResult:
    """Two still images, one face each: same person?"""
    config = config or FaceConfig()
    ra, rb = encode_face_image(a, config), encode_face_image(b, config)
    if ra.encoding is None or rb.encoding is None:
        return MatchResult("fail", None, [*ra.reasons, *rb.reasons], ra.encoding, rb.encoding)
    dist = distance(ra.encoding, rb.encoding)
    decision, reasons = decide(dist, config)
    return MatchResult(decision, dist, reasons, ra.encoding, rb.encoding)


# --- video -----------------------------------------------------------------------------------------


@dataclass
class _Track:
    observations: list[Observation] = field(default_factory=list)
    cues: list[Future[antispoof.FrameCues]] = field(default_factory=list)  # computed beside (_beside)
    crops: dict[int, FaceCrop] = field(default_factory=dict)  # observation index -> face crop
    boxes: dict[int, DetectedFace] = field(default_factory=dict)  # observation index -> face
    kept: dict[int, Frame] = field(default_factory=dict)  # observation index -> frame
    best: list[tuple[float, int]] = field(default_factory=list)  # min-heap of (quality, obs index)
    quality: dict[int, float] = field(default_factory=dict)
    periodic: set[int] = field(default_factory=set)  # kept for good: every ~0.5 s, segment starts
    segments: list[list[int]] = field(default_factory=list)  # runs of observations of one face
    too_small: int = 0


_BESIDE: list[ThreadPoolExecutor] = []
_BESIDE_LOCK = threading.Lock()


class _Inline:
    """The helper thread's stand-in when ``helper_threads`` is off: each job at once, in this thread."""

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        done: Future[T] = Future()
        done.set_result(fn(*args))
        return done


def _beside(config: FaceConfig) -> ThreadPoolExecutor | _Inline:
    """One thread per process for work the next steps do not wait for: a frame's passive cues (the
    screen-border search and the spectrum) while the next frames are read, the identity encodings
    while the landmark measures are taken. OpenCV, numpy and onnxruntime release the GIL; the same
    work in the same order, so the same result. Without ``helper_threads``: in the caller's thread."""
    if not config.helper_threads:
        return _Inline()
    with _BESIDE_LOCK:
        if not _BESIDE:
            _BESIDE.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="face-cues"))
        return _BESIDE[0]


def _pick(faces: list[DetectedFace], last: DetectedFace | None) -> DetectedFace | None:
    if not faces:
        return None
    if last is None:
        return faces[0]
    lx, ly = last.center

    def dist(f: DetectedFace) -> float:
        x, y = f.center
        return float(np.hypot(x - lx, y - ly))

    near = min(faces, key=dist)
    # the user moves, but not by more than a face width between two samples; a jump means the
    # tracked face vanished and something else is there (checked by the identity test later)
    return near if not _far(near, last) else faces[0]


def _far(face: DetectedFace, last: DetectedFace) -> bool:
    """Too far or too different in size to be the same head a moment later (a cut, a swap)."""
    (x, y), (lx, ly) = face.center, last.center
    ratio = face.width / max(last.width, 1)
    return float(np.hypot(x - lx, y - ly)) >= 1.5 * max(last.width, 1) or not 0.7 <= ratio <= 1.43


def _quality(points: F64, gray: U8, face: DetectedFace) -> float:
    """Frontal, eyes open, mouth closed, sharp: the frame to encode and to show staff."""
    frontal = max(0.0, 1.0 - 4.0 * abs(yaw_ratio(points) - 0.5))
    eyes = min(1.0, eye_aspect_ratio(points) / 0.25)
    mouth = 1.0 if mouth_aspect_ratio(points) < 0.3 else 0.3
    x0, y0, x1, y1 = face.box
    crop = gray[y0:y1, x0:x1]
    sharp = float(cv2.Laplacian(cv2.resize(crop, (96, 96)), cv2.CV_32F).var()) if crop.size else 0.0
    return frontal * eyes * mouth * min(1.0, sharp / 150.0 + 0.2) * min(1.0, face.width / 160.0)


@dataclass(frozen=True)
class _Sighting:
    """What the detector made of one sample (:class:`_Follower`)."""

    face: DetectedFace | None  # the tracked face; None when none was found or it is too small
    faces: list[DetectedFace]  # every face of a full-frame pass (empty between them)
    full: bool  # the whole frame was searched
    too_small: bool  # a face was found, smaller than the engine reads
    new_segment: bool  # the face came back after a miss or reappeared somewhere else


class _Follower:
    """The detector's part of the tracking, one sample after the other: it needs nothing but the
    frames and its own previous sightings (not the landmarks), so it runs in the decoding thread while
    the caller reads the landmarks of the sample before."""

    def __init__(self, config: FaceConfig) -> None:
        self.config = config
        self.last: DetectedFace | None = None
        self.seen = False  # the previous sample had the face
        self.last_full_t = -1e9

    def __call__(self, frame: Frame) -> _Sighting:
        config = self.config
        face: DetectedFace | None = None
        faces: list[DetectedFace] = []
        # A full-frame pass a few times a second (other people, re-acquiring a lost face); in between,
        # only a window around the tracked face.
        full = self.last is None or frame.t - self.last_full_t >= config.full_detect_interval
        if not full and self.last is not None:
            face = detect_near(frame.bgr, self.last)
            full = face is None
        if full:
            self.last_full_t = frame.t
            faces = find_faces(frame.bgr)
            face = _pick(faces, self.last)
        if face is None or face.width < config.min_face_px:
            self.seen = False
            return _Sighting(None, faces, full, face is not None, False)
        # A new segment starts when the face comes back after a gap or reappears somewhere else: the
        # identity check encodes one frame of each segment.
        jumped = self.last is not None and _far(face, self.last)
        new_segment = not self.seen or jumped
        self.last, self.seen = face, True
        return _Sighting(face, faces, full, False, new_segment)


def _observe(frame: Frame, gray: U8, sighting: _Sighting, track: _Track, config: FaceConfig) -> None:
    index = len(track.observations)
    face, faces, full = sighting.face, sighting.faces, sighting.full
    if face is None:
        track.too_small += sighting.too_small
        track.observations.append(Observation(frame.t, None, len(faces), full_pass=full))
        return
    other = any(f is not face and f.width >= config.second_face_ratio * face.width for f in faces)
    mesh = mesh_points(frame.bgr, face)
    points = np.ascontiguousarray(mesh[list(MESH_TO_68), :2])
    track.crops[index] = cues.face_crop(gray, mesh)
    track.observations.append(Observation(frame.t, points, len(faces), other, full_pass=full))
    new_segment = sighting.new_segment
    if new_segment:
        track.segments.append([])
    track.segments[-1].append(index)
    track.boxes[index] = face
    # the passive cues are medians over the clip: a few frames a second are enough (and they cost as
    # much as the landmarks)
    if index % 4 == 0:
        track.cues.append(_beside(config).submit(antispoof.frame_cues, frame.bgr, gray, face.box))
    q = _quality(points, gray, face)
    # Keep a frame every ~0.5 s (identity checks, staff review) and the best few (the match); drop
    # the rest at once so a 30 s video does not hold hundreds of frames.
    if new_segment or not track.periodic or frame.t - track.observations[max(track.periodic)].t >= 0.5:
        track.periodic.add(index)  # the first frame after a break is where a swap would show
    track.quality[index] = q
    heapq.heappush(track.best, (q, index))
    track.kept[index] = frame
    if len(track.best) > config.best_frames:
        _, dropped = heapq.heappop(track.best)
        if dropped not in track.periodic:
            track.kept.pop(dropped, None)


def _prepare(frame: Frame) -> tuple[U8, int]:
    """What each sampled frame needs before the face is looked at: the gray frame (converted once: the
    fingerprint, the crops and the cues all read it) and its fingerprint hash."""
    gray = _gray(frame.bgr)
    return gray, fingerprint.dhash(gray)


def _longest_run(flags: list[bool], ts: list[float]) -> float:
    best = 0.0
    start: float | None = None
    for flag, t in zip(flags, ts, strict=True):
        if flag:
            start = t if start is None else start
            best = max(best, t - start)
        else:
            start = None
    return best


def _encode_at(track: _Track, i: int) -> tuple[F64, float]:
    """The encoding of observation ``i``'s face, and the seconds it took."""
    t = time.perf_counter()
    obs = track.observations[i]
    return encode(_rgb(track.kept[i].bgr), track.boxes[i], obs.points), time.perf_counter() - t


def _drop_cues(track: _Track) -> None:
    """A verdict decided without the passive cues: the ones not started yet are not computed."""
    for c in track.cues:
        c.cancel()


def _fail_early(
    code: str, content_hash: str, timings: dict[str, float], info: VideoInfo, fp: tuple[int, ...] = ()
) -> FaceVerdict:
    return FaceVerdict(
        decision="fail",
        match_distance=None,
        liveness=LivenessResult(False, [], [], None, [code]),
        reasons=[code],
        content_hash=content_hash,
        timings=timings,
        duration=info.duration,
        frames_sampled=info.frames_sampled,
        fingerprint=fp,
    )


def verify_selfie_video(
    video: bytes,
    challenge: Sequence[Action],
    references: Sequence[Sequence[float]] = (),
    config: FaceConfig | None = None,
    *,
    seen_before: bool = False,
) -> FaceVerdict:
    """Liveness (the challenge, in order, by one face; no photo, no screen) and, when references
    (ID portrait, stored live face) are given, the match. With no references: liveness only.

    ``seen_before``: the caller has already stored a submission with this content hash (use
    :func:`content_hash` or the verdict's field) -- rejected as a replay.
    """
    config = config or FaceConfig()
    started = time.perf_counter()
    timings: dict[str, float] = {}
    challenge = [Action(a) for a in challenge]
    if not challenge:
        raise ValueError("the challenge needs at least one action")
    for ref in references:
        distance(ref, ref)  # validates the length
    digest = content_hash(video)
    info = VideoInfo()
    if seen_before:
        return _fail_early(FaceReason.VIDEO_ALREADY_SUBMITTED.value, digest, timings, info)

    track = _Track()
    hashes: list[int] = []
    try:
        # decoding, the gray frame, its hash and the face detection run a few frames ahead in a thread
        # of their own, while this one reads the landmarks of the frames before
        follower = _Follower(config)

        def ahead(frame: Frame) -> tuple[Frame, U8, int, _Sighting]:
            gray, hashed = _prepare(frame)
            return frame, gray, hashed, follower(frame)

        decoded = sample_frames(video, config, info)
        frames = prefetch(decoded, ahead) if config.helper_threads else (ahead(f) for f in decoded)
        try:
            for frame, gray, hashed, sighting in frames:
                hashes.append(hashed)
                _observe(frame, gray, sighting, track, config)
        finally:
            frames.close()  # stops the thread at once, whatever left the loop
    except VideoRejected as exc:
        timings["analyse"] = time.perf_counter() - started
        _drop_cues(track)
        return _fail_early(exc.code.value, digest, timings, info)
    timings["analyse"] = time.perf_counter() - started
    obs = track.observations
    moves = fingerprint.movement(
        [o.t for o in obs if o.points is not None],
        [o.points for o in obs if o.points is not None],
        info.duration,
    )
    fp = fingerprint.fingerprint(hashes, moves)
    if info.duration < config.min_video_seconds:
        _drop_cues(track)
        return _fail_early(FaceReason.VIDEO_TOO_SHORT.value, digest, timings, info, fp)
    present = [o.present for o in obs]
    if not any(present):
        code = FaceReason.TOO_SMALL if track.too_small else FaceReason.VIDEO_NO_FACE
        _drop_cues(track)
        return _fail_early(code.value, digest, timings, info, fp)

    reasons: list[str] = []
    # the stretches without the face, the start and the end of the clip included
    seen_t = [0.0, *(o.t for o in obs if o.present), info.duration]
    gaps = [b - a for a, b in itertools.pairwise(seen_t)]
    if (
        sum(present) / len(present) < config.min_face_fraction
        or max(gaps, default=0.0) > config.max_face_gap_seconds
    ):
        reasons.append(FaceReason.FACE_LOST.value)
    full = [o for o in obs if o.full_pass]
    if _longest_run([o.other_person for o in full], [o.t for o in full]) >= config.multi_face_seconds - 1e-6:
        reasons.append(FaceReason.MULTIPLE_PEOPLE.value)

    # Identity: the best frames give the live encoding; frames kept across the clip must all be the
    # same person as that (a face swapped mid-challenge, a cut, another person stepping in).
    best_idx = [i for _, i in sorted(track.best, reverse=True)[: config.best_frames]]
    # One frame of every other stretch where the face was tracked without a break (the longest
    # ones first): a break is where a photo could be swapped in or another person could step in.
    best_segments = {k for k, seg in enumerate(track.segments) if any(i in seg for i in best_idx)}
    others = sorted(
        (seg for k, seg in enumerate(track.segments) if k not in best_segments), key=len, reverse=True
    )
    checks = []
    for seg in others[: config.identity_checks]:
        kept = [i for i in seg if i in track.kept]
        if kept:
            # right after the break, where a swap would show; of that first half second the most
            # frontal frame (the encoder's 5-point alignment is loose on a turned face)
            soon = [i for i in kept if obs[i].t - obs[kept[0]].t <= 0.5]
            checks.append(max(soon, key=lambda j: track.quality.get(j, 0.0)))
    # A cut between two people framed alike breaks no tracking: also check a few moments spread over
    # the clip, unless a frame close to them is checked already.
    with_face = sorted(i for i in track.kept if i in track.boxes)
    for share in (0.1, 0.5, 0.9):
        if not with_face:
            break
        target = share * info.duration
        near = [j for j in with_face if abs(obs[j].t - target) <= 0.5]
        if near:
            i = max(near, key=lambda j: track.quality.get(j, 0.0))
        else:
            i = min(with_face, key=lambda j: abs(obs[j].t - target))
        if all(abs(obs[i].t - obs[j].t) > 1.0 for j in (*checks, *best_idx)):
            checks.append(i)
    # the encodings are computed beside the landmark measures below (the same encodings: the
    # identity verdict is read off them in its place among the reasons)
    side = _beside(config)
    jobs = {i: side.submit(_encode_at, track, i) for i in dict.fromkeys([*best_idx, *checks])}

    events = extract_events(obs, config)
    passed_order, found, mirrored, order_reason = check_order(events, challenge, config.mirror, config)
    motion, flat = rigidity(obs)
    residual, follow = _animation_cues(obs, track, events, config)

    done = {i: job.result() for i, job in jobs.items()}
    encs = {i: enc for i, (enc, _) in done.items()}
    live = np.mean([encs[i] for i in best_idx], axis=0)
    if any(float(np.linalg.norm(encs[i] - live)) > config.same_person_distance for i in checks):
        reasons.append(FaceReason.FACE_CHANGED.value)
    timings["encode"] = sum(seconds for _, seconds in done.values())  # in their own thread

    if order_reason is not None:
        reasons.append(order_reason.value)
    if motion < config.still_motion_px:
        reasons.append(FaceReason.STILL_PHOTO.value)
    elif motion >= config.flat_min_motion and flat < config.flat_residual:
        # Face Mesh fits a 3-D face to whatever it sees, so a head held still (a blink clip) reads
        # nearly as flat as a print: flatness is only judged once the picture really moves.
        reasons.append(FaceReason.FLAT_PHOTO.value)
    if residual is not None and residual < config.animated_residual:
        reasons.append(FaceReason.ANIMATED_PHOTO.value)
    if follow is not None and follow < config.outline_follow_min:
        reasons.append(FaceReason.OUTLINE_STATIC.value)
    spoof, passive = antispoof.score([c.result() for c in track.cues])
    # the animation cues travel with the passive ones (absent: no head action to read them on)
    passive = (
        *passive,
        *((("warp_residual", round(residual, 4)),) if residual is not None else ()),
        *((("outline_follow", round(follow, 4)),) if follow is not None else ()),
    )
    if spoof >= config.spoof_threshold:
        reasons.append(FaceReason.SCREEN_OR_PRINT.value)
    hard = list(reasons)
    # Passive cues are heuristics: in the band below the threshold a person looks at the frames
    # (a real user in front of a door frame should not be turned away by a rule).
    suspected = not hard and spoof >= config.spoof_review
    if suspected:
        reasons.append(FaceReason.SPOOF_SUSPECTED.value)

    liveness = LivenessResult(
        passed=not hard,
        actions=found,
        events=[(e.kind, round(e.start, 3), round(e.end, 3)) for e in events],
        mirrored=mirrored if passed_order else None,
        reasons=list(reasons),
        spoof_score=spoof,
        spoof_cues=passive,
        flatness=flat,
        motion=motion,
    )
    decision: Decision = "pass" if liveness.passed else "fail"
    if suspected:
        decision = "review"
    match_dist: float | None = None
    live_t = tuple(float(v) for v in live)
    if references:
        match_dist = min_distance(live_t, references)
        match_decision, match_reasons = decide(match_dist, config)
        reasons += match_reasons
        if match_decision == "fail" or (decision == "pass" and match_decision == "review"):
            decision = match_decision

    best_frame = track.kept[best_idx[0]].bgr
    review = _review_frames(track, events, best_idx[0], config)
    timings["total"] = time.perf_counter() - started
    return FaceVerdict(
        decision=decision,
        match_distance=match_dist,
        liveness=liveness,
        reasons=reasons,
        content_hash=digest,
        live_encoding=live_t if liveness.passed else None,
        face_encoding=live_t,
        best_frame_jpeg=_jpeg(best_frame, config.jpeg_quality),
        review_frames_jpeg=review,
        timings=timings,
        duration=info.duration,
        frames_sampled=info.frames_sampled,
        fingerprint=fp,
    )


_HEAD_EVENTS = ("yaw_image_right", "yaw_image_left", "nod")


def _animation_cues(
    obs: Sequence[Observation], track: _Track, events: Sequence[ActionEvent], config: FaceConfig
) -> tuple[float | None, float | None]:
    """(warp residual, outline follow) of the clip's head actions (:mod:`.cues`): each is the largest
    over the turns and nods seen (one head action that shows a real head is enough), None without one."""
    seen = [i for i, o in enumerate(obs) if o.points is not None and i in track.crops]
    heads = [e for e in events if e.kind in _HEAD_EVENTS]
    if len(seen) < 3 or not heads:
        return None, None
    pts = [obs[i].points for i in seen]
    yaw = np.array([yaw_ratio(p) for p in pts if p is not None])
    pitch = np.array([pitch_ratio(p) for p in pts if p is not None])
    ear = np.array([eye_aspect_ratio(p) for p in pts if p is not None])
    mar = np.array([mouth_aspect_ratio(p) for p in pts if p is not None])
    dev = np.abs(yaw - np.median(yaw)) + np.abs(pitch - np.median(pitch))
    # the neutral frame: the usual pose, eyes open, mouth at rest
    calm = (ear >= 0.9 * float(np.median(ear))) & (mar <= float(np.median(mar)) + 0.1)
    ref = seen[int(np.argmin(np.where(calm, dev, dev + 10.0)))]
    t = np.array([obs[i].t for i in seen])
    residuals: list[float] = []
    follows: list[float] = []
    for e in heads:
        inside = np.flatnonzero((t >= e.start - 1e-6) & (t <= e.end + 1e-6))
        if inside.size == 0:
            continue
        peak = inside[np.argsort(-dev[inside])[: config.animated_frames]]
        frames = [track.crops[seen[k]] for k in peak]
        residuals.append(cues.warp_residual(track.crops[ref], frames))
        follow = cues.outline_follow(track.crops[ref], frames)
        if follow is not None:
            follows.append(follow)
    return (max(residuals) if residuals else None), (max(follows) if follows else None)


def _review_frames(track: _Track, events: Sequence[object], best: int, config: FaceConfig) -> list[bytes]:
    """A few frames spread over the clip, for a person to look at when the decision is `review`."""
    kept = sorted(track.kept)
    if not kept:
        return []
    n = min(config.review_frames, len(kept))
    pick = {kept[k] for k in np.linspace(0, len(kept) - 1, n).round().astype(int)}
    pick.discard(best)
    return [_jpeg(track.kept[i].bgr, config.jpeg_quality) for i in sorted(pick)][: config.review_frames]


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encode_pil_image(img: Image.Image, config: FaceConfig | None = None) -> FaceEncodingResult:
    """For callers that already hold a decoded image (the ID engine's cropped portrait)."""
    return _encode_pil(img, config or FaceConfig())
