"""The "face already linked to another number?" check at register sizes: the per-process FaceIndex
against the full scan it replaced (every encoding decrypted on the event loop at every call).

    .venv/bin/python bench/bench_face_index.py [--people 10000,100000] [--database-url postgresql://...]

For each size: stored faces are written straight into a fresh database (SQLite file, or PostgreSQL),
then one probe is compared. Printed per row: the first query (the index decrypts everything once), the
next queries (the index decrypts nothing), the old full scan, and the longest stall of the event
loop seen by a 1-ms ticker during each (how long every other user of the bot waits).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.storage.crypto import FieldCipher
from bot.storage.face_index import FaceIndex
from bot.storage.factory import open_database
from bot.storage.sql import Database

CONTEXT = "live_photos.encoding"


def vector(rng: random.Random) -> tuple[float, ...]:
    return tuple(rng.uniform(-0.3, 0.3) for _ in range(128))


async def fill(db: Database, cipher: FieldCipher, people: int) -> tuple[float, ...]:
    rng = random.Random(2029)
    target: tuple[float, ...] = ()
    batch = 5000
    for start in range(1, people + 1, batch):
        persons, photos = [], []
        for pid in range(start, min(start + batch, people + 1)):
            v = vector(rng)
            if pid == people // 2:
                target = v
            blob = cipher.encrypt_bytes(struct.pack("<128d", *v), context=CONTEXT)
            persons.append((pid, "resident_id", f"ix{pid}", "x", "x"))
            photos.append((pid, f"live-{pid}", blob, "m", "x"))
        async with db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO persons (id, doc_type, doc_index, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?)",
                persons,
            )
            await conn.executemany(
                "INSERT INTO live_photos (person_id, media_id, encoding_enc, model, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                photos,
            )
    return target


async def old_full_scan(db: Database, cipher: FieldCipher, probe: tuple[float, ...], threshold: float) -> Any:
    """The code FaceIndex replaced (bot/storage/repositories/persons.py before it), kept here to compare."""
    async with db.read() as conn:
        cursor = await conn.execute(
            "SELECT person_id, encoding_enc FROM live_photos WHERE replaced_at IS NULL"
        )
        rows = await cursor.fetchall()
    ids, vectors = [], []
    for row in rows:
        plain = cipher.decrypt_bytes(bytes(row[1]), context=CONTEXT)
        ids.append(int(row[0]))
        vectors.append(struct.unpack(f"<{len(plain) // 8}d", plain))
    distances = np.linalg.norm(np.asarray(vectors) - np.asarray(probe), axis=1)
    best = int(np.argmin(distances))
    return ids[best] if distances[best] <= threshold else None


async def timed(call: Callable[[], Awaitable[Any]]) -> tuple[float, float, Any]:
    """(seconds, longest event-loop stall in seconds, result)."""
    gaps: list[float] = [0.0]

    async def ticker() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last - 0.001)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    start = time.perf_counter()
    result = await call()
    elapsed = time.perf_counter() - start
    # Let the ticker wake once more: a stall at the very end of the call is only seen on its next tick.
    await asyncio.sleep(0.01)
    task.cancel()
    return elapsed, max(gaps), result


async def row(people: int, url: str | None) -> dict[str, Any]:
    cipher = FieldCipher.from_masters({"k": os.urandom(32)}, current="k", index_master="k")
    tmp = Path(tempfile.mkdtemp())
    if url:
        import asyncpg

        admin = await asyncpg.connect(url)
        name = f"bench_faces_{people}"
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {name}")
        await admin.close()
        db_url: str | None = url.rsplit("/", 1)[0] + f"/{name}"
    else:
        db_url = None
    db = await open_database(tmp / "faces.sqlite3", url=db_url)
    try:
        probe = await fill(db, cipher, people)
        index = FaceIndex(cipher)
        first = await timed(lambda: index.nearest(db, probe, 0.01))
        assert first[2] is not None and first[2].person_id == people // 2, first
        nexts = [await timed(lambda: index.nearest(db, probe, 0.01)) for _ in range(5)]
        olds = [await timed(lambda: old_full_scan(db, cipher, probe, 0.01)) for _ in range(3)]
        assert all(o[2] == people // 2 for o in olds)
    finally:
        await db.close()
    return {
        "people": people,
        "backend": "PostgreSQL" if url else "SQLite",
        "first": first[0],
        "first_stall": first[1],
        "next": statistics.median(n[0] for n in nexts),
        "next_stall": max(n[1] for n in nexts),
        "old": statistics.median(o[0] for o in olds),
        "old_stall": max(o[1] for o in olds),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", default="10000,100000")
    parser.add_argument("--database-url", default=None, help="also measure on PostgreSQL (a superuser URL)")
    args = parser.parse_args()
    sizes = [int(x) for x in args.people.split(",")]
    load = os.getloadavg()[0]
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"load average (1 min) {load:.2f} at start")
    print(
        "| people | records | index: first query s | stall ms | index: next queries s (median of 5)"
        " | stall ms | old full scan s (median of 3) | stall ms |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for url in [None, *([args.database_url] if args.database_url else [])]:
        for people in sizes:
            r = await row(people, url)
            print(
                f"| {r['people']:,} | {r['backend']} | {r['first']:.2f} | {1000 * r['first_stall']:.0f} "
                f"| {r['next']:.3f} | {1000 * r['next_stall']:.0f} "
                f"| {r['old']:.2f} | {1000 * r['old_stall']:.0f} |"
            )
    print(f"load average (1 min) at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
