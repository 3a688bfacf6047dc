"""扫一扫 (issue 20): ``/start <token>`` from the e-tax website's QR code.

The bot first says which portal asked, shows the short code the page shows too (the user compares
them: a phishing page relaying someone else's QR code shows another code, or none) and what will be
shared; on 【确认，继续】 it runs the right function through its own entry: 实名信息采集 when the
account is not collected (``CollectFlow.start``), else a face step-up against the stored live face
(the face sub-dialog, as 实名信息维护's face login starts it). The result goes back to the handoff
where each ends successfully: :func:`collected` (called by collection's save) and
:meth:`HandoffFlow.on_face`. The rules (once, one account, expiry, audit) are the use case's
(bot/services/handoff.py).
"""

from __future__ import annotations

import logging
from typing import cast

from aiogram import F, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot.conversation import Common
from bot.dialogs import face
from bot.dialogs.base import Act, Ctx, Startable, act, end_dialog, home_button, keyboard
from bot.dialogs.calls import FaceCheck, FaceResult
from bot.domain.handoff import Handoff, HandoffMethod, HandoffState
from bot.domain.models import Person
from bot.domain.outcomes import EventOutcome
from bot.services.handoff import HandoffService
from bot.ui import Function, Node, Tip, button

log = logging.getLogger(__name__)


class HandoffSG(StatesGroup):
    confirm = State()  # portal, short code, what will be shared: 【确认，继续】 / 【不是我发起的】


def _service(ctx: Ctx) -> HandoffService:
    service = ctx.services.handoffs
    if service is None:
        raise RuntimeError("services built without handoffs")
    return service


def _portal_name(ctx: Ctx, handoff: Handoff) -> str:
    portal = _service(ctx).portal(handoff.portal)
    return portal.name if portal is not None else handoff.portal


async def _end(ctx: Ctx, key: str, **values: object) -> None:
    await end_dialog(ctx.state, ctx.services)
    await ctx.say(ctx.t(key, **values), keyboard([home_button(ctx.t)]))


async def collected(ctx: Ctx, handoff_id: object, person: Person) -> None:
    """Collection's save succeeded: report it to the handoff the dialog came from, if any."""
    if not isinstance(handoff_id, str):
        return
    handoff = await _service(ctx).complete(handoff_id, ctx.user_id, person, HandoffMethod.COLLECTION)
    await _report(ctx, handoff)


async def _report(ctx: Ctx, handoff: Handoff | None) -> None:
    if handoff is None:
        await ctx.say(ctx.t("handoff.session_over"))
    elif handoff.state is HandoffState.DONE:
        await ctx.say(ctx.t("handoff.reported", portal=_portal_name(ctx, handoff)))
    elif handoff.failure == "document_mismatch":
        await ctx.say(ctx.t("handoff.document_mismatch"))


class HandoffFlow:
    """The face step-up of a collected account (collection is CollectFlow's own)."""

    name = "handoff"

    async def stepup(self, ctx: Ctx, handoff: Handoff, person: Person) -> None:
        service = _service(ctx)
        if service.expects_other_document(handoff, person):
            await service.fail(handoff.id, ctx.user_id, "document_mismatch")
            await _end(ctx, "handoff.document_mismatch")
            return
        if person.live_photo is None:
            await service.fail(handoff.id, ctx.user_id, "no_live_photo")
            await end_dialog(ctx.state, ctx.services)
            await ctx.say(
                ctx.t("handoff.no_live_photo"),
                keyboard(
                    [button(ctx.t("menu.supplement"), Tip(func=Function.SUPPLEMENT, parent=Node.REALNAME))],
                    [home_button(ctx.t)],
                ),
            )
            return
        await end_dialog(ctx.state, ctx.services)
        await ctx.begin(self.name, Common(handoff=handoff.id))
        await ctx.say(ctx.t("handoff.stepup"))
        # A face *login*, as 实名信息维护's: the agreement was signed at collection.
        await face.begin(ctx, FaceCheck(refs=[list(person.live_photo.encoding)], with_agreement=False))

    async def on_face(self, ctx: Ctx, result: FaceResult) -> None:
        handoff_id = (await ctx.load(Common)).handoff
        person = await ctx.repo.persons.find_by_telegram(ctx.user_id)
        service = _service(ctx)
        if not isinstance(handoff_id, str):
            await _end(ctx, "handoff.session_over")
            return
        if person is None or result.decision != "pass":
            # Near the threshold is no pass: a portal relies on this check, staff cannot decide it later.
            await service.fail(handoff_id, ctx.user_id, "face_not_passed")
            code = (result.reasons or ["face_mismatch"])[0]  # an engine's code
            await ctx.repo.events.record(
                self.name, "stepup", EventOutcome.REJECTED, user_id=ctx.user_id, reason_code=code
            )
            await _end(ctx, "handoff.stepup_failed")
            return
        handoff = await service.complete(handoff_id, ctx.user_id, person, HandoffMethod.FACE_STEPUP)
        # The kept frame is not part of any record: a step-up stores nothing but the result.
        await end_dialog(ctx.state, ctx.services)
        await ctx.repo.events.record(self.name, "stepup", EventOutcome.PASSED, user_id=ctx.user_id)
        if handoff is not None and handoff.state is HandoffState.DONE:
            await ctx.say_home(ctx.t("handoff.stepup_done"))
        await _report(ctx, handoff)

    async def back_from_face(self, ctx: Ctx) -> None:
        handoff_id = (await ctx.load(Common)).handoff
        if isinstance(handoff_id, str):
            await _service(ctx).fail(handoff_id, ctx.user_id, "cancelled")
        await _end(ctx, "handoff.cancelled")


def create_router(flow: HandoffFlow) -> Router:
    router = Router(name="handoff")

    @router.message(CommandStart(deep_link=True))
    async def start_token(message: Message, command: CommandObject, ctx: Ctx) -> None:
        # /start always leaves the dialog it interrupts (【信息核实】 masked on the way out)
        await end_dialog(ctx.state, ctx.services, bot=ctx.bot)
        service = _service(ctx)
        opened = await service.open(command.args or "", ctx.user_id)
        if opened.refused is not None or opened.handoff is None:
            refused = opened.refused or "unknown"
            await ctx.say(ctx.t(f"handoff.refused.{refused}"), keyboard([home_button(ctx.t)]))
            return
        handoff = opened.handoff
        person = await ctx.repo.persons.find_by_telegram(ctx.user_id)
        function = "handoff.function_collection" if person is None else "handoff.function_stepup"
        await ctx.state.set_state(HandoffSG.confirm)
        await ctx.change(Common, handoff=handoff.id)
        await ctx.repo.events.record(flow.name, "start", EventOutcome.STARTED, user_id=ctx.user_id)
        await ctx.say(
            ctx.t(
                "handoff.confirm",
                portal=_portal_name(ctx, handoff),
                function=ctx.t(function),
                code=handoff.short_code,
                minutes=int(ctx.services.settings.handoff_session_minutes),
            ),
            keyboard(
                [act(ctx.t("handoff.go"), "handoff", "go")], [act(ctx.t("handoff.decline"), "handoff", "no")]
            ),
        )

    @router.callback_query(HandoffSG.confirm, Act.filter(F.a == "handoff"))
    async def confirm(query: CallbackQuery, callback_data: Act, ctx: Ctx) -> None:
        await query.answer()
        handoff_id = (await ctx.load(Common)).handoff
        service = _service(ctx)
        if not isinstance(handoff_id, str):
            await _end(ctx, "handoff.session_over")
            return
        if callback_data.v != "go":
            await service.fail(handoff_id, ctx.user_id, "declined")
            await _end(ctx, "handoff.declined")
            return
        handoff = await service.begin(handoff_id, ctx.user_id)
        if handoff is None:
            await _end(ctx, "handoff.session_over")
            return
        person = await ctx.repo.persons.find_by_telegram(ctx.user_id)
        if person is not None:
            await flow.stepup(ctx, handoff, person)
            return
        await cast(Startable, ctx.flows["collect"]).start(ctx)  # 实名信息采集's own entry
        if await ctx.state.get_state() is None:
            # The entry answered instead of starting (e.g. a collection already waits for review).
            await service.fail(handoff_id, ctx.user_id, "collection_unavailable")
            await ctx.say(ctx.t("handoff.collection_unavailable"))
            return
        await ctx.change(Common, handoff=handoff_id)  # read back by collection's save (`collected`)

    @router.message(HandoffSG.confirm)
    async def confirm_unexpected(message: Message, ctx: Ctx) -> None:
        await message.answer(ctx.t("handoff.expect_button"))

    return router
