"""Closing an open row exactly once: a staff decision on a review case or a deletion request.

Two staff members may press at the same moment; the UPDATE only matches while the row is still open,
so the second press changes nothing and learns it was too late. The audit row is written in the same
transaction, so a decision and its record happen together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.domain.clock import Clock
from bot.storage.repositories.audit import AuditRepo
from bot.storage.sql import Database
from bot.storage.timeutil import to_db

__all__ = ["OpenRow"]


@dataclass(frozen=True)
class OpenRow:
    """A table whose rows are decided once: ``status`` goes from 'open' to a final value."""

    table: str
    columns: str  # selected after the decision, for the caller's row type
    note_column: str  # the staff member's reason / note
    audit_action: str
    audit_subject: str
    audit_note_key: str  # the note's name in the audit row ("reason", "note")

    async def close(
        self,
        db: Database,
        audit: AuditRepo,
        clock: Clock,
        row_id: int,
        status: str,
        *,
        decided_by: int,
        note: str | None,
    ) -> Any | None:
        """The decided row, or None when it was no longer open."""
        async with db.transaction() as conn:
            cursor = await conn.execute(
                f"UPDATE {self.table} SET status = ?, decided_at = ?, decided_by = ?, {self.note_column} = ?"
                " WHERE id = ? AND status = 'open'",
                (status, to_db(clock()), decided_by, note, row_id),
            )
            if cursor.rowcount != 1:
                return None
            await audit.write(
                decided_by,
                self.audit_action,
                self.audit_subject,
                row_id,
                {"status": "open"},
                {"status": status, self.audit_note_key: note},
            )
            return await (
                await conn.execute(f"SELECT {self.columns} FROM {self.table} WHERE id = ?", (row_id,))
            ).fetchone()
