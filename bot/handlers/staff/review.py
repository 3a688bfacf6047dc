"""/review: the next verification the engines sent to a human; approve, or reject with a reason.

The decisions are use cases (:mod:`bot.services.review_decisions`): approving saves from the case's
payload what the dialog would have saved, in the transaction that closes the case. This module shows
the case and tells the reviewer and the taxpayer.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, InputMediaPhoto, Message

from bot.domain.errors import MediaNotFound
from bot.domain.masking import mask_address, mask_id_number, mask_name, mask_phone
from bot.domain.models import ReviewCase, ReviewKind
from bot.domain.policies import Denial
from bot.handlers.staff.common import ANY_STAFF, HasRole, StaffAct, StaffCtx, staff_button
from bot.handlers.staff.lookup import person_text
from bot.handlers.staff.reasons import ReasonPicker
from bot.i18n import Translator
from bot.services.four_eyes import check_review
from bot.services.records import document_from_data, masked_corrections
from bot.services.review_decisions import (
    approve_case,
    case_flow,
    case_person,
    decidable_case,
    next_case,
    reject_case,
    reveal_case,
)
from bot.services.telegram_media import fit_photo_async
from bot.storage.repositories import Repositories
from bot.ui import rows

log = logging.getLogger(__name__)

# The reasons a reviewer may give; each has `reasons.<code>` and the taxpayer's advice
# `staff.advice.<code>` in both locales.
REJECT_REASONS = (
    "review_reject_face_mismatch",
    "review_reject_photo_unclear",
    "review_reject_not_live",
    "review_reject_document_invalid",
    "review_reject_identity_conflict",
)
# Cases about an already collected person (补录, 变更; by kind, or by the flow of an unreadable card):
# `person_id` is that person, not a collision.
OWN_PERSON_FLOWS = frozenset({"supplement", "change"})
OWN_PERSON_KINDS = frozenset(
    {ReviewKind.SUPPLEMENT_FACE_NEAR_THRESHOLD, ReviewKind.CHANGE_FACE_NEAR_THRESHOLD}
)
# Media kinds (the prefix of a media id) in the order a reviewer wants to see them.
MEDIA_ORDER = (
    "idcard_front",
    "idcard_back",
    "idcard_portrait",
    "authority_photo",
    "live_photo",
    "review_frame",
)
ALBUM_MAX = 10  # Telegram's limit for one media group
# Flows whose approval has its own notice `staff.notify.approved_<flow>` (and menu name `menu.<flow>`).
NOTIFIED_FLOWS = ("collect", "supplement", "change")


def _own_person(case: ReviewCase) -> bool:
    return case.kind in OWN_PERSON_KINDS or case.payload.get("flow") in OWN_PERSON_FLOWS


def _kind(media_id: str) -> str:
    return media_id.rsplit("-", 1)[0]


# The case's field → the card field whose correction / typing it shows (bot/dialogs/card_data.py).
CARD_FIELD = {
    "number": "id_number",
    "name": "name",
    "sex": "sex",
    "ethnicity": "ethnicity",
    "birth_date": "birth_date",
    "address": "address",
    "authority": "authority",
    "validity": "validity",
}
FRONT_SIDE = frozenset({"id_number", "name", "sex", "ethnicity", "birth_date", "address"})


def field_marks(t: Translator, payload: dict[str, Any]) -> dict[str, str]:
    """Per card field, what the reviewer must know of its value: corrected by the taxpayer on
    【信息核实】 (read → typed, listed below the fields), or typed because the side was unreadable."""
    card = dict(payload.get("card") or {})
    if payload.get("doc_type") not in (None, "resident_id"):
        return {}
    corrected = {str(c.get("field")) for c in card.get("corrections", [])}
    typed_sides = set(card.get("manual") or [])
    marks: dict[str, str] = {}
    for field in CARD_FIELD.values():
        side = "front" if field in FRONT_SIDE else "back"
        if field in corrected:
            marks[field] = t("staff.review.mark_corrected")
        elif side in typed_sides:
            marks[field] = t("staff.review.mark_typed")
    return marks


def document_values(t: Translator, payload: dict[str, Any], *, full: bool) -> list[tuple[str, str]]:
    """(field, value) of the case's document, masked (the case card) or in full (revealed)."""
    try:
        doc = document_from_data(payload)
    except (KeyError, TypeError, ValueError):
        return []
    validity = None
    if doc.valid_from is not None:
        end = t("card.long_term") if doc.long_term else (doc.valid_to.isoformat() if doc.valid_to else "?")
        validity = f"{doc.valid_from.isoformat()} – {end}"
    birth = doc.birth_date.isoformat() if doc.birth_date else None
    fields = {
        "doc_type": t("doc_type." + doc.doc_type.value),
        "number": doc.number if full else mask_id_number(doc.number),
        "name": doc.name if full else mask_name(doc.name),
        "sex": t.official("sex", doc.sex) if doc.sex else None,
        "ethnicity": t.official("ethnicity", doc.ethnicity) if doc.ethnicity else None,
        "birth_date": birth if full or not birth else "****-**-**",
        "address": (doc.address if full else mask_address(doc.address)) if doc.address else None,
        "authority": doc.authority,
        "validity": validity,
    }
    return [(k, v) for k, v in fields.items() if v]


def correction_lines(t: Translator, card: dict[str, Any], *, full: bool = False) -> list[str]:
    """The corrections, read → typed, as a reviewer reads them in the case: masked, or in ``full``
    for the reviewer who asked (audited)."""
    entries = list(card.get("corrections") or []) if full else masked_corrections(card)
    if not entries:
        return []
    missing = t("card.unreadable")
    return [t("staff.review.corrections")] + [
        t(
            "staff.review.correction",
            field=t("card.field." + str(c.get("field"))),
            read=c.get("read") or missing,
            typed=c.get("typed") or missing,
        )
        for c in entries
    ]


def case_text(t: Translator, case: ReviewCase, missing: int) -> str:
    """The case as a reviewer sees it: every read field masked (the full values behind 【显示完整信息】,
    audited), corrected and typed fields marked, reasons in words."""
    payload: dict[str, Any] = dict(case.payload)
    lines = [
        t("staff.review.header", case_id=case.id, kind=t("staff.review.kind." + case.kind.value)),
        t("staff.review.created", at=t.moment(case.created_at)),
    ]
    marks = field_marks(t, payload)
    for key, value in document_values(t, payload, full=False):
        mark = marks.get(CARD_FIELD.get(key, ""), "")
        lines.append(t("staff.field." + key, value=value) + (" " + mark if mark else ""))
    lines += correction_lines(t, dict(payload.get("card") or {}))
    phone = payload.get("phone") or {}
    if phone.get("number"):
        lines.append(t("staff.field.phone", value=mask_phone(str(phone["number"]))))
    edits = payload.get("edits") or {}
    if (edits.get("phone") or {}).get("number"):
        lines.append(t("staff.review.new_phone", value=mask_phone(str(edits["phone"]["number"]))))
    if edits.get("residence"):
        lines.append(t("staff.review.new_residence", value=mask_address(str(edits["residence"]))))
    face = payload.get("face") or {}
    if face.get("distance") is not None:
        lines.append(t("staff.review.distance", distance=f"{float(face['distance']):.3f}"))
    if case.person_id is not None and _own_person(case):
        lines.append(t("staff.review.subject", person_id=case.person_id))
    elif case.person_id is not None:
        lines.append(t("staff.review.collides", person_id=case.person_id))
    if case.reasons:
        lines.append(t("staff.review.reasons"))
        lines += [f"• {t.reason(code)}" for code in dict.fromkeys(case.reasons)]
    if missing:
        lines.append(t("staff.review.media_missing", count=missing))
    return "\n".join(lines)


async def _stored_references(repo: Repositories, case: ReviewCase) -> list[tuple[str, str]]:
    """(media id, caption key) of the stored record the case is about: for 补录 / 变更 what the selfie
    was compared with (the person's on-site photo and ID portrait); for a collision, the conflicting
    record's, beside the new ones. Shown, never listed in the case (erasing a case's media must not
    touch the record's)."""
    if case.person_id is None:
        return []
    person = await repo.persons.get(case.person_id)
    if person is None:
        return []
    prefix = "staff.media.stored_" if _own_person(case) else "staff.media.conflict_"
    found = [
        (person.live_photo.media_id if person.live_photo else None, prefix + "live_photo"),
        (person.document.portrait_media_id, prefix + "portrait"),
    ]
    return [(m, key) for m, key in found if m]


async def _send_media(sc: StaffCtx, chat_id: int, case: ReviewCase) -> int:
    """The case's photos (and the stored ones it is compared with) as one album; returns how many
    files are gone (retention, erasure)."""
    order = {kind: i for i, kind in enumerate(MEDIA_ORDER)}
    media_ids = sorted(case.media_ids, key=lambda m: order.get(_kind(m), len(order)))
    shown = [(m, "staff.media." + _kind(m) if _kind(m) in order else "") for m in media_ids]
    shown += await _stored_references(sc.repo, case)
    photos: list[InputMediaPhoto] = []
    missing = 0
    for media_id, caption_key in shown:
        try:
            data = await sc.services.media.get(media_id)
        except (MediaNotFound, ValueError):
            missing += 1
            continue
        kind = _kind(media_id)
        caption = sc.t(caption_key, person_id=case.person_id) if caption_key else kind
        data = await fit_photo_async(data)  # a card sent as a big document must fit a photo
        photos.append(InputMediaPhoto(media=BufferedInputFile(data, f"{kind}.jpg"), caption=caption))
    for chunk in album_chunks(photos):
        if len(chunk) == 1:
            await sc.bot.send_photo(chat_id, chunk[0].media, caption=chunk[0].caption)
        else:
            await sc.bot.send_media_group(chat_id, media=list(chunk))
    return missing


def album_chunks(items: list[InputMediaPhoto]) -> list[list[InputMediaPhoto]]:
    """One album when the photos fit (2–10 items: Telegram's limits), else as few albums as
    possible of even size, so that no album is left with a single photo (11 → 6 + 5)."""
    if not items:
        return []
    count = -(-len(items) // ALBUM_MAX)
    size, extra = divmod(len(items), count)
    chunks, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        chunks.append(items[start:end])
        start = end
    return chunks


def _case_keyboard(t: Translator, case: ReviewCase, *, may_decide: bool = True) -> Any:
    case_id = case.id
    person = (
        [staff_button(t("staff.review.show_person", person_id=case.person_id), "rv_person", case_id)]
        if case.person_id is not None
        else []
    )
    if not may_decide:
        return rows(person, [staff_button(t("staff.review.skip"), "rv_next", case_id)])
    return rows(
        [staff_button(t("staff.review.reveal"), "rv_full", case_id)],
        person,
        [staff_button(t("staff.review.approve"), "rv_ok", case_id)],
        [staff_button(t("staff.review.reject"), "rv_no", case_id)],
        [staff_button(t("staff.review.skip"), "rv_next", case_id)],
    )


def revealed_text(t: Translator, case: ReviewCase) -> str:
    """The case's document, corrections and phone in full, for the reviewer who asked (audited)."""
    payload: dict[str, Any] = dict(case.payload)
    lines = [t("staff.review.revealed_header", case_id=case.id)]
    marks = field_marks(t, payload)
    for key, value in document_values(t, payload, full=True):
        mark = marks.get(CARD_FIELD.get(key, ""), "")
        lines.append(t("staff.field." + key, value=value) + (" " + mark if mark else ""))
    lines += correction_lines(t, dict(payload.get("card") or {}), full=True)
    phone = payload.get("phone") or {}
    if phone.get("number"):
        lines.append(t("staff.field.phone", value=str(phone["number"])))
    lines.append(t("staff.review.revealed_note"))
    return "\n".join(lines)


async def show_next(sc: StaffCtx, chat_id: int, after: int = 0) -> None:
    t = sc.t
    found = await next_case(sc.repo, sc.user_id, after)
    if found is None:
        await sc.bot.send_message(chat_id, t("staff.review.empty"))
        return
    case, decision = found
    backlog = await sc.repo.review.count_open()
    missing = await _send_media(sc, chat_id, case)
    text = case_text(t, case, missing) + "\n\n" + t("staff.review.backlog", count=backlog)
    if decision.denial is not None:
        text += "\n\n" + t("staff.review.four_eyes", reason=t.reason(decision.denial))
    keyboard = _case_keyboard(t, case, may_decide=decision.allowed)
    await sc.bot.send_message(chat_id, text, reply_markup=keyboard)


def _notice_flow(case: ReviewCase) -> str:
    """The flow whose notices and confirmation texts the case gets (others read as a collection)."""
    flow = case_flow(case)
    return flow if flow in NOTIFIED_FLOWS else "collect"


async def _tell_taxpayer(sc: StaffCtx, case: ReviewCase, reason: str | None) -> bool:
    flow = _notice_flow(case)

    def text(ut: Translator) -> str:
        if reason is None:
            return ut("staff.notify.approved_" + flow) + "\n\n" + ut("menu.home", name=None)
        return (
            ut("staff.notify.rejected", reason=ut.reason(reason))
            + "\n"
            + ut("staff.advice." + reason, function=ut("menu." + flow))
        )

    return await sc.notify(case.user_id, text)


REJECT = ReasonPicker(REJECT_REASONS, "rv_rs", "staff.review.choose_reason", back_action="rv_show")


def create_router() -> Router:
    router = Router(name="staff.review")
    router.message.filter(HasRole(ANY_STAFF))
    router.callback_query.filter(HasRole(ANY_STAFF))

    @router.message(Command("review"))
    async def review(message: Message, sc: StaffCtx) -> None:
        await show_next(sc, message.chat.id)

    @router.callback_query(StaffAct.filter(F.a == "rv_next"))
    async def skip(query: CallbackQuery, callback_data: StaffAct, sc: StaffCtx) -> None:
        await query.answer()
        await show_next(sc, sc.user_id, after=callback_data.n)

    @router.callback_query(StaffAct.filter(F.a == "rv_ok"))
    async def confirm_approval(query: CallbackQuery, callback_data: StaffAct, sc: StaffCtx) -> None:
        # An approval saves a record (and may bind the person to enterprises later): the reviewer
        # confirms, told what the approval will do.
        case = await _decidable(query, sc, callback_data.n, "approve")
        if case is None:
            return
        await query.answer()
        await sc.say(
            sc.t("staff.review.confirm_" + _notice_flow(case), case_id=case.id, person_id=case.person_id),
            rows(
                [staff_button(sc.t("staff.review.confirm_yes"), "rv_yes", case.id)],
                [staff_button(sc.t("common.back"), "rv_show", case.id)],
            ),
        )

    @router.callback_query(StaffAct.filter(F.a == "rv_yes"))
    async def approve(query: CallbackQuery, callback_data: StaffAct, sc: StaffCtx) -> None:
        case = await sc.repo.review.get(callback_data.n)
        if case is None or case.status != "open":
            await query.answer(sc.t("staff.review.already_decided"), show_alert=True)
            return
        decided = await approve_case(sc.repo, case, sc.user_id)
        if decided.outcome == "refused":
            await _tell_refused(query, sc.t, decided.reason or "")
            return
        if decided.outcome == "already_decided":
            await query.answer(sc.t("staff.review.already_decided"), show_alert=True)
            return
        await query.answer()
        delivered = await _tell_taxpayer(sc, case, decided.reason)
        key = "staff.review." + decided.outcome  # approved | duplicate | record_gone
        await _after_decision(sc, key, case.id, delivered)

    @router.callback_query(StaffAct.filter(F.a == "rv_no"))
    async def reject_reasons(query: CallbackQuery, callback_data: StaffAct, sc: StaffCtx) -> None:
        if await _decidable(query, sc, callback_data.n, "reject") is None:
            return
        await query.answer()
        await REJECT.show(sc, callback_data.n)

    @router.callback_query(StaffAct.filter(F.a == "rv_show"))
    async def show_again(query: CallbackQuery, callback_data: StaffAct, sc: StaffCtx) -> None:
        await query.answer()
        case = await sc.repo.review.get(callback_data.n)
        if case is None or case.status != "open":
            await sc.say(sc.t("staff.review.already_decided"))
            return
        decision = await check_review(sc.repo, sc.user_id, case)
        await sc.say(case_text(sc.t, case, 0), _case_keyboard(sc.t, case, may_decide=decision.allowed))

    @router.callback_query(StaffAct.filter(F.a == "rv_full"))
    async def reveal(query: CallbackQuery, callback_data: StaffAct, sc: StaffCtx) -> None:
        # Only who may decide the case sees it in full (not the taxpayer themselves, nor a colleague
        # of the same enterprise), and every reveal is an audit row: staff access to personal
        # information is processing of it.
        revealed = await reveal_case(sc.repo, sc.user_id, callback_data.n)
        case = await _told_unless_decidable(query, sc, revealed)
        if case is None:
            return
        await query.answer()
        # protect_content: the full values cannot be forwarded or saved from the chat.
        await sc.say(revealed_text(sc.t, case), protect_content=True)

    @router.callback_query(StaffAct.filter(F.a == "rv_person"))
    async def person(query: CallbackQuery, callback_data: StaffAct, sc: StaffCtx) -> None:
        found = await case_person(sc.repo, sc.user_id, callback_data.n)
        if found is None:
            await query.answer(sc.t("staff.person.not_found"), show_alert=True)
            return
        await query.answer()
        text, keyboard = await person_text(sc.t, sc.repo, found)
        await sc.say(text, keyboard)

    @router.callback_query(StaffAct.filter(F.a == REJECT.action))
    async def reject(query: CallbackQuery, callback_data: StaffAct, sc: StaffCtx) -> None:
        reason = await REJECT.picked(query, sc, callback_data)
        if reason is None:
            return
        shown = await sc.repo.review.get(callback_data.n)
        if shown is None or shown.status != "open":
            await query.answer(sc.t("staff.review.already_decided"), show_alert=True)
            return
        decided = await reject_case(sc.repo, shown, sc.user_id, reason)
        if decided.outcome == "refused":
            await _tell_refused(query, sc.t, decided.reason or "")
            return
        if decided.case is None:
            await query.answer(sc.t("staff.review.already_decided"), show_alert=True)
            return
        await query.answer()
        delivered = await _tell_taxpayer(sc, decided.case, reason)
        await _after_decision(sc, "staff.review.rejected", decided.case.id, delivered)

    return router


async def _decidable(query: CallbackQuery, sc: StaffCtx, case_id: int, at: str) -> ReviewCase | None:
    """The open case this staff member may decide; None (told, a refusal audited) otherwise."""
    return await _told_unless_decidable(query, sc, await decidable_case(sc.repo, sc.user_id, case_id, at))


async def _told_unless_decidable(
    query: CallbackQuery, sc: StaffCtx, found: ReviewCase | Denial | None
) -> ReviewCase | None:
    if found is None:
        await query.answer(sc.t("staff.review.already_decided"), show_alert=True)
        return None
    if not isinstance(found, ReviewCase):
        await _tell_refused(query, sc.t, found)
        return None
    return found


async def _tell_refused(query: CallbackQuery, t: Translator, reason: str) -> None:
    await query.answer(t("staff.review.four_eyes", reason=t.reason(reason)), show_alert=True)


async def _after_decision(sc: StaffCtx, key: str, case_id: int, delivered: bool) -> None:
    text = sc.t(key, case_id=case_id)
    if not delivered:
        text += "\n" + sc.t("staff.review.not_delivered")
    await sc.say(text, rows([staff_button(sc.t("staff.review.next"), "rv_next", case_id)]))
