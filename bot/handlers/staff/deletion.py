"""/deletions (admins): the taxpayers' PIPL deletion requests; carry one out (the use case
:func:`bot.services.deletion.carry_out_deletion`) or refuse it with a reason."""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot.domain.staff import DeletionRequest, DeletionStatus
from bot.handlers.staff.common import ADMIN, HasRole, StaffAct, notify_user, staff_button, translator_for
from bot.i18n import Translator
from bot.services import Services
from bot.services.deletion import carry_out_deletion
from bot.storage.repositories import Repositories
from bot.ui import home_keyboard, rows

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


def create_router() -> Router:
    router = Router(name="staff.deletion")
    router.message.filter(HasRole(ADMIN))
    router.callback_query.filter(HasRole(ADMIN))

    @router.message(Command("deletions"))
    async def deletions(message: Message, t: Translator, repo: Repositories) -> None:
        assert message.from_user is not None
        requests = await repo.staff.open_deletion_requests()
        await repo.audit.write(
            message.from_user.id, "staff.deletion.list", "report", None, None, {"open": len(requests)}
        )
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
    async def confirm(
        query: CallbackQuery, callback_data: StaffAct, bot: Bot, t: Translator, repo: Repositories
    ) -> None:
        # Erasure cannot be undone: the admin confirms, told exactly what goes and what stays.
        request = await repo.staff.deletion_request(callback_data.n)
        if request is None or request.status is not DeletionStatus.OPEN:
            await query.answer(t("staff.deletion.already_decided"), show_alert=True)
            return
        await query.answer()
        person = "—" if request.person_id is None else request.person_id
        await bot.send_message(
            query.from_user.id,
            t("staff.deletion.confirm", request_id=request.id, person_id=person, user_id=request.user_id),
            reply_markup=rows(
                [staff_button(t("staff.deletion.confirm_yes"), "del_yes", request.id)],
                [staff_button(t("common.cancel"), "del_keep", request.id)],
            ),
        )

    @router.callback_query(StaffAct.filter(F.a == "del_keep"))
    async def keep(query: CallbackQuery, bot: Bot, t: Translator) -> None:
        await query.answer()
        await bot.send_message(query.from_user.id, t("staff.deletion.kept"))

    @router.callback_query(StaffAct.filter(F.a == "del_yes"))
    async def do(
        query: CallbackQuery,
        callback_data: StaffAct,
        bot: Bot,
        t: Translator,
        services: Services,
        repo: Repositories,
    ) -> None:
        request = await repo.staff.deletion_request(callback_data.n)
        if request is None or request.status is not DeletionStatus.OPEN:
            await query.answer(t("staff.deletion.already_decided"), show_alert=True)
            return
        if not await carry_out_deletion(request, query.from_user.id, repo, services.media):
            await query.answer(t("staff.deletion.already_decided"), show_alert=True)
            return
        await query.answer()
        ut = await translator_for(request.user_id, services, repo)
        delivered = await notify_user(
            bot, request.user_id, ut("mydata.deleted"), reply_markup=home_keyboard(ut)
        )
        text = t("staff.deletion.done", request_id=request.id)
        if not delivered:
            text += "\n" + t("staff.review.not_delivered")
        await bot.send_message(query.from_user.id, text)

    @router.callback_query(StaffAct.filter(F.a == "del_no"))
    async def refuse_reasons(query: CallbackQuery, callback_data: StaffAct, bot: Bot, t: Translator) -> None:
        await query.answer()
        choices = [
            [staff_button(t.reason(code), "del_rs", callback_data.n, str(i))]
            for i, code in enumerate(REFUSE_REASONS)
        ]
        await bot.send_message(
            query.from_user.id, t("staff.deletion.choose_reason"), reply_markup=rows(*choices)
        )

    @router.callback_query(StaffAct.filter(F.a == "del_rs"))
    async def refuse(
        query: CallbackQuery,
        callback_data: StaffAct,
        bot: Bot,
        t: Translator,
        services: Services,
        repo: Repositories,
    ) -> None:
        if not callback_data.v.isdigit() or int(callback_data.v) >= len(REFUSE_REASONS):
            await query.answer(t("common.stale_button"), show_alert=True)
            return
        reason = REFUSE_REASONS[int(callback_data.v)]
        request = await repo.staff.close_deletion_request(
            callback_data.n, DeletionStatus.REFUSED, decided_by=query.from_user.id, note=reason
        )
        if request is None:
            await query.answer(t("staff.deletion.already_decided"), show_alert=True)
            return
        await query.answer()
        ut = await translator_for(request.user_id, services, repo)
        delivered = await notify_user(
            bot,
            request.user_id,
            ut("mydata.refused", reason=ut.reason(reason)),
            reply_markup=home_keyboard(ut),
        )
        text = t("staff.deletion.refused", request_id=request.id)
        if not delivered:
            text += "\n" + t("staff.review.not_delivered")
        await bot.send_message(query.from_user.id, text)

    return router
