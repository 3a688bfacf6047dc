"""StaffRepo: roles, deletion requests and staged loads are compare-and-set and audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain.staff import DeletionStatus, StaffRole
from bot.storage.crypto import FieldCipher
from bot.storage.factory import open_database
from bot.storage.repositories import Repositories
from tests.helpers.postgres import database_url

__all__ = ["database_url"]  # on both record backends


@pytest.fixture
async def repo(tmp_path: Path, database_url: str | None) -> AsyncIterator[Repositories]:
    db = await open_database(tmp_path / "staff.sqlite3", url=database_url)
    cipher = FieldCipher.from_masters({"k": b"k" * 32}, current="k", index_master="k")
    yield Repositories(db, cipher)
    await db.close()


async def test_roles(repo: Repositories) -> None:
    assert await repo.staff.role_of(5) is None
    assert await repo.staff.grant(5, StaffRole.REVIEWER, granted_by=1) is None
    assert await repo.staff.grant(5, StaffRole.ADMIN, granted_by=1) is StaffRole.REVIEWER
    assert [m.role for m in await repo.staff.members()] == [StaffRole.ADMIN]
    assert await repo.staff.revoke(5, revoked_by=1) is StaffRole.ADMIN
    assert await repo.staff.revoke(5, revoked_by=1) is None
    actions = [e.action for e in await repo.audit.for_subject("telegram_user", 5)]
    assert actions == ["staff.revoke", "staff.grant", "staff.grant"]


async def test_one_open_deletion_request_per_user(repo: Repositories) -> None:
    first = await repo.staff.request_deletion(7, None)
    assert first is not None
    assert await repo.staff.request_deletion(7, None) is None
    done = await repo.staff.close_deletion_request(first.id, DeletionStatus.DONE, decided_by=1)
    assert done is not None and done.status is DeletionStatus.DONE
    assert await repo.staff.close_deletion_request(first.id, DeletionStatus.REFUSED, decided_by=2) is None
    assert await repo.staff.request_deletion(7, None) is not None  # a new one after the first closed
    with pytest.raises(ValueError):
        await repo.staff.close_deletion_request(first.id, DeletionStatus.OPEN, decided_by=1)


async def test_staged_load_is_encrypted_and_finished_once(repo: Repositories) -> None:
    rows = [{"doc_type": "resident_id", "number": "110101199003071233", "name": "王小明", "birth_date": None}]
    load_id = await repo.staff.stage_load(
        "identity_registry", rows, uploaded_by=1, file_name="a.csv", rejected=2
    )
    async with repo.db.read() as conn:
        stored = await (await conn.execute("SELECT rows_enc FROM register_loads")).fetchone()
    assert stored is not None and "王小明" not in stored[0] and "110101199003071233" not in stored[0]
    load = await repo.staff.get_load(load_id)
    assert load is not None and load.rows == rows and load.rejected == 2 and load.status == "pending"
    assert await repo.staff.finish_load(load_id, applied=True, actor_user_id=1)
    assert not await repo.staff.finish_load(load_id, applied=False, actor_user_id=1)
    finished = await repo.staff.get_load(load_id)
    assert finished is not None and finished.rows == [] and finished.status == "applied"
