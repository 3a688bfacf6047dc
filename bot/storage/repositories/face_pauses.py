"""Lasting face pauses: repeated failed selfies pause the person, their face and the account.

A failed selfie counts against every key of the attempt: the Telegram account (``user:<id>``) and
the document it was for (``doc:<blind index>``, the same index as ``persons.doc_index``). Once a key
has ``limit`` failures within ``window`` it is paused; each pause of a key lasts twice the one before
(from ``base`` up to ``cap``), the count of pauses being forgotten after ``forget`` without one. When
a pause begins, the face seen failing (its encoding, encrypted) is kept as a key of its own for as
long as the pause: a new account with another document and the same face is paused too.

Staff see the pauses of a person in ``/person`` and may lift them (audited by the caller).
No personal data in clear: ids, times, counts, blind indexes and ciphertext.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from datetime import datetime

from bot.domain.clock import Clock, system_clock
from bot.domain.face_pause import FacePause, FailOutcome, PausePolicy
from bot.storage.crypto import FieldCipher
from bot.storage.repositories.subject_keys import SubjectKeys
from bot.storage.sql import Database
from bot.storage.timeutil import from_db, to_db
from bot.verification.face.match import distance

__all__ = ["FacePauseRepo"]

_ENCODING = "face_pauses.encoding"  # table.column: what key rotation uses


_COLUMNS = "key, kind, doc_key, failures, pauses, paused_until, last_pause_at, lifted_at, lifted_by"


def _row(row: Sequence[object]) -> FacePause:
    def at(v: object) -> datetime | None:
        return None if v is None else from_db(str(v))

    return FacePause(
        key=str(row[0]),
        kind=str(row[1]),
        doc_key=None if row[2] is None else str(row[2]),
        failures=int(str(row[3])),
        pauses=int(str(row[4])),
        paused_until=at(row[5]),
        last_pause_at=at(row[6]),
        lifted_at=at(row[7]),
        lifted_by=None if row[8] is None else int(str(row[8])),
    )


class FacePauseRepo(SubjectKeys):
    def __init__(self, db: Database, cipher: FieldCipher, clock: Clock = system_clock) -> None:
        self._db = db
        self._cipher = cipher
        self._clock = clock

    # -- reading ---------------------------------------------------------------------------------

    async def paused_until(self, keys: Sequence[str]) -> datetime | None:
        """The latest pause still running for any of ``keys``, or None."""
        now = self._clock()
        latest: datetime | None = None
        async with self._db.read() as conn:
            for key in keys:
                row = await (
                    await conn.execute("SELECT paused_until FROM face_pauses WHERE key = ?", (key,))
                ).fetchone()
                if row is not None and row[0] is not None:
                    until = from_db(row[0])
                    if until > now and (latest is None or until > latest):
                        latest = until
        return latest

    async def face_paused_until(self, encoding: Sequence[float], threshold: float) -> datetime | None:
        """The latest running pause of a face this close to ``encoding`` (same person), or None."""
        now = self._clock()
        latest: datetime | None = None
        async with self._db.read() as conn:
            rows = await (
                await conn.execute(
                    "SELECT encoding_enc, paused_until FROM face_pauses"
                    " WHERE kind = 'face' AND paused_until > ?",
                    (to_db(now),),
                )
            ).fetchall()
        for sealed, until_text in rows:
            stored = json.loads(self._cipher.decrypt_text(sealed, context=_ENCODING))
            if distance(encoding, stored) < threshold:
                until = from_db(until_text)
                latest = until if latest is None or until > latest else latest
        return latest

    async def of_person(self, keys: Sequence[str], doc_key: str | None) -> list[FacePause]:
        """The rows of ``keys`` and every row tied to ``doc_key`` (its accounts' and faces')."""
        found: dict[str, FacePause] = {}
        async with self._db.read() as conn:
            for key in keys:
                row = await (
                    await conn.execute(f"SELECT {_COLUMNS} FROM face_pauses WHERE key = ?", (key,))
                ).fetchone()
                if row is not None:
                    found[row[0]] = _row(row)
            if doc_key is not None:
                rows = await (
                    await conn.execute(f"SELECT {_COLUMNS} FROM face_pauses WHERE doc_key = ?", (doc_key,))
                ).fetchall()
                for row in rows:
                    found[row[0]] = _row(row)
        return sorted(found.values(), key=lambda p: ("document", "user", "face").index(p.kind))

    async def key_with_prefix(self, prefix: str) -> str | None:
        """The one key starting with ``prefix`` (a button carries a shortened blind index), or None."""
        async with self._db.read() as conn:
            rows = await (
                await conn.execute(
                    "SELECT key FROM face_pauses WHERE key >= ? AND key < ? LIMIT 2", (prefix, prefix + "~")
                )
            ).fetchall()
        found = [str(r[0]) for r in rows]
        return found[0] if len(found) == 1 else None

    # -- writing ---------------------------------------------------------------------------------

    async def fail(
        self,
        keys: Sequence[str],
        policy: PausePolicy,
        *,
        doc_key: str | None = None,
        encodings: Sequence[Sequence[float]] = (),
    ) -> FailOutcome:
        """Count one failed selfie against every key; begin the pauses that are due."""
        now = self._clock()
        began: datetime | None = None
        left = policy.limit
        async with self._db.transaction() as conn:
            for key in keys:
                row = await (
                    await conn.execute(
                        "SELECT failures, first_failure_at, pauses, last_pause_at FROM face_pauses"
                        " WHERE key = ?",
                        (key,),
                    )
                ).fetchone()
                failures, first, pauses, last_pause = 0, now, 0, None
                if row is not None:
                    failures = int(row[0])
                    first = now if row[1] is None else from_db(row[1])
                    pauses = int(row[2])
                    last_pause = None if row[3] is None else from_db(row[3])
                if now - first > policy.window:
                    failures, first = 0, now
                if last_pause is not None and now - last_pause > policy.forget:
                    pauses = 0
                failures += 1
                until: datetime | None = None
                if failures >= policy.limit:
                    until = now + policy.length(pauses)
                    began = until if began is None or until > began else began
                    pauses += 1
                    failures = 0
                    last_pause = now
                left = min(left, policy.limit - failures)
                kind = "user" if key.startswith("user:") else "document"
                await conn.execute(
                    "INSERT INTO face_pauses (key, kind, doc_key, failures, first_failure_at, pauses,"
                    " last_pause_at, paused_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,"
                    " first_failure_at = excluded.first_failure_at, pauses = excluded.pauses,"
                    " last_pause_at = excluded.last_pause_at,"
                    " doc_key = coalesce(excluded.doc_key, face_pauses.doc_key),"
                    " paused_until = coalesce(excluded.paused_until, face_pauses.paused_until)",
                    (
                        key,
                        kind,
                        doc_key if kind == "user" else None,
                        failures,
                        None if failures == 0 else to_db(first),
                        pauses,
                        None if last_pause is None else to_db(last_pause),
                        None if until is None else to_db(until),
                    ),
                )
            # a face is kept no longer than its pause
            await conn.execute(
                "DELETE FROM face_pauses WHERE kind = 'face' AND paused_until < ?", (to_db(now),)
            )
            if began is not None:
                for encoding in encodings:
                    sealed = self._cipher.encrypt_text(
                        json.dumps([float(v) for v in encoding]), context=_ENCODING
                    )
                    await conn.execute(
                        "INSERT INTO face_pauses (key, kind, doc_key, encoding_enc, pauses, last_pause_at,"
                        " paused_until) VALUES (?, 'face', ?, ?, 1, ?, ?)",
                        ("face:" + secrets.token_hex(12), doc_key, sealed, to_db(now), to_db(began)),
                    )
        return FailOutcome(began, max(left, 0))

    async def succeed(self, keys: Sequence[str]) -> None:
        """A passed selfie clears the failure count (the pauses so far still make the next longer)."""
        async with self._db.transaction() as conn:
            for key in keys:
                await conn.execute(
                    "UPDATE face_pauses SET failures = 0, first_failure_at = NULL WHERE key = ?", (key,)
                )

    async def lift(self, keys: Sequence[str], doc_key: str | None, staff_user_id: int) -> list[str]:
        """Staff end the running pauses of these keys and of the rows tied to ``doc_key``; the
        failure counts and the pause history go too (a person checked by staff starts afresh).
        Returns the keys whose pause was running."""
        now = self._clock()
        rows = await self.of_person(keys, doc_key)
        lifted = [p.key for p in rows if p.active(now)]
        async with self._db.transaction() as conn:
            for p in rows:
                if p.kind == "face":
                    await conn.execute("DELETE FROM face_pauses WHERE key = ?", (p.key,))
                    continue
                await conn.execute(
                    "UPDATE face_pauses SET failures = 0, first_failure_at = NULL, pauses = 0,"
                    " paused_until = NULL, lifted_at = ?, lifted_by = ? WHERE key = ?",
                    (to_db(now), staff_user_id, p.key),
                )
        return lifted
