"""The audit log: who did what to which record, before and after, personal data masked."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.domain.clock import Clock, system_clock
from bot.domain.masking import mask_record
from bot.domain.models import AuditEntry
from bot.storage.sql import Database, new_id
from bot.storage.timeutil import from_db, to_db

__all__ = ["AuditRepo"]

_NO_LIMIT = 2**62  # "no upper id": one SQL text for both backends
_COLUMNS = "id, at, actor_user_id, action, subject_type, subject_id, before_json, after_json"


def _dump(record: Mapping[str, Any] | None) -> str | None:
    if record is None:
        return None
    # mask_record again even though callers pass masked views: a forgotten field must not leak.
    return json.dumps(mask_record(record), ensure_ascii=False, sort_keys=True, default=str)


# Staff reading a record (/person, a case's person button): shown apart from what changed it.
VIEW_PREFIX = "staff.lookup."


def _views_clause(views: bool | None) -> tuple[str, tuple[str, ...]]:
    if views is None:
        return "", ()
    return (" AND action LIKE ?" if views else " AND action NOT LIKE ?"), (VIEW_PREFIX + "%",)


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row[0],
        at=from_db(row[1]),
        actor_user_id=row[2],
        action=row[3],
        subject_type=row[4],
        subject_id=row[5],
        before=None if row[6] is None else json.loads(row[6]),
        after=None if row[7] is None else json.loads(row[7]),
    )


class AuditRepo:
    def __init__(self, db: Database, clock: Clock = system_clock) -> None:
        self._db = db
        self._clock = clock

    async def write(
        self,
        actor_user_id: int | None,
        action: str,
        subject_type: str,
        subject_id: str | int | None,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
    ) -> int:
        """Append one row; joins the caller's transaction when there is one. ``actor_user_id`` None
        means the system itself."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO audit_log"
                " (at, actor_user_id, action, subject_type, subject_id, before_json, after_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    to_db(self._clock()),
                    actor_user_id,
                    action,
                    subject_type,
                    None if subject_id is None else str(subject_id),
                    _dump(before),
                    _dump(after),
                ),
            )
            return new_id(await cursor.fetchone())

    async def get(self, entry_id: int) -> AuditEntry | None:
        async with self._db.read() as conn:
            row = await (
                await conn.execute(f"SELECT {_COLUMNS} FROM audit_log WHERE id = ?", (entry_id,))
            ).fetchone()
        return None if row is None else _entry(row)

    async def for_subject(
        self,
        subject_type: str,
        subject_id: str | int,
        *,
        limit: int = 100,
        offset: int = 0,
        up_to_id: int | None = None,
        views: bool | None = None,
    ) -> list[AuditEntry]:
        """The newest entries about one record first; ``up_to_id`` pins a paged trail to what it was
        at the first page (newer rows would shift every later page). ``views`` True: only staff
        look-ups of the record (``VIEW_PREFIX``); False: everything but them; None: all."""
        clause, args = _views_clause(views)
        async with self._db.read() as conn:
            cursor = await conn.execute(
                f"SELECT {_COLUMNS} FROM audit_log WHERE subject_type = ? AND subject_id = ? AND id <= ?"
                f"{clause} ORDER BY id DESC LIMIT ? OFFSET ?",
                (
                    subject_type,
                    str(subject_id),
                    _NO_LIMIT if up_to_id is None else up_to_id,
                    *args,
                    limit,
                    offset,
                ),
            )
            return [_entry(row) for row in await cursor.fetchall()]

    async def trail_extent(
        self, subject_type: str, subject_id: str | int, *, views: bool | None = None
    ) -> tuple[int, int]:
        """(number of entries, newest id) about one record; (0, 0) when there are none."""
        clause, args = _views_clause(views)
        async with self._db.read() as conn:
            cursor = await conn.execute(
                "SELECT COUNT(*), MAX(id) FROM audit_log WHERE subject_type = ? AND subject_id = ?" + clause,
                (subject_type, str(subject_id), *args),
            )
            row = await cursor.fetchone()
        return (int(row[0]), int(row[1] or 0)) if row else (0, 0)

    async def count_for_subject(
        self, subject_type: str, subject_id: str | int, up_to_id: int, *, views: bool | None = None
    ) -> int:
        clause, args = _views_clause(views)
        async with self._db.read() as conn:
            cursor = await conn.execute(
                "SELECT COUNT(*) FROM audit_log WHERE subject_type = ? AND subject_id = ? AND id <= ?"
                + clause,
                (subject_type, str(subject_id), up_to_id, *args),
            )
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def between(self, start: datetime, end: datetime) -> list[AuditEntry]:
        """Entries with ``start <= at < end``, oldest first (for the CSV export)."""
        async with self._db.read() as conn:
            cursor = await conn.execute(
                f"SELECT {_COLUMNS} FROM audit_log WHERE at >= ? AND at < ? ORDER BY id",
                (to_db(start), to_db(end)),
            )
            return [_entry(row) for row in await cursor.fetchall()]
