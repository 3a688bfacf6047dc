"""The enterprise register (企业核心表) and the bindings of collected persons to enterprises.

Loading (staff console, test fixtures)::

    rows = [RegisterRow(taxpayer_id="91110108MA01ABCD2X", enterprise_name="…", status="active",
                        role="legal_rep", doc_type="resident_id", doc_number="…", person_name="…",
                        phone="138…"), ...]
    result = await repo.enterprises.load(rows, loaded_by=admin_telegram_id)

:class:`~bot.domain.enterprise.RegisterRow` (documented there, field by field) is one row per
(enterprise, role, person); a row with ``role`` empty only declares the enterprise. Check rows with
:func:`~bot.domain.enterprise.row_problems` first: ``load`` refuses the whole batch (``RegisterRejected``)
when a row has a problem or two rows disagree about an enterprise's name or status. In one
transaction, each enterprise named in the batch is inserted or updated and **its people are replaced**
by the batch's rows for it (the register is authoritative: someone no longer listed loses the rights
their binding gave, see ``bot.domain.policies``); enterprises not named are left alone. One audit row
per enterprise, before/after masked.

People's document numbers are stored encrypted with a blind index (kind = document type, the same
index as ``persons``, so a collected person and their register entries meet), names and phones
encrypted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.domain.clock import Clock, system_clock
from bot.domain.enterprise import (
    Binding,
    Enterprise,
    EnterprisePerson,
    EnterpriseStatus,
    RegisterRow,
    Role,
    row_problems,
)
from bot.domain.errors import BindingExists, RegisterRejected
from bot.domain.phone import normalize_mainland_mobile
from bot.storage.crypto import FieldCipher
from bot.storage.repositories.audit import AuditRepo
from bot.storage.sql import Connection, Database, IntegrityError, new_id
from bot.storage.timeutil import from_db, to_db
from bot.verification.ids import DocumentType, normalize_number

__all__ = ["EnterpriseRepo", "LoadResult", "RegisterRow"]

_ENTERPRISE_COLUMNS = "id, taxpayer_id, name, status, loaded_at"
_PERSON_COLUMNS = "id, enterprise_id, role, doc_type, number_enc, name_enc, phone_enc"
_BINDING_COLUMNS = "id, person_id, enterprise_id, role, bound_at, bound_by"


@dataclass(frozen=True)
class LoadResult:
    enterprises: int  # inserted or updated
    people: int  # register entries now listed for them
    removed: int  # entries of those enterprises no longer listed


@dataclass
class _Batch:
    name: str
    status: str
    people: dict[tuple[str, str, str], RegisterRow]  # (role, doc_type, number) → row


class EnterpriseRepo:
    def __init__(
        self, db: Database, cipher: FieldCipher, audit: AuditRepo, clock: Clock = system_clock
    ) -> None:
        self._db = db
        self._cipher = cipher
        self._audit = audit
        self._clock = clock

    def _index(self, doc_type: DocumentType | str, number: str) -> str:
        return self._cipher.blind_index(str(doc_type), normalize_number(number))

    def _enc(self, column: str, value: str | None) -> str | None:
        return (
            None if value is None else self._cipher.encrypt_text(value, context=f"enterprise_people.{column}")
        )

    def _dec(self, column: str, value: str | None) -> str | None:
        return (
            None if value is None else self._cipher.decrypt_text(value, context=f"enterprise_people.{column}")
        )

    # -- loading ---------------------------------------------------------------------------------

    @staticmethod
    def _group(rows: Iterable[RegisterRow], today: date | None) -> dict[str, _Batch]:
        batches: dict[str, _Batch] = {}
        for i, row in enumerate(rows):
            problems = row_problems(row, today=today)
            if problems:
                raise RegisterRejected(i, problems)
            taxpayer_id = normalize_number(row.taxpayer_id)
            name = row.enterprise_name.strip()
            batch = batches.setdefault(taxpayer_id, _Batch(name, row.status, {}))
            if (batch.name, batch.status) != (name, row.status):
                raise RegisterRejected(i, ["register_conflicting_enterprise"])
            if row.role:
                key = (row.role, str(row.doc_type), normalize_number(row.doc_number or ""))
                batch.people[key] = row
        return batches

    async def load(
        self, rows: Iterable[RegisterRow], *, loaded_by: int | None, today: date | None = None
    ) -> LoadResult:
        batches = self._group(rows, today)
        now = to_db(self._clock())
        listed = removed = 0
        async with self._db.transaction() as conn:
            for taxpayer_id, batch in batches.items():
                old = await self._enterprise_where(conn, "taxpayer_id = ?", taxpayer_id)
                before = None if old is None else await self._snapshot(conn, old)
                await conn.execute(
                    "INSERT INTO enterprises (taxpayer_id, name, status, loaded_at, loaded_by)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (taxpayer_id) DO UPDATE SET"
                    " name = excluded.name, status = excluded.status, loaded_at = excluded.loaded_at,"
                    " loaded_by = excluded.loaded_by",
                    (taxpayer_id, batch.name, batch.status, now, loaded_by),
                )
                enterprise = await self._enterprise_where(conn, "taxpayer_id = ?", taxpayer_id)
                assert enterprise is not None
                keep: list[int] = []
                for (role, doc_type, number), row in batch.people.items():
                    phone = normalize_mainland_mobile(row.phone) if row.phone else None
                    cursor = await conn.execute(
                        "INSERT INTO enterprise_people (enterprise_id, role, doc_type, number_index,"
                        " number_enc, name_enc, phone_enc, loaded_at, loaded_by)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                        " ON CONFLICT (enterprise_id, role, doc_type, number_index) DO UPDATE SET"
                        " number_enc = excluded.number_enc, name_enc = excluded.name_enc,"
                        " phone_enc = excluded.phone_enc, loaded_at = excluded.loaded_at,"
                        " loaded_by = excluded.loaded_by RETURNING id",
                        (
                            enterprise.id,
                            role,
                            doc_type,
                            self._index(doc_type, number),
                            self._enc("number", number),
                            self._enc("name", (row.person_name or "").strip()),
                            self._enc("phone", phone),
                            now,
                            loaded_by,
                        ),
                    )
                    returned = await cursor.fetchone()
                    assert returned is not None
                    keep.append(int(returned[0]))
                placeholders = ",".join("?" * len(keep))
                cursor = await conn.execute(
                    "DELETE FROM enterprise_people WHERE enterprise_id = ?"
                    + (f" AND id NOT IN ({placeholders})" if keep else ""),
                    (enterprise.id, *keep),
                )
                removed += max(0, cursor.rowcount)
                listed += len(keep)
                await self._audit.write(
                    loaded_by,
                    "enterprise.load",
                    "enterprise",
                    enterprise.id,
                    before,
                    await self._snapshot(conn, enterprise),
                )
        return LoadResult(enterprises=len(batches), people=listed, removed=removed)

    async def _snapshot(self, conn: Connection, enterprise: Enterprise) -> dict[str, Any]:
        people = await self._people(conn, enterprise.id)
        return {**enterprise.masked(), "people": [p.masked() for p in people]}

    # -- enterprises and their people ------------------------------------------------------------

    @staticmethod
    def _enterprise(row: Any) -> Enterprise:
        return Enterprise(int(row[0]), row[1], row[2], EnterpriseStatus(row[3]), from_db(row[4]))

    async def _enterprise_where(self, conn: Connection, where: str, value: Any) -> Enterprise | None:
        row = await (
            await conn.execute(f"SELECT {_ENTERPRISE_COLUMNS} FROM enterprises WHERE {where}", (value,))
        ).fetchone()
        return None if row is None else self._enterprise(row)

    async def get(self, taxpayer_id: str) -> Enterprise | None:
        async with self._db.read() as conn:
            return await self._enterprise_where(conn, "taxpayer_id = ?", normalize_number(taxpayer_id))

    async def get_by_id(self, enterprise_id: int) -> Enterprise | None:
        async with self._db.read() as conn:
            return await self._enterprise_where(conn, "id = ?", enterprise_id)

    async def count(self) -> int:
        async with self._db.read() as conn:
            row = await (await conn.execute("SELECT count(*) FROM enterprises")).fetchone()
        return 0 if row is None else int(row[0])

    def _person(self, row: Any) -> EnterprisePerson:
        return EnterprisePerson(
            id=int(row[0]),
            enterprise_id=int(row[1]),
            role=Role(row[2]),
            doc_type=DocumentType(row[3]),
            number=self._dec("number", row[4]) or "",
            name=self._dec("name", row[5]) or "",
            phone=self._dec("phone", row[6]),
        )

    async def _people(self, conn: Connection, enterprise_id: int) -> list[EnterprisePerson]:
        cursor = await conn.execute(
            f"SELECT {_PERSON_COLUMNS} FROM enterprise_people WHERE enterprise_id = ?"
            " ORDER BY CASE role WHEN 'legal_rep' THEN 0 WHEN 'finance_officer' THEN 1"
            " WHEN 'tax_handler' THEN 2 ELSE 3 END, id",
            (enterprise_id,),
        )
        return [self._person(row) for row in await cursor.fetchall()]

    async def people(self, enterprise_id: int) -> list[EnterprisePerson]:
        """The enterprise's register entries: legal rep first, then finance officer, tax handlers, buyers."""
        async with self._db.read() as conn:
            return await self._people(conn, enterprise_id)

    async def person(self, enterprise_person_id: int) -> EnterprisePerson | None:
        async with self._db.read() as conn:
            row = await (
                await conn.execute(
                    f"SELECT {_PERSON_COLUMNS} FROM enterprise_people WHERE id = ?", (enterprise_person_id,)
                )
            ).fetchone()
        return None if row is None else self._person(row)

    async def roles_of(self, doc_type: DocumentType, number: str) -> list[EnterprisePerson]:
        """Every register entry of this document, in any enterprise."""
        async with self._db.read() as conn:
            cursor = await conn.execute(
                f"SELECT {_PERSON_COLUMNS} FROM enterprise_people WHERE doc_type = ? AND number_index = ?"
                " ORDER BY enterprise_id, id",
                (str(doc_type), self._index(doc_type, number)),
            )
            return [self._person(row) for row in await cursor.fetchall()]

    async def listed_roles(self, doc_type: DocumentType, number: str) -> dict[int, frozenset[Role]]:
        """Enterprise id → the roles the register lists this document in (what the policies take)."""
        found: dict[int, set[Role]] = {}
        for entry in await self.roles_of(doc_type, number):
            found.setdefault(entry.enterprise_id, set()).add(entry.role)
        return {k: frozenset(v) for k, v in found.items()}

    async def is_listed(self, taxpayer_id: str, doc_type: DocumentType, number: str, role: Role) -> bool:
        async with self._db.read() as conn:
            row = await (
                await conn.execute(
                    "SELECT 1 FROM enterprise_people p JOIN enterprises e ON e.id = p.enterprise_id"
                    " WHERE e.taxpayer_id = ? AND p.doc_type = ? AND p.number_index = ? AND p.role = ?",
                    (normalize_number(taxpayer_id), str(doc_type), self._index(doc_type, number), str(role)),
                )
            ).fetchone()
        return row is not None

    # -- bindings --------------------------------------------------------------------------------

    @staticmethod
    def _binding(row: Any) -> Binding:
        return Binding(int(row[0]), int(row[1]), int(row[2]), Role(row[3]), from_db(row[4]), row[5])

    async def bind(self, person_id: int, enterprise_id: int, role: Role, *, bound_by: int | None) -> Binding:
        """Raises :class:`BindingExists` when this binding is current already. Authorisation is the
        caller's (``bot.domain.policies``); this only records."""
        now = self._clock()
        async with self._db.transaction():
            try:
                async with self._db.transaction() as inner:
                    cursor = await inner.execute(
                        "INSERT INTO enterprise_bindings (person_id, enterprise_id, role, bound_at, bound_by)"
                        " VALUES (?, ?, ?, ?, ?) RETURNING id",
                        (person_id, enterprise_id, str(role), to_db(now), bound_by),
                    )
                    binding_id = new_id(await cursor.fetchone())
            except IntegrityError:
                raise BindingExists() from None
            binding = Binding(binding_id, person_id, enterprise_id, role, now, bound_by)
            await self._audit.write(
                bound_by, "enterprise.bind", "enterprise_binding", binding.id, None, binding.masked()
            )
        return binding

    async def unbind(self, person_id: int, enterprise_id: int, role: Role, *, unbound_by: int | None) -> bool:
        """End the current binding (kept for history); False when there was none."""
        async with self._db.transaction() as conn:
            row = await (
                await conn.execute(
                    f"SELECT {_BINDING_COLUMNS} FROM enterprise_bindings WHERE person_id = ?"
                    " AND enterprise_id = ? AND role = ? AND unbound_at IS NULL",
                    (person_id, enterprise_id, str(role)),
                )
            ).fetchone()
            if row is None:
                return False
            binding = self._binding(row)
            now = self._clock()
            await conn.execute(
                "UPDATE enterprise_bindings SET unbound_at = ?, unbound_by = ? WHERE id = ?",
                (to_db(now), unbound_by, binding.id),
            )
            await self._audit.write(
                unbound_by,
                "enterprise.unbind",
                "enterprise_binding",
                binding.id,
                binding.masked(),
                {**binding.masked(), "unbound_at": now.isoformat(), "unbound_by": unbound_by},
            )
        return True

    async def bindings_of(self, person_id: int) -> list[Binding]:
        async with self._db.read() as conn:
            cursor = await conn.execute(
                f"SELECT {_BINDING_COLUMNS} FROM enterprise_bindings"
                " WHERE person_id = ? AND unbound_at IS NULL ORDER BY id",
                (person_id,),
            )
            return [self._binding(row) for row in await cursor.fetchall()]

    async def bindings_for(self, enterprise_id: int) -> list[Binding]:
        async with self._db.read() as conn:
            cursor = await conn.execute(
                f"SELECT {_BINDING_COLUMNS} FROM enterprise_bindings WHERE enterprise_id = ?"
                " AND unbound_at IS NULL ORDER BY id",
                (enterprise_id,),
            )
            return [self._binding(row) for row in await cursor.fetchall()]

    async def binding(self, person_id: int, enterprise_id: int, role: Role | None = None) -> Binding | None:
        """The current binding (of ``role``, or the first of any role)."""
        for found in await self.bindings_of(person_id):
            if found.enterprise_id == enterprise_id and (role is None or found.role is role):
                return found
        return None
