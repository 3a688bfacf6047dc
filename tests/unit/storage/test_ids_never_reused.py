"""No id of a person, review case, binding or uploaded register is handed out twice (issue 21): the
audit trail of an erased person stays theirs (a tombstone), never a newcomer's. Both backends; and the
SQLite migration that sets AUTOINCREMENT keeps existing rows, children and references, and starts above
ids erased before it ran."""

from __future__ import annotations

from pathlib import Path

from bot.domain.enterprise import Role
from bot.domain.models import ReviewKind
from bot.storage.crypto import FieldCipher
from bot.storage.db import SqliteDatabase
from bot.storage.migrate import load_migrations
from bot.storage.repositories import Repositories
from bot.storage.sql import Database
from tests.helpers.register import WANG, XINGHE, load_register
from tests.unit.storage.test_persons import record

OTHER = "110101199003070011"  # another valid number (check character 1)


async def test_erasing_the_newest_person_does_not_hand_its_id_to_the_next(repo: Repositories) -> None:
    first = await repo.persons.save_collected(record())
    erased = await repo.persons.save_collected(record(WANG, user_id=101, name="王小明"))
    await repo.persons.erase(erased.id, actor_user_id=1)
    newcomer = await repo.persons.save_collected(record(OTHER, user_id=102, name="李四"))
    assert newcomer.id > erased.id > first.id
    # The erased person's trail is a tombstone that names nobody alive; the newcomer's is their own.
    tombstone = [e.action for e in await repo.audit.for_subject("person", erased.id)]
    assert tombstone == ["person.erase", "person.collect"]
    assert [e.action for e in await repo.audit.for_subject("person", newcomer.id)] == ["person.collect"]
    assert await repo.persons.get(erased.id) is None


async def test_cases_bindings_and_loads_are_not_reused(repo: Repositories, db: Database) -> None:
    async def case() -> int:
        opened = await repo.review.open_case(
            ReviewKind.FACE_NEAR_THRESHOLD, 7, reasons=[], media_ids=[], payload={"flow": "collect"}
        )
        return opened.id

    async def load() -> int:
        return await repo.staff.stage_load("enterprises", [], uploaded_by=1, file_name="x.csv", rejected=0)

    await load_register(repo)
    enterprise = await repo.enterprises.get(XINGHE)
    assert enterprise is not None
    person = await repo.persons.save_collected(record(WANG, name="王小明"))
    binding = await repo.enterprises.bind(person.id, enterprise.id, Role.LEGAL_REP, bound_by=None)
    first_case, first_load = await case(), await load()
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM review_cases WHERE id = ?", (first_case,))
        await conn.execute("DELETE FROM register_loads WHERE id = ?", (first_load,))
        await conn.execute("DELETE FROM enterprise_bindings WHERE id = ?", (binding.id,))
    assert await case() > first_case
    assert await load() > first_load
    again = await repo.enterprises.bind(person.id, enterprise.id, Role.LEGAL_REP, bound_by=None)
    assert again.id > binding.id


async def test_the_sqlite_migration_keeps_rows_and_starts_above_erased_ids(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    cipher = FieldCipher.from_master(b"m" * 32, key_id="k1")
    before = [m for m in load_migrations() if m.version < 6]
    old = await SqliteDatabase.open(path, migrations=before)
    repo = Repositories(old, cipher)
    kept = await repo.persons.save_collected(record())
    erased = await repo.persons.save_collected(record(WANG, user_id=101, name="王小明"))
    await repo.persons.erase(erased.id, actor_user_id=1)  # the highest id, erased before 0006
    await old.close()

    db = await SqliteDatabase.open(path)
    try:
        repo = Repositories(db, cipher)
        found = await repo.persons.get(kept.id)  # documents, phone, photo, consents, link all kept
        assert found is not None and found.phone is not None and found.live_photo is not None
        assert len(found.consents) == 2 and (await repo.users.get_link(100)) is not None
        newcomer = await repo.persons.save_collected(record(OTHER, user_id=102, name="李四"))
        assert newcomer.id > erased.id
        async with db.read() as conn:
            assert not await (await conn.execute("PRAGMA foreign_key_check")).fetchall()
            assert (await (await conn.execute("PRAGMA foreign_keys")).fetchone())[0] == 1
        # Erasing after the migration still cascades (the children reference the rebuilt table).
        await repo.persons.erase(kept.id, actor_user_id=1)
        async with db.read() as conn:
            row = await (
                await conn.execute("SELECT count(*) FROM documents WHERE person_id = ?", (kept.id,))
            ).fetchone()
        assert row[0] == 0
    finally:
        await db.close()
