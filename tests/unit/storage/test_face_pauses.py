"""FacePauseRepo on both backends: counts across calls, growing pauses, the face key, staff lift."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain.clock import FixedClock
from bot.domain.face_pause import PausePolicy
from bot.storage.crypto import FieldCipher
from bot.storage.repositories.face_pauses import FacePauseRepo
from bot.storage.sql import Database
from bot.verification.ids import DocumentType

START = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
POLICY = PausePolicy(
    limit=3,
    window=timedelta(hours=24),
    base=timedelta(minutes=30),
    cap=timedelta(hours=4),
    forget=timedelta(days=30),
)
FACE = tuple(0.01 * i for i in range(128))


def _repo(db: Database, cipher: FieldCipher) -> tuple[FacePauseRepo, FixedClock]:
    clock = FixedClock(START)
    return FacePauseRepo(db, cipher, clock), clock


async def test_the_third_failure_pauses_and_each_pause_doubles_up_to_the_cap(
    db: Database, cipher: FieldCipher
) -> None:
    repo, clock = _repo(db, cipher)
    keys = [repo.user_key(7), repo.document_key(DocumentType.RESIDENT_ID, "110101199003071234")]
    lengths = []
    for _ in range(5):
        first = await repo.fail(keys, POLICY, doc_key=keys[1])
        assert first.paused_until is None and first.failures_left == 2
        await repo.fail(keys, POLICY, doc_key=keys[1])
        outcome = await repo.fail(keys, POLICY, doc_key=keys[1])
        assert outcome.paused_until is not None
        assert await repo.paused_until(keys) == outcome.paused_until
        assert await repo.paused_until([keys[1]]) == outcome.paused_until  # the document alone
        lengths.append(outcome.paused_until - clock())
        clock.moment = outcome.paused_until + timedelta(minutes=1)
        assert await repo.paused_until(keys) is None
    assert [m.total_seconds() / 60 for m in lengths] == [30, 60, 120, 240, 240]


async def test_failures_outside_the_window_and_old_pauses_are_forgotten(
    db: Database, cipher: FieldCipher
) -> None:
    repo, clock = _repo(db, cipher)
    keys = [repo.user_key(8)]
    await repo.fail(keys, POLICY)
    await repo.fail(keys, POLICY)
    clock.advance(hours=25)
    assert (await repo.fail(keys, POLICY)).paused_until is None  # the count started again
    await repo.fail(keys, POLICY)
    assert (await repo.fail(keys, POLICY)).paused_until == clock() + timedelta(minutes=30)
    clock.advance(days=31)
    for _ in range(2):
        await repo.fail(keys, POLICY)
    assert (await repo.fail(keys, POLICY)).paused_until == clock() + timedelta(minutes=30)


async def test_a_pass_clears_the_count(db: Database, cipher: FieldCipher) -> None:
    repo, _ = _repo(db, cipher)
    keys = [repo.user_key(9)]
    await repo.fail(keys, POLICY)
    await repo.fail(keys, POLICY)
    await repo.succeed(keys)
    assert (await repo.fail(keys, POLICY)).failures_left == 2


async def test_the_face_seen_failing_is_paused_for_as_long(db: Database, cipher: FieldCipher) -> None:
    repo, clock = _repo(db, cipher)
    keys = [repo.user_key(10)]
    for _ in range(2):
        await repo.fail(keys, POLICY, encodings=[FACE])
    until = (await repo.fail(keys, POLICY, encodings=[FACE])).paused_until
    assert until is not None
    near = tuple(v + 0.001 for v in FACE)
    far = tuple(-v for v in FACE)
    assert await repo.face_paused_until(near, 0.55) == until
    assert await repo.face_paused_until(far, 0.55) is None
    clock.moment = until + timedelta(seconds=1)
    assert await repo.face_paused_until(near, 0.55) is None


async def test_staff_lift_ends_the_pause_of_the_document_its_accounts_and_faces(
    db: Database, cipher: FieldCipher
) -> None:
    repo, _ = _repo(db, cipher)
    doc = repo.document_key(DocumentType.RESIDENT_ID, "110101199003071234")
    for user in (11, 12):
        keys = [repo.user_key(user), doc]
        for _ in range(3):
            await repo.fail(keys, POLICY, doc_key=doc, encodings=[FACE])
    rows = await repo.of_person([doc], doc)
    assert {p.kind for p in rows} == {"document", "user", "face"}
    lifted = await repo.lift([doc], doc, staff_user_id=900)
    assert set(lifted) >= {doc, repo.user_key(11), repo.user_key(12)}
    assert await repo.paused_until([doc, repo.user_key(11), repo.user_key(12)]) is None
    assert await repo.face_paused_until(FACE, 0.55) is None
    after = await repo.of_person([doc], doc)
    assert all(p.lifted_by == 900 and p.failures == 0 and p.pauses == 0 for p in after)
    assert await repo.key_with_prefix(doc[:20]) == doc
