"""Processed Telegram updates, so an update delivered twice is handled once."""

from __future__ import annotations

from datetime import datetime

from bot.domain.clock import Clock, system_clock
from bot.storage.sql import Connection, Database, UpdateClaim
from bot.storage.timeutil import to_db

__all__ = ["UpdateRepo"]


class UpdateRepo:
    def __init__(self, db: Database, clock: Clock = system_clock) -> None:
        self._db = db
        self._clock = clock

    async def claim(self, bot_id: int, update_id: int) -> bool:
        """True the first time an update is claimed, False for a redelivery."""
        # One atomic insert-or-nothing: needs no deployment-wide ordering (serial=False).
        async with self._db.transaction(serial=False) as conn:
            return await self._insert(conn, bot_id, update_id)

    async def _insert(self, conn: Connection, bot_id: int, update_id: int) -> bool:
        cursor = await conn.execute(
            "INSERT INTO processed_updates (bot_id, update_id, claimed_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (bot_id, update_id, to_db(self._clock())),
        )
        return cursor.rowcount == 1

    async def claimed(self, bot_id: int, update_id: int) -> bool:
        """Whether an update was claimed already (a read: nothing is written)."""
        async with self._db.read(snapshot=False) as conn:
            cursor = await conn.execute(
                "SELECT 1 FROM processed_updates WHERE bot_id = ? AND update_id = ?", (bot_id, update_id)
            )
            return await cursor.fetchone() is not None

    def deferred(self, bot_id: int, update_id: int) -> UpdateClaim:
        """The claim to write in the update's first write transaction (:class:`UpdateClaim`)."""

        async def write(conn: Connection) -> bool:
            return await self._insert(conn, bot_id, update_id)

        return UpdateClaim(self._db, write)

    async def release(self, bot_id: int, update_id: int) -> None:
        """Give a claim back when handling failed before changing anything, so a redelivery is handled."""
        async with self._db.transaction(serial=False) as conn:
            await conn.execute(
                "DELETE FROM processed_updates WHERE bot_id = ? AND update_id = ?", (bot_id, update_id)
            )

    async def prune(self, older_than: datetime) -> int:
        """Forget claims older than Telegram's redelivery window; returns how many."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM processed_updates WHERE claimed_at < ?", (to_db(older_than),)
            )
            return int(cursor.rowcount)
