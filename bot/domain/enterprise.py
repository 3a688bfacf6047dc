"""The enterprise register (企业核心表) and bindings, as plain values (no I/O).

The register is what the tax bureau knows: enterprises (taxpayer identification number = unified
social credit code, name, status) and the people who act for them, by role. Staff load it as rows of
:class:`RegisterRow`; a *binding* links a collected person (a Telegram-linked natural person) to an
enterprise in a role, with who bound them and when.

``RegisterRow`` is the row format every loader produces (the staff console's CSV/XLSX import, the
test fixtures): one row per (enterprise, role, person); a row with ``role`` empty only declares the
enterprise. Fields:

============== ===================================================================================
taxpayer_id     纳税人识别号, the 18-character unified social credit code (GB 32100 check char)
enterprise_name 企业名称
status          ``active`` (正常) | ``suspended`` (非正常) | ``deregistered`` (注销)
role            ``legal_rep`` | ``finance_officer`` | ``tax_handler`` | ``invoice_buyer`` or empty
doc_type        a :class:`~bot.verification.ids.DocumentType` value (``resident_id``, ...)
doc_number      the person's document number
person_name     the person's name
phone           the person's mainland mobile number, or empty
============== ===================================================================================

:func:`row_problems` checks one row (reason codes ``register_*``); the repository's ``load`` expects
rows without problems.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from bot.domain.masking import mask_id_number, mask_name, mask_phone
from bot.domain.phone import is_mainland_mobile
from bot.verification.ids import DocumentType, normalize_number, validate_document_number, validate_uscc

__all__ = [
    "Binding",
    "Enterprise",
    "EnterprisePerson",
    "EnterpriseStatus",
    "RegisterReason",
    "RegisterRow",
    "Role",
    "row_problems",
]


class Role(StrEnum):
    LEGAL_REP = "legal_rep"  # 法定代表人
    FINANCE_OFFICER = "finance_officer"  # 财务负责人
    TAX_HANDLER = "tax_handler"  # 办税人
    INVOICE_BUYER = "invoice_buyer"  # 购票人


class EnterpriseStatus(StrEnum):
    ACTIVE = "active"  # 正常
    SUSPENDED = "suspended"  # 非正常
    DEREGISTERED = "deregistered"  # 注销


class RegisterReason(StrEnum):
    TAXPAYER_ID = "register_taxpayer_id"
    NAME = "register_enterprise_name"
    STATUS = "register_status"
    ROLE = "register_role"
    DOC_TYPE = "register_doc_type"
    DOC_NUMBER = "register_doc_number"
    PERSON_NAME = "register_person_name"
    PHONE = "register_phone"


@dataclass(frozen=True)
class RegisterRow:
    taxpayer_id: str
    enterprise_name: str
    status: str = EnterpriseStatus.ACTIVE.value
    role: str | None = None
    doc_type: str | None = None
    doc_number: str | None = None
    person_name: str | None = None
    phone: str | None = None


def row_problems(row: RegisterRow, *, today: date | None = None) -> list[str]:
    """Every problem of one register row as ``register_*`` reason codes; empty when it can be loaded."""
    problems: list[str] = []
    if validate_uscc(row.taxpayer_id):
        problems.append(RegisterReason.TAXPAYER_ID)
    if not row.enterprise_name.strip() or len(row.enterprise_name) > 200:
        problems.append(RegisterReason.NAME)
    if row.status not in {s.value for s in EnterpriseStatus}:
        problems.append(RegisterReason.STATUS)
    if not row.role:
        return problems  # an enterprise without people in this row
    if row.role not in {r.value for r in Role}:
        problems.append(RegisterReason.ROLE)
    if row.doc_type not in {d.value for d in DocumentType}:
        problems.append(RegisterReason.DOC_TYPE)
    elif not row.doc_number or validate_document_number(
        DocumentType(row.doc_type), row.doc_number, today=today
    ):
        problems.append(RegisterReason.DOC_NUMBER)
    if not (row.person_name or "").strip() or len(row.person_name or "") > 60:
        problems.append(RegisterReason.PERSON_NAME)
    if row.phone and not is_mainland_mobile(row.phone):
        problems.append(RegisterReason.PHONE)
    return problems


@dataclass(frozen=True)
class Enterprise:
    id: int
    taxpayer_id: str
    name: str
    status: EnterpriseStatus
    loaded_at: datetime

    @property
    def active(self) -> bool:
        return self.status is EnterpriseStatus.ACTIVE

    def masked(self) -> dict[str, Any]:
        # Taxpayer ids and enterprise names are public registration data: keyed so that the audit's
        # masking by key name ("name" is a person's) leaves the name readable.
        return {
            "enterprise_id": self.id,
            "taxpayer_id": self.taxpayer_id,
            "enterprise_name": self.name,
            "status": str(self.status),
        }


@dataclass(frozen=True)
class EnterprisePerson:
    """One person in one role of one enterprise, as the register lists them."""

    id: int
    enterprise_id: int
    role: Role
    doc_type: DocumentType
    number: str
    name: str
    phone: str | None

    def same_document(self, doc_type: DocumentType, number: str) -> bool:
        return self.doc_type == doc_type and normalize_number(self.number) == normalize_number(number)

    def masked(self) -> dict[str, Any]:
        return {
            "enterprise_person_id": self.id,
            "role": str(self.role),
            "doc_type": str(self.doc_type),
            "number": mask_id_number(self.number),
            "name": mask_name(self.name),
            "phone": mask_phone(self.phone) if self.phone else None,
        }


@dataclass(frozen=True)
class Binding:
    id: int
    person_id: int
    enterprise_id: int
    role: Role
    bound_at: datetime
    bound_by: int | None  # Telegram user id of whoever bound (the person themself, or staff)

    def masked(self) -> dict[str, Any]:
        return {
            "binding_id": self.id,
            "person_id": self.person_id,
            "enterprise_id": self.enterprise_id,
            "role": str(self.role),
            "bound_at": self.bound_at.isoformat(),
            "bound_by": self.bound_by,
        }
