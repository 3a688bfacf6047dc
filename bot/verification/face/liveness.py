"""Active liveness: landmark measures per frame, action events over time, the challenge order.

Measures (all from 68 points in dlib's order, taken from the Face Mesh: detect.MESH_TO_68; scale-free):

* EAR, eye aspect ratio, both eyes averaged: ~0.3 open, ~0.15 closed. A blink is a dip below
  ``blink_ear_ratio`` x the clip's median while the head is near its usual pose (a nod down also
  narrows the eyes in the image, and must not count as a blink).
* MAR, inner-lip mouth aspect ratio (points 60-67): ~0.0-0.2 closed, 0.7-1.0 wide open.
* yaw: the nose tip's position between the jaw corners (points 2, 14, 30), 0.5 when frontal; it grows
  when the face points to the image right.
* pitch: the nose tip's position between the eye line and the chin; it grows when the head goes down.

Yaw and pitch are read against the clip's median (the user's own neutral pose). Past ~30 degrees of
yaw dlib's frontal detector loses the face; a turn is therefore seen on its way out, which is enough.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from .config import HEAD_ACTIONS, Action, FaceConfig, FaceReason, MirrorPolicy

__all__ = [
    "ActionEvent",
    "LivenessResult",
    "Observation",
    "check_order",
    "extract_events",
    "eye_aspect_ratio",
    "missing_actions",
    "mouth_aspect_ratio",
    "pitch_ratio",
    "rigidity",
    "yaw_ratio",
]

F64 = npt.NDArray[np.float64]


def _d(a: F64, b: F64) -> float:
    return float(np.hypot(*(a - b)))


def eye_aspect_ratio(p: F64) -> float:
    def one(e: F64) -> float:
        return (_d(e[1], e[5]) + _d(e[2], e[4])) / (2.0 * max(_d(e[0], e[3]), 1e-6))

    return (one(p[36:42]) + one(p[42:48])) / 2.0


def mouth_aspect_ratio(p: F64) -> float:
    v = _d(p[61], p[67]) + _d(p[62], p[66]) + _d(p[63], p[65])
    return v / (2.0 * max(_d(p[60], p[64]), 1e-6))


def yaw_ratio(p: F64) -> float:
    left, right = p[2][0], p[14][0]
    return float((p[30][0] - left) / (right - left)) if abs(right - left) > 1e-6 else 0.5


def pitch_ratio(p: F64) -> float:
    eye_y = float(p[36:48, 1].mean())
    chin_y = float(p[8][1])
    return float((p[30][1] - eye_y) / (chin_y - eye_y)) if abs(chin_y - eye_y) > 1e-6 else 0.3


def interocular(p: F64) -> float:
    return _d(p[36:42].mean(axis=0), p[42:48].mean(axis=0))


@dataclass(frozen=True)
class Observation:
    """The tracked face in one sampled frame (or its absence)."""

    t: float
    points: F64 | None  # 68x2 landmarks in work-frame pixels, None when the face was not found
    faces: int = 0  # faces found in the whole frame
    other_person: bool = False  # another face of comparable size is in the frame
    full_pass: bool = True  # the whole frame was searched (else only around the tracked face)

    @property
    def present(self) -> bool:
        return self.points is not None


@dataclass(frozen=True)
class ActionEvent:
    """A movement seen in the video. ``kind`` is direction-neutral for turns: ``yaw_image_right`` /
    ``yaw_image_left``; the challenge check maps them onto turn_left / turn_right per mirror policy."""

    kind: str  # blink | open_mouth | yaw_image_right | yaw_image_left | nod
    start: float
    end: float


@dataclass(frozen=True)
class LivenessResult:
    passed: bool
    actions: list[str]  # requested actions found, in the order they were found
    events: list[tuple[str, float, float]]  # every movement seen: (kind, start s, end s)
    mirrored: bool | None  # the reading under which the challenge passed (None: not decided)
    reasons: list[str]
    spoof_score: float = 0.0  # passive presentation-attack score; >= the config threshold = attack
    spoof_cues: tuple[tuple[str, float], ...] = ()
    flatness: float = 0.0  # max homography residual / inter-ocular distance (low = a flat picture)
    motion: float = 0.0  # RMS landmark motion, normalised to 100 px inter-ocular distance


def _runs(mask: Sequence[bool]) -> list[tuple[int, int]]:
    """Inclusive (start, end) index ranges where mask is true."""
    out: list[tuple[int, int]] = []
    start = -1
    for i, m in enumerate(mask):
        if m and start < 0:
            start = i
        elif not m and start >= 0:
            out.append((start, i - 1))
            start = -1
    if start >= 0:
        out.append((start, len(mask) - 1))
    return out


def extract_events(obs: Sequence[Observation], config: FaceConfig) -> list[ActionEvent]:
    """Every blink, mouth opening, turn and nod in time order, from the frames where the face is seen."""
    seen = [o for o in obs if o.points is not None]
    if len(seen) < 3:
        return []
    pts = [o.points for o in seen if o.points is not None]
    t = np.array([o.t for o in seen])
    ear = np.array([eye_aspect_ratio(p) for p in pts])
    mar = np.array([mouth_aspect_ratio(p) for p in pts])
    yaw = np.array([yaw_ratio(p) for p in pts])
    pitch = np.array([pitch_ratio(p) for p in pts])
    dyaw = yaw - float(np.median(yaw))
    dpitch = pitch - float(np.median(pitch))
    events: list[ActionEvent] = []

    # Blinks: eyes closed against the clip's own open-eye level, head near neutral, eyes open on both
    # sides of the dip (a clip that starts or ends with closed eyes proves nothing).
    still = (np.abs(dyaw) < config.pose_still_delta) & (np.abs(dpitch) < config.pose_still_delta)
    ear_open = float(np.median(ear[still])) if still.any() else float(np.median(ear))
    closed = (ear < config.blink_ear_ratio * ear_open) & still
    for a, b in _runs(list(closed)):
        if a == 0 or b == len(seen) - 1:
            continue
        if t[b] - t[a] > config.blink_max_seconds:
            continue
        # open eyes within half a second on both sides (the eyelid takes a frame or two to reopen)
        before = ear[(t >= t[a] - 0.5) & (t < t[a])]
        after = ear[(t > t[b]) & (t <= t[b] + 0.5)]
        if before.size == 0 or after.size == 0:
            continue
        if before.max() < 0.85 * ear_open or after.max() < 0.85 * ear_open:
            continue
        events.append(ActionEvent("blink", float(t[a]), float(t[b])))

    # Mouth: rising edge above the open level, from a mouth clearly less open before (a smile with
    # teeth already reads ~0.3, so the level is raised above the clip's own resting mouth).
    rest = float(np.percentile(mar, 20))
    level = max(config.mouth_open_mar, rest + 0.2)
    for a, b in _runs(list(mar > level)):
        before = mar[(t >= t[a] - 1.0) & (t < t[a])]
        # it must open: clearly wider than it was during the second before
        if before.size == 0 or float(mar[a : b + 1].max()) - float(before.min()) < 0.3:
            continue
        events.append(ActionEvent("open_mouth", float(t[a]), float(t[b])))

    # Head turns: yaw away from neutral (the face may vanish at the peak; the way out is enough).
    for sign, kind in ((1.0, "yaw_image_right"), (-1.0, "yaw_image_left")):
        for a, b in _runs(list(sign * dyaw > config.turn_yaw_delta)):
            events.append(ActionEvent(kind, float(t[a]), float(t[b])))

    # Nods: pitch away from neutral, up or down, with the yaw near neutral.
    for a, b in _runs(
        list((np.abs(dpitch) > config.nod_pitch_delta) & (np.abs(dyaw) < config.turn_yaw_delta))
    ):
        events.append(ActionEvent("nod", float(t[a]), float(t[b])))

    events.sort(key=lambda e: (e.start, e.end))
    return _merge_close(events, gap=0.35)


def _merge_close(events: list[ActionEvent], gap: float) -> list[ActionEvent]:
    """One movement that flickers around a threshold is one event, not several."""
    out: list[ActionEvent] = []
    for e in events:
        prev = next((p for p in reversed(out) if p.kind == e.kind), None)
        if prev is not None and e.start - prev.end <= gap and e.kind != "blink":
            out[out.index(prev)] = ActionEvent(e.kind, prev.start, max(prev.end, e.end))
        else:
            out.append(e)
    return out


def _as_action(kind: str, mirrored: bool) -> Action | None:
    if kind == "yaw_image_right":
        # raw camera: a face pointing to the image right turned to the user's own left
        return Action.TURN_RIGHT if mirrored else Action.TURN_LEFT
    if kind == "yaw_image_left":
        return Action.TURN_LEFT if mirrored else Action.TURN_RIGHT
    return Action(kind)


def _readings(policy: MirrorPolicy) -> tuple[bool, ...]:
    return {"raw": (False,), "mirrored": (True,), "either": (False, True)}[policy]


def _follow(
    events: Sequence[ActionEvent], challenge: Sequence[Action], mirrored: bool, config: FaceConfig
) -> tuple[list[str], FaceReason | None]:
    """Walk the events under one reading: the actions found in order, and why it stopped (None:
    the whole challenge was done).

    Only what was asked: the requested actions, each starting within ``action_window_seconds`` of
    the previous one's end (the first, of the clip's start), and no other challenge-like action before
    or between them. Tolerated: blinks (involuntary) where no blink is due, the action just done
    again (a second nod, a turn held through a flicker), and a turn or nod too short to be one (the
    head passing through while going from one turn to the other). After the last requested action
    the clip may hold anything: the user is done and stops recording.
    """
    found: list[str] = []
    i = 0
    since = 0.0  # the window of the next action opens here
    for e in events:
        if i == len(challenge):
            break
        action = _as_action(e.kind, mirrored)
        if action == challenge[i]:
            if e.start - since > config.action_window_seconds:
                return found, FaceReason.ACTION_LATE
            found.append(challenge[i].value)
            since = e.end
            i += 1
            continue
        if i > 0 and action == challenge[i - 1]:
            since = max(since, e.end)
            continue
        if action == Action.BLINK:
            continue
        if action in HEAD_ACTIONS and e.end - e.start < config.unrequested_min_seconds:
            continue
        if action in challenge[i + 1 :]:
            return found, FaceReason.WRONG_ORDER  # a requested action, before its turn
        return found, FaceReason.UNREQUESTED_ACTION
    return found, None if i == len(challenge) else FaceReason.WRONG_ACTION


def check_order(
    events: Sequence[ActionEvent],
    challenge: Sequence[Action],
    policy: MirrorPolicy,
    config: FaceConfig | None = None,
) -> tuple[bool, list[str], bool | None, FaceReason | None]:
    """Is the challenge done, and only it (see :func:`_follow`)? Returns (passed, actions found in
    order, mirrored reading, reason). A challenge holding both turns is read under one reading."""
    config = config or FaceConfig()
    best: tuple[list[str], bool | None, FaceReason | None] = ([], None, None)
    for mirrored in _readings(policy):
        found, reason = _follow(events, challenge, mirrored, config)
        if reason is None:
            return True, found, mirrored, None
        if best[2] is None or len(found) > len(best[0]):
            best = (found, mirrored, reason)
    found, reading, reason = best
    if not events:
        return False, [], None, FaceReason.NO_ACTION
    if reason is FaceReason.WRONG_ACTION:
        # every requested action was seen, just not in the asked order
        for m in _readings(policy):
            kinds = {_as_action(e.kind, m) for e in events}
            if all(a in kinds for a in challenge):
                return False, found, reading, FaceReason.WRONG_ORDER
    return False, found, reading, reason or FaceReason.WRONG_ACTION


def missing_actions(challenge: Sequence[Action], found: Sequence[str]) -> list[str]:
    """The requested actions not seen (in the challenge's order): what the user is told to redo."""
    return [a.value for a in challenge[len(found) :]]


def rigidity(obs: Sequence[Observation]) -> tuple[float, float]:
    """(motion, flatness) of the tracked face's landmarks across the clip.

    motion: RMS landmark displacement between frames after removing nothing, in px at 100 px
    inter-ocular distance: a photo on a table gives ~0.
    flatness: the largest residual of a homography fitted from a reference frame's 68 points to each
    frame's, over the inter-ocular distance. The 68 points of a picture (printed or on a screen held
    still) stay on one plane, so a homography explains any way it is moved or tilted; a real head
    turning, nodding, blinking or opening the mouth does not (the nose moves against the cheeks).
    """
    pts = [o.points for o in obs if o.points is not None]
    if len(pts) < 3:
        return 0.0, 0.0
    ref = pts[len(pts) // 2]
    io = max(interocular(ref), 1e-6)
    motion_sq = []
    resid = []
    for p in pts:
        motion_sq.append(float(np.mean(np.sum((p - ref) ** 2, axis=1))) * (100.0 / io) ** 2)
        h, _ = cv2.findHomography(ref.astype(np.float32), p.astype(np.float32), 0)
        if h is None:
            continue
        proj = cv2.perspectiveTransform(ref.reshape(-1, 1, 2).astype(np.float64), h).reshape(-1, 2)
        err = np.sqrt(np.sum((proj - p) ** 2, axis=1))
        # 90th percentile, not the max: one jittery point is not depth
        resid.append(float(np.percentile(err, 90)) / max(interocular(p), 1e-6))
    motion = float(np.sqrt(np.median(motion_sq))) if motion_sq else 0.0
    flat = float(np.percentile(resid, 90)) if resid else 0.0
    return motion, flat
