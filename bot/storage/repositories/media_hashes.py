"""Replay guard for submitted selfie videos: a video seen once is refused the next time.

The content hash is itself hashed with the blind index key, so the table cannot be used to test
whether a known video was ever submitted.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.storage.crypto import FieldCipher
from bot.storage.db import Database
from bot.storage.timeutil import to_db, utcnow

__all__ = ["MediaHashRepo"]

_KIND = "media_hash"


class MediaHashRepo:
    def __init__(self, db: Database, cipher: FieldCipher, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._cipher = cipher
        self._clock = clock

    async def seen_before(self, content_hash: str) -> bool:
        async with self._db.read() as conn:
            cursor = await conn.execute(
                "SELECT 1 FROM media_hashes WHERE hash_index = ?",
                (self._cipher.blind_index(_KIND, content_hash),),
            )
            return await cursor.fetchone() is not None

    async def remember(self, content_hash: str) -> bool:
        """Record the hash; True if it was new. Check-and-record in one step, so two concurrent
        submissions of the same video cannot both pass."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT OR IGNORE INTO media_hashes (hash_index, first_seen_at) VALUES (?, ?)",
                (self._cipher.blind_index(_KIND, content_hash), to_db(self._clock())),
            )
            return cursor.rowcount == 1
