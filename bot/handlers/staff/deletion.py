"""/deletions (admins): the taxpayers' PIPL deletion requests; carry one out or refuse it with a reason
(the use cases :func:`bot.services.deletion.carry_out_deletion` and ``refuse_deletion``)."""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot.domain.staff import DeletionRequest, DeletionStatus
from bot.handlers.staff.common import ADMIN, HasRole, StaffAct, StaffCtx, staff_button
from bot.handlers.staff.reasons import ReasonPicker
from bot.i18n import Translator
from bot.services.deletion import carry_out_deletion, open_requests, refuse_deletion
from bot.ui import rows

log = logging.getLogger(__name__)

LISTED = 10
REFUSE_REASONS = ("deletion_refused_legal_obligation", "deletion_refused_unverified")


def request_text(t: Translator, request: DeletionRequest) -> str:
    return t(
        "staff.deletion.row",
        request_id=request.id,
        user_id=request.user_id,
        person_id=request.person_id if request.person_id is not None else "—",
        at=t.moment(request.requested_at),
    )


REFUSE = ReasonPicker(REFUSE_REASONS, "del_rs", "staff.deletion.choose_reason")


async def _open_request(query: CallbackQuery, sc: StaffCtx, request_id: int) -> DeletionRequest | None:
    """The request when it is still open; None (the admin told) otherwise."""
    request = await sc.repo.staff.deletion_request(request_id)
    if request is None or request.status is not DeletionStatus.OPEN:
        await query.answer(sc.t("staff.deletion.already_decided"), show_alert=True)
        return None
    return request


async def _tell_requester(
    sc: StaffCtx, request: DeletionRequest, key: str, done_key: str, reason: str | None = None
) -> None:
    """Tell the taxpayer what became of their request (in their language), then the admin."""
    delivered = await sc.notify(
        request.user_id, lambda ut: ut(key, reason=ut.reason(reason)) if reason else ut(key)
    )
    text = sc.t(done_key, request_id=request.id)
    if not delivered:
        text += "\n" + sc.t("staff.review.not_delivered")
    await sc.say(text)


def create_router() -> Router:
    router = Router(name="staff.deletion")
    router.message.filter(HasRole(ADMIN))
    router.callback_query.filter(HasRole(ADMIN))

    @router.message(Command("deletions"))
    async def deletions(message: Message, sc: StaffCtx) -> None:
        t = sc.t
        requests = await open_requests(sc.repo, sc.user_id)
        if not requests:
            await message.answer(t("staff.deletion.empty"))
            return
        await message.answer(t("staff.deletion.title", count=len(requests)))
        for request in requests[:LISTED]:
            await message.answer(
                request_text(t, request),
                reply_markup=rows(
                    [staff_button(t("staff.deletion.do"), "del_do", request.id)],
                    [staff_button(t("staff.deletion.refuse"), "del_no", request.id)],
                ),
            )

    @router.callback_query(StaffAct.filter(F.a == "del_do"))
    async def confirm(query: CallbackQuery, callback_data: StaffAct, sc: StaffCtx) -> None:
        # Erasure cannot be undone: the admin confirms, told exactly what goes and what stays.
        request = await _open_request(query, sc, callback_data.n)
        if request is None:
            return
        await query.answer()
        person = "—" if request.person_id is None else request.person_id
        await sc.say(
            sc.t("staff.deletion.confirm", request_id=request.id, person_id=person, user_id=request.user_id),
            rows(
                [staff_button(sc.t("staff.deletion.confirm_yes"), "del_yes", request.id)],
                [staff_button(sc.t("common.cancel"), "del_keep", request.id)],
            ),
        )

    @router.callback_query(StaffAct.filter(F.a == "del_keep"))
    async def keep(query: CallbackQuery, sc: StaffCtx) -> None:
        await query.answer()
        await sc.say(sc.t("staff.deletion.kept"))

    @router.callback_query(StaffAct.filter(F.a == "del_yes"))
    async def do(query: CallbackQuery, callback_data: StaffAct, sc: StaffCtx) -> None:
        request = await _open_request(query, sc, callback_data.n)
        if request is None:
            return
        if not await carry_out_deletion(request, sc.user_id, sc.repo, sc.services.media):
            await query.answer(sc.t("staff.deletion.already_decided"), show_alert=True)
            return
        await query.answer()
        await _tell_requester(sc, request, "mydata.deleted", "staff.deletion.done")

    @router.callback_query(StaffAct.filter(F.a == "del_no"))
    async def refuse_reasons(query: CallbackQuery, callback_data: StaffAct, sc: StaffCtx) -> None:
        await query.answer()
        await REFUSE.show(sc, callback_data.n)

    @router.callback_query(StaffAct.filter(F.a == REFUSE.action))
    async def refuse(query: CallbackQuery, callback_data: StaffAct, sc: StaffCtx) -> None:
        reason = await REFUSE.picked(query, sc, callback_data)
        if reason is None:
            return
        request = await refuse_deletion(sc.repo, callback_data.n, sc.user_id, reason)
        if request is None:
            await query.answer(sc.t("staff.deletion.already_decided"), show_alert=True)
            return
        await query.answer()
        await _tell_requester(sc, request, "mydata.refused", "staff.deletion.refused", reason=reason)

    return router
