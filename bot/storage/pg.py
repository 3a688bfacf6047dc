"""PostgreSQL backend (asyncpg) behind the interface of :mod:`bot.storage.sql`.

Chosen when ``DATABASE_URL`` is a ``postgresql://`` URL; then every replica of the bot, the staff
console and ``python -m bot migrate`` share one server.

Design, and why:

- **A pool per process** (asyncpg's). A write transaction holds one connection for its block; a
  ``read()`` borrows one for its block. Statements are prepared once per connection (asyncpg's
  cache), so the repositories' SQL costs a parse only the first time.
- **Write transactions are serialised deployment-wide** by a transaction-level advisory lock taken
  right after ``BEGIN``. The repositories were written against SQLite's single writer and some
  read, check and then write (SMS rate limits, step pauses, "one open deletion request"); under
  PostgreSQL's READ COMMITTED two replicas could both pass such a check. With the lock, every write
  transaction starts after the previous one committed and sees its rows, exactly the semantics the
  code and its tests rely on, while reads never wait. ``transaction(serial=False)`` skips the lock
  for blocks of single atomic statements (an upsert, an insert-or-nothing) on the per-update hot
  path. ``lock_timeout`` bounds the wait like SQLite's busy timeout: a longer wait fails the step
  with the "busy" apology instead of piling up.
- **Snapshots**: ``read()`` runs in a READ ONLY REPEATABLE READ transaction, so its SELECTs see one
  commit, as SQLite's read transactions do; ``read(snapshot=False)`` is for a single SELECT.
- **Placeholders**: the shared SQL uses ``?``; it is rewritten once per text to ``$1..$n``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import asyncpg

from bot.domain.clock import system_clock
from bot.domain.errors import DatabaseBusy
from bot.storage.migrate import Migration, MigrationError, load_migrations, pending
from bot.storage.sql import Backend, own_transaction, pending_claim, write_claim

__all__ = ["PostgresConnection", "PostgresDatabase", "translate"]

log = logging.getLogger(__name__)

# Arbitrary but fixed advisory lock ids ("SHIM" + a suffix): one for the write serialisation, one
# for migrations (held for a whole migration run by one process).
WRITE_LOCK = 0x5348494D0001
MIGRATION_LOCK = 0x5348494D0002

_RETURNS_ROWS = re.compile(r"^\s*(SELECT|WITH|VALUES|SHOW|EXPLAIN)\b|\bRETURNING\b", re.IGNORECASE)


@lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """``?`` → ``$n``, outside quoted strings, quoted identifiers and comments."""
    out: list[str] = []
    n = 0
    i = 0
    length = len(sql)
    while i < length:
        ch = sql[i]
        if ch in "'\"":
            end = i + 1
            while end < length:
                if sql[end] == ch:
                    if end + 1 < length and sql[end + 1] == ch:  # doubled quote inside
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i : end + 1])
            i = end + 1
        elif ch == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            end = length if end < 0 else end
            out.append(sql[i:end])
            i = end
        elif ch == "?":
            n += 1
            out.append(f"${n}")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _count(status: str) -> int:
    """Rows touched, from a command tag such as ``INSERT 0 1``, ``UPDATE 3`` or ``DELETE 0``."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PostgresCursor:
    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[asyncpg.Record], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    async def fetchone(self) -> asyncpg.Record | None:
        return self._rows[0] if self._rows else None

    async def fetchall(self) -> list[asyncpg.Record]:
        return self._rows


class PostgresConnection:
    """One pooled asyncpg connection speaking the shared ``?`` SQL."""

    __slots__ = ("raw",)

    def __init__(self, raw: asyncpg.Connection) -> None:
        self.raw = raw

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> PostgresCursor:
        text = translate(sql)
        if _RETURNS_ROWS.search(text):
            rows = await self.raw.fetch(text, *parameters)
            return PostgresCursor(rows, len(rows))
        return PostgresCursor([], _count(await self.raw.execute(text, *parameters)))

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> None:
        await self.raw.executemany(translate(sql), [tuple(p) for p in parameters])


@dataclass
class _TxState:
    db: PostgresDatabase
    task: asyncio.Task[Any] | None
    conn: PostgresConnection
    serial: bool
    depth: int = field(default=0)


_current_tx: ContextVar[_TxState | None] = ContextVar("shiming_pg_tx", default=None)


class PostgresDatabase:
    """Use ``await PostgresDatabase.open(url)``; the constructor is internal."""

    backend: Backend = "postgresql"

    def __init__(self, pool: asyncpg.Pool, *, acquire_timeout: float) -> None:
        self._pool = pool
        self._acquire_timeout = acquire_timeout
        self._closed = False

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        lock_timeout_ms: int = 5000,
        acquire_timeout: float = 10.0,
        migrations: Sequence[Migration] | None = None,
        migrate: bool = True,
    ) -> PostgresDatabase:
        pool = await asyncpg.create_pool(
            url,
            min_size=min(min_size, max_size),
            max_size=max_size,
            server_settings={
                "application_name": "shiming-bot",
                "lock_timeout": str(int(lock_timeout_ms)),
                # Timestamps are ISO text written by the code; keep the server's own in UTC too.
                "timezone": "UTC",
            },
        )
        try:
            async with pool.acquire() as conn:
                chosen = load_migrations("postgresql") if migrations is None else list(migrations)
                await _migrate(conn, chosen, apply=migrate)
        except BaseException:
            await pool.close()
            raise
        return cls(pool, acquire_timeout=acquire_timeout)

    def _own_tx(self) -> _TxState | None:
        return own_transaction(_current_tx, self)

    @property
    def in_transaction(self) -> bool:
        return self._own_tx() is not None

    @contextlib.asynccontextmanager
    async def _acquire(self) -> AsyncIterator[asyncpg.Connection]:
        if self._closed:
            raise RuntimeError("database is closed")
        try:
            conn = await self._pool.acquire(timeout=self._acquire_timeout)
        except TimeoutError as exc:
            raise DatabaseBusy("no database connection became free in time") from exc
        try:
            yield conn
        finally:
            await self._pool.release(conn)

    @contextlib.asynccontextmanager
    async def transaction(self, *, serial: bool = True) -> AsyncIterator[PostgresConnection]:
        state = self._own_tx()
        if state is not None:
            if serial and not state.serial:
                # Taking the lock late would let the outer block's earlier reads be stale.
                raise RuntimeError("a serial transaction cannot nest in a non-serial one")
            state.depth += 1
            try:
                async with state.conn.raw.transaction():  # a savepoint
                    yield state.conn
            finally:
                state.depth -= 1
            return
        claim = pending_claim(self)
        async with self._acquire() as raw:
            async with raw.transaction():
                if serial:
                    await raw.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK)
                conn = PostgresConnection(raw)
                token = _current_tx.set(_TxState(self, asyncio.current_task(), conn, serial))
                try:
                    await write_claim(claim, conn)
                    yield conn
                finally:
                    _current_tx.reset(token)
            if claim is not None:  # committed
                claim.done = True

    @contextlib.asynccontextmanager
    async def read(self, *, snapshot: bool = True) -> AsyncIterator[PostgresConnection]:
        state = self._own_tx()
        if state is not None:
            yield state.conn
            return
        async with self._acquire() as raw:
            if not snapshot:
                yield PostgresConnection(raw)
                return
            async with raw.transaction(isolation="repeatable_read", readonly=True):
                yield PostgresConnection(raw)

    async def schema_version(self) -> int:
        async with self.read(snapshot=False) as conn:
            row = await (await conn.execute("SELECT max(version) FROM schema_version")).fetchone()
        return int(row[0]) if row is not None and row[0] is not None else 0

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await asyncio.wait_for(self._pool.close(), timeout=10)
        except TimeoutError:
            log.warning("database connections still busy at close; terminating them")
            self._pool.terminate()


async def _migrate(conn: asyncpg.Connection, migrations: list[Migration], *, apply: bool = True) -> None:
    # A session lock for the whole run: replicas started together migrate once, one after another.
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        rows = await conn.fetch("SELECT version FROM schema_version")
        todo = pending((int(r[0]) for r in rows), migrations)
        if todo and not apply:
            raise MigrationError(
                f"the database needs migrations {[m.version for m in todo]}: run `python -m bot migrate`"
            )
        for migration in todo:
            # A schema fact about this process's start, not a business time: the wall clock.
            stamp = system_clock().isoformat(timespec="seconds")
            try:
                async with conn.transaction():
                    # No arguments: the simple query protocol runs the whole multi-statement script.
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)",
                        migration.version,
                        migration.name,
                        stamp,
                    )
            except asyncpg.PostgresError as exc:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name} failed: {exc}"
                ) from exc
            log.info("applied migration %04d_%s", migration.version, migration.name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
