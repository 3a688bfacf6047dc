"""The SQLite database: connections, transactions and versioned migrations.

Concurrency design (a connection has one transaction at a time, so two tasks sharing a connection
would interleave their statements into one transaction):

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

**Where a statement runs** (issue 22). A short statement costs SQLite some 20–50 µs, and a hop to a
worker thread and back (what aiosqlite did for every statement) costs ≈ 0.7 ms of wake-ups and GIL
hand-overs: most of a plain update's time in the database was hops. So each connection (``_Link``)
runs a statement **on the event-loop thread** when that cannot stall the loop, and on its own worker
thread otherwise:

- A lock held by another process (the CLI, a second replica on the same file, a backup) must not
  freeze the loop for the busy timeout: on the loop a connection's busy timeout is **zero**, and a
  statement refused with ``SQLITE_BUSY`` is run again on the connection's thread with the configured
  timeout (5 s), where waiting costs the loop nothing. ``BEGIN IMMEDIATE`` is where that happens.
- A ``SELECT`` on the loop runs under a time budget (``LOOP_BUDGET_S``, checked by SQLite's progress
  handler): past it, SQLite interrupts the statement (a read: nothing is undone, the transaction stays
  open) and it is run again on the thread. Rows are fetched whole with the statement, so a cursor's
  ``fetchone`` / ``fetchall`` never hop.
- A write cannot be interrupted without losing its transaction, so writes that may touch many rows go
  to the thread by their text: ``executemany``, scripts, ``INSERT … SELECT``, ``UPDATE`` / ``DELETE``
  with a range condition or without ``WHERE``, and any statement that is not a plain ``SELECT``,
  ``INSERT``, ``UPDATE``, ``DELETE`` or transaction control (pragmas, schema changes, ``WITH``: none is
  on a hot path, and some, such as ``journal_mode`` or ``integrity_check``, take milliseconds). A
  write that nevertheless took longer than the budget on the loop is logged and sent to the thread
  from then on.
- WAL checkpoints (which copy pages into the file and fsync) are taken off the commit path: the writer
  has ``wal_autocheckpoint=0`` and a passive checkpoint runs on a connection of its own, in its
  thread, every ``CHECKPOINT_EVERY`` commits.

A connection is used by one task at a time (the write lock, the reader queue); a statement sent to
the thread is awaited before the next one, and one still running there after its task was cancelled
makes the following statements queue behind it on the same thread instead of using the connection
from the loop at the same time.

Two rules follow: no network or other slow I/O inside ``transaction()`` (it holds the only writer),
and never await, inside a transaction, another task that writes (it waits for the lock the awaiting
task holds: a deadlock). Nor keep a ``read()`` block open across such an await with ``":memory:"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import re
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bot.domain.clock import system_clock
from bot.storage.migrate import Migration, MigrationError, load_migrations, pending
from bot.storage.sql import Backend, own_transaction, pending_claim, write_claim

__all__ = [
    "COUNTERS",
    "LOOP_BUDGET_S",
    "Migration",
    "MigrationError",
    "SqliteConnection",
    "SqliteCounters",
    "SqliteCursor",
    "SqliteDatabase",
    "load_migrations",
]

log = logging.getLogger(__name__)

_MEMORY = ":memory:"
# The longest a statement may hold the event loop. A plain update's statements take 20-50 us each.
LOOP_BUDGET_S = 0.002
_PROGRESS_STEPS = 1000  # SQLite VM steps between budget checks (a few microseconds)
CHECKPOINT_EVERY = 200  # commits; SQLite's own default is every 1000 WAL pages (2-5 pages a commit here)
_SQLITE_BUSY = 5
_SQLITE_INTERRUPT = 9

_T = TypeVar("_T")


@dataclass
class SqliteCounters:
    """Process-wide counts for the load benchmark (bench/bench_load.py reads them in the bot)."""

    statements: int = 0  # every statement, BEGIN / COMMIT / SAVEPOINT included
    on_loop: int = 0  # run on the event-loop thread
    thread_hops: int = 0  # sent to a connection's thread (busy, over budget, long by its text)
    busy_retries: int = 0  # SQLITE_BUSY on the loop, run again on the thread
    budget_retries: int = 0  # SELECTs interrupted on the loop by the budget, run again on the thread
    commits: int = 0
    checkpoints: int = 0
    loop_seconds: float = 0.0  # time statements held the event loop
    longest_on_loop_s: float = 0.0
    hops_by_text: dict[str, int] = field(default_factory=dict)  # what went to a thread (its first 60 chars)

    def snapshot(self) -> dict[str, Any]:
        figures: dict[str, Any] = dict(self.__dict__)
        figures["hops_by_text"] = dict(self.hops_by_text)
        return figures


COUNTERS = SqliteCounters()

_READ = re.compile(r"^\s*SELECT\b", re.IGNORECASE)
# Everything else not listed here (pragmas, schema changes, WITH ... whose tail may be a write) runs
# on the thread: none is on a hot path, and some take milliseconds or more.
_SHORT_WRITE = re.compile(
    r"^\s*(?:INSERT|REPLACE|UPDATE|DELETE|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE
)
_UPDATE_OR_DELETE = re.compile(r"^\s*(?:UPDATE|DELETE)\b", re.IGNORECASE)
_WHERE = re.compile(r"\bWHERE\b(.*)$", re.IGNORECASE | re.DOTALL)
_INSERT_SELECT = re.compile(r"^\s*(?:INSERT|REPLACE)\b.*\bSELECT\b", re.IGNORECASE | re.DOTALL)

# Route of a statement text: 0 = a read on the loop under the budget, 1 = a write on the loop, 2 = thread.
_LOOP_READ, _LOOP_WRITE, _THREAD = 0, 1, 2
_routes: dict[str, int] = {}
# A write over the budget on the loop may have been a descheduled process on a busy machine rather
# than a long statement: a text moves to the thread after a few overruns. Transaction control never
# moves (BEGIN IMMEDIATE waits for locks on the thread anyway, by its SQLITE_BUSY).
_OVERRUNS_TO_MOVE = 3
_overruns: dict[str, int] = {}
_CONTROL = re.compile(r"^\s*(?:BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


class _GcCpu:
    """CPU seconds each thread has spent in garbage collections (a ``gc.callbacks`` hook: called at
    the start and end of every collection, a few times a second at most)."""

    def __init__(self) -> None:
        self.spent: dict[int, float] = {}
        self._started: dict[int, float] = {}

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        ident = threading.get_ident()
        if phase == "start":
            self._started[ident] = time.thread_time()
        else:
            started = self._started.pop(ident, None)
            if started is not None:
                self.spent[ident] = self.spent.get(ident, 0.0) + time.thread_time() - started

    def here(self) -> float:
        return self.spent.get(threading.get_ident(), 0.0)


_GC_CPU = _GcCpu()
gc.callbacks.append(_GC_CPU)


def _route(sql: str) -> int:
    route = _routes.get(sql)
    if route is None:
        route = _routes[sql] = _classify(sql)
    return route


def _classify(sql: str) -> int:
    if _READ.match(sql):
        return _LOOP_READ
    if not _SHORT_WRITE.match(sql) or _INSERT_SELECT.match(sql):
        return _THREAD
    if _UPDATE_OR_DELETE.match(sql):
        where = _WHERE.search(sql)
        # A range (`claimed_at < ?`) or no condition at all: as many rows as the table holds.
        if where is None or "<" in where.group(1) or ">" in where.group(1):
            return _THREAD
    return _LOOP_WRITE


def _is_busy(exc: sqlite3.Error) -> bool:
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == _SQLITE_BUSY


def _is_interrupt(exc: sqlite3.Error) -> bool:
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == _SQLITE_INTERRUPT


class SqliteCursor:
    """The result of one statement, fetched whole when it ran (so reading it never hops)."""

    __slots__ = ("_next", "_rows", "rowcount")

    def __init__(self, rows: list[sqlite3.Row], rowcount: int) -> None:
        self._rows = rows
        self._next = 0
        self.rowcount = rowcount

    async def fetchone(self) -> sqlite3.Row | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    async def fetchall(self) -> list[sqlite3.Row]:
        rest = self._rows[self._next :]
        self._next = len(self._rows)
        return rest


class _Link:
    """One sqlite3 connection: short statements on the event loop, the rest on its own thread."""

    def __init__(self, raw: sqlite3.Connection, executor: ThreadPoolExecutor, busy_timeout_ms: int) -> None:
        self.raw = raw
        self.busy_timeout_ms = busy_timeout_ms
        self._executor = executor
        self._pending: Future[Any] | None = None
        self._deadline = math.inf
        raw.set_progress_handler(self._progress, _PROGRESS_STEPS)

    @classmethod
    async def connect(cls, target: str, busy_timeout_ms: int, name: str) -> _Link:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

        def connect() -> sqlite3.Connection:
            # isolation_level=None: the sqlite3 module must not open transactions behind our back;
            # every transaction is the explicit BEGIN IMMEDIATE of transaction(). check_same_thread
            # off: the connection is used from the loop and from its thread, never at once (above).
            conn = sqlite3.connect(
                target,
                isolation_level=None,
                uri=target.startswith("file:"),
                check_same_thread=False,
                timeout=busy_timeout_ms / 1000,
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=0")
            return conn

        try:
            raw = await asyncio.wrap_future(executor.submit(connect))
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(raw, executor, busy_timeout_ms)

    @property
    def in_transaction(self) -> bool:
        return self.raw.in_transaction

    def _progress(self) -> int:
        return 1 if time.perf_counter() > self._deadline else 0

    def _run(self, sql: str, parameters: Sequence[Any]) -> SqliteCursor:
        cursor = self.raw.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description is not None else []
        return SqliteCursor(rows, cursor.rowcount)

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> SqliteCursor:
        COUNTERS.statements += 1
        route = _route(sql)
        if route != _THREAD and (self._pending is None or self._pending.done()):
            read = route == _LOOP_READ
            started = time.perf_counter()
            cpu_started = gc_started = 0.0
            if read:
                self._deadline = started + LOOP_BUDGET_S
            else:
                cpu_started, gc_started = time.thread_time(), _GC_CPU.here()
            try:
                return self._run(sql, parameters)
            except sqlite3.OperationalError as exc:
                if _is_busy(exc):
                    COUNTERS.busy_retries += 1
                elif read and _is_interrupt(exc):
                    COUNTERS.budget_retries += 1
                else:
                    raise
            finally:
                self._deadline = math.inf
                took = time.perf_counter() - started
                COUNTERS.on_loop += 1
                COUNTERS.loop_seconds += took
                if took > COUNTERS.longest_on_loop_s:
                    COUNTERS.longest_on_loop_s = took
                if took > LOOP_BUDGET_S and not read and not _CONTROL.match(sql):
                    # What the statement itself cost: the thread's CPU time without the collections
                    # that ran inside it. Wall time also counts the process being descheduled on a
                    # busy machine and a garbage collection that the statement's allocations happened
                    # to trigger; counting those moved the hot-path INSERTs to the thread within
                    # seconds of a load benchmark, and every write transaction then held the write
                    # lock across a hop (1.0-1.1 hops per plain update instead of 0.0x).
                    cpu = time.thread_time() - cpu_started - (_GC_CPU.here() - gc_started)
                    if cpu > LOOP_BUDGET_S:
                        self._overran(sql, cpu)
        return await self.in_thread(self._run, sql, parameters)

    @staticmethod
    def _overran(sql: str, took: float) -> None:
        _overruns[sql] = _overruns.get(sql, 0) + 1
        if _overruns[sql] >= _OVERRUNS_TO_MOVE:
            _routes[sql] = _THREAD
            del _overruns[sql]
            log.warning(
                "a write overran the event loop's budget again (%.1f ms); on a thread from now on: %.80s",
                took * 1000,
                sql,
            )

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> None:
        COUNTERS.statements += 1
        rows = [tuple(p) for p in parameters]
        await self.in_thread(self.raw.executemany, sql, rows)

    async def executescript(self, script: str) -> None:
        COUNTERS.statements += 1
        await self.in_thread(self.raw.executescript, script)

    async def in_thread(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(*args)`` on this connection's thread, waiting for locks up to the busy timeout."""
        COUNTERS.thread_hops += 1
        what = str(args[0])[:60] if args and isinstance(args[0], str) else getattr(fn, "__name__", "?")
        COUNTERS.hops_by_text[what] = COUNTERS.hops_by_text.get(what, 0) + 1
        future = self._executor.submit(self._patiently, fn, *args)
        self._pending = future
        return await asyncio.wrap_future(future)

    def _patiently(self, fn: Callable[..., _T], *args: Any) -> _T:
        self.raw.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
        try:
            return fn(*args)
        finally:
            self.raw.execute("PRAGMA busy_timeout=0")

    async def close(self) -> None:
        try:
            await asyncio.wrap_future(self._executor.submit(self.raw.close))
        finally:
            self._executor.shutdown(wait=False)


class SqliteConnection:
    """The :class:`bot.storage.sql.Connection` of SQLite, with the shared signature."""

    __slots__ = ("link",)

    def __init__(self, link: _Link) -> None:
        self.link = link

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> SqliteCursor:
        return await self.link.execute(sql, parameters)

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> None:
        await self.link.executemany(sql, parameters)


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
        writer: _Link,
        readers: Sequence[_Link],
        checkpointer: _Link | None = None,
    ) -> None:
        self.path = path
        self._writer = writer
        self._write_lock = asyncio.Lock()
        self._reader_list = list(readers)
        self._readers: asyncio.Queue[_Link] = asyncio.Queue()
        for conn in readers:
            self._readers.put_nowait(conn)
        self._checkpointer = checkpointer
        self._checkpoint_task: asyncio.Task[None] | None = None
        self._commits = 0
        self._closed = False
        self._wrapped_writer = SqliteConnection(writer)
        self._wrapped = {id(conn): SqliteConnection(conn) for conn in readers}

    @property
    def busy_timeout_ms(self) -> int:
        return self._writer.busy_timeout_ms

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
        writer = await _Link.connect(target, busy_timeout_ms, "sqlite-writer")
        opened = [writer]
        try:
            if not in_memory:
                row = await (await writer.execute("PRAGMA journal_mode=WAL")).fetchone()
                if row is None or str(row[0]).lower() != "wal":
                    raise MigrationError(f"could not switch {target} to WAL mode")
                # Checkpoints are this class's job, off the commit path (module docstring).
                await writer.execute("PRAGMA wal_autocheckpoint=0")
            await writer.execute(f"PRAGMA synchronous={synchronous.upper()}")
            chosen = load_migrations() if migrations is None else list(migrations)
            await _migrate(writer, chosen, apply=migrate)
            reader_links: list[_Link] = []
            checkpointer = None
            if not in_memory:
                for i in range(max(0, readers)):
                    conn = await _Link.connect(target, busy_timeout_ms, f"sqlite-reader{i}")
                    opened.append(conn)
                    await conn.execute("PRAGMA query_only=ON")
                    reader_links.append(conn)
                checkpointer = await _Link.connect(target, busy_timeout_ms, "sqlite-checkpoint")
                opened.append(checkpointer)
        except BaseException:
            for conn in opened:
                await conn.close()
            raise
        return cls(target, writer, reader_links, checkpointer)

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
            claim = pending_claim(self)
            try:
                await write_claim(claim, self._wrapped_writer)
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
                self._committed()
                if claim is not None:
                    claim.done = True
            finally:
                _current_tx.reset(token)

    def _committed(self) -> None:
        COUNTERS.commits += 1
        self._commits += 1
        idle = self._checkpoint_task is None or self._checkpoint_task.done()
        if self._commits >= CHECKPOINT_EVERY and self._checkpointer is not None and idle:
            self._commits = 0
            self._checkpoint_task = asyncio.create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        # PASSIVE: copies what no reader still needs, never waits for or blocks the writer.
        assert self._checkpointer is not None
        try:
            link = self._checkpointer
            await link.in_thread(link.raw.execute, "PRAGMA wal_checkpoint(PASSIVE)")
            COUNTERS.checkpoints += 1
        except Exception:  # the next one catches up; SQLite reads the WAL meanwhile
            log.warning("WAL checkpoint failed", exc_info=True)

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
        BEGIN/ROLLBACK pair on the per-update hot path.
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
        if self._checkpoint_task is not None:
            with contextlib.suppress(Exception):
                await self._checkpoint_task
        async with self._write_lock:
            for conn in self._reader_list:
                await conn.close()
            if self._checkpointer is not None:
                await self._checkpointer.close()
            with contextlib.suppress(Exception):
                # Folds the WAL back so the file is self-contained after a clean shutdown.
                await self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            await self._writer.close()


async def _migrate(conn: _Link, migrations: list[Migration], *, apply: bool = True) -> None:
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
    if not todo:
        return
    # Foreign keys off while migrating (it cannot change inside a transaction): a table rebuilt to
    # change a column (new table, copy, drop, rename) must not fire ON DELETE CASCADE on the drop.
    # foreign_key_check before each COMMIT keeps the references honest instead.
    await conn.execute("PRAGMA foreign_keys=OFF")
    try:
        for migration in todo:
            await _apply(conn, migration)
    finally:
        await conn.execute("PRAGMA foreign_keys=ON")


async def _apply(conn: _Link, migration: Migration) -> None:
    # A schema fact about this process's start, not a business time: the wall clock.
    stamp = system_clock().isoformat(timespec="seconds")
    # One script per migration wrapped in its own transaction: executescript() does not commit
    # in autocommit mode, so a failing statement leaves the transaction open for the rollback.
    script = (
        "BEGIN IMMEDIATE;\n"
        f"{migration.sql}\n;\n"
        "INSERT INTO schema_version (version, name, applied_at) "
        f"VALUES ({migration.version}, '{migration.name}', '{stamp}');\n"
    )
    try:
        await conn.executescript(script)
        broken = list(await (await conn.execute("PRAGMA foreign_key_check")).fetchall())
        if broken:
            raise MigrationError(f"{len(broken)} rows break a foreign key, e.g. {tuple(broken[0])}")
        await conn.execute("COMMIT")
    except Exception as exc:
        if conn.in_transaction:
            await conn.execute("ROLLBACK")
        raise MigrationError(f"migration {migration.version:04d}_{migration.name} failed: {exc}") from exc
    log.info("applied migration %04d_%s", migration.version, migration.name)
