"""The PostgreSQL backend's own guarantees (the shared repository suite runs on it too, via `db`)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from bot.cli import main as cli_main
from bot.domain.errors import DatabaseBusy
from bot.handlers.errors import apology_key
from bot.storage.db import SqliteDatabase
from bot.storage.factory import open_database
from bot.storage.migrate import MigrationError, load_migrations
from bot.storage.pg import PostgresDatabase, translate
from bot.storage.sql import IntegrityError
from tests.helpers import schema
from tests.helpers.postgres import PostgresServer, fresh_database, with_database

ADD_USER = "INSERT INTO users (id, first_seen, last_seen) VALUES (?, ?, ?)"


@pytest.fixture
def empty_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A database with no schema at all (not copied from the migrated template)."""
    with fresh_database(postgres_server, "template0") as url:
        yield url


@pytest.fixture
def migrated_url(postgres_server: PostgresServer, postgres_template: str) -> Iterator[str]:
    with fresh_database(postgres_server, postgres_template) as url:
        yield url


@pytest.fixture
async def pg(migrated_url: str) -> AsyncIterator[PostgresDatabase]:
    db = await PostgresDatabase.open(migrated_url, max_size=4)
    yield db
    await db.close()


def test_placeholders_are_rewritten_outside_quotes_and_comments() -> None:
    sql = "SELECT '?', \"a?\", x FROM t WHERE a = ? AND b = 'it''s ?' -- why?\n AND c IN (?, ?)"
    assert translate(sql) == (
        "SELECT '?', \"a?\", x FROM t WHERE a = $1 AND b = 'it''s ?' -- why?\n AND c IN ($2, $3)"
    )


def test_both_dialects_have_the_same_migrations() -> None:
    lite, pg = load_migrations("sqlite"), load_migrations("postgresql")
    assert [(m.version, m.name) for m in lite] == [(m.version, m.name) for m in pg]


async def test_both_dialects_build_the_same_tables_and_columns(tmp_path: Path, empty_url: str) -> None:
    lite = await SqliteDatabase.open(tmp_path / "a.sqlite3")
    pg = await PostgresDatabase.open(empty_url, max_size=1)
    try:
        assert await lite.schema_version() == await pg.schema_version() == len(load_migrations())
        assert await schema.columns(pg) == await schema.columns(lite)
    finally:
        await lite.close()
        await pg.close()


async def test_replicas_starting_together_migrate_once(empty_url: str) -> None:
    dbs = await asyncio.gather(*(PostgresDatabase.open(empty_url, max_size=1) for _ in range(4)))
    try:
        async with dbs[0].read() as conn:
            cursor = await conn.execute("SELECT version FROM schema_version ORDER BY version")
            rows = await cursor.fetchall()
        assert [r[0] for r in rows] == [m.version for m in load_migrations("postgresql")]
    finally:
        for db in dbs:
            await db.close()


async def test_without_migrate_an_old_schema_is_refused(empty_url: str) -> None:
    with pytest.raises(MigrationError, match="python -m bot migrate"):
        await open_database("unused", url=empty_url, migrate=False)
    db = await open_database("unused", url=empty_url)  # migrates
    await db.close()
    db = await open_database("unused", url=empty_url, migrate=False)
    assert db.backend == "postgresql"
    await db.close()


def test_migrate_command(
    empty_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_url)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    monkeypatch.setenv("SANDBOX", "1")  # no key is configured here; outside the sandbox one is required
    assert cli_main(["migrate", "--check"]) == 1
    assert "python -m bot migrate" in capsys.readouterr().err
    assert cli_main(["migrate"]) == 0
    latest = len(load_migrations())
    assert f"postgresql: schema version {latest} of {latest}" in capsys.readouterr().out
    assert cli_main(["migrate", "--check"]) == 0


async def test_a_failed_migration_leaves_nothing(empty_url: str) -> None:
    from bot.storage.migrate import Migration

    good = Migration(1, "one", "CREATE TABLE t1 (x BIGINT);")
    bad = Migration(2, "two", "CREATE TABLE t2 (x BIGINT); INSERT INTO nowhere VALUES (1);")
    with pytest.raises(MigrationError, match="0002_two"):
        await PostgresDatabase.open(empty_url, migrations=[good, bad])
    db = await PostgresDatabase.open(empty_url, migrations=[good])
    try:
        assert await db.schema_version() == 1
        async with db.read() as conn:
            row = await (await conn.execute("SELECT to_regclass('t2')")).fetchone()
        assert row is not None and row[0] is None
    finally:
        await db.close()


async def test_write_transactions_of_two_replicas_never_interleave(migrated_url: str) -> None:
    """Two processes' pools on one database: a read-check-write block (like the SMS rate limit) run
    40 times at once admits exactly the limit, as SQLite's single writer does."""
    a = await PostgresDatabase.open(migrated_url, max_size=5)
    b = await PostgresDatabase.open(migrated_url, max_size=5)
    limit = 7

    async def try_send(db: PostgresDatabase, n: int) -> bool:
        async with db.transaction() as conn:
            row = await (
                await conn.execute("SELECT count(*) FROM otp_codes WHERE phone_index = ?", ("p",))
            ).fetchone()
            assert row is not None
            if int(row[0]) >= limit:
                return False
            await asyncio.sleep(0.005)  # widen the window a race would need
            await conn.execute(
                "INSERT INTO otp_codes (user_id, phone_index, code_hash, sent_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (n, "p", "h", "2026-01-01", "2026-01-02"),
            )
            return True

    try:
        results = await asyncio.gather(*(try_send(a if n % 2 else b, n) for n in range(40)))
        assert sum(results) == limit
    finally:
        await a.close()
        await b.close()


async def test_nested_block_is_a_savepoint_and_a_conflict_inside_does_not_abort_the_outer(
    pg: PostgresDatabase,
) -> None:
    async with pg.transaction() as conn:
        await conn.execute(ADD_USER, (1, "a", "a"))
        with pytest.raises(IntegrityError):
            async with pg.transaction() as inner:
                await inner.execute(ADD_USER, (1, "b", "b"))
        assert pg.in_transaction
        await conn.execute(ADD_USER, (2, "c", "c"))
    async with pg.read() as conn:
        rows = await (await conn.execute("SELECT id, first_seen FROM users ORDER BY id")).fetchall()
    assert [(r["id"], r["first_seen"]) for r in rows] == [(1, "a"), (2, "c")]


async def test_an_exception_rolls_the_whole_block_back(pg: PostgresDatabase) -> None:
    with pytest.raises(RuntimeError):
        async with pg.transaction() as conn:
            await conn.execute(ADD_USER, (5, "a", "a"))
            raise RuntimeError("boom")
    async with pg.read(snapshot=False) as conn:
        row = await (await conn.execute("SELECT count(*) FROM users")).fetchone()
    assert row is not None and row[0] == 0


async def test_rowcount_and_returning(pg: PostgresDatabase) -> None:
    async with pg.transaction() as conn:
        cursor = await conn.execute(
            ADD_USER + " RETURNING id", (9, "a", "a")
        )
        assert (await cursor.fetchone())[0] == 9  # type: ignore[index]
        cursor = await conn.execute(
            ADD_USER + " ON CONFLICT DO NOTHING", (9, "b", "b")
        )
        assert cursor.rowcount == 0
        cursor = await conn.execute("UPDATE users SET last_seen = ? WHERE id = ?", ("z", 9))
        assert cursor.rowcount == 1


async def test_a_read_block_sees_one_snapshot(pg: PostgresDatabase) -> None:
    async with pg.read() as conn:
        before = await (await conn.execute("SELECT count(*) FROM users")).fetchone()
        await asyncio.create_task(_insert_user(pg, 77))  # another task commits meanwhile
        after = await (await conn.execute("SELECT count(*) FROM users")).fetchone()
    assert before is not None and after is not None and before[0] == after[0] == 0
    async with pg.read() as conn:
        now = await (await conn.execute("SELECT count(*) FROM users")).fetchone()
    assert now is not None and now[0] == 1


async def _insert_user(db: PostgresDatabase, user_id: int) -> None:
    async with db.transaction() as conn:
        await conn.execute(ADD_USER, (user_id, "a", "a"))


async def test_no_free_connection_is_busy_not_a_hang(migrated_url: str) -> None:
    db = await PostgresDatabase.open(migrated_url, max_size=1, acquire_timeout=0.2)
    try:
        async with db.read():
            with pytest.raises(DatabaseBusy):
                await asyncio.create_task(db.schema_version())
    finally:
        await db.close()


async def test_storage_faults_get_the_busy_or_full_apology(migrated_url: str) -> None:
    db = await PostgresDatabase.open(migrated_url, max_size=2, lock_timeout_ms=100)
    try:
        async with db.transaction():
            with pytest.raises(asyncpg.LockNotAvailableError) as waited:
                await asyncio.create_task(_insert_user(db, 1))
        assert apology_key(waited.value) == "errors.busy"
    finally:
        await db.close()
    assert apology_key(DatabaseBusy()) == "errors.busy"
    assert apology_key(asyncpg.DiskFullError("could not extend file")) == "errors.disk_full"
    assert apology_key(sqlite3.OperationalError("database is locked")) == "errors.busy"
    assert apology_key(ValueError("x")) == "common.error"


def test_url_helper() -> None:
    assert with_database("postgresql://u:p@h:5/postgres?sslmode=disable", "x") == (
        "postgresql://u:p@h:5/x?sslmode=disable"
    )
