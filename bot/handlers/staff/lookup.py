"""/person <document number | phone | telegram id> and /enterprise <taxpayer id>: masked records.

Every look-up is audited (who looked at whom): staff access to personal information is itself
processing of it under PIPL.
"""

from __future__ import annotations

import re

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.domain.masking import mask_address, mask_id_number, mask_name
from bot.domain.models import Person
from bot.handlers.staff import pauses
from bot.handlers.staff.common import ANY_STAFF, HasRole, StaffAct, StaffCtx, command_args
from bot.handlers.staff.pages import PAGE_CHARS, clamp, page_keyboard, page_line, paginate
from bot.i18n import Translator
from bot.services.views import (
    PHONE_QUERY,
    TELEGRAM_QUERY,
    enterprise_viewed,
    look_up_people,
    person_page_viewed,
)
from bot.storage.repositories import Repositories
from bot.verification.ids import DocumentType, normalize_number, validate_document_number, validate_uscc

AUDIT_PAGE = 10  # audit rows per page of /person's trail
VIEWS_SHOWN = 3  # the latest staff look-ups listed under the trail (all of them counted)
PERSON_PAGE = "pg_aud"
ENTERPRISE_PAGE = "pg_ent"


def _pause_subject(query: str) -> tuple[tuple[DocumentType, str] | None, int | None]:
    """The document number or Telegram id a /person query names, for its face pause."""
    value = re.sub(r"[\s-]", "", query)
    number = normalize_number(value)
    for doc_type in DocumentType:
        if not validate_document_number(doc_type, number):
            return (doc_type, number), None
    match = TELEGRAM_QUERY.match(value)
    if match is not None and not PHONE_QUERY.match(value):
        return None, int(match.group(1))
    return None, None


async def person_text(
    t: Translator, repo: Repositories, person: Person, audit_page: int = 0, up_to_id: int | None = None
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The masked record and one page of its audit trail (newest first), with the page buttons.
    The trail is pinned at its newest entry when first shown (``up_to_id``), so the look-ups that
    paging itself audits do not shift the pages."""
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
    pause_lines, pause_row = await pauses.section(t, repo, person)
    lines += ["", *pause_lines]
    lines.append("")
    lines.append(t("staff.person.audit"))
    # What changed the record, paged; staff look-ups of it (each /person is one) apart, below.
    if up_to_id is None:
        total, up_to_id = await repo.audit.trail_extent("person", person.id, views=False)
        up_to_id = max(up_to_id, (await repo.audit.trail_extent("person", person.id))[1])
    else:
        total = await repo.audit.count_for_subject("person", person.id, up_to_id, views=False)
    pages = max(1, -(-total // AUDIT_PAGE))
    audit_page = clamp(audit_page, pages)
    entries = await repo.audit.for_subject(
        "person",
        person.id,
        limit=AUDIT_PAGE,
        offset=audit_page * AUDIT_PAGE,
        up_to_id=up_to_id,
        views=False,
    )
    lines += [
        t(
            "staff.person.audit_row",
            at=t.moment(e.at, zone=False),
            action=e.action,
            actor=e.actor_user_id if e.actor_user_id is not None else "system",
        )
        for e in entries
    ] or [t("staff.none")]
    if pages > 1:
        lines.append(page_line(t, audit_page, pages))
    views = await repo.audit.count_for_subject("person", person.id, up_to_id, views=True)
    lines.append("")
    lines.append(t("staff.person.views", count=views))
    lines += [
        t(
            "staff.person.view_row",
            at=t.moment(e.at, zone=False),
            actor=e.actor_user_id if e.actor_user_id is not None else "system",
        )
        for e in await repo.audit.for_subject(
            "person", person.id, limit=VIEWS_SHOWN, up_to_id=up_to_id, views=True
        )
    ]
    keyboard = page_keyboard(t, PERSON_PAGE, audit_page, pages, f"{person.id}.{up_to_id}")
    return "\n".join(lines), pauses.with_row(keyboard, pause_row)


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
    router.callback_query.filter(HasRole(ANY_STAFF))

    @router.message(Command("person"))
    async def person(message: Message, sc: StaffCtx) -> None:
        t, repo = sc.t, sc.repo
        assert message.from_user is not None
        query = command_args(message)
        if not query:
            await message.answer(t("staff.person.usage"))
            return
        people = await look_up_people(repo, message.from_user.id, query)
        if not people:
            text = t("staff.person.not_found")
            bare = re.sub(r"\s", "", query)
            if bare.isdigit() and len(bare) <= 15 and await repo.persons.get(int(bare)) is not None:
                text += "\n" + t("staff.person.record_hint", person_id=int(bare))
            # A collection that keeps failing has no record yet, but may be paused: shown, liftable.
            lines, row = await pauses.unknown_section(t, repo, *_pause_subject(query))
            if lines:
                text += "\n\n" + "\n".join(lines)
            await message.answer(text, reply_markup=pauses.with_row(None, row))
            return
        for found in people:
            text, keyboard = await person_text(t, repo, found)
            await message.answer(text, reply_markup=keyboard)

    @router.callback_query(StaffAct.filter(F.a == PERSON_PAGE))
    async def person_page(query: CallbackQuery, callback_data: StaffAct, sc: StaffCtx) -> None:
        t, repo = sc.t, sc.repo
        person_id, _, up_to = callback_data.v.partition(".")
        valid = person_id.isdigit() and up_to.isdigit()
        if not valid or not isinstance(query.message, Message):
            await query.answer(t("staff.person.not_found"), show_alert=True)
            return
        person = await person_page_viewed(repo, query.from_user.id, int(person_id), callback_data.n)
        if person is None:
            await query.answer(t("staff.person.not_found"), show_alert=True)
            return
        text, keyboard = await person_text(t, repo, person, callback_data.n, int(up_to))
        await query.answer()
        await query.message.edit_text(text, reply_markup=keyboard)

    pauses.register(router, person_text)

    @router.message(Command("enterprise"))
    async def enterprise(message: Message, sc: StaffCtx) -> None:
        t, repo = sc.t, sc.repo
        assert message.from_user is not None
        taxpayer_id = normalize_number(command_args(message))
        if not taxpayer_id:
            await message.answer(t("staff.enterprise.usage"))
            return
        if validate_uscc(taxpayer_id):
            await message.answer(t("staff.enterprise.invalid"))
            return
        await enterprise_viewed(repo, message.from_user.id, taxpayer_id)
        found = await enterprise_text(t, repo, taxpayer_id)
        if found is None:
            await message.answer(t("staff.enterprise.not_found"))
            return
        await message.answer(found[0], reply_markup=found[1])

    @router.callback_query(StaffAct.filter(F.a == ENTERPRISE_PAGE))
    async def enterprise_page(query: CallbackQuery, callback_data: StaffAct, sc: StaffCtx) -> None:
        t, repo = sc.t, sc.repo
        taxpayer_id = callback_data.v
        found = await enterprise_text(t, repo, taxpayer_id, callback_data.n)
        if found is None or not isinstance(query.message, Message):
            await query.answer(t("staff.enterprise.not_found"), show_alert=True)
            return
        await enterprise_viewed(repo, query.from_user.id, taxpayer_id, callback_data.n)
        await query.answer()
        await query.message.edit_text(found[0], reply_markup=found[1])

    return router


async def enterprise_text(
    t: Translator, repo: Repositories, taxpayer_id: str, page: int = 0
) -> tuple[str, InlineKeyboardMarkup | None] | None:
    """One page of the enterprise (its header on every page) and the page buttons."""
    enterprise = await repo.enterprises.get(taxpayer_id)
    if enterprise is None:
        return None
    header = [
        t("staff.enterprise.header", name=enterprise.name, taxpayer_id=enterprise.taxpayer_id),
        t("staff.enterprise.status", status=t("staff.enterprise.status_" + enterprise.status.value)),
        "",
    ]
    lines = [t("staff.enterprise.people")]
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
    # The header is as long as the enterprise's name (up to a few hundred characters).
    pages = paginate(lines, budget=PAGE_CHARS - sum(len(h) + 1 for h in header))
    page = clamp(page, len(pages))
    body = header + pages[page]
    if len(pages) > 1:
        body += ["", page_line(t, page, len(pages))]
    keyboard = page_keyboard(t, ENTERPRISE_PAGE, page, len(pages), enterprise.taxpayer_id)
    return "\n".join(body), keyboard
