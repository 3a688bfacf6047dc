"""aiogram FSM storage in the records database (SQLite or PostgreSQL), so a dialog survives a restart.

The data dict is stored as JSON encrypted with :class:`FieldCipher` (it carries recognised ID fields
mid-dialog), so handlers must keep FSM data JSON-compatible (str, numbers, bools, None, lists, dicts).
The ciphertext is bound to its row's key: copied to another user's row it does not decrypt.
A row whose state and data are both empty is deleted (only a write that empties a column can empty
the row, so only those try the DELETE: a plain step's write is one upsert).

Per-user ordering of updates is the job of aiogram's event isolation (``SimpleEventIsolation``);
``update_data`` is nevertheless atomic here (read and write in one transaction).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextvars import ContextVar
from datetime import datetime
from typing import Any, cast

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey

from bot.domain.clock import Clock, system_clock
from bot.storage.crypto import FieldCipher
from bot.storage.sql import Connection, Database, DuplicateUpdate
from bot.storage.timeutil import to_db

__all__ = ["DatabaseStorage", "row_context"]

_KEY_COLUMNS = "bot_id, chat_id, user_id, thread_id, business_connection_id, destiny"
_KEY_WHERE = (
    "bot_id = ? AND chat_id = ? AND user_id = ? AND thread_id = ?"
    " AND business_connection_id = ? AND destiny = ?"
)


def _key_params(key: StorageKey) -> tuple[int, int, int, int, str, str]:
    return (
        key.bot_id,
        key.chat_id,
        key.user_id,
        key.thread_id or 0,
        key.business_connection_id or "",
        key.destiny,
    )


def row_context(params: Sequence[object]) -> str:
    """Encryption context of a row from its key columns (also used by key rotation)."""
    return "fsm:" + ":".join(str(part) for part in params)


def _context(key: StorageKey) -> str:
    return row_context(_key_params(key))


_KEEP: Any = object()  # "this column is not changed by the update"


class _Pending:
    """What one update changed of one key's row, in memory until the update ends."""

    __slots__ = ("data", "key", "read", "state")

    def __init__(self, key: StorageKey) -> None:
        self.key = key
        self.state: Any = _KEEP
        self.data: Any = _KEEP
        # The stored row as the update first read it, (state, data_enc), or None before any read: a
        # step reads the state (its filters) and then the data (its handler) of the same row, and
        # one SELECT of both columns answers the two.
        self.read: tuple[str | None, str | None] | None = None


class _Buffer:
    __slots__ = ("rows", "storage", "task")

    def __init__(self, storage: DatabaseStorage) -> None:
        self.storage = storage
        self.task = asyncio.current_task()
        self.rows: dict[tuple[int, int, int, int, str, str], _Pending] = {}

    def row(self, key: StorageKey) -> _Pending:
        params = _key_params(key)
        pending = self.rows.get(params)
        if pending is None:
            pending = self.rows[params] = _Pending(key)
        return pending


_buffer: ContextVar[_Buffer | None] = ContextVar("shiming_fsm_buffer", default=None)
# The row read by an unbuffered get_state, for the buffer its update opens next: (storage, task, key,
# (state, data_enc)). aiogram reads the state (under the user's event lock) before the
# middleware that opens the buffer runs; that one SELECT of both columns then also answers the
# handler's get_data, as inside a buffer (0.56 SELECTs per plain update fewer).
_prefetched: ContextVar[
    tuple[DatabaseStorage, asyncio.Task[Any] | None, StorageKey, tuple[str | None, str | None]] | None
] = ContextVar("shiming_fsm_prefetched", default=None)


class DatabaseStorage(BaseStorage):
    """With :meth:`buffered` around an update's handling (the idempotency middleware does it), the
    update's state and data changes are kept in memory, read back by the update itself, and written
    when it ends, in **one** transaction, the one that also carries the update's claim: a plain step
    is one commit, and a process killed mid-update leaves the dialog as it was before the update (which
    Telegram then delivers again, unclaimed), never a state whose message was not sent."""

    def __init__(self, db: Database, cipher: FieldCipher, *, clock: Clock = system_clock) -> None:
        self._db = db
        self._cipher = cipher
        self._clock = clock

    async def close(self) -> None:
        """The database is shared with the rest of the bot and closed by its owner."""

    def _pending(self) -> _Buffer | None:
        # The update's own task only: a task it started shares the context, not the update's flow.
        buffer = _buffer.get()
        if buffer is None or buffer.storage is not self or buffer.task is not asyncio.current_task():
            return None
        return buffer

    @contextlib.asynccontextmanager
    async def buffered(self, key: StorageKey | None = None) -> AsyncIterator[None]:
        """``key``: the update's own FSM key, whose row aiogram has just read (``get_state``)."""
        buffer = _Buffer(self)
        prefetched = _prefetched.get()
        if prefetched is not None:
            _prefetched.set(None)
            storage, task, read_key, read = prefetched
            if storage is self and task is buffer.task and read_key == key:
                buffer.row(read_key).read = read
        token = _buffer.set(buffer)
        try:
            yield
        except DuplicateUpdate:
            raise
        except BaseException:
            # As unbuffered writes would have: what the update did before it failed stays.
            with contextlib.suppress(Exception):
                await self._flush(buffer)
            raise
        else:
            await self._flush(buffer)
        finally:
            _buffer.reset(token)

    async def _flush(self, buffer: _Buffer) -> None:
        rows = [row for row in buffer.rows.values() if row.state is not _KEEP or row.data is not _KEEP]
        if not rows:
            return
        async with self._db.transaction(serial=False) as conn:
            for row in rows:
                if row.state is not _KEEP and row.data is not _KEEP and (row.state is not None or row.data):
                    await self._write_both(conn, row.key, row.state, row.data)
                    continue
                if row.state is not _KEEP:
                    await self._write_state(conn, row.key, row.state)
                if row.data is not _KEEP:
                    await self._write_data(conn, row.key, row.data)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        buffer = self._pending()
        if buffer is not None:
            buffer.row(key).state = value
            return
        # Upserts of one key, written whole: they need no deployment-wide ordering (serial=False);
        # update_data reads before it writes, so it keeps the ordering.
        async with self._db.transaction(serial=False) as conn:
            await self._write_state(conn, key, value)

    async def _write_state(self, conn: Connection, key: StorageKey, value: str | None) -> None:
        if value is None and await self._drop_if_empty(conn, key, "data_enc"):
            return
        await conn.execute(
            f"INSERT INTO fsm_state ({_KEY_COLUMNS}, state, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            f" ON CONFLICT ({_KEY_COLUMNS})"
            " DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            (*_key_params(key), value, to_db(self._clock())),
        )

    async def _write_both(
        self, conn: Connection, key: StorageKey, value: str | None, data: Mapping[str, Any]
    ) -> None:
        await conn.execute(
            f"INSERT INTO fsm_state ({_KEY_COLUMNS}, state, data_enc, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            f" ON CONFLICT ({_KEY_COLUMNS}) DO UPDATE SET state = excluded.state,"
            " data_enc = excluded.data_enc, updated_at = excluded.updated_at",
            (*_key_params(key), value, self._encrypt(key, data), to_db(self._clock())),
        )

    async def _read_row(self, pending: _Pending) -> tuple[str | None, str | None]:
        if pending.read is None:
            async with self._db.read(snapshot=False) as conn:
                cursor = await conn.execute(
                    f"SELECT state, data_enc FROM fsm_state WHERE {_KEY_WHERE}", _key_params(pending.key)
                )
                row = await cursor.fetchone()
            pending.read = (None, None) if row is None else (row[0], row[1])
        return pending.read

    async def get_state(self, key: StorageKey) -> str | None:
        buffer = self._pending()
        if buffer is not None:
            pending = buffer.row(key)
            if pending.state is not _KEEP:
                return cast(str | None, pending.state)
            return (await self._read_row(pending))[0]
        async with self._db.read(snapshot=False) as conn:
            cursor = await conn.execute(
                f"SELECT state, data_enc FROM fsm_state WHERE {_KEY_WHERE}", _key_params(key)
            )
            row = await cursor.fetchone()
        read: tuple[str | None, str | None] = (None, None) if row is None else (row[0], row[1])
        _prefetched.set((self, asyncio.current_task(), key, read))
        return read[0]

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        if not isinstance(data, dict):
            raise DataNotDictLikeError(f"Data must be a dict or dict-like object, got {type(data).__name__}")
        buffer = self._pending()
        if buffer is not None:
            buffer.row(key).data = copy.deepcopy(data)
            return
        async with self._db.transaction(serial=False) as conn:
            await self._write_data(conn, key, data)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        buffer = self._pending()
        if buffer is not None:
            pending = buffer.row(key)
            if pending.data is not _KEEP:
                return cast(dict[str, Any], copy.deepcopy(pending.data))
            return self._decode_data(key, (await self._read_row(pending))[1])
        async with self._db.read(snapshot=False) as conn:
            return await self._read_data(conn, key)

    async def update_data(self, key: StorageKey, data: Mapping[str, Any]) -> dict[str, Any]:
        buffer = self._pending()
        if buffer is not None:
            # The update's own reads and writes of its key are ordered by the per-user event lock.
            current = await self.get_data(key)
            current.update(data)
            buffer.row(key).data = copy.deepcopy(current)
            return current
        async with self._db.transaction() as conn:
            current = await self._read_data(conn, key)
            current.update(data)
            await self._write_data(conn, key, current)
        return current.copy()

    async def _read_data(self, conn: Connection, key: StorageKey) -> dict[str, Any]:
        cursor = await conn.execute(f"SELECT data_enc FROM fsm_state WHERE {_KEY_WHERE}", _key_params(key))
        row = await cursor.fetchone()
        return self._decode_data(key, None if row is None else row[0])

    def _decode_data(self, key: StorageKey, data_enc: str | None) -> dict[str, Any]:
        if data_enc is None:
            return {}
        loaded = json.loads(self._cipher.decrypt_text(data_enc, context=_context(key)))
        if not isinstance(loaded, dict):
            raise DataNotDictLikeError("stored FSM data is not a dict")
        return loaded

    async def _write_data(self, conn: Connection, key: StorageKey, data: Mapping[str, Any]) -> None:
        if not data and await self._drop_if_empty(conn, key, "state"):
            return
        encrypted = self._encrypt(key, data)
        await conn.execute(
            f"INSERT INTO fsm_state ({_KEY_COLUMNS}, data_enc, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            f" ON CONFLICT ({_KEY_COLUMNS})"
            " DO UPDATE SET data_enc = excluded.data_enc, updated_at = excluded.updated_at",
            (*_key_params(key), encrypted, to_db(self._clock())),
        )

    def _encrypt(self, key: StorageKey, data: Mapping[str, Any]) -> str | None:
        if not data:
            return None
        return self._cipher.encrypt_text(json.dumps(data, ensure_ascii=False), context=_context(key))

    async def _drop_if_empty(self, conn: Connection, key: StorageKey, other: str) -> bool:
        """Emptying one column: delete the row if ``other`` is empty too; False if the row stays
        (or there was none, which an upsert of an empty value must not create either)."""
        cursor = await conn.execute(
            f"DELETE FROM fsm_state WHERE {_KEY_WHERE} AND {other} IS NULL", _key_params(key)
        )
        if cursor.rowcount:
            return True
        cursor = await conn.execute(f"SELECT 1 FROM fsm_state WHERE {_KEY_WHERE}", _key_params(key))
        return await cursor.fetchone() is None

    # -- maintenance and statistics --------------------------------------------------------------

    async def stale_states(self, older_than: datetime) -> dict[str | None, int]:
        """How many dialogs sit in each state untouched since ``older_than`` (abandoned dialogs)."""
        async with self._db.read() as conn:
            cursor = await conn.execute(
                "SELECT state, count(*) FROM fsm_state WHERE updated_at < ? GROUP BY state",
                (to_db(older_than),),
            )
            rows = await cursor.fetchall()
        return {row[0]: int(row[1]) for row in rows}

    async def delete_stale(self, older_than: datetime) -> int:
        """Forget dialogs untouched since ``older_than`` (their data is personal); returns the count."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute("DELETE FROM fsm_state WHERE updated_at < ?", (to_db(older_than),))
            return int(cursor.rowcount)
