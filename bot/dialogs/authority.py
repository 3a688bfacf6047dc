"""The identity authority's check, a sub-dialog of every resident-ID collection, 补录 and 变更 (and the
helpers the permit path of collection shares), and the judgement after the face check.

What the photos show is the evidence. The authority confirms that number and name (and birth date)
belong together and, when it has one, returns its photo of that person: the selfie is matched against
that photo, the card portrait staying a second check. A submission is *unverified* when an identity
field of the card was corrected on 【信息核实】 (``card_data.IDENTITY_FIELDS``), when it is a permit
(every field typed), or when the authority could not be asked (``IDENTITY_UNAVAILABLE_REVIEW``): it is
then saved only when the authority's photo matched the selfie, and otherwise becomes a staff review
case that shows the read and the typed values and the photos. The authority unreachable is "try again
later" (or, by that setting, a review case), never a silent pass.

It returns an :class:`~bot.dialogs.calls.AuthorityResult` (``checked``, ``photo_media``,
``encoding``) to the caller's ``on_authority``; the flow takes the face check's references from it
(:func:`primary_reference`) and calls :func:`assess` once the face check has passed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from aiogram import F, Router
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot.dialogs import calls
from bot.dialogs.base import (
    Act,
    Ctx,
    act,
    back_row,
    home_button,
    keep_temp_media,
    keyboard,
    pause,
    spend_try,
)
from bot.dialogs.calls import AuthorityResult, AuthoritySubject, CardResult, FaceResult
from bot.dialogs.card_data import front_from_dict, identity_corrected
from bot.domain.outcomes import EventOutcome
from bot.integrations.identity import IdentityCheck, IdentityUnavailable
from bot.verification.face import FaceConfig
from bot.verification.face.match import decide, distance
from bot.verification.ids import DocumentType

log = logging.getLogger(__name__)

__all__ = [
    "Assessment",
    "AuthoritySG",
    "assess",
    "begin",
    "begin_for",
    "consult",
    "create_router",
    "primary_reference",
    "remember",
]


class AuthoritySG(StatesGroup):
    failed = State()  # 身份验证失败, or the authority did not answer: retry / back to 【信息核实】


async def consult(
    ctx: Ctx, doc_type: DocumentType, number: str, name: str, birth_date: date | None
) -> IdentityCheck | None:
    """The authority's answer; None when it could not answer (the caller says "try again later",
    or, with ``identity_unavailable_review``, goes on unverified)."""
    try:
        return await ctx.services.identity.verify(doc_type, number, name, birth_date)
    except IdentityUnavailable:
        log.warning("identity authority unavailable")
        return None


async def remember(ctx: Ctx, check: IdentityCheck | None) -> AuthorityResult:
    """:func:`_result`, kept in the FSM data as ``authority`` (for the permit path of collection,
    which asks the authority without the sub-dialog)."""
    result = await _result(ctx, check)
    await ctx.store(result)
    return result


async def _result(ctx: Ctx, check: IdentityCheck | None) -> AuthorityResult:
    """The result of a matched check (its photo kept for the reviewer and encoded as the face
    reference), or of an authority that could not be asked (``checked`` False)."""
    if check is None:
        result = AuthorityResult(checked=False)
    else:
        result = AuthorityResult(checked=True)
        if check.photo:
            encoded = await ctx.services.verifier.encode_face(check.photo)
            if encoded.ok and encoded.encoding:
                result.encoding = list(encoded.encoding)
            # Kept even without a usable face: the reviewer sees what the authority holds.
            result.photo_media = await keep_temp_media(ctx, check.photo, "authority_photo")
    return result


def primary_reference(data: Mapping[str, Any]) -> list[list[float]]:
    """The reference the selfie must match in a collection: the authority's photo when it has one,
    else the card portrait (none when the front was typed: liveness only, a person compares).
    ``data``: the dialog as the record builders read it (``calls.view``)."""
    checked = AuthorityResult.found(data)
    if checked is not None and checked.encoding:
        return [list(checked.encoding)]
    portrait = CardResult.of(data).portrait_encoding
    return [list(portrait)] if portrait else []


@dataclass(frozen=True)
class Assessment:
    """After a passed face check: saved as it is (no reasons), or a review case for these reasons."""

    reasons: list[str] = field(default_factory=list)
    corrected: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return not self.reasons


def _config(ctx: Ctx) -> FaceConfig:
    settings = ctx.services.settings
    return FaceConfig(
        match_threshold=settings.face_match_threshold, review_margin=settings.face_review_margin
    )


def assess(
    ctx: Ctx, data: Mapping[str, Any], *, second: Sequence[tuple[str, Sequence[float] | None]] = ()
) -> Assessment:
    """Judge a submission whose face check passed against its primary reference: is it verified?

    ``data``: the dialog as the record builders read it (``calls.view``; its ``doc_type`` names the
    document of the submission). ``second``: (reason code, encoding) of the further references the
    live face must match too (the card portrait when the authority's photo was the primary one; the
    authority's photo when the stored live face was). A typed (permit) or corrected identity needs
    the authority's photo."""
    checked = AuthorityResult.found(data)
    resident = data.get("doc_type") == DocumentType.RESIDENT_ID.value
    reasons: list[str] = []
    corrected = identity_corrected(ctx.t, CardResult.of(data).dump()) if resident else []
    has_photo = bool(checked is not None and checked.encoding)
    if checked is None or not checked.checked:
        reasons.append("review_authority_unavailable")
    elif not has_photo and corrected:
        reasons.append("review_identity_corrected")
    elif not has_photo and (not resident or ctx.services.settings.identity_photo_required):
        reasons.append("review_no_authority_photo")
    face = FaceResult.found(data)
    live = face.encoding if face is not None else None
    if live:
        for code, reference in second:
            if reference and decide(distance(live, reference), _config(ctx))[0] != "pass":
                reasons.append(code)
    return Assessment(reasons=reasons, corrected=corrected)


async def begin(ctx: Ctx) -> None:
    """The call: ask the authority about the card of this dialog; the caller's ``on_authority`` once
    it matched (or, by setting, could not answer), else 身份验证失败 / try again later."""
    await calls.call(ctx, "authority")
    front = front_from_dict((await ctx.load(CardResult)).front)
    await _ask(ctx, DocumentType.RESIDENT_ID, front.id_number or "", front.name or "", front.birth_date)


async def begin_for(
    ctx: Ctx, doc_type: DocumentType, number: str, name: str, birth_date: date | None
) -> None:
    """The same for an identity the dialog did not read from a card (补录 of the on-site photo: the
    stored record's)."""
    subject = AuthoritySubject(
        doc_type=doc_type.value,
        number=number,
        name=name,
        birth_date=birth_date.isoformat() if birth_date else None,
    )
    await calls.call(ctx, "authority", subject)
    await _ask(ctx, doc_type, number, name, birth_date)


async def _again(ctx: Ctx) -> None:
    subject = await calls.arg(ctx, "authority", AuthoritySubject)
    if subject is None:
        front = front_from_dict((await ctx.load(CardResult)).front)
        await _ask(ctx, DocumentType.RESIDENT_ID, front.id_number or "", front.name or "", front.birth_date)
        return
    birth = subject.birth_date
    await _ask(
        ctx,
        DocumentType(subject.doc_type),
        subject.number,
        subject.name,
        date.fromisoformat(birth) if birth else None,
    )


async def _ask(ctx: Ctx, doc_type: DocumentType, number: str, name: str, birth_date: date | None) -> None:
    flow = await calls.flow_of(ctx)
    progress = await ctx.say(ctx.t("other.checking"))
    check = await consult(ctx, doc_type, number, name, birth_date)
    if check is None and not ctx.services.settings.identity_unavailable_review:
        await ctx.state.set_state(AuthoritySG.failed)
        await progress.edit_text(ctx.t.reason("identity_unavailable"), reply_markup=_retry_keyboard(ctx))
        return
    if check is not None and not check.matched:
        await ctx.repo.events.record(
            flow,
            "authority",
            EventOutcome.REJECTED,
            user_id=ctx.user_id,
            reason_code=str(check.reason or "permit_identity_rejected"),
        )
        if await spend_try(ctx, "authority"):
            await ctx.state.set_state(AuthoritySG.failed)
            subject = await calls.arg(ctx, "authority", AuthoritySubject)
            key = "authority.record_failed" if subject is not None else "card.identity_failed"
            await progress.edit_text(ctx.t(key), reply_markup=_failed_keyboard(ctx))
        else:
            await progress.edit_text(ctx.t("other.failed"))
            await pause(ctx, "other.too_many_tries")
        return
    result = await _result(ctx, check)
    await progress.edit_text(ctx.t("other.passed") if check is not None else ctx.t("card.identity_unchecked"))
    await calls.finish(ctx, result)


def _retry_keyboard(ctx: Ctx) -> Any:
    return keyboard([act(ctx.t("other.retry"), "retry")], back_row(ctx.t))


def _failed_keyboard(ctx: Ctx) -> Any:
    return keyboard(back_row(ctx.t), [home_button(ctx.t)])


def create_router() -> Router:
    router = Router(name="authority")

    @router.callback_query(AuthoritySG.failed, Act.filter(F.a == "retry"))
    async def retry(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        await _again(ctx)

    @router.callback_query(AuthoritySG.failed, Act.filter(F.a == "back"))
    async def back(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        # The caller's step before: 【信息核实】 of the card asked about, or (补录) its own.
        await calls.back_from(ctx, "authority")

    @router.message(AuthoritySG.failed)
    async def unexpected(message: Message, ctx: Ctx) -> None:
        await message.answer(ctx.t("card.identity_use_buttons"), reply_markup=_retry_keyboard(ctx))

    return router
