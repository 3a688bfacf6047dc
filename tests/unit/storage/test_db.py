from __future__ import annotations

import asyncio
import gc
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.storage.db import COUNTERS, LOOP_BUDGET_S, Migration, MigrationError, load_migrations
from bot.storage.db import SqliteDatabase as Database


async def test_open_sets_pragmas_and_applies_all_migrations(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "a.sqlite3")
    try:
        assert await db.schema_version() == len(load_migrations())
        async with db.read() as conn:
            assert (await (await conn.execute("PRAGMA journal_mode")).fetchone())[0] == "wal"
        async with db.transaction() as conn:
            assert (await (await conn.execute("PRAGMA foreign_keys")).fetchone())[0] == 1
            # Pragmas run on the connection's thread, where the configured busy timeout applies
            # (on the event loop it is zero: test_a_lock_held_elsewhere_never_freezes_the_loop).
            assert (await (await conn.execute("PRAGMA busy_timeout")).fetchone())[0] == 5000
            assert db.busy_timeout_ms == 5000
    finally:
        await db.close()


async def test_reopen_does_not_reapply(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    for _ in range(2):
        db = await Database.open(path)
        async with db.read() as conn:
            cursor = await conn.execute("SELECT version FROM schema_version ORDER BY version")
            rows = await cursor.fetchall()
        assert [r[0] for r in rows] == [m.version for m in load_migrations()]
        await db.close()


async def test_failing_migration_rolls_back_and_keeps_earlier_ones(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    good = Migration(1, "one", "CREATE TABLE t1 (x INTEGER);")
    bad = Migration(2, "two", "CREATE TABLE t2 (x INTEGER); INSERT INTO nowhere VALUES (1);")
    with pytest.raises(MigrationError, match="0002_two"):
        await Database.open(path, migrations=[good, bad])
    db = await Database.open(path, migrations=[good])
    try:
        async with db.read() as conn:
            names = {r[0] for r in await (await conn.execute("SELECT name FROM sqlite_master")).fetchall()}
        assert "t1" in names and "t2" not in names
        assert await db.schema_version() == 1
    finally:
        await db.close()


async def test_database_newer_than_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "n.sqlite3"
    one, two = Migration(1, "one", "SELECT 1;"), Migration(2, "two", "SELECT 1;")
    await (await Database.open(path, migrations=[one, two])).close()
    with pytest.raises(MigrationError, match="unknown"):
        await Database.open(path, migrations=[one])


async def test_gap_in_versions_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MigrationError):
        await Database.open(tmp_path / "g.sqlite3", migrations=[Migration(2, "two", "SELECT 1;")])


async def test_transaction_rolls_back_on_exception(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO users (id, first_seen, last_seen) VALUES (1, 'a', 'a')")
            raise RuntimeError("boom")
    async with db.read() as conn:
        assert (await (await conn.execute("SELECT count(*) FROM users")).fetchone())[0] == 0


async def test_nested_transaction_is_a_savepoint(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO users (id, first_seen, last_seen) VALUES (1, 'a', 'a')")
        with pytest.raises(ValueError):
            async with db.transaction() as inner:
                await inner.execute("INSERT INTO users (id, first_seen, last_seen) VALUES (2, 'a', 'a')")
                raise ValueError
        async with db.read() as same:  # sees its own uncommitted write
            assert (await (await same.execute("SELECT count(*) FROM users")).fetchone())[0] == 1
    async with db.read() as conn:
        rows = await (await conn.execute("SELECT id FROM users")).fetchall()
    assert [r[0] for r in rows] == [1]


async def test_concurrent_transactions_do_not_interleave(db: Database) -> None:
    """Each task increments a counter in a read-modify-write transaction with a yield in between;
    interleaving on a shared connection would lose updates."""
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO users (id, language, first_seen, last_seen) VALUES (1, '0', 'a', 'a')"
        )

    async def bump() -> None:
        async with db.transaction() as conn:
            row = await (await conn.execute("SELECT language FROM users WHERE id = 1")).fetchone()
            await asyncio.sleep(0)
            await conn.execute("UPDATE users SET language = ? WHERE id = 1", (str(int(row[0]) + 1),))

    await asyncio.gather(*(bump() for _ in range(50)))
    async with db.read() as conn:
        assert (await (await conn.execute("SELECT language FROM users WHERE id = 1")).fetchone())[0] == "50"


async def test_readers_see_committed_state_only(db: Database) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO users (id, first_seen, last_seen) VALUES (7, 'a', 'a')")
            started.set()
            await release.wait()

    task = asyncio.create_task(writer())
    await started.wait()
    async with db.read() as conn:  # a reader connection, not blocked by the open write
        assert (await (await conn.execute("SELECT count(*) FROM users")).fetchone())[0] == 0
    release.set()
    await task
    async with db.read() as conn:
        assert (await (await conn.execute("SELECT count(*) FROM users")).fetchone())[0] == 1


async def test_readers_are_read_only(db: Database) -> None:
    with pytest.raises(Exception, match=r"readonly|read-only|query_only"):
        async with db.read() as conn:
            await conn.execute("INSERT INTO users (id, first_seen, last_seen) VALUES (1, 'a', 'a')")


async def test_in_memory_database_works_for_reads_and_writes() -> None:
    db = await Database.open(":memory:")
    try:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO users (id, first_seen, last_seen) VALUES (1, 'a', 'a')")
        async with db.read() as conn:
            assert (await (await conn.execute("SELECT count(*) FROM users")).fetchone())[0] == 1
    finally:
        await db.close()


async def test_closed_database_refuses_work(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "c.sqlite3")
    await db.close()
    await db.close()  # idempotent
    with pytest.raises(RuntimeError):
        async with db.read():
            pass


# --- where statements run (issue 22) ------------------------------------------------------------------


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    """Where statements run is SQLite's business alone (the ``db`` fixture runs both backends)."""
    db = await Database.open(tmp_path / "s.sqlite3")
    yield db
    await db.close()


async def _longest_tick(until: asyncio.Event) -> float:
    """The longest gap between the event loop's turns while ``until`` is unset."""
    longest, last = 0.0, time.perf_counter()
    while not until.is_set():
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    return longest


async def test_a_lock_held_elsewhere_never_freezes_the_loop(tmp_path: Path) -> None:
    """Another process holding the write lock (the CLI, a backup) must cost the loop nothing: the
    transaction waits for it on the connection's thread, up to the busy timeout, then proceeds."""
    db = await Database.open(tmp_path / "l.sqlite3")
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        other = sqlite3.connect(db.path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        locked.set()
        release.wait(10)
        other.execute("ROLLBACK")
        other.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        await asyncio.to_thread(locked.wait, 10)
        done = asyncio.Event()
        ticker = asyncio.create_task(_longest_tick(done))
        retries = COUNTERS.busy_retries

        async def write() -> None:
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO users (id, first_seen, last_seen) VALUES (9, 'a', 'a')")

        writing = asyncio.create_task(write())
        await asyncio.sleep(0.3)
        assert not writing.done()  # it waits for the lock...
        release.set()
        await writing  # ...and gets it once the other process lets go
        done.set()
        assert await ticker < 0.1  # while the loop kept turning
        assert COUNTERS.busy_retries > retries
    finally:
        release.set()
        await asyncio.to_thread(holder.join)
        await db.close()
    db = await Database.open(tmp_path / "l.sqlite3")
    try:
        async with db.read() as conn:
            assert (await (await conn.execute("SELECT count(*) FROM users")).fetchone())[0] == 1
    finally:
        await db.close()


async def test_a_long_select_moves_off_the_loop_with_the_same_answer(sqlite_db: Database) -> None:
    db = sqlite_db
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO users (id, first_seen, last_seen) VALUES (?, 'a', 'a')", [(i,) for i in range(150)]
        )
        retries = COUNTERS.budget_retries
        # Far more work than the loop's budget: interrupted there, run again on the thread.
        heavy = "SELECT count(*), (SELECT count(*) FROM users) FROM users a, users b, users c"
        started = time.perf_counter()
        done = asyncio.Event()
        ticker = asyncio.create_task(_longest_tick(done))
        row = await (await conn.execute(heavy)).fetchone()
        done.set()
        elapsed = time.perf_counter() - started
        assert tuple(row) == (150**3, 150)  # the transaction's own write is still visible
        assert elapsed > LOOP_BUDGET_S
        assert COUNTERS.budget_retries == retries + 1
        # Had the SELECT stayed on the loop, the loop's longest pause would be the whole SELECT. On a
        # loaded machine the scheduler alone may pause the loop for tens of ms, so the bound is relative.
        assert await ticker < max(0.05, elapsed / 3)
    async with db.read() as conn:  # the interrupted SELECT did not undo the transaction
        assert (await (await conn.execute("SELECT count(*) FROM users")).fetchone())[0] == 150


async def test_range_writes_and_batches_run_on_a_thread(sqlite_db: Database) -> None:
    db = sqlite_db
    async with db.transaction() as conn:
        hops = COUNTERS.thread_hops
        await conn.execute("INSERT INTO users (id, first_seen, last_seen) VALUES (1, 'a', 'a')")
        await conn.execute("UPDATE users SET language = 'en' WHERE id = 1")
        assert COUNTERS.thread_hops == hops  # short, by key: on the loop
        await conn.executemany(
            "INSERT INTO users (id, first_seen, last_seen) VALUES (?, 'a', 'a')", [(i,) for i in range(2, 50)]
        )
        await conn.execute("DELETE FROM users WHERE last_seen < ?", ("b",))
        await conn.execute("WITH x(i) AS (SELECT 1) SELECT i FROM x")  # a WITH's tail may write
        assert COUNTERS.thread_hops == hops + 3
    async with db.read() as conn:
        assert (await (await conn.execute("SELECT count(*) FROM users")).fetchone())[0] == 0


def _slow_function(db: Database, name: str, work: str) -> None:
    """A SQL function on the writer that takes over the loop's budget: burning CPU, asleep (the GIL
    released, no CPU: what a descheduled process looks like to a wall clock), or in a collection."""

    def slow(x: int) -> int:
        if work == "sleep":
            time.sleep(2 * LOOP_BUDGET_S)
        if work == "gc":
            gc.collect()  # over `heap` below: milliseconds
        until = time.thread_time() + 2 * LOOP_BUDGET_S  # CPU, whatever the machine's load
        while work == "cpu" and time.thread_time() < until:
            pass
        return x

    heap = [[i] for i in range(300_000)] if work == "gc" else []
    db._writer.raw.create_function(name, 1, lambda x: (heap, slow(x))[1])


async def test_a_write_over_the_budget_in_cpu_moves_to_the_thread(sqlite_db: Database) -> None:
    db = sqlite_db
    _slow_function(db, "burn", "cpu")
    sql = "INSERT INTO users (id, first_seen, last_seen) VALUES (burn(?), 'a', 'a')"
    for i in range(3):
        async with db.transaction() as conn:
            await conn.execute(sql, (100 + i,))
    async with db.transaction() as conn:
        hops = COUNTERS.thread_hops
        await conn.execute(sql, (200,))
        assert COUNTERS.thread_hops == hops + 1  # three overruns: on the thread from now on


async def test_a_write_slow_only_by_the_wall_clock_stays_on_the_loop(sqlite_db: Database) -> None:
    # A statement that took long because the process was not running (a loaded machine) or because a
    # garbage collection ran inside it did not cost the loop that much: it must not move to the
    # thread, where every write transaction would hold the write lock across a hop.
    db = sqlite_db
    for name, work in (("doze", "sleep"), ("collect", "gc")):
        _slow_function(db, name, work)
        sql = f"INSERT INTO users (id, first_seen, last_seen) VALUES ({name}(?), 'a', 'a')"
        base = 300 if work == "sleep" else 500
        for i in range(5):
            async with db.transaction() as conn:
                started = time.perf_counter()
                await conn.execute(sql, (base + i,))
                assert time.perf_counter() - started > LOOP_BUDGET_S
        async with db.transaction() as conn:
            hops = COUNTERS.thread_hops
            await conn.execute(sql, (base + 100,))
            assert COUNTERS.thread_hops == hops, work
