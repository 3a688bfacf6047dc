"""The face engine over every public clip and face in ../shared/testdata, plus synthetic attacks.

Which cases are synthetic is said in each test's name and docstring: ``synthetic_*`` videos are built
here from one still photo with tools/facegen (a still photo, a moved and tilted print, landmark-warped
frames); everything else is a real recording described in testdata/SOURCES.md.
"""

from __future__ import annotations

import functools
import itertools
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from bot.verification.face import (
    Action,
    FaceConfig,
    compare_images,
    encode_face_image,
    parse_challenge,
    same_recording,
    verify_selfie_video,
)
from bot.verification.face.detect import load_models
from bot.verification.face.match import distance
from tools.facegen import (
    VIDEO_CASES,
    VideoCase,
    moving_photo_video,
    still_photo_video,
    warped_actions_video,
    write_video,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session", autouse=True)
def _models() -> None:
    load_models()  # once per session (cached per process)


@functools.cache
def _frame_jpeg(path: Path, t: float) -> bytes:
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_MSEC, t * 1000)
    ok, frame = cap.read()
    cap.release()
    assert ok
    return bytes(cv2.imencode(".jpg", frame)[1].tobytes())


@pytest.fixture(scope="session")
def varun_portrait(testdata: Path) -> tuple[float, ...]:
    """The "ID portrait": a frame of a *different* clip of the same man (the nod clip, frontal at 0.3 s)."""
    enc = encode_face_image(_frame_jpeg(testdata / "videos" / "live_nod_up_down_varun.webm", 0.3))
    assert enc.encoding is not None
    return enc.encoding


@pytest.mark.parametrize("case", VIDEO_CASES, ids=lambda c: c.name)
def test_public_clip(case: VideoCase, testdata: Path) -> None:
    video = (testdata / "videos" / case.file).read_bytes()
    v = verify_selfie_video(video, parse_challenge(case.challenge))
    if case.accept:
        assert v.decision == "pass", (case.note, v.reasons, v.liveness.events)
        assert v.liveness.actions == [a.value for a in parse_challenge(case.challenge)]
        assert v.live_encoding is not None and len(v.live_encoding) == 128
        assert v.best_frame_jpeg and v.best_frame_jpeg[:2] == b"\xff\xd8"
    else:
        assert v.decision == "fail", (case.note, v.liveness.events)
        assert v.reasons and v.live_encoding is None


def test_screen_replay_with_the_requested_turns_is_caught_passively(testdata: Path) -> None:
    """The tran replay shows the same head turns as the live clip: only the passive cues stop it."""
    v = verify_selfie_video(
        (testdata / "videos" / "spoof_screen_replay_of_live_selfie_tran.mp4").read_bytes(),
        [Action.TURN_LEFT, Action.TURN_RIGHT],
    )
    assert v.liveness.actions == ["turn_left", "turn_right"]
    assert "liveness_screen_or_print" in v.reasons


def test_collection_dialog_case_passes_with_match(testdata: Path, varun_portrait: tuple[float, ...]) -> None:
    """open_mouth,blink on the open-mouth clip, against a frame of another clip of the same man."""
    video = (testdata / "videos" / "live_open_mouth_varun.webm").read_bytes()
    v = verify_selfie_video(video, [Action.OPEN_MOUTH, Action.BLINK], [varun_portrait])
    assert v.decision == "pass", v.reasons
    assert v.match_distance is not None and v.match_distance < 0.45
    assert len(v.review_frames_jpeg) >= 1


def test_whole_synthetic_card_front_as_portrait(testdata: Path) -> None:
    """The dialog's case: a frame of the shake clip as the portrait of a *generated* card front (cardgen,
    fictitious data), the whole card as the reference image, the open-mouth clip as the selfie."""
    import datetime
    import io
    import random

    from PIL import Image

    from tools.cardgen import find_cjk_fonts, random_identity, render_front

    fonts = find_cjk_fonts()
    if not fonts:
        pytest.skip("no CJK font for the card generator")
    frame = _frame_jpeg(testdata / "videos" / "live_head_shake_left_right_varun.webm", 0.3)
    portrait = Image.open(io.BytesIO(frame)).convert("RGB")
    identity = random_identity(random.Random(1), today=datetime.date(2026, 11, 1))
    card = render_front(identity, portrait, font=fonts[0]).convert("RGB")
    buf = io.BytesIO()
    card.save(buf, "JPEG", quality=85)
    ref = encode_face_image(buf.getvalue())
    assert ref.encoding is not None, ref.reasons
    video = (testdata / "videos" / "live_open_mouth_varun.webm").read_bytes()
    v = verify_selfie_video(video, parse_challenge("open_mouth,blink"), [ref.encoding])
    assert v.decision == "pass", (v.reasons, v.match_distance)


def test_passive_review_band_goes_to_staff(testdata: Path) -> None:
    """Between spoof_review and spoof_threshold the decision is `review`, the encoding is kept."""
    video = (testdata / "videos" / "live_open_mouth_varun.webm").read_bytes()
    v = verify_selfie_video(video, [Action.OPEN_MOUTH], (), FaceConfig(spoof_review=0.0))
    assert v.decision == "review" and v.reasons == ["liveness_spoof_suspected"]
    assert v.liveness.passed and v.live_encoding is not None


def test_someone_else_fails_the_match(testdata: Path) -> None:
    obama = encode_face_image((testdata / "faces/face_recognition/obama.jpg").read_bytes()).encoding
    assert obama is not None
    video = (testdata / "videos" / "live_open_mouth_varun.webm").read_bytes()
    v = verify_selfie_video(video, [Action.OPEN_MOUTH], [obama])
    assert v.liveness.passed and v.decision == "fail" and "face_mismatch" in v.reasons


def test_wrong_order_and_wrong_action(testdata: Path) -> None:
    shake = (testdata / "videos" / "live_head_shake_left_right_varun.webm").read_bytes()
    raw = FaceConfig(mirror="raw")
    assert verify_selfie_video(shake, [Action.TURN_LEFT, Action.TURN_RIGHT], (), raw).decision == "pass"
    v = verify_selfie_video(shake, [Action.TURN_RIGHT, Action.TURN_LEFT], (), raw)
    assert v.reasons == ["liveness_wrong_order"]
    nod = (testdata / "videos" / "live_nod_up_down_varun.webm").read_bytes()
    v = verify_selfie_video(nod, [Action.NOD, Action.OPEN_MOUTH])
    assert v.reasons == ["liveness_wrong_action"] and v.liveness.actions == ["nod"]


def test_two_faces(testdata: Path) -> None:
    v = verify_selfie_video(
        (testdata / "videos" / "spoof_phone_replay_zubair.webm").read_bytes(), [Action.BLINK]
    )
    assert "liveness_multiple_faces" in v.reasons


def test_reencoded_copy_is_recognised_by_fingerprint(testdata: Path) -> None:
    """A copy re-encoded at 3/4 size and another codec: new bytes, same recording."""
    path = testdata / "videos" / "live_open_mouth_varun.webm"
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(np.asarray(cv2.resize(frame, (480, 360), interpolation=cv2.INTER_AREA), np.uint8))
    cap.release()
    copy = write_video(frames, 30.0)
    a = verify_selfie_video(path.read_bytes(), [Action.OPEN_MOUTH])
    b = verify_selfie_video(copy, [Action.OPEN_MOUTH])
    nod = (testdata / "videos" / "live_nod_up_down_varun.webm").read_bytes()
    other = verify_selfie_video(nod, [Action.NOD])
    assert a.content_hash != b.content_hash and len(a.fingerprint) > 8
    assert same_recording(a.fingerprint, b.fingerprint)
    assert not same_recording(a.fingerprint, other.fingerprint)


# --- synthetic attacks, built from a still photo ------------------------------------------------


@pytest.fixture(scope="module")
def obama_bgr(testdata: Path) -> np.ndarray:
    img = cv2.imread(str(testdata / "faces/face_recognition/obama.jpg"))
    assert img is not None
    return img


def test_synthetic_still_photo_is_rejected(obama_bgr: np.ndarray) -> None:
    v = verify_selfie_video(still_photo_video(obama_bgr), [Action.BLINK, Action.TURN_LEFT])
    assert v.decision == "fail"
    assert "liveness_still_photo" in v.reasons


@pytest.mark.parametrize("border", [True, False])
def test_synthetic_moving_print_is_rejected(obama_bgr: np.ndarray, border: bool) -> None:
    """A print moved, zoomed, rotated and tilted: its 68 points stay on one plane."""
    v = verify_selfie_video(moving_photo_video(obama_bgr, border=border), [Action.TURN_LEFT, Action.NOD])
    assert v.decision == "fail"
    assert "liveness_flat_photo" in v.reasons


def test_synthetic_warped_actions_are_detected_in_order(obama_bgr: np.ndarray) -> None:
    """Landmark-warped frames exercise the action detectors: the actions are found in order, and a
    warp that turns the head is refused by the animation cues (tests/hardening/test_animated_photo.py
    has the full attacks)."""
    v = verify_selfie_video(
        warped_actions_video(obama_bgr, ["open_mouth", "blink"]), [Action.OPEN_MOUTH, Action.BLINK]
    )
    assert v.liveness.actions == ["open_mouth", "blink"]
    v = verify_selfie_video(
        warped_actions_video(obama_bgr, ["yaw_right", "blink", "yaw_left"]),
        [Action.TURN_LEFT, Action.BLINK, Action.TURN_RIGHT],
        (),
        FaceConfig(mirror="raw"),
    )
    assert v.liveness.actions == ["turn_left", "blink", "turn_right"]
    assert v.decision == "fail" and "liveness_animated_photo" in v.reasons, v.reasons


def test_synthetic_cut_to_another_person_is_caught(testdata: Path, obama_bgr: np.ndarray) -> None:
    """Synthetic: a warped-actions video of one man, then a cut to another framed the same way (no
    break in tracking). The identity check spread over the clip must see the change."""
    biden = np.asarray(cv2.imread(str(testdata / "faces/face_recognition/biden2.jpg")), np.uint8)

    def frames(data: bytes) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        with tempfile.NamedTemporaryFile(suffix=".mp4") as fh:
            fh.write(data)
            fh.flush()
            cap = cv2.VideoCapture(fh.name)
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                out.append(np.asarray(frame, np.uint8))
            cap.release()
        return out

    first = frames(warped_actions_video(obama_bgr, ["open_mouth"]))
    second = frames(warped_actions_video(biden, ["blink"]))
    video = write_video(first + second, 15.0)
    # The cut between the two pictures is seen by itself (the whole frame changes at once)...
    v = verify_selfie_video(video, [Action.OPEN_MOUTH, Action.BLINK])
    assert v.decision == "fail" and v.reasons == ["video_spliced"], v.reasons
    # ...and, were it smoothed over, by the identity check. The mesh does not read the synthetic
    # squashed eye as a blink (a warped still must not pass), so only the first action may be seen.
    v = verify_selfie_video(
        video, [Action.OPEN_MOUTH, Action.BLINK], (), FaceConfig(cut_histogram_distance=9.0)
    )
    assert v.liveness.actions[:1] == ["open_mouth"]
    assert v.decision == "fail" and "liveness_face_changed" in v.reasons, v.reasons


# --- still images ---------------------------------------------------------------------------------


def _faces(testdata: Path, name: str) -> bytes:
    return (testdata / "faces" / name).read_bytes()


@pytest.mark.parametrize(
    ("a", "b", "decision"),
    [
        ("face_recognition/obama.jpg", "face_recognition/obama2.jpg", "pass"),
        ("face_recognition/obama_small.jpg", "face_recognition/32bit.png", "pass"),
        ("face_recognition/biden.jpg", "face_recognition/biden2.jpg", "pass"),
        ("face_recognition/rose_leslie_img1.jpg", "face_recognition/rose_leslie_img2.jpg", "pass"),
        ("face_recognition/obama.jpg", "face_recognition/biden2.jpg", "fail"),
        ("face_recognition/kit_harington_john2.jpeg", "face_recognition/rose_leslie_img1.jpg", "fail"),
    ],
)
def test_compare_images(testdata: Path, a: str, b: str, decision: str) -> None:
    m = compare_images(_faces(testdata, a), _faces(testdata, b))
    assert m.decision == decision, m.distance


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("face_recognition/two_people.jpg", "face_multiple"),
        ("face_recognition/kit_with_rose.jpg", "face_multiple"),
        ("dlib/2008_001322.jpg", "face_multiple"),
        ("dlib/dogs.jpg", "face_not_found"),
    ],
)
def test_still_rejections(testdata: Path, name: str, reason: str) -> None:
    r = encode_face_image(_faces(testdata, name))
    assert r.encoding is None and r.reasons == [reason]


def test_exif_rotated_and_rgba_images_are_read(testdata: Path) -> None:
    for name in (
        "antispoof_silentface/image_T1.jpg",
        "face_recognition/32bit.png",
        "face_recognition/alex-lacamoire.png",
    ):
        r = encode_face_image(_faces(testdata, name))
        assert r.ok and r.box is not None and r.face_jpeg, name


def test_dlib_johns_same_vs_different(testdata: Path) -> None:
    """55 face chips of five men: same-person distances sit well below different-person ones."""
    people: dict[str, list[tuple[float, ...]]] = {}
    for path in sorted((testdata / "faces" / "dlib_johns").glob("*/*.jpg")):
        r = encode_face_image(path.read_bytes())
        assert r.encoding is not None, path
        people.setdefault(path.parent.name, []).append(r.encoding)
    same = [distance(a, b) for encs in people.values() for a, b in itertools.combinations(encs, 2)]
    diff = [
        distance(a, b) for p, q in itertools.combinations(people, 2) for a in people[p] for b in people[q]
    ]
    assert np.median(same) < 0.5 < np.median(diff)
    cfg = FaceConfig()
    assert np.mean([d < cfg.match_threshold + cfg.review_margin for d in same]) > 0.9
    assert np.mean([d >= cfg.match_threshold - cfg.review_margin for d in diff]) > 0.95


def test_cli_json(testdata: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from bot.verification.face.__main__ import main

    portrait = tmp_path / "portrait.jpg"
    portrait.write_bytes(_frame_jpeg(testdata / "videos" / "live_nod_up_down_varun.webm", 0.3))
    video = testdata / "videos" / "live_open_mouth_varun.webm"
    args = ["--portrait", str(portrait), "--video", str(video), "--challenge", "open_mouth,blink", "--json"]
    code = main(args)
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["decision"] == "pass" and out["reasons"] == []
    assert set(out) == {"decision", "match_distance", "liveness", "reasons"}
    assert out["liveness"] == {"passed": True, "actions": ["open_mouth", "blink"]}
    assert isinstance(out["match_distance"], float)
    faces = testdata / "faces" / "face_recognition"
    code = main(["--portrait", str(faces / "obama.jpg"), "--photo", str(faces / "biden2.jpg"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["decision"] == "fail" and out["reasons"] == ["face_mismatch"]
