"""The records of real-name collection as plain values (no I/O).

Sensitive fields are plain here; the storage layer encrypts them and the ``masked()`` views are what
may be shown to staff or written to the audit log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from bot.domain.masking import REDACTED, mask_address, mask_id_number, mask_name, mask_phone
from bot.domain.phone import normalize_mainland_mobile
from bot.verification.ids import DocumentType

__all__ = [
    "AuditEntry",
    "CollectedRecord",
    "Consent",
    "ConsentDocument",
    "DocumentType",
    "FaceMatch",
    "IdentityDocument",
    "LivePhoto",
    "Person",
    "PhoneNumber",
    "ReviewCase",
    "ReviewKind",
    "ReviewStatus",
    "TelegramLink",
]


class ConsentDocument(StrEnum):
    PERSONAL_INFO = "personal_info_protection"  # 《个人信息保护告知同意书》
    FACE_RECOGNITION = "face_recognition_service"  # 《人脸识别服务协议》


@dataclass(frozen=True)
class IdentityDocument:
    doc_type: DocumentType
    number: str
    name: str
    sex: str | None = None  # as printed: "男" / "女"
    ethnicity: str | None = None
    birth_date: date | None = None
    address: str | None = None
    authority: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None  # None when long-term
    long_term: bool = False
    front_media_id: str | None = None
    back_media_id: str | None = None
    portrait_media_id: str | None = None
    id: int | None = None  # set once stored

    def is_expired(self, today: date) -> bool:
        return not self.long_term and self.valid_to is not None and self.valid_to < today

    def masked(self) -> dict[str, Any]:
        return {
            "doc_type": str(self.doc_type),
            "number": mask_id_number(self.number),
            "name": mask_name(self.name),
            "valid_to": "long_term"
            if self.long_term
            else (self.valid_to.isoformat() if self.valid_to else None),
        }


@dataclass(frozen=True)
class Consent:
    document: ConsentDocument
    version: str
    text_hash: str  # SHA-256 hex of the exact text shown
    agreed_at: datetime

    def masked(self) -> dict[str, Any]:
        return {
            "document": str(self.document),
            "version": self.version,
            "text_hash": self.text_hash,
            "agreed_at": self.agreed_at.isoformat(),
        }


@dataclass(frozen=True)
class PhoneNumber:
    number: str  # normalised 11 digits (bot.domain.phone)
    verified_at: datetime | None = None

    def __post_init__(self) -> None:
        # Normalising here keeps every stored and compared phone in one spelling.
        object.__setattr__(self, "number", normalize_mainland_mobile(self.number))

    def masked(self) -> str:
        return mask_phone(self.number)


@dataclass(frozen=True)
class LivePhoto:
    media_id: str  # the frame kept from the selfie video, in the MediaStore
    encoding: tuple[float, ...]  # face encoding of that frame
    model: str = "dlib_resnet_128"
    created_at: datetime | None = None
    id: int | None = None


@dataclass(frozen=True)
class TelegramLink:
    user_id: int
    person_id: int
    linked_at: datetime


@dataclass(frozen=True)
class Person:
    id: int
    document: IdentityDocument  # the current one
    phone: PhoneNumber | None
    live_photo: LivePhoto | None
    consents: tuple[Consent, ...]
    created_at: datetime
    updated_at: datetime
    residence: str | None = None  # 居住地, changeable in 实名信息变更

    @property
    def name(self) -> str:
        return self.document.name

    @property
    def missing_live_photo(self) -> bool:
        return self.live_photo is None

    def id_card_expired(self, today: date) -> bool:
        """The current document is a resident ID card past its validity (补录's expired path, and the
        reminder at every login)."""
        return self.document.doc_type is DocumentType.RESIDENT_ID and self.document.is_expired(today)

    def masked(self) -> dict[str, Any]:
        return {
            "person_id": self.id,
            "document": self.document.masked(),
            "phone": self.phone.masked() if self.phone else None,
            "residence": mask_address(self.residence) if self.residence else None,
            "live_photo": REDACTED if self.live_photo else None,
        }


@dataclass(frozen=True)
class CollectedRecord:
    """Everything a finished collection dialog saves, in one transaction."""

    telegram_user_id: int
    document: IdentityDocument
    consents: tuple[Consent, ...]
    phone: PhoneNumber
    live_photo: LivePhoto
    residence: str | None = None
    # Corrections made on 【信息核实】, read → typed, masked by field: they go into the audit row.
    corrections: tuple[Mapping[str, str | None], ...] = ()


@dataclass(frozen=True)
class FaceMatch:
    person_id: int
    distance: float


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor_user_id: int | None
    action: str
    subject_type: str
    subject_id: str | None
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None


class ReviewKind(StrEnum):
    FACE_NEAR_THRESHOLD = "face_near_threshold"
    SAME_NUMBER_OTHER_FACE = "same_number_other_face"
    SAME_FACE_OTHER_NUMBER = "same_face_other_number"
    UNREADABLE_CARD = "unreadable_card"
    # An identity field corrected (or a permit) without the authority's photo to match, an authority
    # that did not answer, or a card portrait that is not the selfie (bot/dialogs/authority.py).
    IDENTITY_UNVERIFIED = "identity_unverified"
    # 补录 / 变更 of an already collected person: the face is near the threshold of the stored face.
    SUPPLEMENT_FACE_NEAR_THRESHOLD = "supplement_face_near_threshold"
    CHANGE_FACE_NEAR_THRESHOLD = "change_face_near_threshold"


class ReviewStatus(StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class ReviewCase:
    id: int
    kind: ReviewKind
    status: ReviewStatus
    user_id: int  # the Telegram user waiting for the outcome
    reasons: tuple[str, ...]  # reason codes
    media_ids: tuple[str, ...]  # ID photos, portrait, selfie frames
    payload: Mapping[str, Any]  # the read fields etc., stored encrypted
    created_at: datetime
    # collection: the existing person the case collides with, if any; 补录 / 变更: the person it is for
    person_id: int | None = None
    decided_at: datetime | None = None
    decided_by: int | None = None
    decision_reason: str | None = None
