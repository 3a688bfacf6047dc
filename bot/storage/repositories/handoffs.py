"""Portal handoffs (bot/domain/handoff.py): rows and their conditional state changes.

Every change is one ``UPDATE ... WHERE state IN (...)``: two replicas, or two taps, moving the same
handoff at once see one of them win (rowcount 1) and the other lose (0), never both. The use case
(bot/services/handoff.py) owns the transactions and the audit rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bot.domain.handoff import Handoff, HandoffMethod, HandoffPurpose, HandoffState
from bot.storage.sql import Database
from bot.storage.timeutil import from_db, to_db

__all__ = ["HandoffRepo"]

_COLUMNS = (
    "id, portal, purpose, short_code, state, created_at, expires_at, expected_doc, callback_url,"
    " user_id, person_id, method, failure, result_jws, opened_at, deadline_at, finished_at,"
    " callback_status"
)
# Columns a transition may set, so a caller's keyword cannot become SQL.
_SETTABLE = frozenset(
    {"user_id", "person_id", "method", "failure", "result_jws", "opened_at", "deadline_at", "finished_at"}
)


def _time(value: Any) -> datetime | None:
    return None if value is None else from_db(value)


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_db(value)
    return str(value) if isinstance(value, str) else value  # a StrEnum as its plain text


def _handoff(row: Any) -> Handoff:
    return Handoff(
        id=row[0],
        portal=row[1],
        purpose=HandoffPurpose(row[2]),
        short_code=row[3],
        state=HandoffState(row[4]),
        created_at=from_db(row[5]),
        expires_at=from_db(row[6]),
        expected_doc=row[7],
        callback_url=row[8],
        user_id=row[9],
        person_id=row[10],
        method=None if row[11] is None else HandoffMethod(row[11]),
        failure=row[12],
        result_jws=row[13],
        opened_at=_time(row[14]),
        deadline_at=_time(row[15]),
        finished_at=_time(row[16]),
        callback_status=row[17],
    )


class HandoffRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        *,
        handoff_id: str,
        portal: str,
        purpose: HandoffPurpose,
        token_hash: str,
        short_code: str,
        expected_doc: str | None,
        callback_url: str | None,
        created_at: datetime,
        expires_at: datetime,
    ) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO handoffs (id, portal, purpose, token_hash, short_code, expected_doc,"
                " callback_url, state, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    handoff_id,
                    portal,
                    str(purpose),
                    token_hash,
                    short_code,
                    expected_doc,
                    callback_url,
                    str(HandoffState.WAITING),
                    to_db(created_at),
                    to_db(expires_at),
                ),
            )

    async def get(self, handoff_id: str) -> Handoff | None:
        async with self._db.read() as conn:
            row = await (
                await conn.execute(f"SELECT {_COLUMNS} FROM handoffs WHERE id = ?", (handoff_id,))
            ).fetchone()
        return None if row is None else _handoff(row)

    async def by_token(self, token_hash: str) -> Handoff | None:
        async with self._db.read() as conn:
            row = await (
                await conn.execute(f"SELECT {_COLUMNS} FROM handoffs WHERE token_hash = ?", (token_hash,))
            ).fetchone()
        return None if row is None else _handoff(row)

    async def open(self, token_hash: str, user_id: int, now: datetime, deadline: datetime) -> bool:
        """Bind a waiting, unexpired handoff to ``user_id``; False when the token was used or expired."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE handoffs SET state = ?, user_id = ?, opened_at = ?, deadline_at = ?"
                " WHERE token_hash = ? AND state = ? AND expires_at > ?",
                (
                    str(HandoffState.OPENED),
                    user_id,
                    to_db(now),
                    to_db(deadline),
                    token_hash,
                    str(HandoffState.WAITING),
                    to_db(now),
                ),
            )
            return cursor.rowcount == 1

    async def move(
        self,
        handoff_id: str,
        *,
        from_states: Iterable[HandoffState],
        to: HandoffState,
        user_id: int | None = None,
        **fields: Any,
    ) -> bool:
        """``from_states`` → ``to`` (only for ``user_id``'s handoff when given), setting ``fields``."""
        unknown = set(fields) - _SETTABLE
        if unknown:
            raise ValueError(f"not settable: {sorted(unknown)}")
        sets = ["state = ?"] + [f"{name} = ?" for name in fields]
        values: list[Any] = [str(to)]
        values += [_value(v) for v in fields.values()]
        states = [str(s) for s in from_states]
        where = f"id = ? AND state IN ({', '.join('?' for _ in states)})"
        values += [handoff_id, *states]
        if user_id is not None:
            where += " AND user_id = ?"
            values.append(user_id)
        async with self._db.transaction() as conn:
            cursor = await conn.execute(f"UPDATE handoffs SET {', '.join(sets)} WHERE {where}", values)
            return cursor.rowcount == 1

    async def set_callback_status(self, handoff_id: str, status: str) -> None:
        async with self._db.transaction(serial=False) as conn:
            await conn.execute("UPDATE handoffs SET callback_status = ? WHERE id = ?", (status, handoff_id))
