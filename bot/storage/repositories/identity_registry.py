"""The sandbox identity authority's registry: the people staff load (or tests load from fixtures)."""

from __future__ import annotations

from collections.abc import Iterable

from bot.domain.clock import Clock, system_clock
from bot.domain.identity import IdentityRecord
from bot.storage.crypto import FieldCipher
from bot.storage.sql import Database
from bot.storage.timeutil import date_from_db, date_to_db, to_db
from bot.verification.ids import DocumentType, normalize_number

__all__ = ["IdentityRegistryRepo"]


class IdentityRegistryRepo:
    def __init__(self, db: Database, cipher: FieldCipher, clock: Clock = system_clock) -> None:
        self._db = db
        self._cipher = cipher
        self._clock = clock

    def _index(self, doc_type: DocumentType, number: str) -> str:
        return self._cipher.blind_index(str(doc_type), normalize_number(number))

    async def load(self, records: Iterable[IdentityRecord], *, loaded_by: int | None) -> int:
        """Insert or replace records (by document type and number), all in one transaction."""
        now = to_db(self._clock())
        count = 0
        async with self._db.transaction() as conn:
            for record in records:
                await conn.execute(
                    "INSERT INTO identity_registry"
                    " (doc_type, number_index, name_enc, birth_date_enc, photo_enc, loaded_at, loaded_by)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (doc_type, number_index) DO UPDATE SET name_enc = excluded.name_enc,"
                    " birth_date_enc = excluded.birth_date_enc, photo_enc = excluded.photo_enc,"
                    " loaded_at = excluded.loaded_at, loaded_by = excluded.loaded_by",
                    (
                        str(record.doc_type),
                        self._index(record.doc_type, record.number),
                        self._cipher.encrypt_text(record.name, context="identity_registry.name"),
                        None
                        if record.birth_date is None
                        else self._cipher.encrypt_text(
                            date_to_db(record.birth_date), context="identity_registry.birth_date"
                        ),
                        None
                        if record.photo is None
                        else self._cipher.encrypt_bytes(record.photo, context="identity_registry.photo"),
                        now,
                        loaded_by,
                    ),
                )
                count += 1
        return count

    async def get(self, doc_type: DocumentType, number: str) -> IdentityRecord | None:
        async with self._db.read() as conn:
            row = await (
                await conn.execute(
                    "SELECT name_enc, birth_date_enc, photo_enc FROM identity_registry"
                    " WHERE doc_type = ? AND number_index = ?",
                    (str(doc_type), self._index(doc_type, number)),
                )
            ).fetchone()
        if row is None:
            return None
        birth = (
            None
            if row[1] is None
            else date_from_db(self._cipher.decrypt_text(row[1], context="identity_registry.birth_date"))
        )
        return IdentityRecord(
            doc_type=doc_type,
            number=normalize_number(number),
            name=self._cipher.decrypt_text(row[0], context="identity_registry.name"),
            birth_date=birth,
            photo=None
            if row[2] is None
            else self._cipher.decrypt_bytes(row[2], context="identity_registry.photo"),
        )

    async def count(self) -> int:
        async with self._db.read() as conn:
            row = await (await conn.execute("SELECT count(*) FROM identity_registry")).fetchone()
        return 0 if row is None else int(row[0])
