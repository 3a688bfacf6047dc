"""MODELS.md against the real model files: size, sha256, completeness."""

from __future__ import annotations

import hashlib
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODELS_MD = ROOT / "MODELS.md"
MODELS_DIR = ROOT / "bot" / "verification" / "models"
_ENTRY = re.compile(
    r"- file: `(?P<file>[^`]+)`\n- size: (?P<size>\d+) bytes\n- sha256: `(?P<sha>[0-9a-f]{64})`"
)
_LICENCE_TEXTS = ("LICENSE", "NOTICE")


def _entries() -> list[tuple[str, int, str]]:
    text = MODELS_MD.read_text(encoding="utf-8")
    return [(m["file"], int(m["size"]), m["sha"]) for m in _ENTRY.finditer(text)]


def _resolve(name: str) -> Path | None:
    if ":" not in name:
        return ROOT / name
    package, inner = name.split(":", 1)
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / inner


def test_models_md_has_entries_and_an_ocr_section() -> None:
    assert len(_entries()) >= 3
    assert "\n## OCR" in MODELS_MD.read_text(encoding="utf-8")


@pytest.mark.parametrize("name,size,sha", _entries(), ids=lambda v: str(v)[-40:])
def test_listed_file_matches(name: str, size: int, sha: str) -> None:
    path = _resolve(name)
    if path is None:
        pytest.skip(f"package of {name} not installed")
    assert path.is_file(), name
    data = path.read_bytes()
    assert len(data) == size, (name, len(data))
    assert hashlib.sha256(data).hexdigest() == sha, name


def test_every_shipped_model_is_listed() -> None:
    listed = {name for name, _, _ in _entries()}
    for path in MODELS_DIR.iterdir():
        if path.name.startswith(_LICENCE_TEXTS) or path.name.startswith("."):
            continue
        assert str(path.relative_to(ROOT)) in listed, path.name


def test_the_non_commercial_models_are_not_loaded() -> None:
    """iBUG 300-W's 68-point model (non-commercial licence) and the unlisted MMOD detector."""
    for source in (ROOT / "bot").rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        # dlib's HOG detector is gone too: BlazeFace replaced it in the engine and on the ID card
        for banned in (
            "shape_predictor_68",
            "pose_predictor_model_location",
            "cnn_face_detector",
            "mmod_",
            "get_frontal_face_detector",
        ):
            assert banned not in text, (source, banned)
