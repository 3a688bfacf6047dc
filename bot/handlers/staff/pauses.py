"""The face pauses of a person in ``/person``: what is paused, until when, and 【解除人脸识别暂停】.

A person's pauses are the rows of their document's blind index, of their linked Telegram accounts,
and every account or face row tied to that document (bot/storage/repositories/face_pauses.py).
Lifting them is a use case (:mod:`bot.services.face_pauses`), audited on the person.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiogram import F, Router
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.domain.face_pause import FacePause
from bot.domain.models import Person
from bot.handlers.staff.common import StaffAct, StaffCtx, staff_button
from bot.i18n import Translator
from bot.services.face_pauses import lift_key_pause, lift_person_pauses, person_pause_keys
from bot.storage.repositories import Repositories
from bot.verification.ids import DocumentType

__all__ = ["LIFT", "LIFT_KEY", "register", "section", "unknown_section", "with_row"]

LIFT = "fp_lift"  # n: the person's record id
LIFT_KEY = "fp_liftk"  # v: "u<telegram id>" or "d<first 40 hex digits of the document's blind index>"
_SHORT = 40

PersonText = Callable[[Translator, Repositories, Person], Awaitable[tuple[str, InlineKeyboardMarkup | None]]]


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
    keys, doc_key = await person_pause_keys(repo, person)
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
    async def lift(query: CallbackQuery, callback_data: StaffAct, sc: StaffCtx) -> None:
        t, repo = sc.t, sc.repo
        person = await repo.persons.get(callback_data.n)
        if person is None or not isinstance(query.message, Message):
            await query.answer(t("staff.person.not_found"), show_alert=True)
            return
        lifted = await lift_person_pauses(repo, query.from_user.id, person)
        await query.answer(t("staff.face_pause.done", n=lifted), show_alert=True)
        text, keyboard = await person_text(t, repo, person)
        await query.message.edit_text(text, reply_markup=keyboard)

    @router.callback_query(StaffAct.filter(F.a == LIFT_KEY))
    async def lift_key(query: CallbackQuery, callback_data: StaffAct, sc: StaffCtx) -> None:
        t, repo = sc.t, sc.repo
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
        lifted = await lift_key_pause(repo, query.from_user.id, key, doc_key)
        await query.answer(t("staff.face_pause.done", n=lifted), show_alert=True)
