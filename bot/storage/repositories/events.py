"""Verification events for statistics: one row per step outcome of a flow, no personal data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.clock import Clock, system_clock
from bot.domain.outcomes import EventOutcome
from bot.storage.sql import Database
from bot.storage.timeutil import from_db, to_db

__all__ = ["EventRepo", "VerificationEvent"]


@dataclass(frozen=True)
class VerificationEvent:
    id: int
    at: datetime
    user_id: int | None
    attempt_id: str | None
    flow: str
    step: str
    outcome: EventOutcome
    reason_code: str | None
    duration_ms: int | None


class EventRepo:
    def __init__(self, db: Database, clock: Clock = system_clock) -> None:
        self._db = db
        self._clock = clock

    async def record(
        self,
        flow: str,
        step: str,
        outcome: EventOutcome,
        *,
        user_id: int | None = None,
        attempt_id: str | None = None,
        reason_code: str | None = None,
        duration_ms: int | None = None,
    ) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO verification_events"
                " (at, user_id, attempt_id, flow, step, outcome, reason_code, duration_ms)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    to_db(self._clock()),
                    user_id,
                    attempt_id,
                    flow,
                    step,
                    str(outcome),
                    reason_code,
                    duration_ms,
                ),
            )

    async def between(self, start: datetime, end: datetime) -> list[VerificationEvent]:
        """Events with ``start <= at < end``, oldest first."""
        async with self._db.read() as conn:
            cursor = await conn.execute(
                "SELECT id, at, user_id, attempt_id, flow, step, outcome, reason_code, duration_ms"
                " FROM verification_events WHERE at >= ? AND at < ? ORDER BY id",
                (to_db(start), to_db(end)),
            )
            rows = await cursor.fetchall()
        return [
            VerificationEvent(
                id=int(r[0]),
                at=from_db(r[1]),
                user_id=r[2],
                attempt_id=r[3],
                flow=r[4],
                step=r[5],
                outcome=EventOutcome(r[6]),
                reason_code=r[7],
                duration_ms=r[8],
            )
            for r in rows
        ]
