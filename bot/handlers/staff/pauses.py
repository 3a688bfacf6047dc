"""The face pauses of a person in ``/person``: what is paused, until when, and 【解除人脸识别暂停】.

A person's pauses are the rows of their document's blind index, of their linked Telegram accounts,
and every account or face row tied to that document (bot/storage/repositories/face_pauses.py).
Lifting them is audited on the person (``person.face_pause.lift``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiogram import F, Router
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.domain.face_pause import FacePause
from bot.domain.models import Person
from bot.handlers.staff.common import StaffAct, staff_button
from bot.i18n import Translator
from bot.storage.repositories import Repositories
from bot.verification.ids import DocumentType

__all__ = ["LIFT", "LIFT_KEY", "register", "section", "unknown_section", "with_row"]

LIFT = "fp_lift"  # n: the person's record id
LIFT_KEY = "fp_liftk"  # v: "u<telegram id>" or "d<first 40 hex digits of the document's blind index>"
_SHORT = 40

PersonText = Callable[[Translator, Repositories, Person], Awaitable[tuple[str, InlineKeyboardMarkup | None]]]


async def _keys(repo: Repositories, person: Person) -> tuple[list[str], str]:
    pauses = repo.face_pauses
    doc_key = pauses.document_key(person.document.doc_type, person.document.number)
    accounts = await repo.staff.telegram_users_of(person.id)
    return [doc_key, *(pauses.user_key(a) for a in accounts)], doc_key


def _line(t: Translator, p: FacePause, now_active: bool) -> str:
    if p.kind == "face":
        who = t("staff.face_pause.kind_face")
    elif p.kind == "user":
        who = t("staff.face_pause.kind_user", user_id=p.key.removeprefix("user:"))
    else:
        who = t("staff.face_pause.kind_document")
    if now_active and p.paused_until is not None:
        state = t("staff.face_pause.until", at=t.moment(p.paused_until))
    elif p.lifted_at is not None:
        state = t("staff.face_pause.lifted", at=t.moment(p.lifted_at), by=p.lifted_by or "—")
    else:
        state = t("staff.face_pause.not_paused")
    return t("staff.face_pause.row", who=who, state=state, failures=p.failures, pauses=p.pauses)


async def section(
    t: Translator, repo: Repositories, person: Person
) -> tuple[list[str], list[InlineKeyboardButton]]:
    """The lines for /person and, when something is paused or counted, the lift button."""
    keys, doc_key = await _keys(repo, person)
    rows = await repo.face_pauses.of_person(keys, doc_key)
    now = repo.clock()
    shown = [p for p in rows if p.active(now) or p.failures or p.lifted_at is not None]
    lines = [t("staff.face_pause.title")]
    lines += [_line(t, p, p.active(now)) for p in shown] or [t("staff.none")]
    liftable = any(p.active(now) or p.failures for p in rows)
    row = [staff_button(t("staff.face_pause.lift"), LIFT, person.id)] if liftable else []
    return lines, row


async def unknown_section(
    t: Translator, repo: Repositories, doc: tuple[DocumentType, str] | None, user_id: int | None
) -> tuple[list[str], list[InlineKeyboardButton]]:
    """For a document or an account with no record (a collection that keeps failing): its pause,
    which staff may lift as well. Nothing when there is none."""
    pauses = repo.face_pauses
    if doc is not None:
        doc_key: str | None = pauses.document_key(*doc)
        keys = [doc_key] if doc_key else []
        short = "d" + (doc_key or "").removeprefix("doc:")[:_SHORT]
    elif user_id is not None:
        doc_key, keys, short = None, [pauses.user_key(user_id)], f"u{user_id}"
    else:
        return [], []
    rows = await pauses.of_person(keys, doc_key)
    now = repo.clock()
    shown = [p for p in rows if p.active(now) or p.failures]
    if not shown:
        return [], []
    lines = [t("staff.face_pause.title"), *(_line(t, p, p.active(now)) for p in shown)]
    return lines, [staff_button(t("staff.face_pause.lift"), LIFT_KEY, 0, short)]


def with_row(
    keyboard: InlineKeyboardMarkup | None, row: list[InlineKeyboardButton]
) -> InlineKeyboardMarkup | None:
    if not row:
        return keyboard
    rows = list(keyboard.inline_keyboard) if keyboard is not None else []
    return InlineKeyboardMarkup(inline_keyboard=[*rows, row])


def register(router: Router, person_text: PersonText) -> None:
    """The lift button's handler, on the look-up router (its role filter applies)."""

    @router.callback_query(StaffAct.filter(F.a == LIFT))
    async def lift(query: CallbackQuery, callback_data: StaffAct, t: Translator, repo: Repositories) -> None:
        person = await repo.persons.get(callback_data.n)
        if person is None or not isinstance(query.message, Message):
            await query.answer(t("staff.person.not_found"), show_alert=True)
            return
        keys, doc_key = await _keys(repo, person)
        async with repo.db.transaction():
            before = await repo.face_pauses.of_person(keys, doc_key)
            now = repo.clock()
            lifted = await repo.face_pauses.lift(keys, doc_key, query.from_user.id)
            await repo.audit.write(
                query.from_user.id,
                "person.face_pause.lift",
                "person",
                person.id,
                {
                    "paused": [p.kind for p in before if p.active(now)],
                    "failures": sum(p.failures for p in before if p.kind != "face"),
                },
                {"lifted": len(lifted)},
            )
        await query.answer(t("staff.face_pause.done", n=len(lifted)), show_alert=True)
        text, keyboard = await person_text(t, repo, person)
        await query.message.edit_text(text, reply_markup=keyboard)

    @router.callback_query(StaffAct.filter(F.a == LIFT_KEY))
    async def lift_key(
        query: CallbackQuery, callback_data: StaffAct, t: Translator, repo: Repositories
    ) -> None:
        short = callback_data.v
        pauses = repo.face_pauses
        if short.startswith("u") and short[1:].isdigit():
            key: str | None = pauses.user_key(int(short[1:]))
            doc_key = None
        else:
            key = await pauses.key_with_prefix("doc:" + short[1:]) if short.startswith("d") else None
            doc_key = key
        if key is None:
            await query.answer(t("staff.face_pause.gone"), show_alert=True)
            return
        async with repo.db.transaction():
            lifted = await pauses.lift([key], doc_key, query.from_user.id)
            # No record to hang the row on: the subject is the pause key (an id or a blind index).
            await repo.audit.write(
                query.from_user.id, "face_pause.lift", "face_pause", key, None, {"lifted": len(lifted)}
            )
        await query.answer(t("staff.face_pause.done", n=len(lifted)), show_alert=True)
