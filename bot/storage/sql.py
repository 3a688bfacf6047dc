"""What the repositories may rely on, whichever database holds the records.

Two backends implement it: :class:`bot.storage.db.SqliteDatabase` (the embedded default, one file)
and :class:`bot.storage.pg.PostgresDatabase` (several replicas, one server), chosen by settings alone
(:func:`bot.storage.factory.open_database`, a module of its own: the backends import this one).
Repositories write one SQL text for both, in the subset the two share:
``?`` placeholders, ``ON CONFLICT ... DO UPDATE/NOTHING``, ``RETURNING id`` instead of a last row
id, integers 0/1 for flags, ISO-8601 text for timestamps (they sort as text in both), no scalar
``max(a, b)``. A test runs the repository and dialog suites on both.

Semantics both give:

- ``transaction()`` blocks run one at a time across the whole deployment (SQLite has one writer; on
  PostgreSQL every write transaction takes the same advisory lock first), so read-check-write code
  such as the SMS rate limits cannot interleave. A block nested in the same task joins the outer
  one through a savepoint. ``transaction(serial=False)`` is for a block of single atomic statements
  that reads nothing it then decides on (an upsert): PostgreSQL may run it beside others.
- ``read()`` blocks see committed data; with ``snapshot=True`` all their SELECTs see one snapshot.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from typing import Any, Literal, Protocol, TypeVar

import asyncpg

__all__ = [
    "Backend",
    "Connection",
    "Cursor",
    "Database",
    "DuplicateUpdate",
    "IntegrityError",
    "UpdateClaim",
    "new_id",
]

Backend = Literal["sqlite", "postgresql"]

# A constraint refused a write, in either backend. Catch it around a statement nested in its own
# ``transaction()`` (a savepoint): PostgreSQL aborts the whole transaction on an error otherwise.
IntegrityError: tuple[type[Exception], ...] = (
    sqlite3.IntegrityError,
    asyncpg.IntegrityConstraintViolationError,
)


class Cursor(Protocol):
    """The result of one statement. Rows index by column name and by position."""

    @property
    def rowcount(self) -> int: ...

    async def fetchone(self) -> Any | None: ...

    async def fetchall(self) -> Iterable[Any]: ...


class Connection(Protocol):
    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Cursor: ...

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> None: ...


class Database(Protocol):
    backend: Backend

    @property
    def in_transaction(self) -> bool: ...

    def transaction(self, *, serial: bool = True) -> AbstractAsyncContextManager[Connection]: ...

    def read(self, *, snapshot: bool = True) -> AbstractAsyncContextManager[Connection]: ...

    async def schema_version(self) -> int: ...

    async def close(self) -> None: ...


class TaskTransaction(Protocol):
    db: Any
    task: asyncio.Task[Any] | None


TxState = TypeVar("TxState", bound=TaskTransaction)


def own_transaction(current: ContextVar[TxState | None], db: object) -> TxState | None:
    """The transaction the calling task holds on ``db``, if any. Tracked per task as well as per
    context: a task started inside a transaction inherits the context variable, and must not join
    (it would run its statements in another task's transaction, unordered)."""
    state = current.get()
    if state is not None and state.db is db and state.task is asyncio.current_task():
        return state
    return None


class DuplicateUpdate(BaseException):
    """Another delivery of the update being handled has claimed it first: stop handling this one.

    A BaseException so that no handler's ``except Exception`` turns it into an apology; the
    transaction it is raised in rolls back, and the idempotency middleware drops the update.
    """


class UpdateClaim:
    """The claim of the update the current task handles, written **in its first write transaction**.

    Most updates write once (the dialog state); claiming in that same transaction saves a commit per
    update and keeps "claimed" and "changed" one atomic fact: an update whose writes committed is
    claimed, one that wrote nothing can be handled again. ``write`` inserts the claim and says whether
    it was new; if not, another delivery claimed it first and :class:`DuplicateUpdate` rolls the
    transaction back. The idempotency middleware writes the claim alone when the update wrote nothing.
    """

    __slots__ = ("db", "done", "task", "write")

    def __init__(self, db: object, write: Callable[[Connection], Awaitable[bool]]) -> None:
        self.db = db
        self.write = write
        self.done = False
        self.task = asyncio.current_task()


_update_claim: ContextVar[UpdateClaim | None] = ContextVar("shiming_update_claim", default=None)


def set_update_claim(claim: UpdateClaim | None) -> Any:
    """Make ``claim`` the pending claim of this task's context; returns the token to reset it."""
    return _update_claim.set(claim)


def reset_update_claim(token: Any) -> None:
    _update_claim.reset(token)


def pending_claim(db: object) -> UpdateClaim | None:
    """The claim a top-level transaction on ``db`` must write first, if any (same task only: a task
    started by a handler inherits the context but is not the update's own flow)."""
    claim = _update_claim.get()
    if claim is None or claim.done or claim.db is not db or claim.task is not asyncio.current_task():
        return None
    return claim


async def write_claim(claim: UpdateClaim | None, conn: Connection) -> None:
    """Called by a backend right after a top-level transaction began."""
    if claim is not None and not await claim.write(conn):
        raise DuplicateUpdate


def new_id(row: Any | None) -> int:
    """The id of an ``INSERT ... RETURNING id`` (both backends; a last-row id is SQLite's alone)."""
    if row is None:
        raise RuntimeError("INSERT ... RETURNING id gave no row")
    return int(row[0])
