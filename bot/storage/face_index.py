"""The live faces of every collected person, for "is this face already linked to another number?".

Each collection (and each 补录 of a live photo) compares the new face with every stored one. The
encodings are biometric data, encrypted at rest one by one; decrypting them all for every comparison
costs O(n) AES operations, and did it on the event loop. This index, one per process (built with the
services, shared by every update), keeps the decrypted encodings in memory as a matrix and,
at each query, asks the database only which rows are current (ids: no decryption), then decrypts just
the rows it has not seen. Decryption and the distance computation run in a worker thread, so the bot
keeps answering other users meanwhile. Several replicas each keep their own copy; each query
re-reads the current ids, so a face saved by another replica is found at once.

Memory: 128 float64 = 1 KiB a person (about 100 MB per 100,000 people).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bot.domain.models import FaceMatch
from bot.storage.crypto import FieldCipher
from bot.storage.sql import Database

__all__ = ["FaceIndex"]

_CONTEXT = "live_photos.encoding"
_CHUNK = 500  # ids per IN (...) list when fetching what is new


@dataclass
class _Snapshot:
    row_ids: np.ndarray  # live_photos.id, ascending
    person_ids: np.ndarray
    matrix: np.ndarray  # one encoding a row (float64, as the engine compares them)


@dataclass
class FaceIndex:
    cipher: FieldCipher
    _vectors: dict[int, tuple[int, np.ndarray]] = field(default_factory=dict)  # row id: (person, vector)
    _snapshot: _Snapshot | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def nearest(
        self,
        db: Database,
        encoding: Sequence[float],
        threshold: float,
        *,
        exclude_person_id: int | None = None,
    ) -> FaceMatch | None:
        """The current live face closest to ``encoding`` (Euclidean) if within ``threshold``."""
        probe = np.asarray(encoding, dtype=np.float64)
        snapshot = await self._refresh(db, probe.shape[0])
        return await asyncio.to_thread(_nearest, snapshot, probe, threshold, exclude_person_id)

    async def _refresh(self, db: Database, dimensions: int) -> _Snapshot:
        # One refresh at a time: two collections at once must not both decrypt the same new rows.
        async with self._lock:
            async with db.read() as conn:
                cursor = await conn.execute(
                    "SELECT id, person_id FROM live_photos WHERE replaced_at IS NULL ORDER BY id"
                )
                current = {int(row[0]): int(row[1]) for row in await cursor.fetchall()}
                missing = [row_id for row_id in current if row_id not in self._vectors]
                blobs: list[tuple[int, bytes]] = []
                for start in range(0, len(missing), _CHUNK):
                    chunk = missing[start : start + _CHUNK]
                    marks = ", ".join("?" for _ in chunk)
                    cursor = await conn.execute(
                        f"SELECT id, encoding_enc FROM live_photos WHERE id IN ({marks})", chunk
                    )
                    blobs.extend((int(row[0]), bytes(row[1])) for row in await cursor.fetchall())
            stale = self._vectors.keys() - current.keys()
            if not blobs and not stale and self._snapshot is not None:
                return self._snapshot
            decrypted = await asyncio.to_thread(self._decrypt, blobs)
            for row_id in stale:
                del self._vectors[row_id]
            for row_id, vector in decrypted.items():
                self._vectors[row_id] = (current[row_id], vector)
            self._snapshot = await asyncio.to_thread(self._stack, dimensions)
            return self._snapshot

    def _decrypt(self, blobs: list[tuple[int, bytes]]) -> dict[int, np.ndarray]:
        out: dict[int, np.ndarray] = {}
        for row_id, blob in blobs:
            plain = self.cipher.decrypt_bytes(blob, context=_CONTEXT)
            if len(plain) % 8:
                raise ValueError("corrupt face encoding")
            out[row_id] = np.frombuffer(plain, dtype="<f8").astype(np.float64)
        return out

    def _stack(self, dimensions: int) -> _Snapshot:
        items = sorted((row_id, person, vector) for row_id, (person, vector) in self._vectors.items())
        kept = [item for item in items if item[2].shape[0] == dimensions]
        if not kept:
            empty = np.zeros(0, dtype=np.int64)
            return _Snapshot(empty, empty, np.zeros((0, dimensions), dtype=np.float64))
        return _Snapshot(
            np.asarray([i[0] for i in kept], dtype=np.int64),
            np.asarray([i[1] for i in kept], dtype=np.int64),
            np.stack([i[2] for i in kept]),
        )


def _nearest(
    snapshot: _Snapshot, probe: np.ndarray, threshold: float, exclude_person_id: int | None
) -> FaceMatch | None:
    if snapshot.matrix.shape[0] == 0 or snapshot.matrix.shape[1] != probe.shape[0]:
        return None
    distances = np.linalg.norm(snapshot.matrix - probe, axis=1)
    if exclude_person_id is not None:
        distances[snapshot.person_ids == exclude_person_id] = np.inf
    best = int(np.argmin(distances))
    distance = float(distances[best])
    return FaceMatch(int(snapshot.person_ids[best]), distance) if distance <= threshold else None
