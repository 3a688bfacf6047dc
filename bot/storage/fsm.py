"""aiogram FSM storage in the records database (SQLite or PostgreSQL), so a dialog survives a restart.

The data dict is stored as JSON encrypted with :class:`FieldCipher` (it carries recognised ID fields
mid-dialog), so handlers must keep FSM data JSON-compatible (str, numbers, bools, None, lists, dicts).
The ciphertext is bound to its row's key: copied to another user's row it does not decrypt.
A row whose state and data are both empty is deleted.

Per-user ordering of updates is the job of aiogram's event isolation (``SimpleEventIsolation``);
``update_data`` is nevertheless atomic here (read and write in one transaction).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey

from bot.domain.clock import Clock, system_clock
from bot.storage.crypto import FieldCipher
from bot.storage.sql import Connection, Database
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


class DatabaseStorage(BaseStorage):
    def __init__(
        self, db: Database, cipher: FieldCipher, *, clock: Clock = system_clock
    ) -> None:
        self._db = db
        self._cipher = cipher
        self._clock = clock

    async def close(self) -> None:
        """The database is shared with the rest of the bot and closed by its owner."""

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        # Upserts of one key, written whole: they need no deployment-wide ordering (serial=False);
        # update_data reads before it writes, so it keeps the ordering.
        async with self._db.transaction(serial=False) as conn:
            await conn.execute(
                f"INSERT INTO fsm_state ({_KEY_COLUMNS}, state, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                f" ON CONFLICT ({_KEY_COLUMNS})"
                " DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                (*_key_params(key), value, to_db(self._clock())),
            )
            await self._drop_if_empty(conn, key)

    async def get_state(self, key: StorageKey) -> str | None:
        async with self._db.read(snapshot=False) as conn:
            cursor = await conn.execute(f"SELECT state FROM fsm_state WHERE {_KEY_WHERE}", _key_params(key))
            row = await cursor.fetchone()
        return None if row is None else row[0]

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        if not isinstance(data, dict):
            raise DataNotDictLikeError(f"Data must be a dict or dict-like object, got {type(data).__name__}")
        async with self._db.transaction(serial=False) as conn:
            await self._write_data(conn, key, data)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        async with self._db.read(snapshot=False) as conn:
            return await self._read_data(conn, key)

    async def update_data(self, key: StorageKey, data: Mapping[str, Any]) -> dict[str, Any]:
        async with self._db.transaction() as conn:
            current = await self._read_data(conn, key)
            current.update(data)
            await self._write_data(conn, key, current)
        return current.copy()

    async def _read_data(self, conn: Connection, key: StorageKey) -> dict[str, Any]:
        cursor = await conn.execute(f"SELECT data_enc FROM fsm_state WHERE {_KEY_WHERE}", _key_params(key))
        row = await cursor.fetchone()
        if row is None or row[0] is None:
            return {}
        loaded = json.loads(self._cipher.decrypt_text(row[0], context=_context(key)))
        if not isinstance(loaded, dict):
            raise DataNotDictLikeError("stored FSM data is not a dict")
        return loaded

    async def _write_data(self, conn: Connection, key: StorageKey, data: Mapping[str, Any]) -> None:
        encrypted = None
        if data:
            encrypted = self._cipher.encrypt_text(json.dumps(data, ensure_ascii=False), context=_context(key))
        await conn.execute(
            f"INSERT INTO fsm_state ({_KEY_COLUMNS}, data_enc, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            f" ON CONFLICT ({_KEY_COLUMNS})"
            " DO UPDATE SET data_enc = excluded.data_enc, updated_at = excluded.updated_at",
            (*_key_params(key), encrypted, to_db(self._clock())),
        )
        await self._drop_if_empty(conn, key)

    async def _drop_if_empty(self, conn: Connection, key: StorageKey) -> None:
        await conn.execute(
            f"DELETE FROM fsm_state WHERE {_KEY_WHERE} AND state IS NULL AND data_enc IS NULL",
            _key_params(key),
        )

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
