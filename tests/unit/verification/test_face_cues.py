"""The animated-photo cues (bot/verification/face/cues.py), the fingerprint format and the detector,
on synthetic pictures: no test data needed."""

from __future__ import annotations

import cv2
import dlib
import numpy as np
import pytest

from bot.verification.face import cues, detect
from bot.verification.face import fingerprint as fp


def _texture(seed: int = 0, side: int = 400) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (side // 8, side // 8), dtype=np.uint8)
    return np.asarray(cv2.GaussianBlur(cv2.resize(small, (side, side)), (0, 0), 2.0), np.uint8)


def _mesh(cx: float = 200.0, cy: float = 200.0, r: float = 90.0) -> np.ndarray:
    """A stand-in mesh: the oval on a circle, eye corners and nose bridge where a face has them."""
    mesh = np.zeros((468, 3))
    mesh[:, 0], mesh[:, 1] = cx, cy
    for k, i in enumerate(cues.FACE_OVAL):
        a = 2 * np.pi * k / len(cues.FACE_OVAL) - np.pi / 2
        mesh[i, :2] = (cx + r * np.cos(a), cy + 1.2 * r * np.sin(a))
    mesh[33, :2], mesh[263, :2] = (cx - 40, cy - 20), (cx + 40, cy - 20)
    mesh[168, :2] = (cx, cy - 20)
    return mesh


def test_a_warp_of_the_same_picture_leaves_little_residual() -> None:
    img = _texture()
    ref = cues.face_crop(img, _mesh())
    # the "turn" of an animated photo: the same pixels, moved smoothly
    yy, xx = np.mgrid[0:400, 0:400].astype(np.float32)
    bump = 12.0 * np.exp(-((xx - 200) ** 2 + (yy - 200) ** 2) / (2 * 60.0**2))
    warped = cv2.remap(img, xx - bump, yy, cv2.INTER_LINEAR)
    moved = cues.face_crop(np.asarray(warped, np.uint8), _mesh())
    assert cues.warp_residual(ref, [moved]) < 0.1


def test_new_content_in_the_face_leaves_a_residual() -> None:
    """What a real turn shows and the neutral frame did not, spread over the face (another texture over
    most of it); a tear along a line alone does not count (the median ignores it)."""
    img = _texture()
    ref = cues.face_crop(img, _mesh())
    turned = img.copy()
    turned[100:300, 120:280] = _texture(seed=7)[100:300, 120:280]
    assert cues.warp_residual(ref, [cues.face_crop(turned, _mesh())]) > 0.2
    torn = img.copy()
    torn[:, 200:204] = 255 - torn[:, 200:204]
    assert cues.warp_residual(ref, [cues.face_crop(torn, _mesh())]) < 0.1
    assert cues.warp_residual(ref, []) == 0.0


def test_outline_follow_tells_hair_that_moves_from_hair_that_stays() -> None:
    img = _texture(3)
    mesh = _mesh()
    ref = cues.face_crop(img, mesh)
    shift = 30
    moved_mesh = mesh.copy()
    moved_mesh[:, 0] += shift
    # the whole head (hair included) moved: the picture moved with the mesh
    whole = np.asarray(np.roll(img, shift, axis=1), np.uint8)
    follow = cues.outline_follow(ref, [cues.face_crop(whole, moved_mesh)])
    assert follow is not None and follow > 0.8
    # only the mesh moved (an animation that leaves the hair in place)
    still = cues.outline_follow(ref, [cues.face_crop(img, moved_mesh)])
    assert still is not None and still < 0.2


def test_fingerprint_versions() -> None:
    moves = tuple(range(fp.MOMENTS * 5))
    new = fp.fingerprint([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], moves)
    assert new[0] == fp.VERSION and len(new) == 1 + fp.FRAMES + len(moves)
    assert fp.same_recording(new, new) and fp.distance(new, new) == 0.0
    old_row = new[1 : 1 + fp.FRAMES]  # what version 1 stored
    assert fp.same_recording(new, old_row) and fp.distance(new, old_row) is None
    assert fp.fingerprint([], moves) == ()
    assert fp.fingerprint([5, 6], ()) == (5, 6)  # no face seen: version 1's form
    other = fp.fingerprint([~x & ((1 << 256) - 1) for x in range(8)], tuple(-m for m in moves))
    assert not fp.same_recording(new, other)


def test_movement_ignores_the_direction_of_a_turn() -> None:
    base = np.zeros((68, 2))
    base[:, 0] = np.linspace(0, 100, 68)
    base[:, 1] = np.linspace(0, 120, 68) ** 1.1
    frames = []
    for k in range(20):
        p = base.copy()
        p[30, 0] += 15 * np.sin(k / 3)  # the nose moves between the jaw corners
        frames.append(p)
    mirrored = []
    for p in frames:
        q = p.copy()
        q[30, 0] = base[30, 0] - (p[30, 0] - base[30, 0])
        mirrored.append(q)
    t = [k / 15 for k in range(20)]
    a = fp.fingerprint([0] * 8, fp.movement(t, frames, 20 / 15))
    b = fp.fingerprint([0] * 8, fp.movement(t, mirrored, 20 / 15))
    d = fp.distance(a, b)
    assert d is not None and d < 0.05


def test_the_68_point_model_is_never_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its licence (iBUG 300-W) excludes commercial use: only the 5-point predictor may be built."""
    loaded: list[str] = []
    real = dlib.shape_predictor

    def spy(path: str) -> object:
        loaded.append(str(path))
        return real(path)

    monkeypatch.setattr(dlib, "shape_predictor", spy)
    detect.load_models.cache_clear()
    try:
        detect.warmup()
    finally:
        detect.load_models.cache_clear()
    assert loaded and all("5_face_landmarks" in p and "68" not in p for p in loaded), loaded


def test_detector_finds_nothing_in_noise_and_a_face_needs_no_hog() -> None:
    noise = np.random.default_rng(1).integers(0, 255, (480, 480, 3), dtype=np.uint8)
    assert detect.find_faces(noise) == []
    assert detect.find_faces(np.zeros((100, 300), np.uint8)) == []  # gray, landscape
    assert detect.detect_near(noise, detect.DetectedFace((100, 100, 260, 260), 0.9)) is None


def test_a_few_nonsense_moments_do_not_outweigh_the_clip() -> None:
    """A half-hidden face gives wild landmarks for a few moments, differently in each copy; moments
    without the face are left out. Another clip's movements still differ."""
    rng = np.random.default_rng(5)
    clip = np.zeros((fp.MOMENTS, 5))
    clip[5:9, 2] = 4.0  # a turn
    clip[14:16, 0] = -3.0  # a blink
    clip[22:27, 3] = 3.5  # a nod
    clip += rng.normal(0, 0.1, clip.shape)
    copy = clip + rng.normal(0, 0.1, clip.shape)
    copy[10:13, 2:] = [8.5, 2.0, 4.2]  # nonsense while a sheet of paper passes (as measured)
    absent = copy.copy()
    absent[17:19] = fp.ABSENT / 100.0

    def prints(m: np.ndarray, frames: int = 0) -> tuple[int, ...]:
        # the frame hashes of a copy that was edited differ completely (mirror, crop): only the
        # movements can tell
        return fp.fingerprint([frames] * 8, tuple(round(float(x)) for x in (100 * m).flatten()))

    edited = (1 << 256) - 1
    assert fp.same_recording(prints(clip), prints(copy, edited))
    assert fp.same_recording(prints(clip), prints(absent, edited))
    other = np.roll(clip, 9, axis=0)  # the same actions at other moments: another take
    assert not fp.same_recording(prints(clip), prints(other, edited))
