"""企业办税人解绑 (guide §6): a logged-in tax handler, listed as such in the enterprise's register
(企业核心表), ends their binding to it.

纳税人识别号 → 【查询】 → the binding shown → 【解绑】 → confirmation → "解绑成功" → home. Refused with the
reason (``bot.domain.policies.may_unbind``) otherwise; the rule is asked again at the confirmation.
"""

from __future__ import annotations

from typing import ClassVar

from aiogram import Router
from aiogram.fsm.state import State, StatesGroup

from bot.dialogs.account import actor_for, refuse, role_name
from bot.dialogs.base import Ctx, act, back_row, buttons_only, complete, keyboard, on_press
from bot.dialogs.taxpayer_id import TaxpayerIdData, TaxpayerIdFlow
from bot.domain.enterprise import Binding, Enterprise, Role
from bot.domain.masking import mask_name
from bot.domain.models import Person
from bot.domain.policies import Denial, may_unbind
from bot.services.bindings import unbind_self
from bot.ui import Function


class UnbindSG(StatesGroup):
    taxpayer_id = State()
    query = State()  # 【查询】
    shown = State()  # the binding, 【解绑】
    confirm = State()  # 确定解绑?


class UnbindData(TaxpayerIdData):
    """解绑's own value: the 纳税人识别号 typed."""

    KEY: ClassVar[str] = "unbind"


class UnbindFlow(TaxpayerIdFlow):
    name = "unbind"
    func = Function.UNBIND
    data = UnbindData
    states = UnbindSG

    async def after_number(self, ctx: Ctx) -> None:
        await self.show_query(ctx)

    async def checked(self, ctx: Ctx) -> tuple[Person, Enterprise, Binding] | None:
        """Person, enterprise and binding when the rule holds now; otherwise the dialog ends."""
        person = await self.person(ctx)
        if person is None:
            return None
        enterprise = await ctx.repo.enterprises.get(str((await ctx.load(UnbindData)).taxpayer_id))
        decision = may_unbind(await actor_for(ctx, person), enterprise.id) if enterprise else None
        binding = (
            await ctx.repo.enterprises.binding(person.id, enterprise.id, Role.TAX_HANDLER)
            if enterprise
            else None
        )
        if enterprise is None or decision is None or decision.denial is not None or binding is None:
            # One answer whether the id is unknown, the person is not its tax handler, or not bound.
            await self.not_found(ctx, Denial.NO_BINDING)
            return None
        return person, enterprise, binding

    async def show_query(self, ctx: Ctx) -> None:
        await ctx.state.set_state(UnbindSG.query)
        await ctx.say(
            ctx.t("unbind.query", taxpayer_id=(await ctx.load(UnbindData)).taxpayer_id),
            keyboard([act(ctx.t("unbind.query_button"), "query")], back_row(ctx.t)),
        )

    async def show_binding(self, ctx: Ctx) -> None:
        found = await self.checked(ctx)
        if found is None:
            return
        person, enterprise, binding = found
        await ctx.state.set_state(UnbindSG.shown)
        await ctx.say(
            ctx.t(
                "unbind.binding",
                enterprise=enterprise.name,
                taxpayer_id=enterprise.taxpayer_id,
                name=mask_name(person.name),
                role=role_name(ctx, binding.role),
                bound_at=ctx.t.moment(binding.bound_at),
            ),
            keyboard([act(ctx.t("unbind.unbind"), "unbind")], back_row(ctx.t)),
        )

    async def confirm(self, ctx: Ctx) -> None:
        found = await self.checked(ctx)
        if found is None:
            return
        await ctx.state.set_state(UnbindSG.confirm)
        await ctx.say(
            ctx.t("unbind.confirm", enterprise=found[1].name),
            keyboard([act(ctx.t("unbind.confirm_yes"), "yes"), act(ctx.t("unbind.confirm_no"), "no")]),
        )

    async def unbind(self, ctx: Ctx) -> None:
        found = await self.checked(ctx)
        if found is None:
            return
        person, enterprise, _ = found
        denial = await unbind_self(ctx.repo, ctx.user_id, person, enterprise)
        if denial is not None:
            await refuse(ctx, denial, flow=self.name)
            return
        await complete(ctx, self.name, "unbind", ctx.t("unbind.success", enterprise=enterprise.name))


def create_router(flow: UnbindFlow) -> Router:
    router = Router(name="unbind")

    flow.register_number_step(router, back_to_number=(UnbindSG.query, UnbindSG.shown))
    on_press(router, UnbindSG.query, "query", flow.show_binding)
    on_press(router, UnbindSG.shown, "unbind", flow.confirm)
    on_press(router, UnbindSG.confirm, "yes", flow.unbind)
    on_press(router, UnbindSG.confirm, "no", flow.show_binding)
    buttons_only(
        router,
        {UnbindSG.query: flow.show_query, UnbindSG.shown: flow.show_binding, UnbindSG.confirm: flow.confirm},
    )

    return router


__all__ = ["UnbindData", "UnbindFlow", "UnbindSG", "create_router"]
