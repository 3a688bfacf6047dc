"""A dialog's FSM data → what is saved: one function for the dialog and for staff.

A review case keeps the dialog's data as its payload, so a reviewer's approval must save exactly what
the dialog would have saved itself: both call :func:`collected_record` (采集), :func:`apply_supplement`
(补录) and :func:`apply_change` (变更), which write through the repositories (their audit rows
included) inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from bot.dialogs.card_data import back_from_dict, front_from_dict, masked_corrections
from bot.dialogs.consent import as_consents
from bot.domain.models import CollectedRecord, IdentityDocument, LivePhoto, PhoneNumber
from bot.storage.repositories import Repositories
from bot.verification.ids import DocumentType

__all__ = [
    "apply_change",
    "apply_edits",
    "apply_supplement",
    "collected_record",
    "document_from_data",
    "document_media",
    "record_media",
]


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
