"""Card capture, a sub-dialog: front photo → portrait confirmation → back photo → 【信息核实】 (corrections).

Used by collection, supplement and change: ``begin`` is the call, and the caller's ``on_card`` gets a
:class:`~bot.dialogs.calls.CardResult` (fields, uploads, ``portrait_encoding``: the portrait's face
encoding, the reference for the face check); ``reopen`` calls it again at 【信息核实】 (a later step's
"back").

A card the engine cannot read (a real photo it was never trained on) is no dead end in the flows of
``MANUAL_FLOWS``: once the tries of a side are used up and the last failure said "could not read
enough" (``UNREADABLE``, never "no card here" or "wrong side"), the user may type the fields on
【信息核实】 instead (the same corrections, the same checks); the photo is kept, and `card.manual`
lists the sides typed (no portrait when it is the front): the flow then sends the result to a
person, who compares the card photos with the selfie.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, ClassVar

from aiogram import F, Router
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message

from bot.conversation import Common, mask_shown
from bot.dialogs import calls
from bot.dialogs.base import (
    Act,
    Ctx,
    DownloadRefused,
    act,
    back_row,
    download,
    keep_temp_media,
    keyboard,
    pause,
    reasons_text,
    reset_tries,
    spend_try,
    tries_used,
    upload_of,
)
from bot.dialogs.calls import CardResult, StepData
from bot.dialogs.card_data import (
    BACK_FIELDS,
    EDITABLE,
    CorrectionError,
    apply_correction,
    back_from_dict,
    back_to_dict,
    correction_entry,
    field_value,
    front_from_dict,
    front_to_dict,
    full_values,
    identity_corrected,
    mask_field,
    shown_values,
)
from bot.dialogs.progress import ProgressMessage, first_guess, texts
from bot.domain.outcomes import EventOutcome
from bot.services.verifier import VerificationUnavailable
from bot.verification.idcard import validate_card
from bot.verification.ids import DocumentType

# Problems that the user cannot fix by correcting a field on 【信息核实】: the card itself is unusable.
CARD_BLOCKERS = frozenset({"idcard_expired", "idcard_not_yet_valid"})
# Failures that mean "a card, but not read enough" (a label read, the portrait not found): after the
# last try they open the typed path. Decoding errors, quality verdicts, "no card" and "wrong side" do
# not: a better photo, or another one, is the answer to those.
UNREADABLE = frozenset({"idcard_partly_read", "idcard_portrait_not_found", "idcard_portrait_no_face"})
# The flows that offer the typed path: collection, and 补录 of an expired card (the number must be the
# person's own). Not 变更: without login the card is what names the person, and a typed number would
# tell whether anyone collected it.
MANUAL_FLOWS = frozenset({"collect", "supplement"})
log = logging.getLogger(__name__)
MEDIA_KIND = {"front": "idcard_front", "back": "idcard_back"}


class CardSG(StatesGroup):
    front = State()
    portrait = State()
    back = State()
    verify = State()
    edit = State()
    manual = State()  # the side could not be read: type the fields instead?


class CardStep(StepData):
    """The card capture's own value: the field being corrected on 【信息核实】."""

    KEY: ClassVar[str] = "card_step"
    edit_field: str | None = None


async def begin(ctx: Ctx) -> None:
    await calls.call(ctx, "card", None, CardResult())
    await ctx.state.set_state(CardSG.front)
    await ctx.say(ctx.t("card.front_prompt"), keyboard(back_row(ctx.t)))


async def reopen(ctx: Ctx) -> None:
    """The card captured in this dialog, called again at 【信息核实】 (back from a later step)."""
    await calls.call(ctx, "card")
    await show_verify(ctx)


async def _card(ctx: Ctx) -> dict[str, Any]:
    """The draft as a dict, as the field helpers of ``card_data`` read it; :func:`_keep` stores it."""
    return (await ctx.load(CardResult)).dump()


async def _keep(ctx: Ctx, card: dict[str, Any], *also: StepData) -> None:
    await ctx.store(CardResult.model_validate(card), *also)


async def _read(ctx: Ctx, message: Message, expected: str) -> tuple[Any, bytes, ProgressMessage] | None:
    """Download and read one side, telling the user what is happening (their place in the queue while
    they wait); None when the step must be redone."""
    upload = upload_of(message)
    if upload is None or upload.kind not in {"photo", "document"}:
        await message.answer(ctx.t(f"card.expect_{expected}"), reply_markup=keyboard(back_row(ctx.t)))
        return None
    await ctx.typing("upload_photo")
    progress = await ProgressMessage.post(
        message,
        texts(ctx.t, running="card.reading", queued="card.queued"),
        first_guess(ctx.services.verifier.waiting),
    )
    try:
        data = await download(ctx, upload)
        async with progress.live() as report:
            reading = await ctx.services.verifier.read_card_side(data, ctx.today(), progress=report)
    except DownloadRefused as exc:
        await progress.edit_text(ctx.t.reason(exc.code))
        return None
    except VerificationUnavailable:
        await progress.edit_text(ctx.t.reason("verification_unavailable"))
        return None
    return reading, data, progress


async def _failed(
    ctx: Ctx,
    progress: ProgressMessage,
    step: str,
    codes: list[str],
    photo: bytes,
    fields: dict[str, Any] | None = None,
) -> None:
    """A failed read of ``step``: again, or after the last try the typed path (``fields``: what the
    engine did read of that side, shown on 【信息核实】 to be completed) or the pause."""
    if await spend_try(ctx, step):
        used = await tries_used(ctx, step)
        left = max(0, ctx.services.settings.max_step_retries - used)
        await progress.edit_text(
            ctx.t("card.read_failed")
            + "\n"
            + reasons_text(ctx.t, codes)
            + "\n\n"
            + ctx.t("card.tries_left", count=left)
            + "\n"
            + ctx.t(f"card.{step}_prompt"),
            reply_markup=keyboard(back_row(ctx.t)),
        )
        return
    await progress.edit_text(ctx.t("card.read_failed") + "\n" + reasons_text(ctx.t, codes))
    flow = await calls.flow_of(ctx)
    if flow in MANUAL_FLOWS and UNREADABLE & set(codes):
        # Kept now: if the user types the fields, a reviewer compares them with this photo.
        card = await _card(ctx)
        media = await keep_temp_media(ctx, photo, MEDIA_KIND[step])
        card["unread"] = {"side": step, "media": media, "fields": fields or {}}
        await _keep(ctx, card)
        await ctx.repo.events.record(
            flow,
            f"card_{step}",
            EventOutcome.REJECTED,
            user_id=ctx.user_id,
            reason_code=sorted(UNREADABLE & set(codes))[0],
        )
        await show_manual_offer(ctx)
        return
    await pause(ctx, "card.too_many_tries")


def _manual_keyboard(ctx: Ctx) -> InlineKeyboardMarkup:
    return keyboard([act(ctx.t("card.manual_type"), "manual")], back_row(ctx.t))


async def show_manual_offer(ctx: Ctx, *, note: str | None = None) -> None:
    """The side was not read after every try: type the fields (checked by a person), or retake."""
    side = (await _card(ctx)).get("unread", {}).get("side", "front")
    text = ctx.t("card.manual_offer", side=ctx.t("card.side." + str(side)))
    await ctx.state.set_state(CardSG.manual)
    await ctx.say((note + "\n\n" + text) if note else text, _manual_keyboard(ctx))


async def _prompt_side(ctx: Ctx, side: str) -> None:
    await ctx.state.set_state(CardSG.front if side == "front" else CardSG.back)
    await ctx.say(ctx.t(f"card.{side}_prompt"), keyboard(back_row(ctx.t)))


def _read_side(card: dict[str, Any], side: str) -> None:
    """A side read by the engine is no longer typed."""
    card["manual"] = [s for s in card.get("manual", []) if s != side]


# Shown in full to the owner on 【信息核实】, inside spoilers; everywhere else (and once the step is
# left) masked.
SPOILERED = frozenset({"name", "birth_date", "address", "id_number"})


def _masked_screen(ctx: Ctx, front: Any, back: Any) -> str:
    values = shown_values(ctx.t, front, back)
    missing = ctx.t("card.unreadable")
    return ctx.t(
        "card.verify_screen", fields=[(ctx.t("card.field." + k), values[k] or missing) for k in EDITABLE]
    )


async def hide_verify(ctx: Ctx) -> None:
    """The step is left: the messages that showed full values (【信息核实】, a correction prompt) are
    edited down to the masked form, saying so (/cancel, /start and home do the same through
    ``end_dialog``)."""
    common = await ctx.load(Common)
    shown = common.verify_shown
    if not shown:
        return
    await ctx.store(common.model_copy(update={"verify_shown": []}))
    await mask_shown(ctx.bot, ctx.user_id, shown)


async def _remember_shown(ctx: Ctx, message_id: int, masked: str) -> None:
    common = await ctx.load(Common)
    common.verify_shown.append((message_id, masked + "\n\n" + ctx.t("card.verify_hidden")))
    await ctx.store(common)


# The field each of the engine's notes is about (bot.verification.idcard.IdCardReason).
_NOTE_FIELD = {
    "idcard_name_uncertain": "name",
    "idcard_birth_date_corrected": "birth_date",
    "idcard_birth_date_from_number": "birth_date",
    "idcard_sex_from_number": "sex",
    "idcard_authority_simplified": "authority",
    "idcard_address_simplified": "address",
}


def read_notes(card: dict[str, Any]) -> list[str]:
    """What the engine said of a value it read (taken from the number, a doubtful name character, a
    simplified authority), for the owner to check on 【信息核实】; a note goes once its field is
    corrected by the user, or typed."""
    corrected = {str(c.get("field")) for c in card.get("corrections", [])}
    notes = dict(card.get("read_notes") or {})
    manual = set(card.get("manual") or [])
    codes = [str(code) for side in ("front", "back") if side not in manual for code in notes.get(side) or []]
    return [c for c in dict.fromkeys(codes) if _NOTE_FIELD.get(c) not in corrected]


async def show_verify(ctx: Ctx, *, note: str | None = None) -> None:
    """【信息核实】: every field (the sensitive ones in full inside spoilers: the owner must check
    them), the problems found, a button per field to correct it, and 【下一步】."""
    await hide_verify(ctx)
    card = await _card(ctx)
    front, back = front_from_dict(card.get("front")), back_from_dict(card.get("back"))
    problems = validate_card(front, back, today=ctx.today())
    await _keep(ctx, {**card, "problems": problems})
    if card.get("manual"):
        note = ctx.t("card.manual_note") + ("\n\n" + note if note else "")
    if identity_corrected(ctx.t, card):
        note = ctx.t("card.identity_note") + ("\n\n" + note if note else "")
    values = full_values(ctx.t, front, back)
    missing = ctx.t("card.unreadable")
    # Values are user data: the template escapes them (and puts the sensitive ones in spoilers).
    text = ctx.t(
        "card.verify_screen_full",
        fields=[
            (ctx.t("card.field." + k), values[k] or missing, k in SPOILERED and bool(values[k]))
            for k in EDITABLE
        ],
    )
    if problems:
        text += "\n\n" + ctx.t("card.problems") + "\n" + reasons_text(ctx.t, problems)
    if notes := read_notes(card):
        text += "\n\n" + ctx.t("card.read_notes") + "\n" + reasons_text(ctx.t, notes)
    if note:
        text = note + "\n\n" + text
    buttons = [act(ctx.t("card.edit", field=ctx.t("card.field." + k)), "edit", k) for k in EDITABLE]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    await ctx.state.set_state(CardSG.verify)
    sent = await ctx.say(text, keyboard(*rows, [act(ctx.t("card.next"), "next")], back_row(ctx.t)))
    await _remember_shown(ctx, sent.message_id, _masked_screen(ctx, front, back))


NUMBER_EDITS = "number_edit"


async def _number_edit_allowed(ctx: Ctx, number: str) -> bool:
    """Number corrections are counted per account and per number typed: whoever types numbers one
    after another (to try them) is paused, whichever accounts they use. False (and the user told)
    when paused."""
    guards, settings = ctx.repo.guards, ctx.services.settings
    keys = [guards.user_key(ctx.user_id), guards.document_key(DocumentType.RESIDENT_ID, number)]
    until = await guards.paused_until(NUMBER_EDITS, keys)
    if until is None:
        pause = timedelta(minutes=settings.number_edit_pause_minutes)
        until = await guards.fail(
            NUMBER_EDITS, keys, limit=settings.number_edit_limit + 1, window=pause, pause=pause
        )
        if until is None:
            return True
    await ctx.repo.events.record(
        await calls.flow_of(ctx),
        "card_edit",
        EventOutcome.REJECTED,
        user_id=ctx.user_id,
        reason_code="input_number_edits_paused",
    )
    minutes = max(1, int((until - ctx.services.clock()).total_seconds() + 59) // 60)
    await show_verify(ctx, note=ctx.t("card.number_edits_paused", minutes=minutes))
    return False


def create_router() -> Router:
    router = Router(name="card")

    # --- front ---------------------------------------------------------------------------------
    @router.message(CardSG.front)
    async def front_photo(message: Message, ctx: Ctx) -> None:
        result = await _read(ctx, message, "front")
        if result is None:
            return
        reading, data, progress = result
        if reading.side == "back":
            await _failed(ctx, progress, "front", ["idcard_expected_front"], data)
            return
        read = front_to_dict(reading.front) if reading.side == "front" and reading.front else None
        if reading.side != "front" or reading.front is None or reading.portrait_jpeg is None:
            await _failed(ctx, progress, "front", reading.problems or ["idcard_not_found"], data, read)
            return
        encoding = reading.portrait_face  # encoded in the reading's own job
        if encoding is None:  # a worker of before that change answered: encode it here
            async with progress.live() as report:
                encoding = await ctx.services.verifier.encode_face(reading.portrait_jpeg, progress=report)
        if not encoding.ok:
            # The engine located the photo area (else no portrait_jpeg): the face in it is what failed.
            await _failed(ctx, progress, "front", ["idcard_portrait_no_face"], data, read)
            return
        await reset_tries(ctx, "front")
        front_media = await keep_temp_media(ctx, data, "idcard_front")
        portrait_media = await keep_temp_media(ctx, reading.portrait_jpeg, "idcard_portrait")
        card = await _card(ctx)
        _read_side(card, "front")
        # What the engine read, kept apart: a later correction is judged against it.
        card["read"] = {**dict(card.get("read") or {}), "front": front_to_dict(reading.front)}
        card["corrections"] = []
        card["read_notes"] = {**dict(card.get("read_notes") or {}), "front": list(reading.corrections)}
        card.update(
            front=front_to_dict(reading.front),
            front_media=front_media,
            portrait_media=portrait_media,
            portrait_encoding=list(encoding.encoding or ()),
            read_problems=reading.problems,
        )
        await _keep(ctx, card)
        await progress.edit_text(ctx.t("card.front_read"))
        await ctx.state.set_state(CardSG.portrait)
        await ctx.bot.send_photo(
            ctx.user_id,
            BufferedInputFile(reading.portrait_jpeg, "portrait.jpg"),
            caption=ctx.t("card.portrait_prompt"),
            reply_markup=keyboard(
                [act(ctx.t("card.portrait_ok"), "portrait_ok"), act(ctx.t("card.retake"), "retake")],
                back_row(ctx.t),
            ),
        )

    @router.callback_query(CardSG.front, Act.filter(F.a == "back"))
    async def front_back(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        await calls.back_from(ctx, "card")

    # --- portrait ------------------------------------------------------------------------------
    @router.callback_query(CardSG.portrait, Act.filter(F.a == "portrait_ok"))
    async def portrait_ok(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        await ctx.state.set_state(CardSG.back)
        await ctx.say(ctx.t("card.back_prompt"), keyboard(back_row(ctx.t)))

    @router.callback_query(CardSG.portrait, Act.filter(F.a.in_({"retake", "back"})))
    async def portrait_retake(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        await ctx.state.set_state(CardSG.front)
        await ctx.say(ctx.t("card.front_prompt"), keyboard(back_row(ctx.t)))

    @router.message(CardSG.portrait)
    async def portrait_unexpected(message: Message, ctx: Ctx) -> None:
        await message.answer(
            ctx.t("card.portrait_use_buttons"),
            reply_markup=keyboard(
                [act(ctx.t("card.portrait_ok"), "portrait_ok"), act(ctx.t("card.retake"), "retake")],
                back_row(ctx.t),
            ),
        )

    # --- back ----------------------------------------------------------------------------------
    @router.message(CardSG.back)
    async def back_photo(message: Message, ctx: Ctx) -> None:
        result = await _read(ctx, message, "back")
        if result is None:
            return
        reading, data, progress = result
        if reading.side == "front":
            await _failed(ctx, progress, "back", ["idcard_expected_back"], data)
            return
        if reading.side != "back" or reading.back is None:
            await _failed(ctx, progress, "back", reading.problems or ["idcard_not_found"], data)
            return
        await reset_tries(ctx, "back")
        back_media = await keep_temp_media(ctx, data, "idcard_back")
        card = await _card(ctx)
        _read_side(card, "back")
        card["read"] = {**dict(card.get("read") or {}), "back": back_to_dict(reading.back)}
        card["corrections"] = [c for c in card.get("corrections", []) if c.get("field") not in BACK_FIELDS]
        card["read_notes"] = {**dict(card.get("read_notes") or {}), "back": list(reading.corrections)}
        card.update(back=back_to_dict(reading.back), back_media=back_media)
        await _keep(ctx, card)
        await progress.edit_text(ctx.t("card.back_read"))
        await show_verify(ctx)

    @router.callback_query(CardSG.back, Act.filter(F.a == "back"))
    async def back_back(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        await ctx.state.set_state(CardSG.front)
        await ctx.say(ctx.t("card.front_prompt"), keyboard(back_row(ctx.t)))

    # --- 信息核实 -------------------------------------------------------------------------------
    @router.callback_query(CardSG.verify, Act.filter(F.a == "edit"))
    async def edit(query: CallbackQuery, callback_data: Act, ctx: Ctx) -> None:
        await query.answer()
        if callback_data.v not in EDITABLE:
            return
        await hide_verify(ctx)
        await ctx.store(CardStep(edit_field=callback_data.v))
        await ctx.state.set_state(CardSG.edit)
        field = callback_data.v
        current = field_value(ctx.t, await _card(ctx), field)
        prompt = ctx.t("card.edit_prompt", field=ctx.t("card.field." + field))
        hint = ctx.t("card.edit_hint." + field)
        if not current:
            await ctx.say(prompt + "\n" + hint, keyboard(back_row(ctx.t)))
            return
        sent = await ctx.say(
            ctx.t(
                "card.edit_with_current", prompt=prompt, hint=hint, value=current, spoiler=field in SPOILERED
            ),
            keyboard(back_row(ctx.t)),
        )
        masked = ctx.t(
            "card.edit_with_current",
            prompt=prompt,
            hint=hint,
            value=mask_field(field, current),
            spoiler=False,
        )
        await _remember_shown(ctx, sent.message_id, masked)

    @router.callback_query(CardSG.verify, Act.filter(F.a == "next"))
    async def next_(query: CallbackQuery, ctx: Ctx) -> None:
        card = await _card(ctx)
        problems = validate_card(
            front_from_dict(card.get("front")), back_from_dict(card.get("back")), today=ctx.today()
        )
        if problems:
            await query.answer(ctx.t("card.fix_first"), show_alert=True)
            await show_verify(ctx)
            return
        await query.answer()
        await hide_verify(ctx)
        await calls.finish(ctx, CardResult.model_validate(card))

    @router.callback_query(CardSG.verify, Act.filter(F.a == "back"))
    async def verify_back(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        await hide_verify(ctx)
        await ctx.state.set_state(CardSG.back)
        await ctx.say(ctx.t("card.back_prompt"), keyboard(back_row(ctx.t)))

    @router.message(CardSG.verify)
    async def verify_unexpected(message: Message, ctx: Ctx) -> None:
        await show_verify(ctx, note=ctx.t("card.verify_use_buttons"))

    # --- a correction ----------------------------------------------------------------------------
    @router.message(CardSG.edit, F.text)
    async def edit_text(message: Message, ctx: Ctx) -> None:
        field = (await ctx.load(CardStep)).edit_field
        card = await _card(ctx)
        front, back = front_from_dict(card.get("front")), back_from_dict(card.get("back"))
        before = front.id_number
        try:
            apply_correction(str(field), message.text or "", front, back, ctx.t)
        except CorrectionError as exc:
            await message.answer(
                ctx.t.reason(exc.code) + "\n" + ctx.t("card.edit_again"),
                reply_markup=keyboard(back_row(ctx.t)),
            )
            return
        if (
            field == "id_number"
            and front.id_number != before
            and not await _number_edit_allowed(ctx, front.id_number or "")
        ):
            return
        card.update(front=front_to_dict(front), back=back_to_dict(back))
        # Every correction, read → typed: the flow judges the identity fields by them, and they go
        # into the audit row and the review payload.
        card["corrections"] = [*card.get("corrections", []), correction_entry(ctx.t, card, str(field))]
        await _keep(ctx, card, CardStep())
        await show_verify(ctx, note=ctx.t("card.corrected", field=ctx.t(f"card.field.{field}")))

    @router.callback_query(CardSG.edit, Act.filter(F.a == "back"))
    async def edit_back(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        await show_verify(ctx)

    @router.message(CardSG.edit)
    async def edit_unexpected(message: Message, ctx: Ctx) -> None:
        await message.answer(ctx.t("card.edit_expect_text"), reply_markup=keyboard(back_row(ctx.t)))

    # --- the typed path (a side the engine could not read) ----------------------------------------
    @router.callback_query(CardSG.manual, Act.filter(F.a == "manual"))
    async def manual(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        card = await _card(ctx)
        unread = dict(card.pop("unread", None) or {})
        side, media = unread.get("side"), unread.get("media")
        if side not in MEDIA_KIND or not media:
            await _prompt_side(ctx, "front")
            return
        card["manual"] = [*(s for s in card.get("manual", []) if s != side), side]
        card["read"] = {
            **dict(card.get("read") or {}),
            side: dict(unread.get("fields") or {}) if side == "front" else {},
        }
        if side == "front":
            card["corrections"] = []
            # No portrait was cropped: the face check is liveness only, and a person compares.
            card.update(
                front=dict(unread.get("fields") or {}),
                front_media=media,
                portrait_media=None,
                portrait_encoding=None,
            )
            await _keep(ctx, card)
            await ctx.state.set_state(CardSG.back)
            await ctx.say(
                ctx.t("card.manual_front_kept") + "\n\n" + ctx.t("card.back_prompt"),
                keyboard(back_row(ctx.t)),
            )
            return
        card.update(back={}, back_media=media)
        await _keep(ctx, card)
        await show_verify(ctx)

    @router.callback_query(CardSG.manual, Act.filter(F.a == "back"))
    async def manual_back(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        card = await _card(ctx)
        side = str(dict(card.pop("unread", None) or {}).get("side", "front"))
        await _keep(ctx, card)
        await _prompt_side(ctx, side if side in MEDIA_KIND else "front")

    @router.message(CardSG.manual)
    async def manual_unexpected(message: Message, ctx: Ctx) -> None:
        await show_manual_offer(ctx, note=ctx.t("card.manual_use_buttons"))

    return router
