"""Card capture, a sub-dialog: front photo → portrait confirmation → back photo → 【信息核实】 (corrections).

Used by collection, supplement and change. What it leaves in the FSM data for the flow:
`card.front`, `card.back` (fields), `card.front_media`, `card.back_media`, `card.portrait_media`,
`card.portrait_encoding` (the portrait's face encoding, the reference for the face check).
"""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, Message

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
    upload_of,
)
from bot.dialogs.card_data import (
    EDITABLE,
    CorrectionError,
    apply_correction,
    back_from_dict,
    back_to_dict,
    front_from_dict,
    front_to_dict,
    shown_values,
)
from bot.dialogs.progress import ProgressMessage, first_guess, texts
from bot.services.verifier import VerificationUnavailable
from bot.verification.idcard import validate_card

# Problems that the user cannot fix by correcting a field on 【信息核实】: the card itself is unusable.
CARD_BLOCKERS = frozenset({"idcard_expired", "idcard_not_yet_valid"})


class CardSG(StatesGroup):
    front = State()
    portrait = State()
    back = State()
    verify = State()
    edit = State()


async def begin(ctx: Ctx) -> None:
    await ctx.put(card={})
    await ctx.state.set_state(CardSG.front)
    await ctx.say(ctx.t("card.front_prompt"), keyboard(back_row(ctx.t)))


async def _card(ctx: Ctx) -> dict[str, Any]:
    return dict((await ctx.get()).get("card", {}))


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


async def _failed(ctx: Ctx, progress: ProgressMessage, step: str, codes: list[str]) -> None:
    if await spend_try(ctx, step):
        await progress.edit_text(
            ctx.t("card.read_failed")
            + "\n"
            + reasons_text(ctx.t, codes)
            + "\n\n"
            + ctx.t(f"card.{step}_prompt"),
            reply_markup=keyboard(back_row(ctx.t)),
        )
    else:
        await progress.edit_text(ctx.t("card.read_failed") + "\n" + reasons_text(ctx.t, codes))
        await pause(ctx, "card.too_many_tries")


async def show_verify(ctx: Ctx, *, note: str | None = None) -> None:
    """【信息核实】: every field, the problems found, a button per field to correct it, and 【下一步】."""
    card = await _card(ctx)
    front, back = front_from_dict(card.get("front")), back_from_dict(card.get("back"))
    problems = validate_card(front, back, today=ctx.today())
    await ctx.put(card={**card, "problems": problems})
    values = shown_values(ctx.t, front, back)
    missing = ctx.t("card.unreadable")
    # Values are user data: the template escapes them.
    text = ctx.t(
        "card.verify_screen", fields=[(ctx.t("card.field." + k), values[k] or missing) for k in EDITABLE]
    )
    if problems:
        text += "\n\n" + ctx.t("card.problems") + "\n" + reasons_text(ctx.t, problems)
    if note:
        text = note + "\n\n" + text
    buttons = [act(ctx.t("card.edit", field=ctx.t("card.field." + k)), "edit", k) for k in EDITABLE]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    await ctx.state.set_state(CardSG.verify)
    await ctx.say(text, keyboard(*rows, [act(ctx.t("card.next"), "next")], back_row(ctx.t)))


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
            await _failed(ctx, progress, "front", ["idcard_expected_front"])
            return
        if reading.side != "front" or reading.front is None or reading.portrait_jpeg is None:
            await _failed(ctx, progress, "front", reading.problems or ["idcard_not_found"])
            return
        async with progress.live() as report:
            encoding = await ctx.services.verifier.encode_face(reading.portrait_jpeg, progress=report)
        if not encoding.ok:
            await _failed(ctx, progress, "front", ["idcard_portrait_not_found"])
            return
        await reset_tries(ctx, "front")
        front_media = await keep_temp_media(ctx, data, "idcard_front")
        portrait_media = await keep_temp_media(ctx, reading.portrait_jpeg, "idcard_portrait")
        card = await _card(ctx)
        card.update(
            front=front_to_dict(reading.front),
            front_media=front_media,
            portrait_media=portrait_media,
            portrait_encoding=list(encoding.encoding or ()),
            read_problems=reading.problems,
        )
        await ctx.put(card=card)
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
        await (await ctx.flow()).back(ctx, "card")

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
            await _failed(ctx, progress, "back", ["idcard_expected_back"])
            return
        if reading.side != "back" or reading.back is None:
            await _failed(ctx, progress, "back", reading.problems or ["idcard_not_found"])
            return
        await reset_tries(ctx, "back")
        back_media = await keep_temp_media(ctx, data, "idcard_back")
        card = await _card(ctx)
        card.update(back=back_to_dict(reading.back), back_media=back_media)
        await ctx.put(card=card)
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
        await ctx.put(edit_field=callback_data.v)
        await ctx.state.set_state(CardSG.edit)
        await ctx.say(
            ctx.t("card.edit_prompt", field=ctx.t("card.field." + callback_data.v))
            + "\n"
            + ctx.t("card.edit_hint." + callback_data.v),
            keyboard(back_row(ctx.t)),
        )

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
        await (await ctx.flow()).finished(ctx, "card")

    @router.callback_query(CardSG.verify, Act.filter(F.a == "back"))
    async def verify_back(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        await ctx.state.set_state(CardSG.back)
        await ctx.say(ctx.t("card.back_prompt"), keyboard(back_row(ctx.t)))

    @router.message(CardSG.verify)
    async def verify_unexpected(message: Message, ctx: Ctx) -> None:
        await show_verify(ctx, note=ctx.t("card.verify_use_buttons"))

    # --- a correction ----------------------------------------------------------------------------
    @router.message(CardSG.edit, F.text)
    async def edit_text(message: Message, ctx: Ctx) -> None:
        data = await ctx.get()
        field = data.get("edit_field")
        card = dict(data.get("card", {}))
        front, back = front_from_dict(card.get("front")), back_from_dict(card.get("back"))
        try:
            apply_correction(str(field), message.text or "", front, back)
        except CorrectionError as exc:
            await message.answer(
                ctx.t.reason(exc.code) + "\n" + ctx.t("card.edit_again"),
                reply_markup=keyboard(back_row(ctx.t)),
            )
            return
        card.update(
            front=front_to_dict(front),
            back=back_to_dict(back),
            corrected=[
                *card.get("corrected", []),
                field,
            ],
        )
        await ctx.put(card=card, edit_field=None)
        await show_verify(ctx, note=ctx.t("card.corrected", field=ctx.t(f"card.field.{field}")))

    @router.callback_query(CardSG.edit, Act.filter(F.a == "back"))
    async def edit_back(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        await show_verify(ctx)

    @router.message(CardSG.edit)
    async def edit_unexpected(message: Message, ctx: Ctx) -> None:
        await message.answer(ctx.t("card.edit_expect_text"), reply_markup=keyboard(back_row(ctx.t)))

    return router
