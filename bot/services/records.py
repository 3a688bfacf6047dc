"""A dialog's data → what is saved: one function for the dialog's use case and for staff.

A review case keeps the dialog's data as its payload, so a reviewer's approval must save exactly what
the dialog would have saved itself: both call :func:`collected_record` (采集), :func:`apply_supplement`
(补录) and :func:`apply_change` (变更), which write through the repositories (their audit rows
included) inside the caller's transaction. The card fields and signed documents are read back from
that data here too (the dialogs write them: bot/dialogs/card_data.py, bot/dialogs/consent.py), so a
use case or a staff handler never reaches into a dialog module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import date, datetime
from typing import Any

from bot.domain.masking import mask_address, mask_id_number, mask_name
from bot.domain.models import (
    CollectedRecord,
    Consent,
    ConsentDocument,
    IdentityDocument,
    LivePhoto,
    PhoneNumber,
)
from bot.storage.repositories import Repositories
from bot.verification.idcard import BackFields, FrontFields
from bot.verification.ids import DocumentType

__all__ = [
    "apply_change",
    "apply_edits",
    "apply_supplement",
    "as_consents",
    "back_from_dict",
    "collected_record",
    "dialog_document",
    "document_from_data",
    "document_media",
    "front_from_dict",
    "mask_field",
    "masked_corrections",
    "record_media",
]


# --- the card's fields and the signed documents as the dialog data holds them (JSON) ---------------


def _load_date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def front_from_dict(data: dict[str, Any] | None) -> FrontFields:
    values = dict(data or {})
    values["birth_date"] = _load_date(values.get("birth_date"))
    known = {f.name for f in fields(FrontFields)}
    return FrontFields(**{k: v for k, v in values.items() if k in known})


def back_from_dict(data: dict[str, Any] | None) -> BackFields:
    values = dict(data or {})
    values["valid_from"] = _load_date(values.get("valid_from"))
    values["valid_to"] = _load_date(values.get("valid_to"))
    known = {f.name for f in fields(BackFields)}
    return BackFields(**{k: v for k, v in values.items() if k in known})


def mask_field(field: str, value: str | None) -> str | None:
    """One field's value as it may be shown anywhere but to its owner on 【信息核实】."""
    if not value:
        return value
    if field == "id_number":
        return mask_id_number(value)
    if field == "address":
        return mask_address(value)
    if field == "name":
        return mask_name(value)
    if field == "birth_date":
        return "****"
    return value


def masked_corrections(card: dict[str, Any]) -> list[dict[str, str | None]]:
    """Every correction of the dialog, masked by field, for the audit row and the reviewer."""
    return [
        {
            "field": str(c.get("field")),
            "read": mask_field(str(c.get("field")), c.get("read")),
            "typed": mask_field(str(c.get("field")), c.get("typed")),
        }
        for c in card.get("corrections", [])
    ]


def as_consents(items: list[dict[str, Any]]) -> tuple[Consent, ...]:
    """The documents signed in the dialog (bot/dialogs/consent.py writes them)."""
    return tuple(
        Consent(
            ConsentDocument(c["document"]),
            c["version"],
            c["text_hash"],
            datetime.fromisoformat(c["agreed_at"]),
        )
        for c in items
    )


# --- what is saved ------------------------------------------------------------------------------


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


def dialog_document(data: Mapping[str, Any]) -> IdentityDocument | None:
    """The document a dialog has read or typed so far; None before it has one (or half of one)."""
    if not data.get("doc_type"):
        return None
    try:
        return document_from_data(data)
    except (KeyError, TypeError, ValueError):
        return None


def collected_record(telegram_user_id: int, data: Mapping[str, Any]) -> CollectedRecord:
    """Document, consents, verified phone and live photo of a finished (or reviewed) collection."""
    outcome = data["face"]
    return CollectedRecord(
        telegram_user_id=telegram_user_id,
        document=document_from_data(data),
        consents=as_consents(list(data.get("consents") or [])),
        phone=PhoneNumber(data["phone"]["number"], datetime.fromisoformat(data["phone"]["verified_at"])),
        live_photo=LivePhoto(media_id=outcome["media"], encoding=tuple(outcome["encoding"])),
        corrections=tuple(masked_corrections(dict(data.get("card") or {}))),
    )


def document_media(doc: IdentityDocument) -> frozenset[str]:
    return frozenset(m for m in (doc.front_media_id, doc.back_media_id, doc.portrait_media_id) if m)


def record_media(record: CollectedRecord) -> frozenset[str]:
    """The media ids that become part of the saved record (kept when the dialog's uploads go)."""
    return document_media(record.document) | {record.live_photo.media_id}


async def apply_supplement(
    repo: Repositories,
    person_id: int,
    data: Mapping[str, Any],
    *,
    actor_user_id: int,
    signer_user_id: int,
) -> frozenset[str]:
    """补录: the renewed card (when the stored one had expired), the new on-site photo and the face
    agreement signed by ``signer_user_id``; returns the media ids now part of the record. Call it
    inside a transaction."""
    outcome = data["face"]
    live = LivePhoto(media_id=outcome["media"], encoding=tuple(outcome["encoding"]))
    kept = {live.media_id}
    if data.get("path") == "expired":
        document = document_from_data(data)
        await repo.persons.replace_document(person_id, document, actor_user_id=actor_user_id)
        kept |= document_media(document)
    await repo.persons.replace_live_photo(person_id, live, actor_user_id=actor_user_id)
    signed = as_consents(list(data.get("consents") or []))
    await repo.persons.add_consents(person_id, signed, telegram_user_id=signer_user_id)
    return frozenset(kept)


async def apply_edits(
    repo: Repositories,
    person_id: int,
    edits: Mapping[str, Any],
    *,
    actor_user_id: int,
    relink_user_id: int | None = None,
    consents: list[dict[str, Any]] | None = None,
) -> list[str]:
    """The new phone (verified by code) and residence; with ``relink_user_id`` (变更) that account is
    linked to the person, who signed ``consents`` in the dialog. Returns what changed. Call it inside a
    transaction."""
    changed: list[str] = []
    if edits.get("phone"):
        phone = PhoneNumber(edits["phone"]["number"], datetime.fromisoformat(edits["phone"]["verified_at"]))
        await repo.persons.replace_phone(person_id, phone, actor_user_id=actor_user_id)
        changed.append("phone")
    if edits.get("residence"):
        await repo.persons.set_residence(person_id, edits["residence"], actor_user_id=actor_user_id)
        changed.append("residence")
    if relink_user_id is not None:
        await repo.users.link_person(relink_user_id, person_id, actor_user_id=actor_user_id)
        # 变更: the face agreement was signed by this very person, proven by the face check.
        signed = as_consents(list(consents or []))
        await repo.persons.add_consents(person_id, signed, telegram_user_id=relink_user_id)
    return changed


async def apply_change(
    repo: Repositories, person_id: int, data: Mapping[str, Any], *, actor_user_id: int, user_id: int
) -> list[str]:
    """变更: the pending edits of the dialog of ``user_id`` and the re-link of that account."""
    return await apply_edits(
        repo,
        person_id,
        dict(data.get("edits") or {}),
        actor_user_id=actor_user_id,
        relink_user_id=user_id,
        consents=list(data.get("consents") or []),
    )
