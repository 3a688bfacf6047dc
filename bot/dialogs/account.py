"""What the functions 2–6 share: "logged in", the policy actor, refusals, and the edit screen of
phone and residence (with its residence step) used by 实名信息变更 and 实名信息维护.

"Logged in" (SPEC.md): the Telegram account is linked to a person who completed collection.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import F, Router
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, Message
from pydantic import BaseModel, ConfigDict, Field

from bot.dialogs.base import Act, Ctx, Screen, act, back_row, end_dialog, home_button, keyboard, on_press
from bot.dialogs.calls import FlowData, PhoneResult
from bot.domain.enterprise import Role
from bot.domain.masking import mask_address, mask_name, mask_phone
from bot.domain.models import Person
from bot.domain.outcomes import EventOutcome
from bot.domain.policies import Actor, Denial
from bot.services.actors import actor_for as services_actor_for
from bot.ui import Function, Node, Tip, button

__all__ = [
    "EDIT_ACTIONS",
    "Edits",
    "EditsData",
    "actor_for",
    "ask_to_collect",
    "clean_residence",
    "logged_in",
    "refuse",
    "register_edit_steps",
    "role_name",
    "show_edits",
]

EDIT_ACTIONS = frozenset({"edit_phone", "edit_residence", "save"})
RESIDENCE_MIN, RESIDENCE_MAX = 2, 120


async def logged_in(ctx: Ctx) -> Person | None:
    return await ctx.repo.persons.find_by_telegram(ctx.user_id)


def collect_button(ctx: Ctx) -> list[Any]:
    return [button(ctx.t("menu.collect"), Tip(func=Function.COLLECT, parent=Node.HOME))]


async def ask_to_collect(ctx: Ctx) -> None:
    """The answer of a function that needs login to an account that is not linked to a person."""
    await end_dialog(ctx.state, ctx.services)
    await ctx.say(ctx.t("functions.login_required"), keyboard(collect_button(ctx), [home_button(ctx.t)]))


async def actor_for(ctx: Ctx, person: Person | None) -> Actor:
    """What the policies need about ``person`` (register roles, bindings, the last face step-up)."""
    return await services_actor_for(ctx.repo, ctx.user_id, person)


async def refuse(ctx: Ctx, denial: Denial | str, *, flow: str) -> None:
    """End the dialog with the reason; every refusal of the policies is also a statistics event."""
    code = str(denial)
    await end_dialog(ctx.state, ctx.services)
    await ctx.repo.events.record(flow, "policy", EventOutcome.REJECTED, user_id=ctx.user_id, reason_code=code)
    rows = [collect_button(ctx)] if denial is Denial.NOT_LOGGED_IN else []
    await ctx.say(ctx.t("policy." + code), keyboard(*rows, [home_button(ctx.t)]))


def role_name(ctx: Ctx, role: Role | str) -> str:
    return ctx.t("role." + str(role))


def clean_residence(text: str) -> str | None:
    """A residence as typed, without control or zero-width characters; None when unusable."""
    value = " ".join("".join(ch for ch in unicodedata.normalize("NFC", text) if ch.isprintable()).split())
    return value if RESIDENCE_MIN <= len(value) <= RESIDENCE_MAX else None


# --- the edit screen (变更 / 维护) ---------------------------------------------------------------------


class Edits(BaseModel):
    """The edits pending on the edit screen: the new phone (verified by code, and when) and residence."""

    model_config = ConfigDict(extra="forbid")

    phone: PhoneResult | None = None
    residence: str | None = None

    def fields(self) -> dict[str, Any]:
        """In the shape the use cases read (``bot/services/records.py``: ``apply_edits``)."""
        out: dict[str, Any] = {}
        if self.phone is not None:
            out["phone"] = self.phone.fields()
        if self.residence:
            out["residence"] = self.residence
        return out


class EditsData(FlowData):
    """The own values of a flow with the edit screen (变更, 维护): the pending ``edits``, saved at
    【下一步】."""

    edits: Edits = Field(default_factory=Edits)

    @classmethod
    async def keep_edit(cls, ctx: Ctx, **edit: Any) -> None:
        own = await ctx.load(cls)
        await ctx.store(own.model_copy(update={"edits": own.edits.model_copy(update=edit)}))

    @classmethod
    async def keep_phone(cls, ctx: Ctx, result: PhoneResult) -> None:
        """The phone sub-dialog returned: its number is the pending new phone."""
        await cls.keep_edit(ctx, phone=result)

    def flat(self) -> dict[str, Any]:
        return {**super().flat(), "edits": self.edits.fields()}


def register_edit_steps(
    router: Router,
    states: tuple[State, State],
    editable: Callable[[Ctx], Awaitable[bool]],
    model: type[EditsData],
    *,
    show: Screen,
    ask_phone: Screen,
    save: Screen,
) -> None:
    """The edit screen's buttons and the residence step (``states``: edit, residence) of 变更 and 维护:
    【修改手机号码】 (``ask_phone`` checks and starts the phone code), 【修改居住地】 (asked when
    ``editable``), 【下一步】 (``save``); the residence typed is cleaned and kept pending, and ``show``
    shows the edit screen again."""
    edit, residence = states

    on_press(router, edit, "edit_phone", ask_phone)
    on_press(router, edit, "save", save)

    @router.callback_query(edit, Act.filter(F.a == "edit_residence"))
    async def edit_residence(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        if await editable(ctx):
            await ctx.state.set_state(residence)
            await ctx.say(ctx.t("functions.residence_prompt"), keyboard(back_row(ctx.t)))

    @router.message(residence, F.text)
    async def residence_typed(message: Message, ctx: Ctx) -> None:
        value = clean_residence(message.text or "")
        if value is None:
            await message.answer(ctx.t("functions.residence_invalid"), reply_markup=keyboard(back_row(ctx.t)))
            return
        await model.keep_edit(ctx, residence=value)
        await show(ctx)

    on_press(router, residence, "back", show)

    @router.message(residence)
    async def residence_unexpected(message: Message, ctx: Ctx) -> None:
        await message.answer(ctx.t("functions.residence_prompt"), reply_markup=keyboard(back_row(ctx.t)))


async def show_edits(
    ctx: Ctx, state: State, person: Person, model: type[EditsData], *, note: str | None = None
) -> None:
    """Current values (masked), the pending new ones (``model``'s edits), and 【下一步】 to save them."""
    edits = (await ctx.load(model)).edits
    new_phone = edits.phone.number if edits.phone is not None else None
    text = ctx.t(
        "functions.edit_screen",
        name=mask_name(person.name),
        phone=mask_phone(person.phone.number) if person.phone else None,
        residence=mask_address(person.residence) if person.residence else None,
        new_phone=mask_phone(new_phone) if new_phone else None,
        new_residence=edits.residence,
    )
    await ctx.state.set_state(state)
    await ctx.say(
        (note + "\n\n" + text) if note else text,
        keyboard(
            [act(ctx.t("functions.edit_phone"), "edit_phone")],
            [act(ctx.t("functions.edit_residence"), "edit_residence")],
            [act(ctx.t("functions.save"), "save")],
            back_row(ctx.t),
        ),
    )
