"""The staff console's tables: roles, PIPL deletion requests, registers staged for loading, and the
queries of the retention job.

Roles from the settings (``ADMIN_IDS``) are decided by the caller; this table only holds the roles
admins granted inside the bot.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from bot.domain.clock import Clock, system_clock
from bot.domain.staff import DeletionRequest, DeletionStatus, RegisterLoad, StaffMember, StaffRole
from bot.storage.crypto import FieldCipher
from bot.storage.repositories.audit import AuditRepo
from bot.storage.repositories.decisions import OpenRow
from bot.storage.sql import Database, IntegrityError, new_id
from bot.storage.timeutil import from_db, to_db

__all__ = [
    "StaffRepo",
]

_ROWS = "register_loads.rows"


class StaffRepo:
    def __init__(
        self, db: Database, cipher: FieldCipher, audit: AuditRepo, clock: Clock = system_clock
    ) -> None:
        self._db = db
        self._cipher = cipher
        self._audit = audit
        self._clock = clock

    # -- roles -----------------------------------------------------------------------------------

    async def role_of(self, user_id: int) -> StaffRole | None:
        async with self._db.read() as conn:
            row = await (
                await conn.execute("SELECT role FROM staff_roles WHERE user_id = ?", (user_id,))
            ).fetchone()
        return None if row is None else StaffRole(row[0])

    async def members(self) -> list[StaffMember]:
        async with self._db.read() as conn:
            rows = await (
                await conn.execute(
                    "SELECT user_id, role, granted_by, granted_at FROM staff_roles ORDER BY user_id"
                )
            ).fetchall()
        return [StaffMember(int(r[0]), StaffRole(r[1]), int(r[2]), from_db(r[3])) for r in rows]

    async def grant(self, user_id: int, role: StaffRole, *, granted_by: int) -> StaffRole | None:
        """Give ``user_id`` the role (replacing another); returns the role they had before."""
        async with self._db.transaction() as conn:
            old = await (
                await conn.execute("SELECT role FROM staff_roles WHERE user_id = ?", (user_id,))
            ).fetchone()
            await conn.execute(
                "INSERT INTO staff_roles (user_id, role, granted_by, granted_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (user_id) DO UPDATE SET role = excluded.role,"
                " granted_by = excluded.granted_by, granted_at = excluded.granted_at",
                (user_id, str(role), granted_by, to_db(self._clock())),
            )
            await self._audit.write(
                granted_by,
                "staff.grant",
                "telegram_user",
                user_id,
                None if old is None else {"role": old[0]},
                {"role": str(role)},
            )
        return None if old is None else StaffRole(old[0])

    async def revoke(self, user_id: int, *, revoked_by: int) -> StaffRole | None:
        """Remove the granted role; returns it, or None when the user had none."""
        async with self._db.transaction() as conn:
            old = await (
                await conn.execute("SELECT role FROM staff_roles WHERE user_id = ?", (user_id,))
            ).fetchone()
            if old is None:
                return None
            await conn.execute("DELETE FROM staff_roles WHERE user_id = ?", (user_id,))
            await self._audit.write(
                revoked_by, "staff.revoke", "telegram_user", user_id, {"role": old[0]}, None
            )
        return StaffRole(old[0])

    # -- deletion requests -----------------------------------------------------------------------

    @staticmethod
    def _request(row: Any) -> DeletionRequest:
        return DeletionRequest(
            id=int(row[0]),
            user_id=int(row[1]),
            person_id=None if row[2] is None else int(row[2]),
            status=DeletionStatus(row[3]),
            requested_at=from_db(row[4]),
            decided_at=None if row[5] is None else from_db(row[5]),
            decided_by=None if row[6] is None else int(row[6]),
            note=row[7],
        )

    _REQUEST_COLUMNS = "id, user_id, person_id, status, requested_at, decided_at, decided_by, note"
    _requests = OpenRow(
        "deletion_requests",
        _REQUEST_COLUMNS,
        "note",
        "deletion.decide",
        "deletion_request",
        audit_note_key="note",
    )

    async def request_deletion(self, user_id: int, person_id: int | None) -> DeletionRequest | None:
        """Open a request; None when the user has one open already (asking twice changes nothing)."""
        async with self._db.transaction() as conn:
            try:
                async with self._db.transaction() as inner:
                    cursor = await inner.execute(
                        "INSERT INTO deletion_requests (user_id, person_id, requested_at) VALUES (?, ?, ?)"
                        " RETURNING id",
                        (user_id, person_id, to_db(self._clock())),
                    )
                    request_id = new_id(await cursor.fetchone())
            except IntegrityError:
                return None
            await self._audit.write(
                user_id, "deletion.request", "deletion_request", request_id, None, {"person_id": person_id}
            )
            row = await (
                await conn.execute(
                    f"SELECT {self._REQUEST_COLUMNS} FROM deletion_requests WHERE id = ?", (request_id,)
                )
            ).fetchone()
        return self._request(row)

    async def deletion_request(self, request_id: int) -> DeletionRequest | None:
        async with self._db.read() as conn:
            row = await (
                await conn.execute(
                    f"SELECT {self._REQUEST_COLUMNS} FROM deletion_requests WHERE id = ?", (request_id,)
                )
            ).fetchone()
        return None if row is None else self._request(row)

    async def open_deletion_requests(self, *, user_id: int | None = None) -> list[DeletionRequest]:
        query = f"SELECT {self._REQUEST_COLUMNS} FROM deletion_requests WHERE status = 'open'"
        params: tuple[Any, ...] = ()
        if user_id is not None:
            query += " AND user_id = ?"
            params = (user_id,)
        async with self._db.read() as conn:
            rows = await (await conn.execute(query + " ORDER BY id", params)).fetchall()
        return [self._request(r) for r in rows]

    async def close_deletion_request(
        self, request_id: int, status: DeletionStatus, *, decided_by: int, note: str | None = None
    ) -> DeletionRequest | None:
        """Compare-and-set from open: None when another admin decided it first. Call it inside the
        transaction that erases the data so that both happen or neither."""
        if status is DeletionStatus.OPEN:
            raise ValueError("a request is closed as done or refused")
        row = await self._requests.close(
            self._db, self._audit, self._clock, request_id, str(status), decided_by=decided_by, note=note
        )
        if row is None:
            return None
        return self._request(row)

    async def forget_review_cases(self, user_id: int, *, actor_user_id: int) -> list[str]:
        """PIPL erasure of a user's review cases: the payload (read fields, encoding) goes, the case
        row stays as the record that a decision happened. Returns the media ids for the caller to
        delete from the media store after the commit."""
        async with self._db.transaction() as conn:
            rows = await (
                await conn.execute(
                    "SELECT id, media_ids_json FROM review_cases WHERE user_id = ?", (user_id,)
                )
            ).fetchall()
            media: list[str] = []
            for row in rows:
                media.extend(json.loads(row[1]))
            await conn.execute(
                "UPDATE review_cases SET payload_enc = NULL, media_ids_json = '[]',"
                " status = CASE status WHEN 'open' THEN 'rejected' ELSE status END,"
                " decision_reason = CASE status WHEN 'open' THEN 'deleted_on_request'"
                " ELSE decision_reason END"
                " WHERE user_id = ?",
                (user_id,),
            )
            if rows:
                await self._audit.write(
                    actor_user_id,
                    "review.erase",
                    "telegram_user",
                    user_id,
                    {"cases": [int(r[0]) for r in rows]},
                    None,
                )
        return media

    # -- telegram accounts of a person (look-ups) ------------------------------------------------

    async def telegram_users_of(self, person_id: int) -> list[int]:
        async with self._db.read() as conn:
            rows = await (
                await conn.execute(
                    "SELECT user_id FROM telegram_links WHERE person_id = ? ORDER BY user_id", (person_id,)
                )
            ).fetchall()
        return [int(r[0]) for r in rows]

    # -- registers staged for loading ------------------------------------------------------------

    async def stage_load(
        self,
        kind: str,
        rows: Sequence[dict[str, Any]],
        *,
        uploaded_by: int,
        file_name: str | None,
        rejected: int,
    ) -> int:
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO register_loads"
                " (kind, uploaded_by, file_name, rows_enc, accepted, rejected, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    kind,
                    uploaded_by,
                    file_name,
                    self._cipher.encrypt_text(json.dumps(list(rows), ensure_ascii=False), context=_ROWS),
                    len(rows),
                    rejected,
                    to_db(self._clock()),
                ),
            )
            load_id = new_id(await cursor.fetchone())
            await self._audit.write(
                uploaded_by,
                "register.stage",
                "register_load",
                load_id,
                None,
                {"kind": kind, "accepted": len(rows), "rejected": rejected},
            )
        return load_id

    async def get_load(self, load_id: int) -> RegisterLoad | None:
        async with self._db.read() as conn:
            row = await (
                await conn.execute(
                    "SELECT id, kind, uploaded_by, file_name, rows_enc, accepted, rejected, status,"
                    " created_at FROM register_loads WHERE id = ?",
                    (load_id,),
                )
            ).fetchone()
        if row is None:
            return None
        return RegisterLoad(
            id=int(row[0]),
            kind=row[1],
            uploaded_by=int(row[2]),
            file_name=row[3],
            rows=[] if row[4] is None else json.loads(self._cipher.decrypt_text(row[4], context=_ROWS)),
            accepted=int(row[5]),
            rejected=int(row[6]),
            status=row[7],
            created_at=from_db(row[8]),
        )

    async def finish_load(self, load_id: int, *, applied: bool, actor_user_id: int) -> bool:
        """Compare-and-set from pending, and drop the staged rows (they are in the registers now, or
        were not wanted): a second press of "confirm" finds nothing to apply. Call it inside the
        transaction that applies the rows."""
        status = "applied" if applied else "cancelled"
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE register_loads SET status = ?, decided_at = ?, rows_enc = NULL"
                " WHERE id = ? AND status = 'pending'",
                (status, to_db(self._clock()), load_id),
            )
            if cursor.rowcount != 1:
                return False
            await self._audit.write(
                actor_user_id, f"register.{status}", "register_load", load_id, {"status": "pending"}, None
            )
        return True

    # -- retention -------------------------------------------------------------------------------

    async def raw_document_media_before(self, cutoff: datetime) -> list[tuple[int, str | None, str | None]]:
        """(document id, front media, back media) of documents stored before ``cutoff`` that still
        have raw card photos."""
        async with self._db.read() as conn:
            rows = await (
                await conn.execute(
                    "SELECT id, front_media_id, back_media_id FROM documents"
                    " WHERE created_at < ? AND (front_media_id IS NOT NULL OR back_media_id IS NOT NULL)",
                    (to_db(cutoff),),
                )
            ).fetchall()
        return [(int(r[0]), r[1], r[2]) for r in rows]

    async def clear_raw_document_media(self, document_ids: Iterable[int]) -> None:
        ids = list(document_ids)
        if not ids:
            return
        async with self._db.transaction() as conn:
            await conn.executemany(
                "UPDATE documents SET front_media_id = NULL, back_media_id = NULL WHERE id = ?",
                [(i,) for i in ids],
            )

    async def decided_review_media_before(self, cutoff: datetime) -> list[tuple[int, list[str]]]:
        """(case id, media ids) of review cases decided before ``cutoff`` that still list media."""
        async with self._db.read() as conn:
            rows = await (
                await conn.execute(
                    "SELECT id, media_ids_json FROM review_cases"
                    " WHERE status != 'open' AND decided_at < ? AND media_ids_json != '[]'",
                    (to_db(cutoff),),
                )
            ).fetchall()
        return [(int(r[0]), list(json.loads(r[1]))) for r in rows]

    async def clear_review_media(self, case_ids: Iterable[int]) -> None:
        ids = list(case_ids)
        if not ids:
            return
        async with self._db.transaction() as conn:
            await conn.executemany(
                "UPDATE review_cases SET media_ids_json = '[]' WHERE id = ?", [(i,) for i in ids]
            )

    async def referenced_media(self, *, decided_cases: bool) -> set[str]:
        """Media ids that documents, live photos and open review cases (and decided cases that
        still list media, with ``decided_cases``) point to: never deleted as unneeded."""
        found: set[str] = set()
        cases = "SELECT media_ids_json FROM review_cases WHERE media_ids_json != '[]'"
        if not decided_cases:
            cases += " AND status = 'open'"
        async with self._db.read() as conn:
            for query in (
                "SELECT front_media_id, back_media_id, portrait_media_id FROM documents",
                "SELECT media_id FROM live_photos",
            ):
                for row in await (await conn.execute(query)).fetchall():
                    found.update(v for v in row if v)
            for row in await (await conn.execute(cases)).fetchall():
                found.update(json.loads(row[0]))
        return found
