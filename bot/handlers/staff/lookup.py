"""/person <document number | phone | telegram id> and /enterprise <taxpayer id>: masked records.

Every look-up is audited (who looked at whom): staff access to personal information is itself
processing of it under PIPL.
"""

from __future__ import annotations

import re

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.domain.masking import mask_address, mask_free_text, mask_id_number, mask_name
from bot.domain.models import Person
from bot.handlers.staff.common import ANY_STAFF, HasRole, command_args
from bot.i18n import Translator
from bot.storage.repositories import Repositories
from bot.verification.ids import DocumentType, normalize_number, validate_document_number, validate_uscc

MAX_SHOWN = 5  # a phone shared by a family may match several people
AUDIT_SHOWN = 10
_PHONE = re.compile(r"^(?:\+?86)?1[3-9]\d{9}$")
_TELEGRAM = re.compile(r"^(?:tg:)?(\d{1,15})$", re.IGNORECASE)
# "个人 #N", as /review, /deletions and /enterprise name a person: the record id, never a Telegram id
# (a bare number stays a document, phone or Telegram id, as before).
_RECORD = re.compile(r"^(?:个人)?#(\d{1,15})$")


async def find_people(repo: Repositories, query: str) -> list[Person]:
    """Document number first (the most specific), then phone, then Telegram id."""
    value = re.sub(r"[\s-]", "", query)
    record = _RECORD.match(value)
    if record is not None:
        found = await repo.persons.get(int(record.group(1)))
        return [found] if found else []
    if value.lower().startswith("tg:"):
        match = _TELEGRAM.match(value)
        person = await repo.persons.find_by_telegram(int(match.group(1))) if match else None
        return [person] if person else []
    number = normalize_number(value)
    for doc_type in DocumentType:
        if not validate_document_number(doc_type, number):
            found = await repo.persons.find_by_document(doc_type, number)
            if found is not None:
                return [found]
    if _PHONE.match(value):
        return (await repo.persons.find_by_phone(value))[:MAX_SHOWN]
    if value.isdigit() and len(value) <= 15:
        person = await repo.persons.find_by_telegram(int(value))
        return [person] if person else []
    return []


async def person_text(t: Translator, repo: Repositories, person: Person) -> str:
    doc = person.document
    lines = [t("staff.person.header", person_id=person.id)]
    validity = t("card.long_term") if doc.long_term else (doc.valid_to.isoformat() if doc.valid_to else "—")
    lines += [
        t("staff.field.doc_type", value=t("doc_type." + doc.doc_type.value)),
        t("staff.field.number", value=mask_id_number(doc.number)),
        t("staff.field.name", value=mask_name(doc.name)),
        t("staff.field.valid_to", value=validity),
    ]
    if person.phone is not None:
        lines.append(t("staff.field.phone", value=person.phone.masked()))
    if person.residence:
        lines.append(t("staff.field.residence", value=mask_address(person.residence)))
    photo = t("staff.person.photo_yes") if person.live_photo else t("staff.person.photo_no")
    lines.append(t("staff.person.live_photo", value=photo))
    lines.append(t("staff.person.created", at=t.moment(person.created_at)))
    lines.append("")
    lines.append(t("staff.person.consents"))
    lines += [
        t(
            "staff.person.consent_row",
            document=t("staff.consent." + c.document.value),
            version=c.version,
            at=t.moment(c.agreed_at),
        )
        for c in person.consents
    ] or [t("staff.none")]
    accounts = await repo.staff.telegram_users_of(person.id)
    lines.append(t("staff.person.accounts", ids=", ".join(map(str, accounts)) or "—"))
    bindings = await _bindings(t, repo, person.id)
    lines.append(t("staff.person.bindings"))
    lines += bindings or [t("staff.none")]
    lines.append("")
    lines.append(t("staff.person.audit"))
    entries = await repo.audit.for_subject("person", person.id, limit=AUDIT_SHOWN)
    lines += [
        t(
            "staff.person.audit_row",
            at=t.moment(e.at, zone=False),
            action=e.action,
            actor=e.actor_user_id if e.actor_user_id is not None else "system",
        )
        for e in entries
    ] or [t("staff.none")]
    return "\n".join(lines)


async def _bindings(t: Translator, repo: Repositories, person_id: int) -> list[str]:
    out: list[str] = []
    for binding in await repo.enterprises.bindings_of(person_id):
        enterprise = await repo.enterprises.get_by_id(binding.enterprise_id)
        out.append(
            t(
                "staff.person.binding_row",
                name=enterprise.name if enterprise else "?",
                taxpayer_id=enterprise.taxpayer_id if enterprise else "?",
                role=t("staff.enterprise.role_" + binding.role.value),
                at=t.moment(binding.bound_at),
            )
        )
    return out


def create_router() -> Router:
    router = Router(name="staff.lookup")
    router.message.filter(HasRole(ANY_STAFF))

    @router.message(Command("person"))
    async def person(message: Message, t: Translator, repo: Repositories) -> None:
        assert message.from_user is not None
        query = command_args(message)
        if not query:
            await message.answer(t("staff.person.usage"))
            return
        people = await find_people(repo, query)
        # The query itself is personal data: the audit row keeps it masked.
        await repo.audit.write(
            message.from_user.id,
            "staff.lookup.person",
            "person",
            people[0].id if len(people) == 1 else None,
            None,
            {"query": mask_free_text(query), "found": [p.id for p in people]},
        )
        if not people:
            text = t("staff.person.not_found")
            bare = re.sub(r"\s", "", query)
            if bare.isdigit() and len(bare) <= 15 and await repo.persons.get(int(bare)) is not None:
                text += "\n" + t("staff.person.record_hint", person_id=int(bare))
            await message.answer(text)
            return
        for found in people:
            await message.answer(await person_text(t, repo, found))

    @router.message(Command("enterprise"))
    async def enterprise(message: Message, t: Translator, repo: Repositories) -> None:
        assert message.from_user is not None
        taxpayer_id = normalize_number(command_args(message))
        if not taxpayer_id:
            await message.answer(t("staff.enterprise.usage"))
            return
        if validate_uscc(taxpayer_id):
            await message.answer(t("staff.enterprise.invalid"))
            return
        await repo.audit.write(
            message.from_user.id, "staff.lookup.enterprise", "enterprise", taxpayer_id, None, None
        )
        text = await enterprise_text(t, repo, taxpayer_id)
        await message.answer(text or t("staff.enterprise.not_found"))

    return router


async def enterprise_text(t: Translator, repo: Repositories, taxpayer_id: str) -> str | None:
    enterprise = await repo.enterprises.get(taxpayer_id)
    if enterprise is None:
        return None
    lines = [
        t("staff.enterprise.header", name=enterprise.name, taxpayer_id=enterprise.taxpayer_id),
        t("staff.enterprise.status", status=t("staff.enterprise.status_" + enterprise.status.value)),
        "",
        t("staff.enterprise.people"),
    ]
    lines += [
        t(
            "staff.enterprise.person_row",
            role=t("staff.enterprise.role_" + p.role.value),
            name=mask_name(p.name),
            number=mask_id_number(p.number),
        )
        for p in await repo.enterprises.people(enterprise.id)
    ] or [t("staff.none")]
    lines += ["", t("staff.enterprise.bindings")]
    lines += [
        t(
            "staff.enterprise.binding_row",
            person_id=b.person_id,
            role=t("staff.enterprise.role_" + b.role.value),
            at=t.moment(b.bound_at),
        )
        for b in await repo.enterprises.bindings_for(enterprise.id)
    ] or [t("staff.none")]
    return "\n".join(lines)
