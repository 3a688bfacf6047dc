"""Hostile uploads through the real engines behind the real process pool (issue 8 §1): corrupt,
truncated, empty and bomb images to the ID-card reader, random bytes and stills to the video check.
Each comes back as a reason code with a message in both languages, across the process boundary;
none reaches OCR or face inference (the pool here loads no model, and the answers are fast)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import date

import pytest

from bot.config import REPO_ROOT
from bot.i18n import LANGUAGES, Catalog
from bot.services.verifier import PoolVerifier
from bot.verification.face import Action, FaceConfig
from bot.verification.pool import VerificationPool
from tests.hardening.harness import jpeg, png_bomb

pytestmark = pytest.mark.slow

_JPEG = jpeg(640, 400)
IMAGES = {
    "empty": b"",
    "random bytes": os.urandom(5000),
    "corrupt JPEG": b"\xff\xd8\xff\xe0" + os.urandom(4000),
    "truncated JPEG": _JPEG[: len(_JPEG) // 3],
    "decompression bomb": png_bomb(),
    "PDF": b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF",
}
VIDEOS = {"empty": b"", "random bytes": os.urandom(50_000), "a still JPEG": _JPEG}


@pytest.fixture(scope="module")
async def verifier() -> AsyncIterator[PoolVerifier]:
    pool = VerificationPool(workers=1, timeout=60)
    await pool.start()
    yield PoolVerifier(pool, FaceConfig())
    await pool.close()


def localized(codes: list[str]) -> None:
    catalog = Catalog.load(REPO_ROOT / "locales")
    for code in codes:
        for lang in LANGUAGES:
            assert catalog.has(f"reasons.{code}", lang), (code, lang)


async def test_hostile_images_get_reason_codes(verifier: PoolVerifier) -> None:
    readings = await asyncio.gather(
        *(verifier.read_card_side(data, date(2026, 11, 27)) for data in IMAGES.values())
    )
    for name, reading in zip(IMAGES, readings, strict=True):
        assert reading.side is None and reading.problems, name
        assert all(p.startswith("image_") for p in reading.problems), (name, reading.problems)
        localized(reading.problems)
    assert readings[list(IMAGES).index("decompression bomb")].problems == ["image_decompression_bomb"]


async def test_hostile_videos_get_reason_codes(verifier: PoolVerifier) -> None:
    for name, data in VIDEOS.items():
        verdict = await verifier.verify_video(data, [Action.BLINK], [], seen_before=False)
        assert verdict.decision == "fail" and verdict.reasons, name
        assert all(r.startswith("video_") for r in verdict.reasons), (name, verdict.reasons)
        localized(verdict.reasons)
