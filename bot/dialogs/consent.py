"""The two documents the user signs (PIPL: separate consent for sensitive personal information)."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiogram import F, Router
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.conversation import Common
from bot.dialogs import calls
from bot.dialogs.base import Act, Ctx, act, back_row, end_dialog, home_button, keyboard
from bot.domain.models import ConsentDocument
from bot.domain.outcomes import EventOutcome
from bot.i18n import Catalog

Step = Callable[[Ctx], Awaitable[None]]

# Catalogue key of each document; the Chinese full text is the authoritative one that gets hashed.
KEYS = {ConsentDocument.PERSONAL_INFO: "consent.pi", ConsentDocument.FACE_RECOGNITION: "consent.face"}
AUTHORITATIVE = "zh_CN"


def consent_keyboard(ctx: Ctx) -> InlineKeyboardMarkup:
    return keyboard(
        [act(ctx.t("consent.read_full"), "full")],
        [act(ctx.t("consent.agree"), "agree"), act(ctx.t("consent.decline"), "decline")],
        back_row(ctx.t),
    )


async def show(ctx: Ctx, document: ConsentDocument) -> None:
    await ctx.say(ctx.t(KEYS[document] + ".summary"), consent_keyboard(ctx))


async def show_full(ctx: Ctx, document: ConsentDocument) -> None:
    await ctx.say(ctx.t(KEYS[document] + ".full"), consent_keyboard(ctx))


def text_hash(catalog: Catalog, document: ConsentDocument) -> str:
    return hashlib.sha256(catalog.messages[AUTHORITATIVE][KEYS[document] + ".full"].encode()).hexdigest()


def signed(catalog: Catalog, document: ConsentDocument, at: datetime) -> dict[str, Any]:
    """What the dialog keeps until the record is saved: which version of which text, and when."""
    return {
        "document": document.value,
        "version": catalog.messages[AUTHORITATIVE][KEYS[document] + ".version"],
        "text_hash": text_hash(catalog, document),
        "agreed_at": at.isoformat(),
    }


async def record(ctx: Ctx, document: ConsentDocument) -> None:
    common = await ctx.load(Common)
    consents = [c for c in common.consents if c["document"] != document.value]
    consents.append(signed(ctx.services.catalog, document, ctx.now()))
    await ctx.store(common.model_copy(update={"consents": consents}))


def register_step(
    router: Router, state: State, document: ConsentDocument, *, on_agree: Step, on_back: Step
) -> None:
    """The signing step of `document` in `state`: full text, agree (recorded, then `on_agree`), decline
    (the dialog ends and keeps nothing), back, and an answer to anything else."""

    @router.callback_query(state, Act.filter(F.a == "full"))
    async def full(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        await show_full(ctx, document)

    @router.callback_query(state, Act.filter(F.a == "agree"))
    async def agree(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        await record(ctx, document)
        await on_agree(ctx)

    @router.callback_query(state, Act.filter(F.a == "decline"))
    async def decline(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        flow = await calls.flow_of(ctx) or "unknown"
        await end_dialog(ctx.state, ctx.services)
        await ctx.repo.events.record(
            flow,
            f"consent_{document.value}",
            EventOutcome.CANCELLED,
            user_id=ctx.user_id,
            reason_code="consent_declined",
        )
        await ctx.say(ctx.t("consent.declined"), keyboard([home_button(ctx.t)]))

    @router.callback_query(state, Act.filter(F.a == "back"))
    async def back(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        await on_back(ctx)

    @router.message(state)
    async def unexpected(message: Message, ctx: Ctx) -> None:
        await message.answer(ctx.t("consent.use_buttons"), reply_markup=consent_keyboard(ctx))
