from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.storage.crypto import FieldCipher
from bot.storage.repositories import Repositories
from bot.storage.sql import Database


async def test_users_touch_and_language(repo: Repositories) -> None:
    assert await repo.users.get(5) is None
    await repo.users.touch(5)
    first = await repo.users.get(5)
    assert first is not None and first.language is None and first.person_id is None
    await repo.users.touch(5)
    again = await repo.users.get(5)
    assert again is not None and again.first_seen == first.first_seen and again.last_seen >= first.last_seen
    await repo.users.set_language(5, "en")
    await repo.users.set_language(6, "zh_CN")  # creates the row
    user5, user6 = await repo.users.get(5), await repo.users.get(6)
    assert user5 is not None and user5.language == "en"
    assert user6 is not None and user6.language == "zh_CN"


async def test_audit_masks_and_reads_back(repo: Repositories) -> None:
    entry_id = await repo.audit.write(
        9,
        "person.update",
        "person",
        3,
        {"phone": "13800138000", "note": "old 110105194912310021"},
        {"phone": "139****0000", "name": "张三"},
    )
    assert entry_id > 0
    [entry] = await repo.audit.for_subject("person", 3)
    assert entry.actor_user_id == 9 and entry.action == "person.update" and entry.subject_id == "3"
    assert entry.before == {"phone": "138****8000", "note": "old 110***********0021"}
    assert entry.after == {"phone": "139****0000", "name": "张*"}
    start = entry.at - timedelta(seconds=1)
    assert [e.id for e in await repo.audit.between(start, entry.at + timedelta(seconds=1))] == [entry_id]
    assert await repo.audit.between(entry.at + timedelta(seconds=1), entry.at + timedelta(seconds=2)) == []


async def test_audit_joins_outer_transaction(db: Database, repo: Repositories) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await repo.audit.write(None, "x", "y", None, None, None)
            raise RuntimeError
    assert await repo.audit.between(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)) == []


async def test_updates_claim_once(db: Database, cipher: FieldCipher) -> None:
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    repo = Repositories(db, cipher, clock=lambda: clock[0])
    assert await repo.updates.claim(1, 100) is True
    assert await repo.updates.claim(1, 100) is False
    assert await repo.updates.claim(2, 100) is True
    await repo.updates.release(1, 100)
    assert await repo.updates.claim(1, 100) is True
    clock[0] += timedelta(days=2)
    assert await repo.updates.claim(1, 101) is True
    assert await repo.updates.prune(clock[0] - timedelta(days=1)) == 2
    assert await repo.updates.claim(1, 101) is False
