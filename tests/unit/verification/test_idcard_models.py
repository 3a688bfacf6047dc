"""The OCR models: shipped in the pinned rapidocr wheel, hash-checked at load, never downloaded."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.verification.idcard import models
from bot.verification.idcard.models import MODELS, OcrModelError, licence_hashes, model_paths

ROOT = Path(__file__).resolve().parents[3]


def test_every_model_file_matches_the_wheels_licence_notice() -> None:
    paths = model_paths()
    assert set(paths) == {"det", "cls", "rec"}
    for model in MODELS:
        digest = hashlib.sha256(paths[model.task].read_bytes()).hexdigest()
        assert digest == model.sha256


def test_models_md_documents_the_same_hashes() -> None:
    text = (ROOT / "MODELS.md").read_text(encoding="utf-8")
    for model in MODELS:
        assert model.file in text
        assert model.sha256 in text


def test_licence_table_is_parsed() -> None:
    row = "| `a.onnx` | `up` | `" + "0" * 64 + "` | [x](https://example.org) |"
    assert licence_hashes("intro\n" + row + "\n") == {"a.onnx": "0" * 64}


def test_an_altered_model_file_stops_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    real = model_paths()
    good = {real[m.task]: m.sha256 for m in MODELS}
    monkeypatch.setattr(models, "_sha256", lambda p: "f" * 64 if p == real["rec"] else good[p])
    model_paths.cache_clear()
    try:
        with pytest.raises(OcrModelError, match="SHA-256"):
            model_paths()
    finally:
        model_paths.cache_clear()


def test_a_model_missing_from_the_notice_stops_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "licence_hashes", lambda _text: {})
    model_paths.cache_clear()
    try:
        with pytest.raises(OcrModelError, match="not listed"):
            model_paths()
    finally:
        model_paths.cache_clear()


@pytest.mark.slow
def test_the_engine_reads_a_card_with_the_network_cut_off() -> None:
    """In a fresh process where every socket connection fails and any proxy is a dead port, the
    engine loads and reads: nothing is fetched at run time."""
    code = textwrap.dedent(
        """
        import socket
        def refuse(*a, **k):
            raise OSError("network disabled by the test")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        from datetime import date
        from bot.verification.idcard import read_side, warm_up
        warm_up()
        r = read_side(open("tests/fixtures/idcards/plain_back.jpg", "rb").read(), today=date(2026, 11, 1))
        assert r.side == "back" and r.back is not None and r.back.authority, r
        print("ok")
        """
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HOME": "/nonexistent",
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ok" in out.stdout
