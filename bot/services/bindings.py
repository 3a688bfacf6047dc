"""Use cases: a legal representative or finance officer binds themself to their enterprise (法人(财务
负责人)绑定管理, guide §5); a tax handler ends their own binding (企业办税人解绑, guide §6).

Each asks its rule (``bot.domain.policies.may_bind`` / ``may_unbind``) with fresh data in the serial
transaction that writes, so a register reloaded or a binding made from another chat since the dialog's
last screen is seen. The binding's audit row is the repository's.
"""

from __future__ import annotations

from bot.domain.enterprise import Enterprise, Role
from bot.domain.errors import BindingExists
from bot.domain.models import Person
from bot.domain.policies import Denial, may_bind, may_unbind
from bot.services.actors import actor_for
from bot.storage.repositories import Repositories

__all__ = ["bind_self", "unbind_self"]


async def bind_self(
    repo: Repositories, user_id: int, person: Person, enterprise: Enterprise, role: Role
) -> Denial | None:
    """Bind ``person`` to ``enterprise`` in ``role``; the refusal when the rule forbids it now."""
    async with repo.db.transaction():
        decision = may_bind(await actor_for(repo, user_id, person), enterprise, role)
        if decision.denial is not None:
            return decision.denial
        try:
            await repo.enterprises.bind(person.id, enterprise.id, role, bound_by=user_id)
        except BindingExists:  # bound from another chat since the dialog's check
            return Denial.ALREADY_BOUND
    return None


async def unbind_self(
    repo: Repositories, user_id: int, person: Person, enterprise: Enterprise
) -> Denial | None:
    """End ``person``'s tax-handler binding to ``enterprise``; the refusal when the rule forbids it now
    or there is no binding any more."""
    async with repo.db.transaction():
        decision = may_unbind(await actor_for(repo, user_id, person), enterprise.id)
        if decision.denial is not None:
            return decision.denial
        if not await repo.enterprises.unbind(person.id, enterprise.id, Role.TAX_HANDLER, unbound_by=user_id):
            return Denial.NO_BINDING
    return None
