"""Storage of SMS verification codes; the rules live in ``bot.services.otp``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.storage.sql import Database, new_id
from bot.storage.timeutil import from_db, to_db

__all__ = ["OtpRecord", "OtpRepo"]


@dataclass(frozen=True)
class OtpRecord:
    id: int
    user_id: int
    phone_index: str
    code_hash: str
    sent_at: datetime
    expires_at: datetime
    attempts: int
    consumed_at: datetime | None


_COLUMNS = "id, user_id, phone_index, code_hash, sent_at, expires_at, attempts, consumed_at"


class OtpRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def sends_since(
        self, since: datetime, *, user_id: int | None = None, phone_index: str | None = None
    ) -> list[datetime]:
        """Send times after ``since`` (exclusive) for the user or the phone, oldest first."""
        if (user_id is None) == (phone_index is None):
            raise ValueError("give exactly one of user_id and phone_index")
        column, value = ("user_id", user_id) if user_id is not None else ("phone_index", phone_index)
        async with self._db.read() as conn:
            cursor = await conn.execute(
                f"SELECT sent_at FROM otp_codes WHERE {column} = ? AND sent_at > ? ORDER BY sent_at",
                (value, to_db(since)),
            )
            return [from_db(row[0]) for row in await cursor.fetchall()]

    async def insert(
        self, user_id: int, phone_index: str, code_hash: str, sent_at: datetime, expires_at: datetime
    ) -> int:
        """A new code; earlier live codes of the same user and phone stop being valid."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE otp_codes SET superseded = 1"
                " WHERE user_id = ? AND phone_index = ? AND consumed_at IS NULL AND superseded = 0",
                (user_id, phone_index),
            )
            cursor = await conn.execute(
                "INSERT INTO otp_codes (user_id, phone_index, code_hash, sent_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?) RETURNING id",
                (user_id, phone_index, code_hash, to_db(sent_at), to_db(expires_at)),
            )
            return new_id(await cursor.fetchone())

    async def delete(self, code_id: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM otp_codes WHERE id = ?", (code_id,))

    async def latest(self, user_id: int, phone_index: str) -> OtpRecord | None:
        """The live (not superseded) code of this user for this phone, consumed or not."""
        async with self._db.read() as conn:
            row = await (
                await conn.execute(
                    f"SELECT {_COLUMNS} FROM otp_codes"
                    " WHERE user_id = ? AND phone_index = ? AND superseded = 0 ORDER BY id DESC LIMIT 1",
                    (user_id, phone_index),
                )
            ).fetchone()
        if row is None:
            return None
        return OtpRecord(
            id=int(row[0]),
            user_id=int(row[1]),
            phone_index=row[2],
            code_hash=row[3],
            sent_at=from_db(row[4]),
            expires_at=from_db(row[5]),
            attempts=int(row[6]),
            consumed_at=None if row[7] is None else from_db(row[7]),
        )

    async def add_attempt(self, code_id: int) -> int:
        async with self._db.transaction() as conn:
            await conn.execute("UPDATE otp_codes SET attempts = attempts + 1 WHERE id = ?", (code_id,))
            row = await (
                await conn.execute("SELECT attempts FROM otp_codes WHERE id = ?", (code_id,))
            ).fetchone()
            return 0 if row is None else int(row[0])

    async def consume(self, code_id: int, at: datetime) -> None:
        async with self._db.transaction() as conn:
            await conn.execute("UPDATE otp_codes SET consumed_at = ? WHERE id = ?", (to_db(at), code_id))

    async def prune(self, older_than: datetime) -> int:
        """Drop codes sent before ``older_than`` (keep at least the daily-limit window)."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute("DELETE FROM otp_codes WHERE sent_at < ?", (to_db(older_than),))
            return int(cursor.rowcount)
