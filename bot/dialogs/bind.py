"""法人(财务负责人)绑定管理 (guide §5): a logged-in person who is an enterprise's registered legal
representative or finance officer binds themself to it.

纳税人识别号 (checked with GB 32100) → 身份类型 法定代表人 / 财务负责人 → 【绑定】 → the enterprises that
match → choose → "绑定成功". Refused with the reason (``bot.domain.policies.may_bind``) when the register
does not list the person in that role for that enterprise, the enterprise is not active, or the
binding exists already.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiogram import F, Router
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot.dialogs.account import ask_to_collect, logged_in, refuse, role_name
from bot.dialogs.base import (
    Act,
    Ctx,
    act,
    back_row,
    back_to_tip,
    buttons_only,
    complete,
    keyboard,
    on_press,
    register_entry,
)
from bot.domain.enterprise import Role
from bot.domain.outcomes import EventOutcome
from bot.domain.policies import BINDABLE_ROLES, Denial
from bot.services.bindings import bind_self
from bot.ui import Function
from bot.verification.ids import normalize_number, validate_uscc

ROLE_ORDER = (Role.LEGAL_REP, Role.FINANCE_OFFICER)


class BindSG(StatesGroup):
    taxpayer_id = State()
    role = State()  # 身份类型, then 【绑定】
    choose = State()  # the enterprises that match


async def ask_taxpayer_id(ctx: Ctx, *, note: str | None = None) -> None:
    """Shared with 企业办税人解绑: the same input, the same checks."""
    text = ctx.t("functions.taxpayer_id_prompt")
    await ctx.say((note + "\n\n" + text) if note else text, keyboard(back_row(ctx.t)))


def taxpayer_id_problem(ctx: Ctx, text: str) -> tuple[str, str | None]:
    """The normalised number and the message of its first problem (None when valid)."""
    number = normalize_number("".join(ch for ch in text if ch.isprintable()))
    problems = validate_uscc(number)
    return number, (ctx.t("functions.taxpayer_id_" + problems[0]) if problems else None)


def register_taxpayer_id_step(
    router: Router, state: State, func: Function, on_valid: Callable[[Ctx, str], Awaitable[None]]
) -> None:
    """The taxpayer-ID step of 绑定 and 解绑: checked (GB 32100), back to the tip, re-asked otherwise."""

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


class BindFlow:
    name = "bind"

    async def start(self, ctx: Ctx) -> None:
        if await logged_in(ctx) is None:
            await ask_to_collect(ctx)
            return
        await ctx.state.clear()
        await ctx.put(flow=self.name)
        await ctx.state.set_state(BindSG.taxpayer_id)
        await ask_taxpayer_id(ctx)

    async def show_role(self, ctx: Ctx) -> None:
        data = await ctx.get()
        chosen = data.get("role")
        rows = [
            [act(("✅ " if chosen == role.value else "") + role_name(ctx, role), "role", role.value)]
            for role in ROLE_ORDER
        ]
        if chosen:
            rows.append([act(ctx.t("bind.bind"), "bind")])
        await ctx.state.set_state(BindSG.role)
        await ctx.say(
            ctx.t("bind.choose_role", taxpayer_id=data.get("taxpayer_id")), keyboard(*rows, back_row(ctx.t))
        )

    async def show_matches(self, ctx: Ctx) -> None:
        data = await ctx.get()
        person = await logged_in(ctx)
        if person is None:
            await refuse(ctx, Denial.NOT_LOGGED_IN, flow=self.name)
            return
        enterprise = await ctx.repo.enterprises.get(str(data.get("taxpayer_id")))
        role = data.get("role")
        listed = (
            enterprise is not None
            and role in {r.value for r in BINDABLE_ROLES}
            and await ctx.repo.enterprises.is_listed(
                enterprise.taxpayer_id, person.document.doc_type, person.document.number, Role(str(role))
            )
        )
        if not listed or enterprise is None:
            # One answer for "no such enterprise" and "you are not listed there": the register is not
            # a directory anyone may probe for which taxpayer ids exist. The user may type another id.
            await ctx.repo.events.record(
                self.name,
                "query",
                EventOutcome.REJECTED,
                user_id=ctx.user_id,
                reason_code=str(Denial.NOT_LISTED),
            )
            await ctx.state.set_state(BindSG.taxpayer_id)
            await ask_taxpayer_id(ctx, note=ctx.t("policy." + str(Denial.NOT_LISTED)))
            return
        await ctx.state.set_state(BindSG.choose)
        await ctx.say(
            ctx.t("bind.choose_enterprise"),
            keyboard(
                [act(f"{enterprise.name}（{enterprise.taxpayer_id}）", "ent", str(enterprise.id))],
                back_row(ctx.t),
            ),
        )

    async def bind(self, ctx: Ctx, enterprise_id: str) -> None:
        data = await ctx.get()
        person = await logged_in(ctx)
        if person is None:
            await refuse(ctx, Denial.NOT_LOGGED_IN, flow=self.name)
            return
        enterprise = await ctx.repo.enterprises.get(str(data.get("taxpayer_id")))
        role_value = data.get("role")
        # The button must name the enterprise of the number typed: a forged id is treated as unlisted.
        if (
            enterprise is None
            or str(enterprise.id) != enterprise_id
            or role_value not in {r.value for r in BINDABLE_ROLES}
        ):
            await refuse(ctx, Denial.NOT_LISTED, flow=self.name)
            return
        role = Role(role_value)
        denial = await bind_self(ctx.repo, ctx.user_id, person, enterprise, role)
        if denial is not None:
            await refuse(ctx, denial, flow=self.name)
            return
        await complete(
            ctx,
            self.name,
            "bind",
            ctx.t(
                "bind.success",
                enterprise=enterprise.name,
                taxpayer_id=enterprise.taxpayer_id,
                role=role_name(ctx, role),
            ),
        )


def create_router(flow: BindFlow) -> Router:
    router = Router(name="bind")

    register_entry(router, flow, Function.BIND)

    async def taxpayer_id_entered(ctx: Ctx, number: str) -> None:
        await ctx.put(taxpayer_id=number, role=None)
        await flow.show_role(ctx)

    register_taxpayer_id_step(router, BindSG.taxpayer_id, Function.BIND, taxpayer_id_entered)

    @router.callback_query(BindSG.role, Act.filter(F.a == "role"))
    async def role(query: CallbackQuery, callback_data: Act, ctx: Ctx) -> None:
        await query.answer()
        if callback_data.v in {r.value for r in ROLE_ORDER}:
            await ctx.put(role=callback_data.v)
        await flow.show_role(ctx)

    @router.callback_query(BindSG.role, Act.filter(F.a == "bind"))
    async def bind_pressed(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        if not (await ctx.get()).get("role"):
            await flow.show_role(ctx)
            return
        await flow.show_matches(ctx)

    async def to_number(ctx: Ctx) -> None:
        await ctx.state.set_state(BindSG.taxpayer_id)
        await ask_taxpayer_id(ctx)

    on_press(router, BindSG.role, "back", to_number)

    @router.callback_query(BindSG.choose, Act.filter(F.a == "ent"))
    async def choose(query: CallbackQuery, callback_data: Act, ctx: Ctx) -> None:
        await query.answer()
        await flow.bind(ctx, callback_data.v)

    on_press(router, BindSG.choose, "back", flow.show_role)
    buttons_only(router, {BindSG.role: flow.show_role, BindSG.choose: flow.show_matches})

    return router


__all__ = ["BindFlow", "BindSG", "ask_taxpayer_id", "create_router", "taxpayer_id_problem"]
