"""Use case: a maintainer (法定代表人 / 财务负责人 after a face check, guide §4) authorises a register
person as the enterprise's tax handler (办税人), or ends that authorisation.

The rule is ``bot.domain.policies.may_authorise_tax_handler``: the dialog asks it (``check``) to show
its buttons and confirmation, and :func:`set_tax_handler` asks it again with fresh data in the serial
transaction that writes, so a binding, an unbinding or a register reload since the confirmation is
seen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.enterprise import Enterprise, EnterprisePerson, Role
from bot.domain.errors import BindingExists
from bot.domain.models import Person
from bot.domain.policies import Actor, Decision, Denial, may_authorise_tax_handler
from bot.services.actors import actor_for
from bot.storage.repositories import Repositories

__all__ = ["HandlerCheck", "check", "handler_bound", "set_tax_handler"]


@dataclass(frozen=True)
class HandlerCheck:
    """The rule's answer, with what it was asked about: the entry's enterprise and collected person."""

    decision: Decision
    enterprise: Enterprise | None
    person: Person | None


async def handler_bound(repo: Repositories, entry: EnterprisePerson, collected: Person | None) -> bool | None:
    """For a tax-handler entry, whether its person is bound to the enterprise as tax handler now (the
    binding 解绑 ends); None for the other roles."""
    if entry.role is not Role.TAX_HANDLER:
        return None
    return (
        collected is not None
        and await repo.enterprises.binding(collected.id, entry.enterprise_id, Role.TAX_HANDLER) is not None
    )


async def check(
    repo: Repositories,
    actor: Actor,
    entry: EnterprisePerson,
    *,
    revoke: bool,
    now: datetime,
    stepup_minutes: int,
) -> HandlerCheck:
    """May ``actor`` authorise (``revoke``: revoke) the person of register ``entry`` now?"""
    enterprise = await repo.enterprises.get_by_id(entry.enterprise_id)
    collected = await repo.persons.find_by_document(entry.doc_type, entry.number)
    decision = (
        may_authorise_tax_handler(
            actor,
            enterprise,
            entry,
            collected=collected is not None,
            bound=bool(await handler_bound(repo, entry, collected)),
            revoke=revoke,
            now=now,
            stepup_minutes=stepup_minutes,
        )
        if enterprise is not None
        else Decision(Denial.OTHER_ENTERPRISE)
    )
    return HandlerCheck(decision, enterprise, collected)


async def set_tax_handler(
    repo: Repositories,
    actor_user_id: int,
    maintainer: Person,
    entry: EnterprisePerson,
    *,
    revoke: bool,
    now: datetime,
    stepup_minutes: int,
) -> Denial | None:
    """Bind the entry's person as its enterprise's tax handler, by ``maintainer`` acting from the
    account ``actor_user_id`` (``revoke``: end that binding, as 解绑 does), with an audit row; the
    refusal when the rule forbids it now."""
    enterprises = repo.enterprises
    async with repo.db.transaction():
        actor = await actor_for(repo, actor_user_id, maintainer)
        found = await check(repo, actor, entry, revoke=revoke, now=now, stepup_minutes=stepup_minutes)
        if found.decision.denial is not None:
            return found.decision.denial
        person = found.person
        assert person is not None  # allowed implies collected
        if revoke:
            if not await enterprises.unbind(
                person.id, entry.enterprise_id, Role.TAX_HANDLER, unbound_by=actor_user_id
            ):
                return Denial.TARGET_NOT_AUTHORISED
        else:
            try:
                await enterprises.bind(
                    person.id, entry.enterprise_id, Role.TAX_HANDLER, bound_by=actor_user_id
                )
            except BindingExists:
                return Denial.TARGET_ALREADY_AUTHORISED
        # Beside the binding's own audit row: who acted for which register entry (as 维护 does).
        await repo.audit.write(
            actor_user_id,
            "enterprise.revoke_tax_handler" if revoke else "enterprise.authorise_tax_handler",
            "person",
            person.id,
            None,
            {
                "enterprise_id": entry.enterprise_id,
                "enterprise_person_id": entry.id,
                "role": str(entry.role),
            },
        )
    return None
