"""Guards of the functions 2–6 that must outlive a dialog (``/start`` clears the FSM data):

- **face step-ups**: when a Telegram account last proved its face (实名信息维护 asks for a fresh one);
- **step pauses**: failed attempts of a guarded step and the pause they lead to (the face comparison
  of 实名信息变更), counted per key, e.g. ``"user:<id>"`` and a document's blind index, so neither a
  new dialog nor a second Telegram account restarts the count.

No personal data is stored: ids, times and blind indexes only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.domain.clock import Clock, system_clock
from bot.storage.crypto import FieldCipher
from bot.storage.repositories.subject_keys import SubjectKeys
from bot.storage.sql import Database
from bot.storage.timeutil import from_db, to_db

__all__ = ["GuardRepo"]


class GuardRepo(SubjectKeys):
    def __init__(self, db: Database, cipher: FieldCipher, clock: Clock = system_clock) -> None:
        self._db = db
        self._cipher = cipher
        self._clock = clock

    # -- face step-ups ---------------------------------------------------------------------------

    async def record_stepup(self, user_id: int, person_id: int) -> datetime:
        now = self._clock()
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO face_stepups (user_id, person_id, at) VALUES (?, ?, ?)"
                " ON CONFLICT (user_id) DO UPDATE SET person_id = excluded.person_id, at = excluded.at",
                (user_id, person_id, to_db(now)),
            )
        return now

    async def stepup_at(self, user_id: int, person_id: int) -> datetime | None:
        """When this account last proved this person's face (a step-up for another person is none)."""
        async with self._db.read() as conn:
            row = await (
                await conn.execute(
                    "SELECT at FROM face_stepups WHERE user_id = ? AND person_id = ?", (user_id, person_id)
                )
            ).fetchone()
        return None if row is None else from_db(row[0])

    async def clear_stepup(self, user_id: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM face_stepups WHERE user_id = ?", (user_id,))

    # -- pauses ----------------------------------------------------------------------------------

    async def paused_until(self, scope: str, keys: Sequence[str]) -> datetime | None:
        """The latest pause still running for any of ``keys``, or None."""
        now = self._clock()
        latest: datetime | None = None
        async with self._db.read() as conn:
            for key in keys:
                row = await (
                    await conn.execute(
                        "SELECT paused_until FROM step_pauses WHERE scope = ? AND key = ?", (scope, key)
                    )
                ).fetchone()
                if row is not None and row[0] is not None:
                    until = from_db(row[0])
                    if until > now and (latest is None or until > latest):
                        latest = until
        return latest

    async def fail(
        self, scope: str, keys: Sequence[str], *, limit: int, window: timedelta, pause: timedelta
    ) -> datetime | None:
        """Count one failure for every key; once a key has ``limit`` failures within ``window``, it is
        paused for ``pause`` (and its count starts again). Returns the pause end when one began."""
        now = self._clock()
        began: datetime | None = None
        async with self._db.transaction() as conn:
            for key in keys:
                row = await (
                    await conn.execute(
                        "SELECT failures, first_failure_at FROM step_pauses WHERE scope = ? AND key = ?",
                        (scope, key),
                    )
                ).fetchone()
                failures, first = (
                    (0, now) if row is None or row[1] is None else (int(row[0]), from_db(row[1]))
                )
                if now - first > window:
                    failures, first = 0, now
                failures += 1
                until: datetime | None = None
                if failures >= limit:
                    until = now + pause
                    began = until if began is None or until > began else began
                    failures, first_text = 0, None
                else:
                    first_text = to_db(first)
                await conn.execute(
                    "INSERT INTO step_pauses (scope, key, failures, first_failure_at, paused_until)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (scope, key) DO UPDATE SET"
                    " failures = excluded.failures, first_failure_at = excluded.first_failure_at,"
                    " paused_until = coalesce(excluded.paused_until, step_pauses.paused_until)",
                    (scope, key, failures, first_text, None if until is None else to_db(until)),
                )
        return began

    async def succeed(self, scope: str, keys: Sequence[str]) -> None:
        """A passed attempt clears the count and the pause: callers count an attempt as failed when it
        *starts* (so abandoning it counts too), and the pause its start may have begun is void."""
        async with self._db.transaction() as conn:
            for key in keys:
                await conn.execute(
                    "UPDATE step_pauses SET failures = 0, first_failure_at = NULL, paused_until = NULL"
                    " WHERE scope = ? AND key = ?",
                    (scope, key),
                )

    async def forgive(
        self, scope: str, keys: Sequence[str], *, limit: int, began: datetime | None = None
    ) -> None:
        """Take back the failure counted when an attempt started that turned out not to fail (a face
        near the threshold, sent to staff review). When that start began a pause (``began``, what
        :meth:`fail` returned), the pause is lifted and the count stands one short of the limit again,
        its window starting now (the first failure's time went when the pause began)."""
        now = self._clock()
        async with self._db.transaction() as conn:
            for key in keys:
                row = await (
                    await conn.execute(
                        "SELECT failures, paused_until FROM step_pauses WHERE scope = ? AND key = ?",
                        (scope, key),
                    )
                ).fetchone()
                if row is None:
                    continue
                if began is not None and row[1] is not None and from_db(row[1]) == began:
                    await conn.execute(
                        "UPDATE step_pauses SET failures = ?, first_failure_at = ?, paused_until = NULL"
                        " WHERE scope = ? AND key = ?",
                        (max(limit - 1, 0), to_db(now) if limit > 1 else None, scope, key),
                    )
                elif int(row[0]) > 0:
                    await conn.execute(
                        "UPDATE step_pauses SET failures = failures - 1,"
                        " first_failure_at = CASE WHEN failures = 1 THEN NULL ELSE first_failure_at END"
                        " WHERE scope = ? AND key = ?",
                        (scope, key),
                    )
