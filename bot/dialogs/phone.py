"""Phone verification, a sub-dialog: 【信息补充】 mobile number → SMS code (or the user's own shared contact).

Called with a :class:`~bot.dialogs.calls.PhoneFor` when the phone is someone else's (实名信息维护);
returns a :class:`~bot.dialogs.calls.PhoneResult` (number, verified_at) to the caller's ``on_phone``.
"""

from __future__ import annotations

from typing import ClassVar

from aiogram import F, Router
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.dialogs import calls
from bot.dialogs.base import Act, Ctx, act, back_row, keyboard
from bot.dialogs.calls import PhoneFor, PhoneResult, StepData
from bot.domain.masking import mask_phone
from bot.domain.phone import is_mainland_mobile, normalize_mainland_mobile, same_phone
from bot.services.otp import SendStatus, VerifyStatus


class PhoneSG(StatesGroup):
    number = State()
    code = State()


class PhoneStep(StepData):
    """The phone step's own value: the number a code was sent to, waiting for the code."""

    KEY: ClassVar[str] = "phone_step"
    RENAMED: ClassVar[dict[str, str]] = {"pending": "phone_pending"}
    pending: str | None = None


async def _pending(ctx: Ctx) -> str | None:
    return (await ctx.load(PhoneStep)).pending


def _share_keyboard(ctx: Ctx) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=ctx.t("phone.share_contact"), request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


def _code_keyboard(ctx: Ctx) -> InlineKeyboardMarkup:
    return keyboard(
        [act(ctx.t("phone.resend"), "resend"), act(ctx.t("phone.change_number"), "change")], back_row(ctx.t)
    )


async def _for_other(ctx: Ctx) -> PhoneFor | None:
    """Given by a flow that verifies someone else's phone (实名信息维护): whose, for which enterprise,
    and the language of the SMS they receive."""
    return await calls.arg(ctx, "phone", PhoneFor)


async def _prompt(ctx: Ctx) -> str:
    other = await _for_other(ctx)
    if other is None:
        return ctx.t("phone.prompt")
    return ctx.t("phone.prompt_other", name=other.name, enterprise=other.enterprise)


async def begin(ctx: Ctx, other: PhoneFor | None = None) -> None:
    """The call: the number step (``other``: the phone is that person's, not the user's own)."""
    await calls.call(ctx, "phone", other)
    await _number_step(ctx)


async def _number_step(ctx: Ctx) -> None:
    await ctx.state.set_state(PhoneSG.number)
    kept = await ctx.find(PhoneResult)
    if kept is not None and kept.number and await _for_other(ctx) is None:
        # Back here from a later step (the selfie): the number verified a moment ago is kept, unless
        # the user types another one.
        await ctx.say(
            ctx.t("phone.kept", phone=mask_phone(kept.number)),
            keyboard([act(ctx.t("phone.keep"), "keep")], back_row(ctx.t)),
        )
        return
    await ctx.say(await _prompt(ctx), keyboard(back_row(ctx.t)))


async def _send(ctx: Ctx, phone: str) -> bool:
    """Send a code; False (with the reason told) when a limit or the gateway refuses."""
    other = await _for_other(ctx)
    if other is None:
        lang, key, values = ctx.t.lang, "phone.sms_text", {}
    else:
        # The receiver must tell the code to the maintainer: the SMS says who asks and why, in
        # the receiver's language.
        lang = other.lang or ctx.t.lang
        key, values = "phone.sms_text_other", {"enterprise": other.enterprise}
    result = await ctx.services.otp.send_code(
        ctx.user_id,
        phone,
        text_for=lambda code: ctx.services.catalog.render(lang, key, code=code, **values),
    )
    if result.status is SendStatus.SENT:
        return True
    if result.status is SendStatus.RATE_LIMITED and result.limit is not None:
        seconds = int(result.retry_after(ctx.now()).total_seconds()) + 1
        text = ctx.t.reason(f"otp_limit_{result.limit.value}", seconds=seconds, minutes=(seconds + 59) // 60)
    else:
        text = ctx.t.reason("sms_unavailable")
    await ctx.say(text, _code_keyboard(ctx))
    return False


async def _verified(ctx: Ctx, phone: str) -> None:
    await ctx.say(ctx.t("phone.verified", phone=mask_phone(phone)), ReplyKeyboardRemove())
    await calls.finish(ctx, PhoneResult(number=phone, verified_at=ctx.now().isoformat()))


def create_router() -> Router:
    router = Router(name="phone")

    @router.message(PhoneSG.number, F.text)
    async def number(message: Message, ctx: Ctx) -> None:
        text = message.text or ""
        if not is_mainland_mobile(text):
            await message.answer(ctx.t.reason("phone_invalid"), reply_markup=keyboard(back_row(ctx.t)))
            return
        phone = normalize_mainland_mobile(text)
        await ctx.store(PhoneStep(pending=phone))
        if await _send(ctx, phone):
            await ctx.state.set_state(PhoneSG.code)
            await ctx.say(ctx.t("phone.code_sent", phone=mask_phone(phone)), _code_keyboard(ctx))
            if await _for_other(ctx) is None:  # sharing proves only one's own number
                await ctx.say(ctx.t("phone.or_share"), _share_keyboard(ctx))
        else:
            await ctx.state.set_state(PhoneSG.code)

    @router.message(PhoneSG.code, F.text)
    async def code(message: Message, ctx: Ctx) -> None:
        phone = await _pending(ctx)
        text = (message.text or "").strip()
        if not phone:
            await _number_step(ctx)
            return
        if not (text.isascii() and text.isdigit() and len(text) == 6):
            await message.answer(ctx.t.reason("otp_format"), reply_markup=_code_keyboard(ctx))
            return
        result = await ctx.services.otp.verify(ctx.user_id, phone, text)
        if result.status is VerifyStatus.OK:
            await _verified(ctx, phone)
            return
        await message.answer(
            ctx.t.reason("otp_" + result.status.value, tries=result.tries_left or 0),
            reply_markup=_code_keyboard(ctx),
        )

    @router.message(PhoneSG.code, F.contact)
    @router.message(PhoneSG.number, F.contact)
    async def contact(message: Message, ctx: Ctx) -> None:
        shared = message.contact
        phone = await _pending(ctx)
        # Only the user's own contact proves the number: Telegram verified it when the account was made.
        own = shared is not None and shared.user_id == ctx.user_id
        if await _for_other(ctx) is not None:
            # The maintainer's own contact proves nothing about the maintained person's phone.
            await message.answer(ctx.t("phone.other_no_contact"), reply_markup=_code_keyboard(ctx))
            return
        if not own or shared is None:
            await message.answer(ctx.t.reason("phone_contact_not_own"), reply_markup=_code_keyboard(ctx))
            return
        if (
            not phone
            or not is_mainland_mobile(shared.phone_number)
            or not same_phone(shared.phone_number, phone)
        ):
            await message.answer(ctx.t.reason("phone_contact_mismatch"), reply_markup=_code_keyboard(ctx))
            return
        await _verified(ctx, normalize_mainland_mobile(shared.phone_number))

    @router.callback_query(PhoneSG.code, Act.filter(F.a == "resend"))
    async def resend(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        phone = await _pending(ctx)
        if phone and await _send(ctx, phone):
            await ctx.say(ctx.t("phone.code_sent", phone=mask_phone(phone)), _code_keyboard(ctx))

    @router.callback_query(PhoneSG.code, Act.filter(F.a.in_({"change", "back"})))
    async def change(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        await _number_step(ctx)

    @router.callback_query(PhoneSG.number, Act.filter(F.a == "keep"))
    async def keep(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        kept = await ctx.find(PhoneResult)
        if kept is None or not kept.number:
            await _number_step(ctx)
            return
        await ctx.say(ctx.t("phone.verified", phone=mask_phone(kept.number)), ReplyKeyboardRemove())
        await calls.finish(ctx, kept)

    @router.callback_query(PhoneSG.number, Act.filter(F.a == "back"))
    async def back(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        await calls.back_from(ctx, "phone")

    @router.message(PhoneSG.number)
    async def number_unexpected(message: Message, ctx: Ctx) -> None:
        await message.answer(await _prompt(ctx), reply_markup=keyboard(back_row(ctx.t)))

    @router.message(PhoneSG.code)
    async def code_unexpected(message: Message, ctx: Ctx) -> None:
        await message.answer(ctx.t("phone.expect_code"), reply_markup=_code_keyboard(ctx))

    return router
