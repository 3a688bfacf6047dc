"""实名信息采集 (guide §1): ID card path and other-documents path, saved at the end by the use case
:func:`bot.services.collection.save_collection` (one transaction, or a staff review case).

ID card: card capture → 《个人信息保护告知同意书》 → phone code → face check against the ID portrait.
A card the engine could not read and whose fields the user typed (`card.manual`, bot/dialogs/card.py)
goes the same way (liveness only when the front was typed: no portrait) and ends in a staff review
case instead of the record; "already collected" is then told by the review, never by the dialog (a
typed number must not reveal whether someone collected it).
Other documents: type → fields → 保存实名 → consent → identity authority → phone code → face check
(against the authority's photo when it returns one, else liveness only).
While a collection of this account waits for staff review, the function says so (at the entry, and at
the save for a case opened since) instead of taking a second submission; once the case is rejected it
is open again, once approved the account is collected.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import ClassVar

from aiogram import F, Router
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from pydantic import BaseModel, ConfigDict, Field

from bot.conversation import Common
from bot.dialogs import authority, calls, card, consent, face, handoff, phone
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
    pause,
    reasons_text,
    register_entry,
    spend_try,
)
from bot.dialogs.calls import AuthorityResult, CardResult, FaceCheck, FaceResult, FlowData, PhoneResult
from bot.dialogs.card_data import CorrectionError, parse_date
from bot.dialogs.review import already_in_review, tell_in_review, tell_review
from bot.domain.masking import mask_id_number
from bot.domain.models import ConsentDocument, ReviewKind
from bot.domain.outcomes import EventOutcome
from bot.services.collection import AlreadyCollected, Submission, save_collection
from bot.services.records import collected_record, record_media
from bot.services.review_cases import SentToReview, WaitsForReview, case_media
from bot.ui import Function, Node, Tip, button
from bot.verification.ids import DocumentType, normalize_number, validate_document_number

log = logging.getLogger(__name__)

OTHER_TYPES = (DocumentType.HK_MACAU_PERMIT, DocumentType.TAIWAN_PERMIT, DocumentType.HMT_RESIDENCE_PERMIT)
OTHER_FIELDS = ("name", "number", "birth_date")
IN_REVIEW = "collect.in_review"
PAYLOAD = ("flow", "doc_type", "card", "other", "authority", "phone", "consents", "face")


class CollectSG(StatesGroup):
    document = State()  # 身份证采集 / 其他证件采集
    consent = State()  # 《个人信息保护告知同意书》
    other_type = State()
    other_field = State()
    other_confirm = State()  # 【保存实名】


class OtherDocument(BaseModel):
    """A permit's fields as typed so far (``birth_date`` ISO-8601) and the authority's photo of it."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    number: str | None = None
    birth_date: str | None = None
    photo_media: str | None = None

    def filled(self) -> list[str]:
        """The fields of ``OTHER_FIELDS`` typed so far, in their order."""
        return [f for f in OTHER_FIELDS if getattr(self, f)]

    def setting(self, field: str, value: str | None) -> OtherDocument:
        return self.model_copy(update={field: value})


class CollectData(FlowData):
    """采集's own values: the document type chosen, and on the other-documents path the fields typed
    so far (``other``) and the one asked."""

    KEY: ClassVar[str] = "collect"
    doc_type: str | None = None
    other: OtherDocument = Field(default_factory=OtherDocument)
    other_field: str | None = None

    @property
    def resident(self) -> bool:
        return self.doc_type == DocumentType.RESIDENT_ID.value


class CollectFlow:
    name = "collect"

    # --- entry -----------------------------------------------------------------------------------
    async def start(self, ctx: Ctx) -> None:
        person = await ctx.repo.persons.find_by_telegram(ctx.user_id)
        if person is not None:
            # One Telegram account stands for one person; a second collection would be a second identity.
            # (A refused entry, no run of its own in the statistics.)
            await ctx.repo.events.record(
                self.name,
                "entry",
                EventOutcome.BLOCKED,
                user_id=ctx.user_id,
                reason_code="entry_already_linked",
            )
            await ctx.say(
                ctx.t("collect.already_linked"),
                keyboard(
                    [button(ctx.t("menu.supplement"), Tip(func=Function.SUPPLEMENT, parent=Node.REALNAME))],
                    [home_button(ctx.t)],
                ),
            )
            return
        if await already_in_review(ctx, self.name, IN_REVIEW):
            return  # one collection waits for staff: a second would be decided twice
        # A dialog left half-way is abandoned, its uploads too (and 【信息核实】 masked).
        await end_dialog(ctx.state, ctx.services, bot=ctx.bot)
        await ctx.begin(self.name, CollectData())
        await self.ask_document(ctx)

    async def ask_document(self, ctx: Ctx, note: str | None = None) -> None:
        await ctx.state.set_state(CollectSG.document)
        prompt = ctx.t("collect.choose_document")
        await ctx.say(
            note + "\n\n" + prompt if note else prompt,
            keyboard(
                [act(ctx.t("collect.id_card"), "doc", "id")],
                [act(ctx.t("collect.other_documents"), "doc", "other")],
                back_row(ctx.t),
            ),
        )

    # --- sub-dialogs return here ------------------------------------------------------------------
    async def on_card(self, ctx: Ctx, result: CardResult) -> None:
        # Whether the number is collected is not told here, nor at any step before the face check:
        # 【信息核实】 would otherwise answer it for any number typed (attack: probing). The save
        # tells it, and only to the person whose face matches that record.
        await ctx.change(CollectData, doc_type=DocumentType.RESIDENT_ID.value)
        await ctx.state.set_state(CollectSG.consent)
        await consent.show(ctx, ConsentDocument.PERSONAL_INFO)

    async def back_from_card(self, ctx: Ctx) -> None:
        await self.ask_document(ctx)

    async def on_authority(self, ctx: Ctx, result: AuthorityResult) -> None:
        await phone.begin(ctx)

    async def back_from_authority(self, ctx: Ctx) -> None:
        await card.reopen(ctx)

    async def on_phone(self, ctx: Ctx, result: PhoneResult) -> None:
        # The selfie is matched against the authority's photo when it has one (else the portrait).
        await face.begin(ctx, FaceCheck(refs=authority.primary_reference(await calls.view(ctx))))

    async def back_from_phone(self, ctx: Ctx) -> None:
        await ctx.state.set_state(CollectSG.consent)
        await consent.show(ctx, ConsentDocument.PERSONAL_INFO)

    async def on_face(self, ctx: Ctx, result: FaceResult) -> None:
        await self._save(ctx, result)

    async def back_from_face(self, ctx: Ctx) -> None:
        await phone.begin(ctx)

    async def _stop_if_collected(self, ctx: Ctx, doc_type: DocumentType, number: str) -> bool:
        existing = await ctx.repo.persons.find_by_document(doc_type, number)
        if existing is None:
            return False
        key = (
            "collect.already_collected_no_photo"
            if existing.missing_live_photo
            else "collect.already_collected"
        )
        await end_dialog(ctx.state, ctx.services)
        await ctx.say(
            ctx.t(key),
            keyboard(
                [button(ctx.t("menu.supplement"), Tip(func=Function.SUPPLEMENT, parent=Node.REALNAME))],
                [button(ctx.t("menu.change"), Tip(func=Function.CHANGE, parent=Node.REALNAME))],
                [home_button(ctx.t)],
            ),
        )
        return True

    # --- saving ------------------------------------------------------------------------------------
    async def _save(self, ctx: Ctx, outcome: FaceResult) -> None:
        data = await calls.view(ctx)
        served = (await ctx.load(Common)).handoff  # read now: the dialog ends before it is told
        # The same builder serves a reviewer's approval of this data (bot/services/review_decisions.py).
        record = collected_record(ctx.user_id, data)
        document = record.document
        card_data = await ctx.load(CardResult)
        resident = document.doc_type is DocumentType.RESIDENT_ID
        checked = await ctx.find(AuthorityResult)
        # The authority's photo was the reference: the card portrait must show the same face too.
        second = (
            [("review_portrait_mismatch", card_data.portrait_encoding)]
            if resident and checked is not None and checked.encoding
            else []
        )
        assessment = authority.assess(ctx, data, second=second)
        # Everything the dialog gathered, so an approval can finish the record without asking again.
        payload = await calls.payload(ctx, PAYLOAD)
        media = case_media(data)
        result = await save_collection(
            ctx.repo,
            Submission(
                user_id=ctx.user_id,
                record=record,
                face_decision=outcome.decision,
                face_reasons=list(outcome.reasons),
                typed=bool(card_data.manual),
                identity_reasons=assessment.reasons,
                payload=payload,
                media_ids=media,
            ),
            threshold=ctx.services.settings.face_match_threshold,
        )
        if isinstance(result, AlreadyCollected):
            await self._stop_if_collected(ctx, document.doc_type, document.number)
        elif isinstance(result, WaitsForReview):
            await tell_in_review(ctx, IN_REVIEW)
        elif isinstance(result, SentToReview):
            kind, reasons = result.kind, result.reasons
            say = "collect.review_unreadable" if kind is ReviewKind.UNREADABLE_CARD else "collect.review"
            if "review_identity_corrected" in reasons and kind is not ReviewKind.UNREADABLE_CARD:
                say = "collect.review_unverified"
            step = "card" if kind in {ReviewKind.UNREADABLE_CARD, ReviewKind.IDENTITY_UNVERIFIED} else "face"
            await tell_review(ctx, self.name, kind, reasons, media, say, step=step)
        else:
            person = result.person
            log.info("collection completed for person %s", person.id)
            await complete(ctx, self.name, "save", ctx.t("collect.success"), keep=record_media(record))
            await handoff.collected(ctx, served, person)  # 扫一扫: the website learns it

    # --- other documents ---------------------------------------------------------------------------
    async def ask_other_type(self, ctx: Ctx, note: str | None = None) -> None:
        await ctx.state.set_state(CollectSG.other_type)
        prompt = ctx.t("collect.other_choose")
        await ctx.say(
            note + "\n\n" + prompt if note else prompt,
            keyboard(
                *[[act(ctx.t("doc_type." + t.value), "type", t.value)] for t in OTHER_TYPES], back_row(ctx.t)
            ),
        )

    async def ask_other_field(self, ctx: Ctx) -> None:
        own = await ctx.load(CollectData)
        pending = [f for f in OTHER_FIELDS if f not in own.other.filled()]
        if not pending:
            await self.show_other_confirm(ctx)
            return
        await ctx.change(CollectData, other_field=pending[0])
        await ctx.state.set_state(CollectSG.other_field)
        hint = ctx.t("other.hint." + pending[0] + ("_" + str(own.doc_type) if pending[0] == "number" else ""))
        await ctx.say(
            ctx.t("other.ask", field=ctx.t("other.field." + pending[0])) + "\n" + hint,
            keyboard(back_row(ctx.t)),
        )

    async def show_other_confirm(self, ctx: Ctx) -> None:
        own = await ctx.load(CollectData)
        other = own.other
        await ctx.state.set_state(CollectSG.other_confirm)
        await ctx.say(
            ctx.t(
                "other.confirm",
                doc_type=ctx.t("doc_type." + str(own.doc_type)),
                name=other.name,
                number=mask_id_number(str(other.number)),
                birth_date=ctx.t.day(date.fromisoformat(str(other.birth_date))),
            ),
            keyboard(
                [act(ctx.t("other.save"), "save")], [act(ctx.t("other.restart"), "restart")], back_row(ctx.t)
            ),
        )

    async def check_authority(self, ctx: Ctx) -> None:
        own = await ctx.load(CollectData)
        other = own.other
        progress = await ctx.say(ctx.t("other.checking"))
        check = await authority.consult(
            ctx,
            DocumentType(str(own.doc_type)),
            str(other.number),
            str(other.name),
            date.fromisoformat(str(other.birth_date)),
        )
        if check is None and not ctx.services.settings.identity_unavailable_review:
            await progress.edit_text(
                ctx.t.reason("identity_unavailable"),
                reply_markup=keyboard([act(ctx.t("other.retry"), "save")], back_row(ctx.t)),
            )
            await ctx.state.set_state(CollectSG.other_confirm)
            return
        if check is not None and not check.matched:
            if await spend_try(ctx, "authority"):
                await progress.edit_text(
                    ctx.t("other.failed"),
                    reply_markup=keyboard([act(ctx.t("other.restart"), "restart")], [home_button(ctx.t)]),
                )
                await ctx.state.set_state(CollectSG.other_confirm)
            else:
                await progress.edit_text(ctx.t("other.failed"))
                await pause(ctx, "other.too_many_tries")
            return
        # Whether the number is collected is told after the face check (the save), not here.
        checked = await authority.remember(ctx, check)
        if checked.photo_media:
            other = other.setting("photo_media", checked.photo_media)
        await ctx.change(CollectData, other=other)
        await progress.edit_text(
            ctx.t("other.passed") if check is not None else ctx.t("card.identity_unchecked")
        )
        await phone.begin(ctx)


def create_router(flow: CollectFlow) -> Router:
    router = Router(name="collect")

    register_entry(router, flow, Function.COLLECT)

    @router.callback_query(CollectSG.document, Act.filter(F.a == "doc"))
    async def document(query: CallbackQuery, callback_data: Act, ctx: Ctx) -> None:
        await query.answer()
        if callback_data.v == "id":
            await ctx.change(CollectData, doc_type=DocumentType.RESIDENT_ID.value)
            await card.begin(ctx)
        else:
            await flow.ask_other_type(ctx)

    @router.callback_query(CollectSG.document, Act.filter(F.a == "back"))
    async def document_back(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        await back_to_tip(ctx, Function.COLLECT)

    @router.message(CollectSG.document)
    async def document_unexpected(message: Message, ctx: Ctx) -> None:
        # Say what is expected: a repeated prompt alone reads as if the bot had not understood.
        await flow.ask_document(ctx, ctx.t("collect.choose_expect"))

    # --- 《个人信息保护告知同意书》 ------------------------------------------------------------------
    async def consent_agreed(ctx: Ctx) -> None:
        if (await ctx.load(CollectData)).resident:
            # The identity authority first (number and name; its photo, if any, the face reference).
            await authority.begin(ctx)
        else:
            await flow.check_authority(ctx)

    async def consent_back(ctx: Ctx) -> None:
        if (await ctx.load(CollectData)).resident:
            await card.reopen(ctx)
        else:
            await flow.show_other_confirm(ctx)

    consent.register_step(
        router,
        CollectSG.consent,
        ConsentDocument.PERSONAL_INFO,
        on_agree=consent_agreed,
        on_back=consent_back,
    )

    # --- other documents ------------------------------------------------------------------------
    @router.callback_query(CollectSG.other_type, Act.filter(F.a == "type"))
    async def other_type(query: CallbackQuery, callback_data: Act, ctx: Ctx) -> None:
        await query.answer()
        if callback_data.v not in {t.value for t in OTHER_TYPES}:
            return
        await ctx.change(CollectData, doc_type=callback_data.v, other=OtherDocument())
        await flow.ask_other_field(ctx)

    @router.callback_query(CollectSG.other_type, Act.filter(F.a == "back"))
    async def other_type_back(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        await flow.ask_document(ctx)

    @router.message(CollectSG.other_type)
    async def other_type_unexpected(message: Message, ctx: Ctx) -> None:
        await flow.ask_other_type(ctx, ctx.t("collect.choose_expect"))

    @router.message(CollectSG.other_field, F.text)
    async def other_field(message: Message, ctx: Ctx) -> None:
        own = await ctx.load(CollectData)
        field, other = str(own.other_field), own.other
        text = "".join(ch for ch in (message.text or "") if ch.isprintable()).strip()
        doc_type = DocumentType(str(own.doc_type))
        try:
            if field == "name":
                if not 1 <= len(text) <= 60:
                    raise CorrectionError("input_name_invalid")
                other = other.setting(field, text)
            elif field == "number":
                number = normalize_number(text)
                problems = validate_document_number(doc_type, number, today=ctx.today())
                if problems:
                    await message.answer(
                        reasons_text(ctx.t, problems), reply_markup=keyboard(back_row(ctx.t))
                    )
                    return
                # Whether this number is already collected is told only after the identity authority
                # has matched number, name and birth date (check_authority): answering here would let
                # anyone enumerate collected document numbers by typing them.
                other = other.setting(field, number)
            elif field == "birth_date":
                birth = parse_date(text)
                if not date(1900, 1, 1) <= birth <= ctx.today():
                    raise CorrectionError("input_date_invalid")
                other = other.setting(field, birth.isoformat())
        except CorrectionError as exc:
            await message.answer(ctx.t.reason(exc.code), reply_markup=keyboard(back_row(ctx.t)))
            return
        await ctx.change(CollectData, other=other)
        await flow.ask_other_field(ctx)

    @router.callback_query(CollectSG.other_field, Act.filter(F.a == "back"))
    async def other_field_back(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        other = (await ctx.load(CollectData)).other
        filled = other.filled()
        if not filled:
            await flow.ask_other_type(ctx)
            return
        await ctx.change(CollectData, other=other.setting(filled[-1], None))
        await flow.ask_other_field(ctx)

    @router.message(CollectSG.other_field)
    async def other_field_unexpected(message: Message, ctx: Ctx) -> None:
        await message.answer(ctx.t("other.expect_text"), reply_markup=keyboard(back_row(ctx.t)))

    @router.callback_query(CollectSG.other_confirm, Act.filter(F.a == "save"))
    async def other_save(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        signed = (await ctx.load(Common)).consents
        if any(c["document"] == ConsentDocument.PERSONAL_INFO.value for c in signed):
            await flow.check_authority(ctx)
            return
        await ctx.state.set_state(CollectSG.consent)
        await consent.show(ctx, ConsentDocument.PERSONAL_INFO)

    @router.callback_query(CollectSG.other_confirm, Act.filter(F.a == "restart"))
    async def other_restart(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        await ctx.change(CollectData, other=OtherDocument())
        await flow.ask_other_field(ctx)

    @router.callback_query(CollectSG.other_confirm, Act.filter(F.a == "back"))
    async def other_confirm_back(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        other = (await ctx.load(CollectData)).other
        await ctx.change(CollectData, other=other.setting(OTHER_FIELDS[-1], None))
        await flow.ask_other_field(ctx)

    @router.message(CollectSG.other_confirm)
    async def other_confirm_unexpected(message: Message, ctx: Ctx) -> None:
        await flow.show_other_confirm(ctx)

    return router


__all__ = ["CollectData", "CollectFlow", "CollectSG", "OtherDocument", "create_router"]
