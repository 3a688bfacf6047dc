"""The collection dialog's FSM data → the record saved: one function for the dialog and for staff.

A review case keeps the dialog's data as its payload, so a reviewer's approval must build exactly the
record the dialog would have saved itself; both call :func:`collected_record`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from bot.dialogs.card_data import back_from_dict, front_from_dict
from bot.dialogs.consent import as_consents
from bot.domain.models import CollectedRecord, IdentityDocument, LivePhoto, PhoneNumber
from bot.verification.ids import DocumentType

__all__ = ["collected_record", "document_from_data", "record_media"]


def document_from_data(data: Mapping[str, Any]) -> IdentityDocument:
    """The identity document of the ID card path (`card`) or the other-documents path (`other`)."""
    if data.get("doc_type") == DocumentType.RESIDENT_ID.value:
        c = data["card"]
        front, back = front_from_dict(c.get("front")), back_from_dict(c.get("back"))
        return IdentityDocument(
            doc_type=DocumentType.RESIDENT_ID,
            number=front.id_number or "",
            name=front.name or "",
            sex=front.sex,
            ethnicity=front.ethnicity,
            birth_date=front.birth_date,
            address=front.address,
            authority=back.authority,
            valid_from=back.valid_from,
            valid_to=back.valid_to,
            long_term=back.long_term,
            front_media_id=c.get("front_media"),
            back_media_id=c.get("back_media"),
            portrait_media_id=c.get("portrait_media"),
        )
    other = data["other"]
    birth = date.fromisoformat(other["birth_date"]) if other.get("birth_date") else None
    return IdentityDocument(
        doc_type=DocumentType(data["doc_type"]),
        number=other["number"],
        name=other["name"],
        birth_date=birth,
        portrait_media_id=other.get("photo_media"),
    )


def collected_record(telegram_user_id: int, data: Mapping[str, Any]) -> CollectedRecord:
    """Document, consents, verified phone and live photo of a finished (or reviewed) collection."""
    outcome = data["face"]
    return CollectedRecord(
        telegram_user_id=telegram_user_id,
        document=document_from_data(data),
        consents=as_consents(list(data.get("consents") or [])),
        phone=PhoneNumber(data["phone"]["number"], datetime.fromisoformat(data["phone"]["verified_at"])),
        live_photo=LivePhoto(media_id=outcome["media"], encoding=tuple(outcome["encoding"])),
    )


def record_media(record: CollectedRecord) -> frozenset[str]:
    """The media ids that become part of the saved record (kept when the dialog's uploads go)."""
    doc = record.document
    return frozenset(
        m
        for m in (doc.front_media_id, doc.back_media_id, doc.portrait_media_id, record.live_photo.media_id)
        if m
    )
