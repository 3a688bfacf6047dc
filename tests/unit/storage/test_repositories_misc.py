from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bot.domain.identity import IdentityRecord
from bot.domain.models import ReviewKind, ReviewStatus
from bot.domain.outcomes import EventOutcome
from bot.storage.crypto import FieldCipher
from bot.storage.repositories import Repositories
from bot.storage.sql import Database
from bot.verification.ids import DocumentType


async def test_media_replay_guard(repo: Repositories, db: Database) -> None:
    digest = "ab" * 32
    assert await repo.media.seen_before(digest) is False
    assert await repo.media.remember(digest) is True
    assert await repo.media.remember(digest) is False
    assert await repo.media.seen_before(digest) is True
    async with db.read() as conn:
        stored = (await (await conn.execute("SELECT hash_index FROM media_hashes")).fetchone())[0]
    assert stored != digest and digest not in stored


async def test_review_queue(repo: Repositories) -> None:
    assert await repo.review.next_open() is None
    first = await repo.review.open_case(
        ReviewKind.SAME_NUMBER_OTHER_FACE,
        7,
        reasons=["face_mismatch"],
        media_ids=["live-" + "a" * 32],
        payload={"number": "11010519491231002X", "distance": 0.62},
    )
    second = await repo.review.open_case(
        ReviewKind.FACE_NEAR_THRESHOLD, 8, reasons=[], media_ids=[], payload={}, person_id=None
    )
    assert first.status is ReviewStatus.OPEN and first.payload["number"] == "11010519491231002X"
    assert await repo.review.count_open() == 2
    assert (await repo.review.next_open()) == first
    assert (await repo.review.next_open(after_id=first.id)) == second
    assert [c.id for c in await repo.review.open_for_user(7)] == [first.id]
    decided = await repo.review.decide(first.id, approved=False, staff_user_id=1, reason="face_mismatch")
    assert decided is not None and decided.status is ReviewStatus.REJECTED and decided.decided_by == 1
    assert await repo.review.decide(first.id, approved=True, staff_user_id=2) is None  # already decided
    assert await repo.review.count_open() == 1
    assert (await repo.review.get(first.id)) == decided
    trail = await repo.audit.for_subject("review_case", first.id)
    assert [e.action for e in trail] == ["review.decide", "review.open"]


async def test_review_payload_encrypted(repo: Repositories, db: Database) -> None:
    await repo.review.open_case(
        ReviewKind.UNREADABLE_CARD, 7, reasons=["x"], media_ids=[], payload={"name": "李四"}
    )
    async with db.read() as conn:
        stored = (await (await conn.execute("SELECT payload_enc FROM review_cases")).fetchone())[0]
    assert "李四" not in stored


async def test_events(db: Database, cipher: FieldCipher) -> None:
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    repo = Repositories(db, cipher, clock=lambda: clock[0])
    await repo.events.record("collect", "front", EventOutcome.STARTED, user_id=1, attempt_id="a1")
    clock[0] += timedelta(minutes=1)
    await repo.events.record(
        "collect",
        "front",
        EventOutcome.REJECTED,
        user_id=1,
        attempt_id="a1",
        reason_code="image_blurry",
        duration_ms=850,
    )
    clock[0] += timedelta(days=1)
    await repo.events.record("collect", "done", EventOutcome.COMPLETED, user_id=1, attempt_id="a1")
    day = await repo.events.between(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
    assert [(e.step, e.outcome, e.reason_code, e.duration_ms) for e in day] == [
        ("front", EventOutcome.STARTED, None, None),
        ("front", EventOutcome.REJECTED, "image_blurry", 850),
    ]


async def test_identity_registry(repo: Repositories, db: Database) -> None:
    records = [
        IdentityRecord(
            DocumentType.HK_MACAU_PERMIT, "H12345678", "陈大文", date(1990, 5, 1), b"\xff\xd8photo"
        ),
        IdentityRecord(DocumentType.TAIWAN_PERMIT, "12345678", "林小美"),
    ]
    assert await repo.identity_registry.load(records, loaded_by=1) == 2
    got = await repo.identity_registry.get(DocumentType.HK_MACAU_PERMIT, "h1234 5678")
    assert got == records[0]
    assert await repo.identity_registry.get(DocumentType.TAIWAN_PERMIT, "H12345678") is None
    assert await repo.identity_registry.load(
        [IdentityRecord(DocumentType.TAIWAN_PERMIT, "12345678", "林美")], loaded_by=1
    )
    again = await repo.identity_registry.get(DocumentType.TAIWAN_PERMIT, "12345678")
    assert again is not None and again.name == "林美"
    assert await repo.identity_registry.count() == 2
    async with db.read() as conn:
        raw = await (await conn.execute("SELECT * FROM identity_registry")).fetchall()
    assert "陈大文" not in repr([tuple(r) for r in raw]) and "H12345678" not in repr([tuple(r) for r in raw])


async def test_video_fingerprints_are_kept_encrypted_and_pruned(repo: Repositories, db: Database) -> None:
    fingerprint = (1 << 63, 12345678901234567890 % (1 << 64), 7, 0, 1, 2, 3, 4)
    await repo.media.remember_fingerprint(fingerprint)
    await repo.media.remember_fingerprint(())  # nothing to keep
    since = datetime.now(UTC) - timedelta(days=1)
    assert await repo.media.fingerprints_since(since) == [fingerprint]
    async with db.read() as conn:
        (stored,) = await (await conn.execute("SELECT fingerprint_enc FROM video_fingerprints")).fetchone()
    assert str(1 << 63) not in stored  # encrypted: derived from a face video
    assert await repo.media.prune_fingerprints(datetime.now(UTC) + timedelta(seconds=1)) == 1
    assert await repo.media.fingerprints_since(since) == []
