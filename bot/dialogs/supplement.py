"""实名采集信息补录 (guide §2): for a logged-in person whose record is incomplete.

- complete record → "该证件已实名采集";
- no on-site photo → "该证件已实名采集，但缺少现场照片" → 【确定】 → face capture with liveness (against
  the stored ID portrait when there is one) → "实名信息补采保存成功";
- expired ID card → "身份证已过期，请重新采集" → front and back of the new card → 【信息核实】 →
  【下一步】 → face check against the stored live face (the new card must be the same person: same
  number, same face) → "实名信息补采保存成功".

The reminder shown at every login (/start) of an account whose person's ID card is expired is the
menu's (bot/handlers/menu.py). Saving, or handing the submission to a reviewer, is the use case
:mod:`bot.services.supplement`.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from aiogram import F, Router
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot.dialogs import authority, calls, card, face
from bot.dialogs.account import ask_to_collect, logged_in
from bot.dialogs.authority import Assessment
from bot.dialogs.base import (
    Act,
    Ctx,
    act,
    back_row,
    back_to_tip,
    complete,
    end_dialog,
    home_button,
    keyboard,
    register_entry,
)
from bot.dialogs.calls import AuthorityResult, CardResult, FaceCheck, FaceResult, FlowData
from bot.dialogs.card_data import front_from_dict
from bot.dialogs.review import already_in_review, tell_in_review, tell_review
from bot.domain.models import Person, ReviewKind
from bot.domain.outcomes import EventOutcome
from bot.services.review_cases import SentToReview, WaitsForReview, case_media
from bot.services.supplement import FaceOfAnother, save_supplement
from bot.ui import Function
from bot.verification.ids import DocumentType, normalize_number

log = logging.getLogger(__name__)


PAYLOAD = ("flow", "path", "doc_type", "card", "authority", "consents", "face")


class SupplementSG(StatesGroup):
    expired = State()  # 身份证已过期，请重新采集 → 【确定】
    photo = State()  # 该证件已实名采集，但缺少现场照片 → 【确定】


class SupplementData(FlowData):
    """补录's own values: the person it began for, the path (``expired``: a new card; ``photo``: the
    on-site photo), the new card's document type, and the stored portrait's encoding when the
    authority's photo was the reference (the portrait is then a second check)."""

    KEY: ClassVar[str] = "supplement"
    person_id: int | None = None
    path: str | None = None
    doc_type: str | None = None
    stored_portrait: list[float] | None = None

    @property
    def expired(self) -> bool:
        return self.path == "expired"


class SupplementFlow:
    name = "supplement"

    async def start(self, ctx: Ctx) -> None:
        person = await logged_in(ctx)
        if person is None:
            await ask_to_collect(ctx)
            return
        if await already_in_review(ctx, self.name, "supplement.in_review"):
            return
        await end_dialog(ctx.state, ctx.services, bot=ctx.bot)  # a dialog left half-way is abandoned
        if person.id_card_expired(ctx.today()):
            own = SupplementData(person_id=person.id, path="expired", doc_type=DocumentType.RESIDENT_ID.value)
            await ctx.begin(self.name, own)
            await self.ask(ctx, SupplementSG.expired, "supplement.expired")
        elif person.missing_live_photo:
            await ctx.begin(self.name, SupplementData(person_id=person.id, path="photo"))
            await self.ask(ctx, SupplementSG.photo, "supplement.missing_photo")
        else:
            await end_dialog(ctx.state, ctx.services)
            # An answer, not an abandoned run: the record is complete, there is nothing to do.
            await ctx.repo.events.record(
                self.name,
                "check",
                EventOutcome.ANSWERED,
                user_id=ctx.user_id,
                reason_code="supplement_complete",
            )
            await ctx.say(ctx.t("supplement.complete"), keyboard([home_button(ctx.t)]))

    async def ask(self, ctx: Ctx, state: State, key: str) -> None:
        await ctx.state.set_state(state)
        await ctx.say(ctx.t(key), keyboard([act(ctx.t("supplement.ok"), "ok")], back_row(ctx.t)))

    async def current_person(self, ctx: Ctx) -> Person | None:
        """The logged-in person, and the same one the dialog started with (else the dialog ends)."""
        person = await logged_in(ctx)
        if person is None or person.id != (await ctx.load(SupplementData)).person_id:
            await ask_to_collect(ctx)
            return None
        return person

    async def begin_photo(self, ctx: Ctx) -> None:
        """The stored record's number and name go to the identity authority first, as in a
        collection: its photo of the person, when it has one, is what the selfie must match."""
        person = await self.current_person(ctx)
        if person is None:
            return
        doc = person.document
        # (No ``doc_type`` in the dialog data: that names the card of the expired path, which the
        # case payload and the four-eyes check read as the document of the submission.)
        await authority.begin_for(ctx, doc.doc_type, doc.number, doc.name, doc.birth_date)

    async def _photo_after_authority(self, ctx: Ctx, person: Person) -> None:
        """The selfie's references: the authority's photo when it returned one (the stored ID
        portrait then a second check), else the stored ID portrait (liveness only without one)."""
        refs: list[list[float]] = []
        portrait = await self._stored_portrait(ctx, person)
        checked = await ctx.find(AuthorityResult)
        primary = checked.encoding if checked is not None else None
        if primary:
            refs = [list(primary)]
        elif portrait:
            refs = [portrait]
        await ctx.change(SupplementData, stored_portrait=portrait if primary else None)
        await face.begin(ctx, FaceCheck(refs=refs, person_id=person.id))

    async def _stored_portrait(self, ctx: Ctx, person: Person) -> list[float] | None:
        media_id = person.document.portrait_media_id
        if not media_id:
            return None
        try:
            encoded = await ctx.services.verifier.encode_face(await ctx.services.media.get(media_id))
        except Exception:  # no usable portrait: liveness only, as for a permit without a photo
            log.warning("stored portrait unusable for person %s", person.id)
            return None
        return list(encoded.encoding) if encoded.ok and encoded.encoding else None

    # --- sub-dialogs return here ------------------------------------------------------------------
    async def on_card(self, ctx: Ctx, result: CardResult) -> None:
        person = await self.current_person(ctx)
        if person is None:
            return
        number = front_from_dict(result.front).id_number or ""
        if normalize_number(number) != normalize_number(person.document.number):
            await self._stop(ctx, "supplement.other_number", "card_other_number")
            return
        # The new card's number and name go to the identity authority, as in a collection.
        await authority.begin(ctx)

    async def back_from_card(self, ctx: Ctx) -> None:
        await self.ask(ctx, SupplementSG.expired, "supplement.expired")

    async def _back_a_step(self, ctx: Ctx) -> None:
        """Back from the authority or the face check: 【信息核实】 of the new card, or the photo tip."""
        if (await ctx.load(SupplementData)).expired:
            await card.reopen(ctx)
        else:
            await self.ask(ctx, SupplementSG.photo, "supplement.missing_photo")

    async def back_from_authority(self, ctx: Ctx) -> None:
        await self._back_a_step(ctx)

    async def back_from_face(self, ctx: Ctx) -> None:
        await self._back_a_step(ctx)

    async def on_face(self, ctx: Ctx, result: FaceResult) -> None:
        await self._save(ctx)

    async def on_authority(self, ctx: Ctx, result: AuthorityResult) -> None:
        person = await self.current_person(ctx)
        if person is None:
            return
        if (await ctx.load(SupplementData)).path == "photo":
            await self._photo_after_authority(ctx, person)
            return
        # The stored live face is who collected; the new card's portrait alone could be anyone's (and
        # a typed front has none: liveness only, a person compares).
        portrait = (await ctx.load(CardResult)).portrait_encoding
        if person.live_photo is not None:
            refs = [list(person.live_photo.encoding)]
        else:
            refs = [portrait] if portrait else []
        await face.begin(ctx, FaceCheck(refs=refs, person_id=person.id))

    async def _stop(self, ctx: Ctx, key: str, reason: str) -> None:
        await end_dialog(ctx.state, ctx.services)
        await ctx.repo.events.record(
            self.name, "check", EventOutcome.REJECTED, user_id=ctx.user_id, reason_code=reason
        )
        await ctx.say(ctx.t(key), keyboard([home_button(ctx.t)]))

    async def _save(self, ctx: Ctx) -> None:
        person = await self.current_person(ctx)
        if person is None:
            return
        data = await calls.view(ctx)
        own = await ctx.load(SupplementData)
        typed = bool((await ctx.load(CardResult)).manual)
        checked = await ctx.find(AuthorityResult)
        assessment = Assessment()
        if own.expired:
            # The stored live face was the reference; the authority's photo must show that face too.
            photo = checked.encoding if checked is not None else None
            assessment = authority.assess(ctx, data, second=[("review_authority_photo_mismatch", photo)])
        elif checked is not None:
            # The on-site photo: the authority's photo was the reference (or, without one, the
            # stored portrait, and the case goes to a person); the stored portrait a second check.
            portrait = own.stored_portrait
            # The authority was asked about the stored record (``authority.begin_for``).
            assessment = authority.assess(
                ctx,
                {**data, "doc_type": person.document.doc_type.value},
                second=[("review_portrait_mismatch", portrait)],
            )
        media = case_media(data)
        result = await save_supplement(
            ctx.repo,
            ctx.user_id,
            person.id,
            data,
            typed=typed,
            identity_reasons=assessment.reasons,
            payload=await calls.payload(ctx, PAYLOAD),
            media_ids=media,
            threshold=ctx.services.settings.face_match_threshold,
        )
        if isinstance(result, FaceOfAnother):
            await self._stop(ctx, "supplement.face_other_person", "review_same_face_other_number")
        elif isinstance(result, WaitsForReview):
            await tell_in_review(ctx, "supplement.in_review", self.name)
        elif isinstance(result, SentToReview):
            say = {
                ReviewKind.IDENTITY_UNVERIFIED: "supplement.review_unverified",
                ReviewKind.UNREADABLE_CARD: "supplement.review_unreadable",
            }.get(result.kind, "supplement.review")
            expired = own.expired
            unverified = result.kind is ReviewKind.IDENTITY_UNVERIFIED
            step = "card" if typed or (unverified and expired) else "face"
            await tell_review(ctx, self.name, result.kind, result.reasons, media, say, step=step)
        else:
            await complete(ctx, self.name, "save", ctx.t("supplement.success"), keep=result.kept)


def create_router(flow: SupplementFlow) -> Router:
    router = Router(name="supplement")

    register_entry(router, flow, Function.SUPPLEMENT)

    @router.callback_query(SupplementSG.expired, Act.filter(F.a == "ok"))
    async def expired_ok(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        if await flow.current_person(ctx) is not None:
            await card.begin(ctx)

    @router.callback_query(SupplementSG.photo, Act.filter(F.a == "ok"))
    async def photo_ok(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        await flow.begin_photo(ctx)

    @router.callback_query(SupplementSG.expired, Act.filter(F.a == "back"))
    @router.callback_query(SupplementSG.photo, Act.filter(F.a == "back"))
    async def back(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        await back_to_tip(ctx, Function.SUPPLEMENT)

    @router.message(SupplementSG.expired)
    async def expired_unexpected(message: Message, ctx: Ctx) -> None:
        await flow.ask(ctx, SupplementSG.expired, "supplement.expired")

    @router.message(SupplementSG.photo)
    async def photo_unexpected(message: Message, ctx: Ctx) -> None:
        await flow.ask(ctx, SupplementSG.photo, "supplement.missing_photo")

    return router


__all__ = ["SupplementData", "SupplementFlow", "SupplementSG", "create_router"]
