"""Replay guard for submitted selfie videos: a video seen once is refused the next time.

The content hash is itself hashed with the blind index key, so the table cannot be used to test
whether a known video was ever submitted. Perceptual fingerprints (which survive re-encoding) are kept
encrypted; comparing them is the face engine's business (`same_recording`), not storage's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from bot.domain.clock import Clock, system_clock
from bot.storage.crypto import FieldCipher
from bot.storage.sql import Database
from bot.storage.timeutil import to_db

__all__ = ["MediaHashRepo"]

_KIND = "media_hash"
_FINGERPRINT = "video_fingerprints.fingerprint"


class MediaHashRepo:
    def __init__(self, db: Database, cipher: FieldCipher, clock: Clock = system_clock) -> None:
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
                "INSERT INTO media_hashes (hash_index, first_seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (self._cipher.blind_index(_KIND, content_hash), to_db(self._clock())),
            )
            return cursor.rowcount == 1

    async def fingerprints_since(self, since: datetime) -> list[tuple[int, ...]]:
        """Fingerprints of the videos submitted since `since` (a linear scan: the window is bounded by
        the retention period, and comparing takes microseconds each)."""
        async with self._db.read() as conn:
            cursor = await conn.execute(
                "SELECT fingerprint_enc FROM video_fingerprints WHERE first_seen_at >= ?", (to_db(since),)
            )
            rows = await cursor.fetchall()
        return [
            tuple(int(x) for x in json.loads(self._cipher.decrypt_text(row[0], context=_FINGERPRINT)))
            for row in rows
        ]

    async def remember_fingerprint(self, fingerprint: Sequence[int]) -> None:
        if not fingerprint:
            return
        # As strings: 64-bit hashes need not survive every JSON reader as numbers.
        sealed = self._cipher.encrypt_text(json.dumps([str(x) for x in fingerprint]), context=_FINGERPRINT)
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO video_fingerprints (fingerprint_enc, first_seen_at) VALUES (?, ?)",
                (sealed, to_db(self._clock())),
            )

    async def prune_fingerprints(self, older_than: datetime) -> int:
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM video_fingerprints WHERE first_seen_at < ?", (to_db(older_than),)
            )
            return cursor.rowcount
