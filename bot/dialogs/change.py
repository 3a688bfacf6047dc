"""实名信息变更 (guide §3): without logging in, identity proven by ID card + face comparison against
the stored live face; then residence and phone (the new phone verified by code, the old one not
needed) → "实名信息修改保存成功", and this Telegram account is re-linked to the person.

Guards:
- "No record" is only answered after both sides of a card were read (that takes the physical card), so
  the function cannot be used to find out who has collected.
- Face comparisons are bounded: a comparison counts as failed when it *starts* and is cleared when it
  passes (abandoning one counts too); after ``change_face_attempts`` the function pauses for
  ``change_pause_minutes``, per Telegram account and per document, in the database: /start, a new
  dialog or another Telegram account do not restart the count.
- A face near the threshold is neither: its attempt is taken back from the count, the user still enters
  and verifies the new phone / residence, and 【下一步】 opens a staff review case instead of saving;
  the approval applies the edits and the re-link (bot/services/records.py: apply_change).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar

from aiogram import F, Router
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from pydantic import Field

from bot.dialogs import authority, calls, card, face, phone
from bot.dialogs.account import Edits, EditsData, collect_button, register_edit_steps, show_edits
from bot.dialogs.base import (
    Act,
    Ctx,
    back_to_tip,
    complete,
    end_dialog,
    home_button,
    keyboard,
    register_entry,
)
from bot.dialogs.calls import AuthorityResult, CardResult, FaceCheck, FaceResult, PhoneResult
from bot.dialogs.card_data import front_from_dict
from bot.dialogs.review import already_in_review, open_review
from bot.domain.models import Person, ReviewKind
from bot.domain.outcomes import EventOutcome
from bot.services.change import save_change
from bot.ui import Function, home_keyboard
from bot.verification.ids import DocumentType

SCOPE = "change_face"


class ChangeSG(StatesGroup):
    edit = State()  # current values, 【修改手机号码】 【修改居住地】 【下一步】
    residence = State()


def _minutes_left(until: datetime, now: datetime) -> int:
    return max(1, int((until - now).total_seconds() + 59) // 60)


class ChangeData(EditsData):
    """变更's own values: the document type, the person the card named (``person_id``) and whether the
    face proved them (``verified``; ``review``: near the threshold, a reviewer decides), the keys and
    start of the face attempt's guard, the identity reasons for review, and the pending ``edits``."""

    KEY: ClassVar[str] = "change"
    doc_type: str | None = None
    person_id: int | None = None
    verified: bool = False
    review: bool = False
    guard_keys: list[str] = Field(default_factory=list)
    guard_began: str | None = None  # ISO-8601
    review_reasons: list[str] = Field(default_factory=list)


class ChangeFlow:
    name = "change"

    def _pause(self, ctx: Ctx) -> timedelta:
        return timedelta(minutes=ctx.services.settings.change_pause_minutes)

    async def _paused(self, ctx: Ctx, keys: list[str]) -> bool:
        until = await ctx.repo.guards.paused_until(SCOPE, keys)
        if until is None:
            return False
        await end_dialog(ctx.state, ctx.services)
        await ctx.repo.events.record(
            self.name, "start", EventOutcome.REJECTED, user_id=ctx.user_id, reason_code="change_paused"
        )
        minutes = _minutes_left(until, ctx.now())
        await ctx.say(ctx.t("change.paused", minutes=minutes), keyboard([home_button(ctx.t)]))
        return True

    async def start(self, ctx: Ctx) -> None:
        if await self._paused(ctx, [ctx.repo.guards.user_key(ctx.user_id)]):
            return
        if await already_in_review(ctx, self.name, "change.in_review"):
            return
        await ctx.state.clear()
        await ctx.begin(self.name, ChangeData(doc_type=DocumentType.RESIDENT_ID.value))
        await card.begin(ctx)

    async def verified_person(self, ctx: Ctx) -> Person | None:
        """The person proven by card and face in this dialog; None (dialog ended) otherwise."""
        own = await ctx.load(ChangeData)
        person_id = own.person_id
        person = await ctx.repo.persons.get(person_id) if own.verified and person_id else None
        if person is None:
            await end_dialog(ctx.state, ctx.services)
            await ctx.say(ctx.t("change.not_verified"), keyboard([home_button(ctx.t)]))
        return person

    async def show(self, ctx: Ctx, *, note: str | None = None) -> None:
        person = await self.verified_person(ctx)
        if person is None:
            return
        if (await ctx.load(ChangeData)).review:
            # Said on every showing: 【下一步】 submits for review here, it does not save at once.
            note = ctx.t("change.review_note") + ("\n\n" + note if note else "")
        await show_edits(ctx, ChangeSG.edit, person, ChangeData, note=note)

    # --- sub-dialogs return here ------------------------------------------------------------------
    async def on_phone(self, ctx: Ctx, result: PhoneResult) -> None:
        await ChangeData.keep_phone(ctx, result)
        await self.show(ctx)

    async def back_from_phone(self, ctx: Ctx) -> None:
        await self.show(ctx)

    async def back_from_card(self, ctx: Ctx) -> None:
        await back_to_tip(ctx, Function.CHANGE)

    async def back_from_authority(self, ctx: Ctx) -> None:
        await card.reopen(ctx)

    async def back_from_face(self, ctx: Ctx) -> None:
        await card.reopen(ctx)

    async def on_card(self, ctx: Ctx, result: CardResult) -> None:
        number = front_from_dict(result.front).id_number or ""
        guards = ctx.repo.guards
        keys = [guards.user_key(ctx.user_id), guards.document_key(DocumentType.RESIDENT_ID, number)]
        if await self._paused(ctx, keys):
            return
        await ctx.change(ChangeData, guard_keys=keys)
        # Number and name to the identity authority, as in a collection.
        await authority.begin(ctx)

    async def on_authority(self, ctx: Ctx, result: AuthorityResult) -> None:
        data = await calls.view(ctx)
        card_read = await ctx.load(CardResult)
        number = front_from_dict(card_read.front).id_number or ""
        keys = list((await ctx.load(ChangeData)).guard_keys)
        person = await ctx.repo.persons.find_by_document(DocumentType.RESIDENT_ID, number)
        # Whether the number is collected is told only after the face check: a face check runs either
        # way (against the authority's photo or the portrait when there is no record), so no step
        # before it answers differently for a collected number (attack: probing).
        if person is None:
            refs = authority.primary_reference(data)
        elif person.live_photo is not None:
            # The stored live face is who collected; without one, the portrait of the card just read.
            refs = [list(person.live_photo.encoding)]
        else:
            refs = [list(card_read.portrait_encoding or [])]
        pause = self._pause(ctx)
        began = await ctx.repo.guards.fail(
            SCOPE, keys, limit=ctx.services.settings.change_face_attempts, window=pause, pause=pause
        )
        person_id = None if person is None else person.id
        await ctx.change(
            ChangeData,
            person_id=person_id,
            guard_keys=keys,
            guard_began=None if began is None else began.isoformat(),
        )
        await face.begin(ctx, FaceCheck(refs=refs, person_id=person_id))

    async def on_face(self, ctx: Ctx, result: FaceResult) -> None:
        data = await calls.view(ctx)
        own = await ctx.load(ChangeData)
        keys = list(own.guard_keys)
        if own.person_id is None:
            await end_dialog(ctx.state, ctx.services)
            await ctx.repo.events.record(
                self.name,
                "card",
                EventOutcome.REJECTED,
                user_id=ctx.user_id,
                reason_code="change_not_collected",
            )
            await ctx.say(ctx.t("change.not_collected"), keyboard(collect_button(ctx), [home_button(ctx.t)]))
            return
        # The stored live face was the reference; the authority's photo (if any) must show it too.
        checked = await ctx.find(AuthorityResult)
        photo = checked.encoding if checked is not None else None
        unverified = authority.assess(ctx, data, second=[("review_authority_photo_mismatch", photo)]).reasons
        await ctx.change(ChangeData, review_reasons=unverified)
        if result.decision != "pass" or unverified:
            # Near the threshold is no proof of identity, and no failure either: the attempt is taken
            # back from the count, the user enters what they came to change, and a reviewer decides
            # (the case is opened on 【下一步】, with the new phone already verified by code).
            began = own.guard_began
            await ctx.repo.guards.forgive(
                SCOPE,
                keys,
                limit=ctx.services.settings.change_face_attempts,
                began=None if began is None else datetime.fromisoformat(began),
            )
            await ctx.change(ChangeData, verified=True, review=True, edits=Edits())
            await self.show(ctx)
            return
        await ctx.repo.guards.succeed(SCOPE, keys)
        await ctx.repo.events.record(self.name, "face", EventOutcome.PASSED, user_id=ctx.user_id)
        await ctx.change(ChangeData, verified=True, review=False, edits=Edits())
        await self.show(ctx, note=ctx.t("change.verified"))

    async def save(self, ctx: Ctx) -> None:
        person = await self.verified_person(ctx)
        if person is None:
            return
        own = await ctx.load(ChangeData)
        if own.review:
            payload = await calls.payload(
                ctx, ("flow", "doc_type", "card", "authority", "edits", "consents", "face")
            )
            face_result = await ctx.find(FaceResult)
            await open_review(
                ctx,
                ReviewKind.CHANGE_FACE_NEAR_THRESHOLD,
                person.id,
                payload,
                "change.review",
                in_review_key="change.in_review",
                reasons=list(own.review_reasons) + (list(face_result.reasons) if face_result else []),
            )
            return
        await save_change(ctx.repo, ctx.user_id, person.id, await calls.view(ctx))
        await complete(ctx, self.name, "save", ctx.t("functions.saved"))


def create_router(flow: ChangeFlow) -> Router:
    router = Router(name="change")

    register_entry(router, flow, Function.CHANGE)

    async def verified(ctx: Ctx) -> bool:
        return await flow.verified_person(ctx) is not None

    async def ask_phone(ctx: Ctx) -> None:
        if await verified(ctx):
            await phone.begin(ctx)

    steps = (ChangeSG.edit, ChangeSG.residence)
    register_edit_steps(
        router, steps, verified, ChangeData, show=flow.show, ask_phone=ask_phone, save=flow.save
    )

    @router.callback_query(ChangeSG.edit, Act.filter(F.a == "back"))
    async def edit_back(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        await end_dialog(ctx.state, ctx.services)
        await ctx.say(ctx.t("functions.not_saved"), home_keyboard(ctx.t))

    @router.message(ChangeSG.edit)
    async def edit_unexpected(message: Message, ctx: Ctx) -> None:
        await flow.show(ctx, note=ctx.t("functions.use_buttons"))

    return router


__all__ = ["ChangeData", "ChangeFlow", "ChangeSG", "create_router"]
