"""/review: the next verification the engines sent to a human; approve, or reject with a reason.

Approving a case saves from the case's payload with the same functions the dialog uses
(:mod:`bot.dialogs.records`: the collected record; 补录's new card / on-site photo; 变更's phone,
residence and re-link), in the transaction that closes the case, so two reviewers pressing at once
cannot both save, and a failed save leaves the case open.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, InputMediaPhoto, Message

from bot.dialogs.card_data import correction_lines
from bot.dialogs.records import apply_change, apply_supplement, collected_record, document_from_data
from bot.domain.errors import DuplicatePerson, MediaNotFound
from bot.domain.masking import mask_address, mask_id_number, mask_name, mask_phone
from bot.domain.models import ReviewCase, ReviewKind
from bot.domain.outcomes import EventOutcome
from bot.domain.policies import Denial
from bot.handlers.staff.common import ANY_STAFF, HasRole, StaffAct, notify_user, staff_button, translator_for
from bot.handlers.staff.four_eyes import check_review, record_refusal
from bot.handlers.staff.lookup import person_text
from bot.i18n import Translator
from bot.services import Services
from bot.services.telegram_media import fit_photo_async
from bot.storage.repositories import Repositories
from bot.ui import home_keyboard, rows

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
ALREADY_COLLECTED = "review_reject_already_collected"
# 补录 / 变更 of a person erased (PIPL deletion) while the case waited.
RECORD_GONE = "review_reject_record_gone"
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


class _Decided(Exception):
    """Another reviewer closed the case first."""


class _Refused(Exception):
    """The four-eyes rule forbids this staff member the decision (checked in its transaction)."""

    def __init__(self, denial: Denial) -> None:
        super().__init__(str(denial))
        self.denial = denial


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


async def _send_media(
    bot: Bot, chat_id: int, t: Translator, services: Services, repo: Repositories, case: ReviewCase
) -> int:
    """The case's photos (and the stored ones it is compared with) as one album; returns how many
    files are gone (retention, erasure)."""
    order = {kind: i for i, kind in enumerate(MEDIA_ORDER)}
    media_ids = sorted(case.media_ids, key=lambda m: order.get(_kind(m), len(order)))
    shown = [(m, "staff.media." + _kind(m) if _kind(m) in order else "") for m in media_ids]
    shown += await _stored_references(repo, case)
    photos: list[InputMediaPhoto] = []
    missing = 0
    for media_id, caption_key in shown:
        try:
            data = await services.media.get(media_id)
        except (MediaNotFound, ValueError):
            missing += 1
            continue
        kind = _kind(media_id)
        caption = t(caption_key, person_id=case.person_id) if caption_key else kind
        data = await fit_photo_async(data)  # a card sent as a big document must fit a photo
        photos.append(InputMediaPhoto(media=BufferedInputFile(data, f"{kind}.jpg"), caption=caption))
    for chunk in album_chunks(photos):
        if len(chunk) == 1:
            await bot.send_photo(chat_id, chunk[0].media, caption=chunk[0].caption)
        else:
            await bot.send_media_group(chat_id, media=list(chunk))
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
    corrections = list(dict(payload.get("card") or {}).get("corrections") or [])
    if corrections:
        missing = t("card.unreadable")
        lines.append(t("staff.review.corrections"))
        lines += [
            t(
                "staff.review.correction",
                field=t("card.field." + str(c.get("field"))),
                read=c.get("read") or missing,
                typed=c.get("typed") or missing,
            )
            for c in corrections
        ]
    phone = payload.get("phone") or {}
    if phone.get("number"):
        lines.append(t("staff.field.phone", value=str(phone["number"])))
    lines.append(t("staff.review.revealed_note"))
    return "\n".join(lines)


async def show_next(
    bot: Bot,
    chat_id: int,
    staff_id: int,
    t: Translator,
    services: Services,
    repo: Repositories,
    after: int = 0,
) -> None:
    case = await repo.review.next_open(after_id=after)
    if case is None and after:
        case = await repo.review.next_open()  # wrap around to cases skipped earlier
    if case is None:
        await bot.send_message(chat_id, t("staff.review.empty"))
        return
    await repo.audit.write(staff_id, "review.view", "review_case", case.id, None, None)
    decision = await check_review(repo, staff_id, case)
    if decision.denial is not None:
        await record_refusal(repo, staff_id, case, decision.denial, "view")
    backlog = await repo.review.count_open()
    missing = await _send_media(bot, chat_id, t, services, repo, case)
    text = case_text(t, case, missing) + "\n\n" + t("staff.review.backlog", count=backlog)
    if decision.denial is not None:
        text += "\n\n" + t("staff.review.four_eyes", reason=t.reason(decision.denial))
    await bot.send_message(chat_id, text, reply_markup=_case_keyboard(t, case, may_decide=decision.allowed))


async def _approve(case: ReviewCase, staff_id: int, repo: Repositories) -> tuple[str, str | None]:
    """Close the case as approved and finish the record; (outcome, reason code) where outcome is
    approved | already_decided | duplicate | record_gone."""
    flow = case.payload.get("flow") or "collect"
    try:
        async with repo.db.transaction():
            # At the moment of the decision, in its serial transaction: a link or a binding made
            # since the case was shown counts.
            decision = await check_review(repo, staff_id, case)
            if decision.denial is not None:
                raise _Refused(decision.denial)
            if await repo.review.decide(case.id, approved=True, staff_user_id=staff_id) is None:
                raise _Decided
            await _apply(case, str(flow), staff_id, repo)
    except _Refused as refused:
        await record_refusal(repo, staff_id, case, refused.denial, "approve")
        return "refused", str(refused.denial)
    except _Decided:
        return "already_decided", None
    except DuplicatePerson:
        # Collected by someone else meanwhile: there must never be a second record for one number.
        return await _close_refused(case, staff_id, repo, "duplicate", ALREADY_COLLECTED)
    except LookupError:
        return await _close_refused(case, staff_id, repo, "record_gone", RECORD_GONE)
    await repo.events.record(flow, "save", EventOutcome.COMPLETED, user_id=case.user_id)
    return "approved", None


async def _apply(case: ReviewCase, flow: str, staff_id: int, repo: Repositories) -> None:
    """Save what the case's dialog would have saved (inside the caller's transaction)."""
    if not case.payload:
        return  # erased on request: nothing left to save
    if flow == "collect":
        await repo.persons.save_collected(
            collected_record(case.user_id, case.payload), actor_user_id=staff_id
        )
        return
    if case.person_id is None:
        raise LookupError("the person of the case was erased")
    if flow == "supplement":
        await apply_supplement(
            repo, case.person_id, case.payload, actor_user_id=staff_id, signer_user_id=case.user_id
        )
    elif flow == "change":
        await apply_change(repo, case.person_id, case.payload, actor_user_id=staff_id, user_id=case.user_id)


async def _close_refused(
    case: ReviewCase, staff_id: int, repo: Repositories, outcome: str, reason: str
) -> tuple[str, str | None]:
    """The approval could not be saved (rolled back): close the case as refused, with ``reason``."""
    decided = await repo.review.decide(case.id, approved=False, staff_user_id=staff_id, reason=reason)
    return (outcome, reason) if decided else ("already_decided", None)


async def _tell_taxpayer(
    bot: Bot, services: Services, repo: Repositories, case: ReviewCase, reason: str | None
) -> bool:
    ut = await translator_for(case.user_id, services, repo)
    flow = str(case.payload.get("flow") or "collect")
    if flow not in NOTIFIED_FLOWS:
        flow = "collect"
    if reason is None:
        text = ut("staff.notify.approved_" + flow) + "\n\n" + ut("menu.home", name=None)
    else:
        text = (
            ut("staff.notify.rejected", reason=ut.reason(reason))
            + "\n"
            + ut("staff.advice." + reason, function=ut("menu." + flow))
        )
    return await notify_user(bot, case.user_id, text, reply_markup=home_keyboard(ut))


def create_router() -> Router:
    router = Router(name="staff.review")
    router.message.filter(HasRole(ANY_STAFF))
    router.callback_query.filter(HasRole(ANY_STAFF))

    @router.message(Command("review"))
    async def review(
        message: Message, bot: Bot, t: Translator, services: Services, repo: Repositories
    ) -> None:
        assert message.from_user is not None
        await show_next(bot, message.chat.id, message.from_user.id, t, services, repo)

    @router.callback_query(StaffAct.filter(F.a == "rv_next"))
    async def skip(
        query: CallbackQuery,
        callback_data: StaffAct,
        bot: Bot,
        t: Translator,
        services: Services,
        repo: Repositories,
    ) -> None:
        await query.answer()
        await show_next(bot, query.from_user.id, query.from_user.id, t, services, repo, after=callback_data.n)

    @router.callback_query(StaffAct.filter(F.a == "rv_ok"))
    async def confirm_approval(
        query: CallbackQuery, callback_data: StaffAct, bot: Bot, t: Translator, repo: Repositories
    ) -> None:
        # An approval saves a record (and may bind the person to enterprises later): the reviewer
        # confirms, told what the approval will do.
        case = await _decidable(query, t, repo, callback_data.n, "approve")
        if case is None:
            return
        await query.answer()
        flow = str(case.payload.get("flow") or "collect")
        if flow not in NOTIFIED_FLOWS:
            flow = "collect"
        await bot.send_message(
            query.from_user.id,
            t("staff.review.confirm_" + flow, case_id=case.id, person_id=case.person_id),
            reply_markup=rows(
                [staff_button(t("staff.review.confirm_yes"), "rv_yes", case.id)],
                [staff_button(t("common.back"), "rv_show", case.id)],
            ),
        )

    @router.callback_query(StaffAct.filter(F.a == "rv_yes"))
    async def approve(
        query: CallbackQuery,
        callback_data: StaffAct,
        bot: Bot,
        t: Translator,
        services: Services,
        repo: Repositories,
    ) -> None:
        case = await repo.review.get(callback_data.n)
        if case is None or case.status != "open":
            await query.answer(t("staff.review.already_decided"), show_alert=True)
            return
        outcome, reason = await _approve(case, query.from_user.id, repo)
        if outcome == "refused":
            await _tell_refused(query, t, reason or "")
            return
        if outcome == "already_decided":
            await query.answer(t("staff.review.already_decided"), show_alert=True)
            return
        await query.answer()
        delivered = await _tell_taxpayer(bot, services, repo, case, reason)
        key = "staff.review." + outcome  # approved | duplicate | record_gone
        await _after_decision(bot, query, t, key, case.id, delivered)

    @router.callback_query(StaffAct.filter(F.a == "rv_no"))
    async def reject_reasons(
        query: CallbackQuery, callback_data: StaffAct, bot: Bot, t: Translator, repo: Repositories
    ) -> None:
        case = await _decidable(query, t, repo, callback_data.n, "reject")
        if case is None:
            return
        await query.answer()
        # The reason travels as its index: callback data is limited to 64 bytes.
        choices = [
            [staff_button(t.reason(code), "rv_rs", callback_data.n, str(i))]
            for i, code in enumerate(REJECT_REASONS)
        ]
        markup = rows(*choices, [staff_button(t("common.back"), "rv_show", callback_data.n)])
        await bot.send_message(query.from_user.id, t("staff.review.choose_reason"), reply_markup=markup)

    @router.callback_query(StaffAct.filter(F.a == "rv_show"))
    async def show_again(
        query: CallbackQuery,
        callback_data: StaffAct,
        bot: Bot,
        t: Translator,
        services: Services,
        repo: Repositories,
    ) -> None:
        await query.answer()
        case = await repo.review.get(callback_data.n)
        if case is None or case.status != "open":
            await bot.send_message(query.from_user.id, t("staff.review.already_decided"))
            return
        decision = await check_review(repo, query.from_user.id, case)
        await bot.send_message(
            query.from_user.id,
            case_text(t, case, 0),
            reply_markup=_case_keyboard(t, case, may_decide=decision.allowed),
        )

    @router.callback_query(StaffAct.filter(F.a == "rv_full"))
    async def reveal(
        query: CallbackQuery, callback_data: StaffAct, bot: Bot, t: Translator, repo: Repositories
    ) -> None:
        # Only who may decide the case sees it in full (not the taxpayer themselves, nor a colleague
        # of the same enterprise), and every reveal is an audit row: staff access to personal
        # information is processing of it.
        case = await _decidable(query, t, repo, callback_data.n, "reveal")
        if case is None:
            return
        await repo.audit.write(
            query.from_user.id, "review.reveal", "review_case", case.id, None, {"person_id": case.person_id}
        )
        await query.answer()
        # protect_content: the full values cannot be forwarded or saved from the chat.
        await bot.send_message(query.from_user.id, revealed_text(t, case), protect_content=True)

    @router.callback_query(StaffAct.filter(F.a == "rv_person"))
    async def person(
        query: CallbackQuery, callback_data: StaffAct, bot: Bot, t: Translator, repo: Repositories
    ) -> None:
        case = await repo.review.get(callback_data.n)
        found = await repo.persons.get(case.person_id) if case and case.person_id is not None else None
        if found is None:
            await query.answer(t("staff.person.not_found"), show_alert=True)
            return
        await repo.audit.write(
            query.from_user.id,
            "staff.lookup.person",
            "person",
            found.id,
            None,
            {"query": f"review_case #{callback_data.n}", "found": [found.id]},
        )
        await query.answer()
        text, keyboard = await person_text(t, repo, found)
        await bot.send_message(query.from_user.id, text, reply_markup=keyboard)

    @router.callback_query(StaffAct.filter(F.a == "rv_rs"))
    async def reject(
        query: CallbackQuery,
        callback_data: StaffAct,
        bot: Bot,
        t: Translator,
        services: Services,
        repo: Repositories,
    ) -> None:
        if not callback_data.v.isdigit() or int(callback_data.v) >= len(REJECT_REASONS):
            await query.answer(t("common.stale_button"), show_alert=True)
            return
        reason = REJECT_REASONS[int(callback_data.v)]
        shown = await repo.review.get(callback_data.n)
        if shown is None or shown.status != "open":
            await query.answer(t("staff.review.already_decided"), show_alert=True)
            return
        try:
            async with repo.db.transaction():
                decision = await check_review(repo, query.from_user.id, shown)
                if decision.denial is not None:
                    raise _Refused(decision.denial)
                case = await repo.review.decide(
                    callback_data.n, approved=False, staff_user_id=query.from_user.id, reason=reason
                )
        except _Refused as refused:
            await record_refusal(repo, query.from_user.id, shown, refused.denial, "reject")
            await _tell_refused(query, t, refused.denial)
            return
        if case is None:
            await query.answer(t("staff.review.already_decided"), show_alert=True)
            return
        await query.answer()
        flow = case.payload.get("flow") or "collect"
        await repo.events.record(
            flow, "review", EventOutcome.REJECTED, user_id=case.user_id, reason_code=reason
        )
        delivered = await _tell_taxpayer(bot, services, repo, case, reason)
        await _after_decision(bot, query, t, "staff.review.rejected", case.id, delivered)

    return router


async def _decidable(
    query: CallbackQuery, t: Translator, repo: Repositories, case_id: int, at: str
) -> ReviewCase | None:
    """The open case this staff member may decide; None (told, a refusal audited) otherwise."""
    case = await repo.review.get(case_id)
    if case is None or case.status != "open":
        await query.answer(t("staff.review.already_decided"), show_alert=True)
        return None
    decision = await check_review(repo, query.from_user.id, case)
    if decision.denial is not None:
        await record_refusal(repo, query.from_user.id, case, decision.denial, at)
        await _tell_refused(query, t, decision.denial)
        return None
    return case


async def _tell_refused(query: CallbackQuery, t: Translator, reason: str) -> None:
    await query.answer(t("staff.review.four_eyes", reason=t.reason(reason)), show_alert=True)


async def _after_decision(
    bot: Bot, query: CallbackQuery, t: Translator, key: str, case_id: int, delivered: bool
) -> None:
    text = t(key, case_id=case_id)
    if not delivered:
        text += "\n" + t("staff.review.not_delivered")
    await bot.send_message(
        query.from_user.id,
        text,
        reply_markup=rows([staff_button(t("staff.review.next"), "rv_next", case_id)]),
    )
