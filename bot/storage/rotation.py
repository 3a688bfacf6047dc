"""Re-encrypt every encrypted column under the cipher's current key (for the key-rotation command).

Run it after adding a new current key (old keys stay configured until it has finished; media files
are rotated with ``MediaStore.rotate``). It works in small batches, one short write transaction
each, so the bot keeps serving meanwhile, and updates a value only if it is still the one read
(compare-and-set), so a concurrent change is never overwritten with an older value. Running it again
is harmless: values already under the current key are skipped.

``ENCRYPTED_COLUMNS`` must name every ``*_enc`` column; a test compares it with the schema.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage.crypto import FieldCipher
from bot.storage.fsm import row_context
from bot.storage.sql import Database

__all__ = ["ENCRYPTED_COLUMNS", "EncryptedColumn", "rotate_database"]


@dataclass(frozen=True)
class EncryptedColumn:
    table: str
    column: str
    binary: bool = False
    key: str = "id"  # the row's key, to page by: an integer id, or a text primary key ("")
    first_key: int | str = 0

    @property
    def context(self) -> str:
        return f"{self.table}.{self.column.removesuffix('_enc')}"


ENCRYPTED_COLUMNS: tuple[EncryptedColumn, ...] = (
    EncryptedColumn("persons", "residence_enc"),
    *(
        EncryptedColumn("documents", f"{name}_enc")
        for name in ("number", "name", "sex", "ethnicity", "birth_date", "address", "authority")
    ),
    EncryptedColumn("phones", "number_enc"),
    EncryptedColumn("live_photos", "encoding_enc", binary=True),
    EncryptedColumn("review_cases", "payload_enc"),
    EncryptedColumn("identity_registry", "name_enc"),
    EncryptedColumn("identity_registry", "birth_date_enc"),
    EncryptedColumn("identity_registry", "photo_enc", binary=True),
    *(EncryptedColumn("enterprise_people", f"{name}_enc") for name in ("number", "name", "phone")),
    EncryptedColumn("register_loads", "rows_enc"),
    EncryptedColumn("video_fingerprints", "fingerprint_enc"),
    EncryptedColumn("face_pauses", "encoding_enc", key="key", first_key=""),
)
_FSM_KEY = ("bot_id", "chat_id", "user_id", "thread_id", "business_connection_id", "destiny")


async def rotate_database(db: Database, cipher: FieldCipher, *, batch: int = 200) -> dict[str, int]:
    """Rotate every encrypted value; returns how many were rewritten per ``table.column``."""
    counts: dict[str, int] = {}
    for column in ENCRYPTED_COLUMNS:
        counts[f"{column.table}.{column.column}"] = await _rotate_column(db, cipher, column, batch)
    counts["fsm_state.data_enc"] = await _rotate_fsm(db, cipher, batch)
    return counts


async def _rotate_column(db: Database, cipher: FieldCipher, column: EncryptedColumn, batch: int) -> int:
    rewritten = 0
    last_id: int | str = column.first_key
    while True:
        async with db.read() as conn:
            cursor = await conn.execute(
                f"SELECT {column.key}, {column.column} FROM {column.table}"
                f" WHERE {column.key} > ? AND {column.column} IS NOT NULL ORDER BY {column.key} LIMIT ?",
                (last_id, batch),
            )
            rows = [(r[0], r[1]) for r in await cursor.fetchall()]
        if not rows:
            return rewritten
        last_id = rows[-1][0]
        stale = [(row_id, value) for row_id, value in rows if cipher.needs_rotation(value)]
        if not stale:
            continue
        async with db.transaction() as conn:
            for row_id, value in stale:
                if column.binary:
                    new_value: str | bytes = cipher.rotate_bytes(value, context=column.context)
                else:
                    new_value = cipher.rotate_text(value, context=column.context)
                cursor = await conn.execute(
                    f"UPDATE {column.table} SET {column.column} = ?"
                    f" WHERE {column.key} = ? AND {column.column} = ?",
                    (new_value, row_id, value),
                )
                rewritten += cursor.rowcount


async def _rotate_fsm(db: Database, cipher: FieldCipher, batch: int) -> int:
    # WITHOUT ROWID: page by the primary key rather than an id.
    key_list = ", ".join(_FSM_KEY)
    where_key = " AND ".join(f"{name} = ?" for name in _FSM_KEY)
    rewritten = 0
    last: tuple[object, ...] | None = None
    while True:
        async with db.read() as conn:
            if last is None:
                cursor = await conn.execute(
                    f"SELECT {key_list}, data_enc FROM fsm_state ORDER BY {key_list} LIMIT ?", (batch,)
                )
            else:
                placeholders = ", ".join("?" for _ in _FSM_KEY)
                cursor = await conn.execute(
                    f"SELECT {key_list}, data_enc FROM fsm_state WHERE ({key_list}) > ({placeholders})"
                    f" ORDER BY {key_list} LIMIT ?",
                    (*last, batch),
                )
            rows = [tuple(r) for r in await cursor.fetchall()]
        if not rows:
            return rewritten
        last = rows[-1][: len(_FSM_KEY)]
        stale = [r for r in rows if r[-1] is not None and cipher.needs_rotation(r[-1])]
        if not stale:
            continue
        async with db.transaction() as conn:
            for row in stale:
                key, value = row[: len(_FSM_KEY)], row[-1]
                new_value = cipher.rotate_text(value, context=row_context(key))
                cursor = await conn.execute(
                    f"UPDATE fsm_state SET data_enc = ? WHERE {where_key} AND data_enc = ?",
                    (new_value, *key, value),
                )
                rewritten += cursor.rowcount
