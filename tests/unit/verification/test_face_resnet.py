"""The dlib face ResNet run by onnxruntime (bot/verification/face/resnet.py) gives dlib's own encodings.

Every stored encoding (ID portraits, live faces, the face index, face pauses) was made by dlib's
``compute_face_descriptor``; the faster runtime must not move them, or a person enrolled before would
stop matching. Checked on chips of real photos (testdata/faces) and on noise.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import dlib
import numpy as np
import pytest

from bot.verification.face import resnet
from bot.verification.face.detect import DetectedFace, encode, find_faces, load_models


def _dlib_encoder() -> object:
    import face_recognition_models as frm

    return dlib.face_recognition_model_v1(frm.face_recognition_model_location())


def test_same_encodings_as_dlib_on_real_faces(testdata: Path) -> None:
    ref_net = _dlib_encoder()
    m = load_models()
    checked = 0
    for path in sorted((testdata / "faces" / "face_recognition").glob("*.jp*g"))[:10]:
        bgr = cv2.imread(str(path))
        if bgr is None:
            continue
        rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        faces = find_faces(bgr)
        if not faces:
            continue
        shape = m.predictor(rgb, faces[0].rect())
        want = np.array(ref_net.compute_face_descriptor(rgb, shape, 0))  # type: ignore[attr-defined]
        got = encode(rgb, faces[0])
        assert np.abs(got - want).max() < 1e-5, path.name
        assert np.linalg.norm(got - want) < 1e-5  # the match threshold is 0.55: nothing moves
        checked += 1
    assert checked >= 5


def test_same_encodings_as_dlib_on_noise_chips_in_a_batch() -> None:
    ref_net = _dlib_encoder()
    rng = np.random.default_rng(3)
    chips = [rng.integers(0, 256, (150, 150, 3), dtype=np.uint8) for _ in range(3)]
    got = load_models().encoder.encode(chips)
    for chip, row in zip(chips, got, strict=True):
        want = np.array(ref_net.compute_face_descriptor(chip))  # type: ignore[attr-defined]
        assert np.abs(row - want).max() < 1e-5
    assert load_models().encoder.encode([]).shape == (0, 128)


def test_faster_than_dlib() -> None:
    """The reason for it: dlib's wheel has no BLAS (~75 ms a chip); CPU time, so load does not count."""
    ref_net = _dlib_encoder()
    chip = np.random.default_rng(4).integers(0, 256, (150, 150, 3), dtype=np.uint8)
    enc = load_models().encoder
    enc.encode([chip])
    t = time.process_time()
    for _ in range(3):
        ref_net.compute_face_descriptor(chip)  # type: ignore[attr-defined]
    slow = time.process_time() - t
    t = time.process_time()
    for _ in range(3):
        enc.encode([chip])
    assert time.process_time() - t < slow / 3


def test_a_different_file_is_refused_not_half_read() -> None:
    with pytest.raises(resnet.DlibFormatError):
        resnet.parse_dlib_resnet(b"\x01\x01\x01\x0dloss_metric_3")
    with pytest.raises(resnet.DlibFormatError):
        resnet.parse_dlib_resnet(b"\x01\x01")
    import face_recognition_models as frm

    data = Path(frm.face_recognition_model_location()).read_bytes()
    with pytest.raises(resnet.DlibFormatError):
        resnet.parse_dlib_resnet(data[: len(data) // 2])


def test_encode_still_works_without_mesh_points() -> None:
    """Stills are aligned by dlib's 5-point model: no mesh points given."""
    img = np.zeros((200, 200, 3), np.uint8)
    out = encode(img, DetectedFace((40, 40, 160, 160), 0.0))
    assert out.shape == (128,) and np.isfinite(out).all()
