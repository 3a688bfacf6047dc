"""The SQLite database: connections, transactions and versioned migrations.

Concurrency design (aiosqlite runs each connection on its own thread, and a connection has one
transaction at a time, so two tasks sharing a connection would interleave their statements into one
transaction):

- **One writer connection** behind an ``asyncio.Lock``. ``async with db.transaction() as conn:`` takes
  the lock, runs ``BEGIN IMMEDIATE`` (so the write lock of the file is taken up front and a transaction
  never fails half-way on a lock upgrade), and ``COMMIT`` / ``ROLLBACK`` on exception. SQLite allows one
  writer anyway, so a queue in front of it costs nothing and keeps transactions whole.
- **Nested transactions** in the same task (a repository method called inside another one's
  transaction) join the outer transaction through a ``SAVEPOINT``; the owner is tracked in a context
  variable together with the task, so a *different* task never joins by accident.
- **Reads** (``async with db.read() as conn:``) come from a small pool of read-only connections; WAL
  lets them run beside the writer and see the last committed state. Inside the task's own transaction
  a read uses the writer (to see its own uncommitted writes). A read block is one read transaction,
  so its SELECTs see one snapshot. An in-memory database cannot be shared between connections, so
  with ``":memory:"`` (tests) reads go through the writer under the lock.

Two rules follow: no network or other slow I/O inside ``transaction()`` (it holds the only writer),
and never await, inside a transaction, another task that writes (it waits for the lock the awaiting
task holds: a deadlock). Nor keep a ``read()`` block open across such an await with ``":memory:"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite

from bot.domain.clock import system_clock
from bot.storage.migrate import Migration, MigrationError, load_migrations, pending
from bot.storage.sql import Backend, own_transaction

__all__ = ["Migration", "MigrationError", "SqliteConnection", "SqliteDatabase", "load_migrations"]

log = logging.getLogger(__name__)

_MEMORY = ":memory:"


class SqliteConnection:
    """The :class:`bot.storage.sql.Connection` of SQLite: aiosqlite's, with the shared signature."""

    __slots__ = ("raw",)

    def __init__(self, raw: aiosqlite.Connection) -> None:
        self.raw = raw

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> aiosqlite.Cursor:
        return await self.raw.execute(sql, parameters)

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> None:
        await self.raw.executemany(sql, parameters)


@dataclass
class _TxState:
    db: SqliteDatabase
    task: asyncio.Task[Any] | None
    depth: int = field(default=0)


_current_tx: ContextVar[_TxState | None] = ContextVar("shiming_sqlite_tx", default=None)


class SqliteDatabase:
    """Use ``await SqliteDatabase.open(path)``; the constructor is internal."""

    backend: Backend = "sqlite"

    def __init__(
        self,
        path: str,
        writer: aiosqlite.Connection,
        readers: Sequence[aiosqlite.Connection],
    ) -> None:
        self.path = path
        self._writer = writer
        self._write_lock = asyncio.Lock()
        self._reader_list = list(readers)
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for conn in readers:
            self._readers.put_nowait(conn)
        self._closed = False
        self._wrapped_writer = SqliteConnection(writer)
        self._wrapped = {id(conn): SqliteConnection(conn) for conn in readers}

    @classmethod
    async def open(
        cls,
        path: Path | str,
        *,
        readers: int = 2,
        busy_timeout_ms: int = 5000,
        synchronous: str = "NORMAL",
        migrations: Sequence[Migration] | None = None,
        migrate: bool = True,
    ) -> SqliteDatabase:
        """Open (creating if needed) and migrate the database.

        ``synchronous=NORMAL`` in WAL mode survives a killed process with nothing lost; only a power
        failure may drop the last commits. Pass ``"FULL"`` where that matters more than commit latency.
        """
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(f"bad synchronous mode {synchronous!r}")
        target = str(path)
        in_memory = target == _MEMORY or target.startswith("file::memory:")
        if not in_memory:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        writer = await cls._connect(target, busy_timeout_ms)
        try:
            if not in_memory:
                row = await (await writer.execute("PRAGMA journal_mode=WAL")).fetchone()
                if row is None or str(row[0]).lower() != "wal":
                    raise MigrationError(f"could not switch {target} to WAL mode")
            await writer.execute(f"PRAGMA synchronous={synchronous.upper()}")
            chosen = load_migrations() if migrations is None else list(migrations)
            await _migrate(writer, chosen, apply=migrate)
            reader_conns: list[aiosqlite.Connection] = []
            if not in_memory:
                for _ in range(max(0, readers)):
                    conn = await cls._connect(target, busy_timeout_ms)
                    await conn.execute("PRAGMA query_only=ON")
                    reader_conns.append(conn)
        except BaseException:
            await writer.close()
            raise
        return cls(target, writer, reader_conns)

    @staticmethod
    async def _connect(target: str, busy_timeout_ms: int) -> aiosqlite.Connection:
        # isolation_level=None: the sqlite3 module must not open transactions behind our back; every
        # transaction is the explicit BEGIN IMMEDIATE of transaction().
        conn = await aiosqlite.connect(target, isolation_level=None, uri=target.startswith("file:"))
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        return conn

    def _own_tx(self) -> _TxState | None:
        return own_transaction(_current_tx, self)

    @property
    def in_transaction(self) -> bool:
        """Whether the calling task is inside one of this database's transactions."""
        return self._own_tx() is not None

    @contextlib.asynccontextmanager
    async def transaction(self, *, serial: bool = True) -> AsyncIterator[SqliteConnection]:
        """``serial`` only matters on PostgreSQL: SQLite's one writer serialises every transaction."""
        self._ensure_open()
        state = self._own_tx()
        if state is not None:
            async with self._savepoint(state):
                yield self._wrapped_writer
            return
        async with self._write_lock:
            conn = self._writer
            if conn.in_transaction:
                # A task cancelled during a rollback can leave one open; never build on it.
                await conn.execute("ROLLBACK")
            await conn.execute("BEGIN IMMEDIATE")
            token = _current_tx.set(_TxState(self, asyncio.current_task()))
            try:
                yield self._wrapped_writer
            except BaseException:
                await self._rollback_quietly()
                raise
            else:
                try:
                    await conn.execute("COMMIT")
                except BaseException:
                    await self._rollback_quietly()
                    raise
            finally:
                _current_tx.reset(token)

    @contextlib.asynccontextmanager
    async def _savepoint(self, state: _TxState) -> AsyncIterator[None]:
        name = f"sp_{state.depth}"
        state.depth += 1
        conn = self._writer
        await conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            await conn.execute(f"ROLLBACK TO {name}")
            await conn.execute(f"RELEASE {name}")
            raise
        else:
            await conn.execute(f"RELEASE {name}")
        finally:
            state.depth -= 1

    async def _rollback_quietly(self) -> None:
        if self._writer.in_transaction:
            try:
                await self._writer.execute("ROLLBACK")
            except Exception:  # the original error is the one worth raising
                log.exception("rollback failed")

    @contextlib.asynccontextmanager
    async def read(self, *, snapshot: bool = True) -> AsyncIterator[SqliteConnection]:
        """A connection for SELECTs; do not write through it (readers are ``query_only``).

        ``snapshot=False`` for a block of one SELECT, which SQLite runs atomically anyway: it saves the
        BEGIN/ROLLBACK round trips (two thread hops each) on the per-update hot path.
        """
        self._ensure_open()
        if self._own_tx() is not None:
            yield self._wrapped_writer
            return
        if not self._reader_list:
            async with self._write_lock:
                yield self._wrapped_writer
            return
        conn = await self._readers.get()
        try:
            # A read transaction gives all SELECTs of the block one snapshot (a person and their
            # phone from the same commit).
            if conn.in_transaction:  # left open by a task cancelled mid-rollback
                await conn.execute("ROLLBACK")
            wrapped = self._wrapped[id(conn)]
            if not snapshot:
                yield wrapped
                return
            await conn.execute("BEGIN")
            try:
                yield wrapped
            finally:
                await conn.execute("ROLLBACK")
        finally:
            self._readers.put_nowait(conn)

    async def schema_version(self) -> int:
        async with self.read() as conn:
            row = await (await conn.execute("SELECT max(version) FROM schema_version")).fetchone()
        return int(row[0]) if row is not None and row[0] is not None else 0

    def _ensure_open(self) -> None:
        if self._closed:
            raise RuntimeError("database is closed")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        async with self._write_lock:
            for conn in self._reader_list:
                await conn.close()
            with contextlib.suppress(Exception):
                # Folds the WAL back so the file is self-contained after a clean shutdown.
                await self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            await self._writer.close()


async def _migrate(conn: aiosqlite.Connection, migrations: list[Migration], *, apply: bool = True) -> None:
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    rows = await (await conn.execute("SELECT version FROM schema_version")).fetchall()
    todo = pending((int(r[0]) for r in rows), migrations)
    if todo and not apply:
        raise MigrationError(
            f"the database needs migrations {[m.version for m in todo]}: run `python -m bot migrate`"
        )
    for migration in todo:
        # A schema fact about this process's start, not a business time: the wall clock.
        stamp = system_clock().isoformat(timespec="seconds")
        # One script per migration wrapped in its own transaction: executescript() does not commit
        # in autocommit mode, so a failing statement leaves the transaction open for the rollback.
        script = (
            "BEGIN IMMEDIATE;\n"
            f"{migration.sql}\n;\n"
            "INSERT INTO schema_version (version, name, applied_at) "
            f"VALUES ({migration.version}, '{migration.name}', '{stamp}');\n"
            "COMMIT;"
        )
        try:
            await conn.executescript(script)
        except Exception as exc:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            raise MigrationError(f"migration {migration.version:04d}_{migration.name} failed: {exc}") from exc
        log.info("applied migration %04d_%s", migration.version, migration.name)
