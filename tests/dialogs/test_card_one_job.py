"""A front photo is one engine job: the reading carries the portrait's encoding (issue 19), so the card
capture makes no second trip (``encode_face``; in queue mode a second round through Redis)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from bot.services.verifier import ProgressReporter
from bot.verification.face import FaceEncodingResult
from bot.verification.idcard import SideReading
from tests.dialogs.test_collect import text, to_front
from tests.helpers.client import BotClient
from tests.helpers.fakes import PORTRAIT, FakeVerifier, back_reading, front_reading


async def test_front_photo_is_read_and_its_portrait_encoded_in_one_job(
    client: BotClient, verifier: FakeVerifier
) -> None:
    verifier.readings[b"front"] = front_reading()
    verifier.readings[b"back"] = back_reading()
    await to_front(client)
    replies = await client.send_photo(b"front")
    assert "人像面识别完成" in text(replies)
    assert [c[0] for c in verifier.calls] == ["read", "encode"]  # both in the read job
    assert verifier.encode_jobs == 0


async def test_a_portrait_without_a_face_is_refused_from_the_reading_alone(
    client: BotClient, verifier: FakeVerifier
) -> None:
    verifier.readings[b"front"] = replace(
        front_reading(), portrait_face=FaceEncodingResult(encoding=None, reasons=["x"], faces=0)
    )
    replies = await to_front(client)
    replies = await client.send_photo(b"front")
    assert "人像面识别完成" not in text(replies)
    assert verifier.encode_jobs == 0


async def test_a_reading_without_the_encoding_is_encoded_by_a_second_job(
    client: BotClient, verifier: FakeVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker of before the change answers without ``portrait_face``: the capture still works."""
    verifier.readings[b"front"] = front_reading()
    original = verifier.read_card_side

    async def old_worker(
        data: bytes, today: date, *, progress: ProgressReporter | None = None
    ) -> SideReading:
        return replace(await original(data, today, progress=progress), portrait_face=None)

    monkeypatch.setattr(verifier, "read_card_side", old_worker)
    replies = await to_front(client)
    replies = await client.send_photo(b"front")
    assert "人像面识别完成" in text(replies)
    assert verifier.encode_jobs == 1 and ("encode", PORTRAIT) in verifier.calls
