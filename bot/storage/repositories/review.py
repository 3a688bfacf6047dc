"""The staff review queue: verifications the engines could not decide alone."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.domain.clock import Clock, system_clock
from bot.domain.models import ReviewCase, ReviewKind, ReviewStatus
from bot.storage.crypto import FieldCipher
from bot.storage.repositories.audit import AuditRepo
from bot.storage.repositories.decisions import OpenRow
from bot.storage.sql import Database, new_id
from bot.storage.timeutil import from_db, to_db

__all__ = ["ReviewRepo"]

_COLUMNS = (
    "id, kind, status, user_id, person_id, reasons_json, media_ids_json, payload_enc, created_at,"
    " decided_at, decided_by, decision_reason"
)
_PAYLOAD = "review_cases.payload"
_CASES = OpenRow(
    "review_cases", _COLUMNS, "decision_reason", "review.decide", "review_case", audit_note_key="reason"
)


class ReviewRepo:
    def __init__(
        self, db: Database, cipher: FieldCipher, audit: AuditRepo, clock: Clock = system_clock
    ) -> None:
        self._db = db
        self._cipher = cipher
        self._audit = audit
        self._clock = clock

    def _case(self, row: Any) -> ReviewCase:
        payload = {} if row[7] is None else json.loads(self._cipher.decrypt_text(row[7], context=_PAYLOAD))
        return ReviewCase(
            id=int(row[0]),
            kind=ReviewKind(row[1]),
            status=ReviewStatus(row[2]),
            user_id=int(row[3]),
            person_id=None if row[4] is None else int(row[4]),
            reasons=tuple(json.loads(row[5])),
            media_ids=tuple(json.loads(row[6])),
            payload=payload,
            created_at=from_db(row[8]),
            decided_at=None if row[9] is None else from_db(row[9]),
            decided_by=None if row[10] is None else int(row[10]),
            decision_reason=row[11],
        )

    async def open_case(
        self,
        kind: ReviewKind,
        user_id: int,
        *,
        reasons: Sequence[str],
        media_ids: Sequence[str],
        payload: Mapping[str, Any],
        person_id: int | None = None,
    ) -> ReviewCase:
        """``payload`` (JSON-compatible: the read fields, the encoding…) is stored encrypted so an
        approval can finish the record without asking the taxpayer again."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO review_cases"
                " (kind, user_id, person_id, reasons_json, media_ids_json, payload_enc, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    str(kind),
                    user_id,
                    person_id,
                    json.dumps(list(reasons)),
                    json.dumps(list(media_ids)),
                    self._cipher.encrypt_text(json.dumps(payload, ensure_ascii=False), context=_PAYLOAD),
                    to_db(self._clock()),
                ),
            )
            case_id = new_id(await cursor.fetchone())
            await self._audit.write(
                user_id,
                "review.open",
                "review_case",
                case_id,
                None,
                {"kind": str(kind), "reasons": list(reasons)},
            )
            row = await (
                await conn.execute(f"SELECT {_COLUMNS} FROM review_cases WHERE id = ?", (case_id,))
            ).fetchone()
        return self._case(row)

    async def get(self, case_id: int) -> ReviewCase | None:
        async with self._db.read() as conn:
            row = await (
                await conn.execute(f"SELECT {_COLUMNS} FROM review_cases WHERE id = ?", (case_id,))
            ).fetchone()
        return None if row is None else self._case(row)

    async def next_open(self, *, after_id: int = 0) -> ReviewCase | None:
        """The oldest open case (after ``after_id``, to skip one a reviewer passed over)."""
        async with self._db.read() as conn:
            row = await (
                await conn.execute(
                    f"SELECT {_COLUMNS} FROM review_cases"
                    " WHERE status = 'open' AND id > ? ORDER BY id LIMIT 1",
                    (after_id,),
                )
            ).fetchone()
        return None if row is None else self._case(row)

    async def open_for_user(self, user_id: int) -> list[ReviewCase]:
        async with self._db.read() as conn:
            rows = await (
                await conn.execute(
                    f"SELECT {_COLUMNS} FROM review_cases WHERE status = 'open' AND user_id = ? ORDER BY id",
                    (user_id,),
                )
            ).fetchall()
        return [self._case(row) for row in rows]

    async def count_open(self) -> int:
        async with self._db.read() as conn:
            row = await (
                await conn.execute("SELECT count(*) FROM review_cases WHERE status = 'open'")
            ).fetchone()
        return 0 if row is None else int(row[0])

    async def decide(
        self, case_id: int, *, approved: bool, staff_user_id: int, reason: str | None = None
    ) -> ReviewCase | None:
        """Close an open case; None when it is not open (already decided by another reviewer)."""
        status = ReviewStatus.APPROVED if approved else ReviewStatus.REJECTED
        row = await _CASES.close(
            self._db, self._audit, self._clock, case_id, str(status), decided_by=staff_user_id, note=reason
        )
        if row is None:
            return None
        return self._case(row)
