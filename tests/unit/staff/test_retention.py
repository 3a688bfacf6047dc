"""The retention job: raw photos go after the period, the legal record and open cases stay."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain.models import CollectedRecord, IdentityDocument, LivePhoto, PhoneNumber, ReviewKind
from bot.services import Services
from bot.services.retention import RetentionJob
from bot.storage.repositories import Repositories
from bot.verification.ids import DocumentType
from tests.helpers.factory import make_settings
from tests.helpers.postgres import database_url

__all__ = ["database_url"]  # on both record backends
from tests.helpers.fakes import ENCODING, FakeSms, FakeVerifier, valid_number

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=40)
RECENT = NOW - timedelta(days=2)


@pytest.fixture
async def services(tmp_path: Path, database_url: str | None) -> AsyncIterator[Services]:
    settings = make_settings(
        tmp_path, retention_raw_media_days=30, retention_interval_minutes=1, database_url=database_url
    )
    built = await Services.build(settings, verifier=FakeVerifier(), sms=FakeSms())
    yield built
    await built.close()


def _age(services: Services, media_id: str, when: datetime) -> None:
    kind, token = media_id.rsplit("-", 1)
    path = services.settings.media_dir / kind / token[:2] / media_id
    os.utime(path, (when.timestamp(), when.timestamp()))


async def _media(services: Services, kind: str, when: datetime) -> str:
    media_id = await services.media.put(b"\xff\xd8" + kind.encode(), kind)
    _age(services, media_id, when)
    return media_id


async def _person(services: Services, when: datetime, user_id: int, number: str) -> dict[str, str]:
    media = {
        k: await _media(services, k, when)
        for k in ("idcard_front", "idcard_back", "idcard_portrait", "live_photo")
    }
    record = CollectedRecord(
        telegram_user_id=user_id,
        document=IdentityDocument(
            doc_type=DocumentType.RESIDENT_ID,
            number=number,
            name="王小明",
            front_media_id=media["idcard_front"],
            back_media_id=media["idcard_back"],
            portrait_media_id=media["idcard_portrait"],
        ),
        consents=(),
        phone=PhoneNumber("13800138000", when),
        live_photo=LivePhoto(media["live_photo"], ENCODING),
    )
    await Repositories(services.db, services.cipher, clock=lambda: when).persons.save_collected(record)
    return media


async def test_old_raw_media_go_and_the_record_stays(services: Services) -> None:
    old = await _person(services, OLD, 1, valid_number())
    recent = await _person(services, RECENT, 2, valid_number("11010119900307567"))
    old_repo = Repositories(services.db, services.cipher, clock=lambda: OLD)
    frame = await _media(services, "review_frame", OLD)
    decided = await old_repo.review.open_case(
        ReviewKind.FACE_NEAR_THRESHOLD, 3, reasons=["x"], media_ids=[frame, old["live_photo"]], payload={}
    )
    await old_repo.review.decide(decided.id, approved=False, staff_user_id=9)
    open_frame = await _media(services, "review_frame", OLD)
    await old_repo.review.open_case(
        ReviewKind.FACE_NEAR_THRESHOLD, 4, reasons=["x"], media_ids=[open_frame], payload={}
    )
    orphan_old = await _media(services, "idcard_front", OLD)
    orphan_new = await _media(services, "idcard_front", RECENT)

    result = await RetentionJob(services).run_once(NOW)

    assert (result.card_photos, result.review_media, result.orphans) == (2, 1, 1)
    exists = services.media.exists
    assert not await exists(old["idcard_front"]) and not await exists(old["idcard_back"])
    assert await exists(old["idcard_portrait"]) and await exists(old["live_photo"])
    assert all([await exists(m) for m in recent.values()])
    assert not await exists(frame)
    assert await exists(open_frame)
    assert not await exists(orphan_old) and await exists(orphan_new)
    repo = services.repositories()
    person = await repo.persons.get(1)
    assert person is not None
    assert person.document.front_media_id is None and person.document.back_media_id is None
    assert person.document.portrait_media_id == old["idcard_portrait"]
    case = await repo.review.get(decided.id)
    assert case is not None and case.media_ids == ()
    entries = await repo.audit.between(NOW - timedelta(days=60), NOW + timedelta(days=1))
    assert [e.action for e in entries if e.action == "retention.run"] == ["retention.run"]
    # A second run finds nothing left to do.
    assert (await RetentionJob(services).run_once(NOW)).total == 0


async def test_periodic_task_starts_and_stops(services: Services) -> None:
    job = RetentionJob(services)
    await job.start()
    await asyncio.sleep(0.05)
    await job.stop()
    await job.stop()  # idempotent


async def test_disabled_job_does_not_start(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, retention_enabled=False)
    built = await Services.build(settings, verifier=FakeVerifier(), sms=FakeSms())
    try:
        job = RetentionJob(built)
        await job.start()
        assert job._task is None
    finally:
        await built.close()
