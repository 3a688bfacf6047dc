"""Collected persons: identity document, consents, phone, live photo, Telegram link.

Every sensitive column is encrypted (context ``table.column``, so values cannot be swapped between
columns); document numbers and phones are found through blind indexes.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.domain.clock import Clock, system_clock
from bot.domain.errors import DuplicatePerson
from bot.domain.models import (
    CollectedRecord,
    Consent,
    ConsentDocument,
    DocumentType,
    FaceMatch,
    IdentityDocument,
    LivePhoto,
    Person,
    PhoneNumber,
)
from bot.domain.phone import normalize_mainland_mobile
from bot.storage.crypto import FieldCipher
from bot.storage.face_index import FaceIndex
from bot.storage.repositories.audit import AuditRepo
from bot.storage.repositories.users import UserRepo
from bot.storage.sql import Connection, Database, IntegrityError, new_id
from bot.storage.timeutil import date_from_db, date_to_db, from_db, to_db
from bot.verification.ids import normalize_number

__all__ = ["PersonRepo", "pack_encoding", "unpack_encoding"]

_PHONE_KIND = "phone"


def pack_encoding(encoding: Sequence[float]) -> bytes:
    return struct.pack(f"<{len(encoding)}d", *encoding)


def unpack_encoding(blob: bytes) -> tuple[float, ...]:
    if len(blob) % 8:
        raise ValueError("corrupt face encoding")
    return struct.unpack(f"<{len(blob) // 8}d", blob)


class PersonRepo:
    def __init__(
        self,
        db: Database,
        cipher: FieldCipher,
        audit: AuditRepo,
        users: UserRepo,
        clock: Clock = system_clock,
        faces: FaceIndex | None = None,
    ) -> None:
        self._db = db
        self._cipher = cipher
        self._audit = audit
        self._users = users
        self._clock = clock
        # The process's shared index (built with the services); without one, a throwaway index
        # gives the same answers, only decrypting everything at each call.
        self._faces = faces

    # -- helpers ---------------------------------------------------------------------------------

    def _doc_index(self, doc_type: DocumentType, number: str) -> str:
        return self._cipher.blind_index(str(doc_type), normalize_number(number))

    def document_index(self, doc_type: DocumentType, number: str) -> str:
        """The blind index of a document number: compares two people's documents (the staff
        four-eyes rule) without either number leaving its encrypted column."""
        return self._doc_index(doc_type, number)

    def _phone_index(self, phone: str) -> str:
        return self._cipher.blind_index(_PHONE_KIND, normalize_mainland_mobile(phone))

    def _enc(self, column: str, value: str | None) -> str | None:
        return None if value is None else self._cipher.encrypt_text(value, context=column)

    def _dec(self, column: str, value: str | None) -> str | None:
        return None if value is None else self._cipher.decrypt_text(value, context=column)

    # -- writing ---------------------------------------------------------------------------------

    async def save_collected(self, record: CollectedRecord, *, actor_user_id: int | None = None) -> Person:
        """Person, document, consents, phone, live photo, Telegram link and audit rows, all in one
        transaction. Raises :class:`DuplicatePerson` when the document was collected already."""
        if record.phone.verified_at is None:
            raise ValueError("the phone must be verified before it is saved")
        now = self._clock()
        doc = record.document
        doc_index = self._doc_index(doc.doc_type, doc.number)
        actor = record.telegram_user_id if actor_user_id is None else actor_user_id
        async with self._db.transaction() as conn:
            try:
                async with self._db.transaction() as inner:
                    cursor = await inner.execute(
                        "INSERT INTO persons (doc_type, doc_index, residence_enc, created_at, updated_at)"
                        " VALUES (?, ?, ?, ?, ?) RETURNING id",
                        (
                            str(doc.doc_type),
                            doc_index,
                            self._enc("persons.residence", record.residence),
                            to_db(now),
                            to_db(now),
                        ),
                    )
                    person_id = new_id(await cursor.fetchone())
            except IntegrityError:
                row = await (
                    await conn.execute(
                        "SELECT id FROM persons WHERE doc_type = ? AND doc_index = ?",
                        (str(doc.doc_type), doc_index),
                    )
                ).fetchone()
                raise DuplicatePerson(None if row is None else int(row[0])) from None
            await self._insert_document(conn, person_id, doc, now)
            await self._insert_consents(conn, person_id, record.consents, record.telegram_user_id)
            await self._insert_phone(conn, person_id, record.phone, now)
            await self._insert_live_photo(conn, person_id, record.live_photo, now)
            person = await self._load(conn, person_id)
            assert person is not None
            after = dict(person.masked())
            if record.corrections:
                # What the person corrected on 【信息核实】, read → typed (masked by field).
                after["corrections"] = [dict(c) for c in record.corrections]
            await self._audit.write(actor, "person.collect", "person", person_id, None, after)
            await self._users.link_person(record.telegram_user_id, person_id, actor_user_id=actor)
        return person

    async def _insert_document(
        self, conn: Connection, person_id: int, doc: IdentityDocument, now: datetime
    ) -> None:
        await conn.execute(
            "INSERT INTO documents (person_id, doc_type, number_index, number_enc, name_enc, sex_enc,"
            " ethnicity_enc, birth_date_enc, address_enc, authority_enc, valid_from, valid_to, long_term,"
            " front_media_id, back_media_id, portrait_media_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                person_id,
                str(doc.doc_type),
                self._doc_index(doc.doc_type, doc.number),
                self._enc("documents.number", normalize_number(doc.number)),
                self._enc("documents.name", doc.name),
                self._enc("documents.sex", doc.sex),
                self._enc("documents.ethnicity", doc.ethnicity),
                self._enc(
                    "documents.birth_date", None if doc.birth_date is None else date_to_db(doc.birth_date)
                ),
                self._enc("documents.address", doc.address),
                self._enc("documents.authority", doc.authority),
                None if doc.valid_from is None else date_to_db(doc.valid_from),
                None if doc.valid_to is None else date_to_db(doc.valid_to),
                int(doc.long_term),
                doc.front_media_id,
                doc.back_media_id,
                doc.portrait_media_id,
                to_db(now),
            ),
        )

    async def _insert_consents(
        self,
        conn: Connection,
        person_id: int,
        consents: Sequence[Consent],
        telegram_user_id: int | None,
    ) -> None:
        for consent in consents:
            await conn.execute(
                "INSERT INTO consents"
                " (person_id, document, version, text_hash, agreed_at, telegram_user_id)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    person_id,
                    str(consent.document),
                    consent.version,
                    consent.text_hash,
                    to_db(consent.agreed_at),
                    telegram_user_id,
                ),
            )

    async def _insert_phone(
        self, conn: Connection, person_id: int, phone: PhoneNumber, now: datetime
    ) -> None:
        await conn.execute(
            "INSERT INTO phones (person_id, number_index, number_enc, verified_at, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                person_id,
                self._phone_index(phone.number),
                self._enc("phones.number", phone.number),
                None if phone.verified_at is None else to_db(phone.verified_at),
                to_db(now),
            ),
        )

    async def _insert_live_photo(
        self, conn: Connection, person_id: int, photo: LivePhoto, now: datetime
    ) -> None:
        await conn.execute(
            "INSERT INTO live_photos (person_id, media_id, encoding_enc, model, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                person_id,
                photo.media_id,
                self._cipher.encrypt_bytes(pack_encoding(photo.encoding), context="live_photos.encoding"),
                photo.model,
                to_db(now),
            ),
        )

    async def replace_document(
        self, person_id: int, document: IdentityDocument, *, actor_user_id: int | None
    ) -> Person:
        """A renewed card of the same person (补录): the number must be the person's own."""
        now = self._clock()
        async with self._db.transaction() as conn:
            before = await self._require(conn, person_id)
            if before.document.doc_type != document.doc_type or normalize_number(
                before.document.number
            ) != normalize_number(document.number):
                raise ValueError("a replacement document must have the person's document type and number")
            await conn.execute(
                "UPDATE documents SET superseded_at = ? WHERE person_id = ? AND superseded_at IS NULL",
                (to_db(now), person_id),
            )
            await self._insert_document(conn, person_id, document, now)
            return await self._touch_and_audit(
                conn, person_id, before, "person.document.replace", actor_user_id
            )

    async def replace_phone(self, person_id: int, phone: PhoneNumber, *, actor_user_id: int | None) -> Person:
        if phone.verified_at is None:
            raise ValueError("the phone must be verified before it is saved")
        now = self._clock()
        async with self._db.transaction() as conn:
            before = await self._require(conn, person_id)
            await conn.execute(
                "UPDATE phones SET replaced_at = ? WHERE person_id = ? AND replaced_at IS NULL",
                (to_db(now), person_id),
            )
            await self._insert_phone(conn, person_id, phone, now)
            return await self._touch_and_audit(conn, person_id, before, "person.phone.replace", actor_user_id)

    async def replace_live_photo(
        self, person_id: int, photo: LivePhoto, *, actor_user_id: int | None
    ) -> Person:
        """A new on-site photo (补采 of a missing photo, or a newer one)."""
        now = self._clock()
        async with self._db.transaction() as conn:
            before = await self._require(conn, person_id)
            await conn.execute(
                "UPDATE live_photos SET replaced_at = ? WHERE person_id = ? AND replaced_at IS NULL",
                (to_db(now), person_id),
            )
            await self._insert_live_photo(conn, person_id, photo, now)
            return await self._touch_and_audit(
                conn, person_id, before, "person.live_photo.replace", actor_user_id
            )

    async def add_consents(
        self, person_id: int, consents: Sequence[Consent], *, telegram_user_id: int | None
    ) -> None:
        """Documents signed after collection (the face agreement of 补录, 变更, 维护): kept like the
        first ones, with version, text hash and time (PIPL: which text was agreed, and when)."""
        if not consents:
            return
        async with self._db.transaction() as conn:
            await self._require(conn, person_id)
            await self._insert_consents(conn, person_id, consents, telegram_user_id)
            await self._audit.write(
                telegram_user_id,
                "person.consent.add",
                "person",
                person_id,
                None,
                {"consents": [c.masked() for c in consents]},
            )

    async def set_residence(
        self, person_id: int, residence: str | None, *, actor_user_id: int | None
    ) -> Person:
        async with self._db.transaction() as conn:
            before = await self._require(conn, person_id)
            await conn.execute(
                "UPDATE persons SET residence_enc = ? WHERE id = ?",
                (self._enc("persons.residence", residence), person_id),
            )
            return await self._touch_and_audit(
                conn, person_id, before, "person.residence.change", actor_user_id
            )

    async def erase(self, person_id: int, *, actor_user_id: int | None) -> list[str]:
        """Delete the person and everything that hangs on them (PIPL deletion); returns the media
        ids of their photos for the caller to delete from the media store after the commit."""
        async with self._db.transaction() as conn:
            before = await self._require(conn, person_id)
            media: list[str] = []
            for row in await (
                await conn.execute(
                    "SELECT front_media_id, back_media_id, portrait_media_id FROM documents"
                    " WHERE person_id = ?",
                    (person_id,),
                )
            ).fetchall():
                media.extend(value for value in row if value)
            for row in await (
                await conn.execute("SELECT media_id FROM live_photos WHERE person_id = ?", (person_id,))
            ).fetchall():
                media.append(row[0])
            # ON DELETE CASCADE takes documents, consents, phones, live photos and Telegram links.
            await conn.execute("DELETE FROM persons WHERE id = ?", (person_id,))
            await self._audit.write(actor_user_id, "person.erase", "person", person_id, before.masked(), None)
        return media

    async def _require(self, conn: Connection, person_id: int) -> Person:
        person = await self._load(conn, person_id)
        if person is None:
            raise LookupError(f"no person {person_id}")
        return person

    async def _touch_and_audit(
        self, conn: Connection, person_id: int, before: Person, action: str, actor: int | None
    ) -> Person:
        await conn.execute(
            "UPDATE persons SET updated_at = ? WHERE id = ?", (to_db(self._clock()), person_id)
        )
        after = await self._require(conn, person_id)
        await self._audit.write(actor, action, "person", person_id, before.masked(), after.masked())
        return after

    # -- reading ---------------------------------------------------------------------------------

    async def get(self, person_id: int) -> Person | None:
        async with self._db.read() as conn:
            return await self._load(conn, person_id)

    async def find_by_document(self, doc_type: DocumentType, number: str) -> Person | None:
        async with self._db.read() as conn:
            row = await (
                await conn.execute(
                    "SELECT id FROM persons WHERE doc_type = ? AND doc_index = ?",
                    (str(doc_type), self._doc_index(doc_type, number)),
                )
            ).fetchone()
            return None if row is None else await self._load(conn, int(row[0]))

    async def find_by_telegram(self, user_id: int) -> Person | None:
        async with self._db.read() as conn:
            row = await (
                await conn.execute("SELECT person_id FROM telegram_links WHERE user_id = ?", (user_id,))
            ).fetchone()
            return None if row is None else await self._load(conn, int(row[0]))

    async def find_by_phone(self, phone: str) -> list[Person]:
        """Everyone whose current phone this is (a phone is not unique: families share one)."""
        async with self._db.read() as conn:
            rows = await (
                await conn.execute(
                    "SELECT DISTINCT person_id FROM phones WHERE number_index = ? AND replaced_at IS NULL"
                    " ORDER BY person_id",
                    (self._phone_index(phone),),
                )
            ).fetchall()
            found = [await self._load(conn, int(row[0])) for row in rows]
        return [person for person in found if person is not None]

    async def nearest_face(
        self, encoding: Sequence[float], threshold: float, *, exclude_person_id: int | None = None
    ) -> FaceMatch | None:
        """The stored live face closest to ``encoding`` (Euclidean distance) if within ``threshold``
        (bot.storage.face_index: decrypted once per process, compared off the event loop)."""
        faces = self._faces or FaceIndex(self._cipher)
        return await faces.nearest(self._db, encoding, threshold, exclude_person_id=exclude_person_id)

    async def _load(self, conn: Connection, person_id: int) -> Person | None:
        person = await (
            await conn.execute(
                "SELECT id, residence_enc, created_at, updated_at FROM persons WHERE id = ?", (person_id,)
            )
        ).fetchone()
        if person is None:
            return None
        doc = await (
            await conn.execute(
                "SELECT id, doc_type, number_enc, name_enc, sex_enc, ethnicity_enc, birth_date_enc,"
                " address_enc, authority_enc, valid_from, valid_to, long_term, front_media_id, back_media_id,"
                " portrait_media_id FROM documents WHERE person_id = ? AND superseded_at IS NULL",
                (person_id,),
            )
        ).fetchone()
        if doc is None:
            raise RuntimeError(f"person {person_id} has no current document")
        phone = await (
            await conn.execute(
                "SELECT number_enc, verified_at FROM phones WHERE person_id = ? AND replaced_at IS NULL",
                (person_id,),
            )
        ).fetchone()
        photo = await (
            await conn.execute(
                "SELECT id, media_id, encoding_enc, model, created_at FROM live_photos"
                " WHERE person_id = ? AND replaced_at IS NULL",
                (person_id,),
            )
        ).fetchone()
        consents = await (
            await conn.execute(
                "SELECT document, version, text_hash, agreed_at FROM consents"
                " WHERE person_id = ? ORDER BY id",
                (person_id,),
            )
        ).fetchall()
        return Person(
            id=int(person[0]),
            document=self._document(doc),
            phone=None
            if phone is None
            else PhoneNumber(
                self._dec("phones.number", phone[0]) or "",
                None if phone[1] is None else from_db(phone[1]),
            ),
            live_photo=None
            if photo is None
            else LivePhoto(
                media_id=photo[1],
                encoding=unpack_encoding(
                    self._cipher.decrypt_bytes(photo[2], context="live_photos.encoding")
                ),
                model=photo[3],
                created_at=from_db(photo[4]),
                id=int(photo[0]),
            ),
            consents=tuple(Consent(ConsentDocument(c[0]), c[1], c[2], from_db(c[3])) for c in consents),
            created_at=from_db(person[2]),
            updated_at=from_db(person[3]),
            residence=self._dec("persons.residence", person[1]),
        )

    def _document(self, row: Any) -> IdentityDocument:
        birth = self._dec("documents.birth_date", row[6])
        return IdentityDocument(
            id=int(row[0]),
            doc_type=DocumentType(row[1]),
            number=self._dec("documents.number", row[2]) or "",
            name=self._dec("documents.name", row[3]) or "",
            sex=self._dec("documents.sex", row[4]),
            ethnicity=self._dec("documents.ethnicity", row[5]),
            birth_date=None if birth is None else date_from_db(birth),
            address=self._dec("documents.address", row[7]),
            authority=self._dec("documents.authority", row[8]),
            valid_from=None if row[9] is None else date_from_db(row[9]),
            valid_to=None if row[10] is None else date_from_db(row[10]),
            long_term=bool(row[11]),
            front_media_id=row[12],
            back_media_id=row[13],
            portrait_media_id=row[14],
        )
