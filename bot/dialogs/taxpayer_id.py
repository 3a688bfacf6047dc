"""What 法人绑定 and 企业办税人解绑 share: a dialog that begins at the 纳税人识别号 step.

The same entry (logged in, else "collect first"), the same input and checks (GB 32100), the same
"back" to that step, and the same refusal: one answer whatever the reason, back at the number (the
register is not a directory anyone may probe for which taxpayer ids exist).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiogram import F, Router
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot.dialogs.account import ask_to_collect, logged_in, refuse
from bot.dialogs.base import Act, Ctx, back_row, back_to_tip, keyboard, on_press, register_entry
from bot.dialogs.calls import FlowData
from bot.domain.models import Person
from bot.domain.outcomes import EventOutcome
from bot.domain.policies import Denial
from bot.ui import Function
from bot.verification.ids import normalize_number, validate_uscc

__all__ = ["TaxpayerIdData", "TaxpayerIdFlow", "ask_taxpayer_id", "taxpayer_id_problem"]


async def ask_taxpayer_id(ctx: Ctx, *, note: str | None = None) -> None:
    text = ctx.t("functions.taxpayer_id_prompt")
    await ctx.say((note + "\n\n" + text) if note else text, keyboard(back_row(ctx.t)))


def taxpayer_id_problem(ctx: Ctx, text: str) -> tuple[str, str | None]:
    """The normalised number and the message of its first problem (None when valid)."""
    number = normalize_number("".join(ch for ch in text if ch.isprintable()))
    problems = validate_uscc(number)
    return number, (ctx.t("functions.taxpayer_id_" + problems[0]) if problems else None)


class TaxpayerIdData(FlowData):
    """The own values of a function that begins at the 纳税人识别号: the number typed (checked)."""

    taxpayer_id: str | None = None


class TaxpayerIdFlow:
    """A function whose first step is the 纳税人识别号 (``states.taxpayer_id``) of its ``func``, keeping
    ``data`` (its :class:`TaxpayerIdData`); ``after_number`` shows the step after it."""

    name: str
    func: Function
    data: type[TaxpayerIdData]
    states: type[StatesGroup]  # with a ``taxpayer_id`` state

    @property
    def number_state(self) -> State:
        state: State = self.states.taxpayer_id  # type: ignore[attr-defined]
        return state

    async def start(self, ctx: Ctx) -> None:
        if await logged_in(ctx) is None:
            await ask_to_collect(ctx)
            return
        await ctx.state.clear()
        await ctx.begin(self.name, self.data())
        await self.ask_number(ctx)

    async def ask_number(self, ctx: Ctx, *, note: str | None = None) -> None:
        await ctx.state.set_state(self.number_state)
        await ask_taxpayer_id(ctx, note=note)

    async def person(self, ctx: Ctx) -> Person | None:
        """The logged-in person now; None (the dialog refused, ended) once logged out."""
        person = await logged_in(ctx)
        if person is None:
            await refuse(ctx, Denial.NOT_LOGGED_IN, flow=self.name)
        return person

    async def not_found(self, ctx: Ctx, denial: Denial) -> None:
        """The one answer for an unknown id and for one the person has nothing to do with; the user
        may type another id."""
        await ctx.repo.events.record(
            self.name, "query", EventOutcome.REJECTED, user_id=ctx.user_id, reason_code=str(denial)
        )
        await self.ask_number(ctx, note=ctx.t("policy." + str(denial)))

    async def number_entered(self, ctx: Ctx, number: str) -> None:
        """A valid number: kept (with nothing chosen after it yet), then the next step."""
        await ctx.store(self.data(taxpayer_id=number))
        await self.after_number(ctx)

    async def after_number(self, ctx: Ctx) -> None:
        raise NotImplementedError

    def register_number_step(self, router: Router, back_to_number: tuple[State, ...]) -> None:
        """The entry (the tip's 【开始】) and the number step: checked, back to the tip, re-asked
        otherwise; "back" from ``back_to_number`` returns to it."""
        state, func = self.number_state, self.func
        register_entry(router, self, func)
        on_valid: Callable[[Ctx, str], Awaitable[None]] = self.number_entered

        @router.message(state, F.text)
        async def taxpayer_id(message: Message, ctx: Ctx) -> None:
            number, problem = taxpayer_id_problem(ctx, message.text or "")
            if problem is not None:
                await ask_taxpayer_id(ctx, note=problem)
                return
            await on_valid(ctx, number)

        @router.callback_query(state, Act.filter(F.a == "back"))
        async def taxpayer_id_back(query: CallbackQuery, ctx: Ctx) -> None:
            await query.answer()
            await back_to_tip(ctx, func)

        @router.message(state)
        async def taxpayer_id_unexpected(message: Message, ctx: Ctx) -> None:
            await ask_taxpayer_id(ctx)

        on_press(router, back_to_number, "back", self.ask_number)
