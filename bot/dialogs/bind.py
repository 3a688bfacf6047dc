"""法人(财务负责人)绑定管理 (guide §5): a logged-in person who is an enterprise's registered legal
representative or finance officer binds themself to it.

纳税人识别号 (checked with GB 32100) → 身份类型 法定代表人 / 财务负责人 → 【绑定】 → the enterprises that
match → choose → "绑定成功". Refused with the reason (``bot.domain.policies.may_bind``) when the register
does not list the person in that role for that enterprise, the enterprise is not active, or the
binding exists already.
"""

from __future__ import annotations

from typing import ClassVar

from aiogram import F, Router
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery

from bot.dialogs.account import refuse, role_name
from bot.dialogs.base import Act, Ctx, act, back_row, buttons_only, complete, keyboard, on_press
from bot.dialogs.taxpayer_id import TaxpayerIdData, TaxpayerIdFlow
from bot.domain.enterprise import Enterprise, Role
from bot.domain.models import Person
from bot.domain.policies import BINDABLE_ROLES, Denial
from bot.services.bindings import bind_self
from bot.ui import Function

ROLE_ORDER = (Role.LEGAL_REP, Role.FINANCE_OFFICER)


class BindSG(StatesGroup):
    taxpayer_id = State()
    role = State()  # 身份类型, then 【绑定】
    choose = State()  # the enterprises that match


class BindData(TaxpayerIdData):
    """绑定's own values: the 纳税人识别号 and the 身份类型 chosen (a ``Role`` value)."""

    KEY: ClassVar[str] = "bind"
    role: str | None = None


class BindFlow(TaxpayerIdFlow):
    name = "bind"
    func = Function.BIND
    data = BindData
    states = BindSG

    async def after_number(self, ctx: Ctx) -> None:
        await self.show_role(ctx)

    async def show_role(self, ctx: Ctx) -> None:
        own = await ctx.load(BindData)
        chosen = own.role
        rows = [
            [act(("✅ " if chosen == role.value else "") + role_name(ctx, role), "role", role.value)]
            for role in ROLE_ORDER
        ]
        if chosen:
            rows.append([act(ctx.t("bind.bind"), "bind")])
        await ctx.state.set_state(BindSG.role)
        await ctx.say(
            ctx.t("bind.choose_role", taxpayer_id=own.taxpayer_id), keyboard(*rows, back_row(ctx.t))
        )

    async def _asked(self, ctx: Ctx) -> tuple[Person, Enterprise | None, object] | None:
        """The logged-in person (else the dialog ends), the enterprise of the number typed, the role
        chosen."""
        person = await self.person(ctx)
        if person is None:
            return None
        own = await ctx.load(BindData)
        return person, await ctx.repo.enterprises.get(str(own.taxpayer_id)), own.role

    async def show_matches(self, ctx: Ctx) -> None:
        asked = await self._asked(ctx)
        if asked is None:
            return
        person, enterprise, role = asked
        listed = (
            enterprise is not None
            and role in {r.value for r in BINDABLE_ROLES}
            and await ctx.repo.enterprises.is_listed(
                enterprise.taxpayer_id, person.document.doc_type, person.document.number, Role(str(role))
            )
        )
        if not listed or enterprise is None:
            # One answer for "no such enterprise" and "you are not listed there".
            await self.not_found(ctx, Denial.NOT_LISTED)
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
        asked = await self._asked(ctx)
        if asked is None:
            return
        person, enterprise, role_value = asked
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

    flow.register_number_step(router, back_to_number=(BindSG.role,))

    @router.callback_query(BindSG.role, Act.filter(F.a == "role"))
    async def role(query: CallbackQuery, callback_data: Act, ctx: Ctx) -> None:
        await query.answer()
        if callback_data.v in {r.value for r in ROLE_ORDER}:
            await ctx.change(BindData, role=callback_data.v)
        await flow.show_role(ctx)

    @router.callback_query(BindSG.role, Act.filter(F.a == "bind"))
    async def bind_pressed(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        if not (await ctx.load(BindData)).role:
            await flow.show_role(ctx)
            return
        await flow.show_matches(ctx)

    @router.callback_query(BindSG.choose, Act.filter(F.a == "ent"))
    async def choose(query: CallbackQuery, callback_data: Act, ctx: Ctx) -> None:
        await query.answer()
        await flow.bind(ctx, callback_data.v)

    on_press(router, BindSG.choose, "back", flow.show_role)
    buttons_only(router, {BindSG.role: flow.show_role, BindSG.choose: flow.show_matches})

    return router


__all__ = ["BindData", "BindFlow", "BindSG", "create_router"]
