"""Use case: a maintainer (法定代表人 / 财务负责人 after a face check, guide §4) authorises a register
person as the enterprise's tax handler (办税人), or ends that authorisation."""

from __future__ import annotations

from bot.domain.enterprise import EnterprisePerson, Role
from bot.domain.errors import BindingExists
from bot.domain.models import Person
from bot.storage.repositories import Repositories

__all__ = ["set_tax_handler"]


async def set_tax_handler(
    repo: Repositories, actor_user_id: int, person: Person, entry: EnterprisePerson, *, revoke: bool
) -> bool:
    """Bind ``person`` as the entry's enterprise's tax handler, by this maintainer (``revoke``: end that
    binding, as 解绑 does), with an audit row; False when there was nothing to do any more."""
    enterprises = repo.enterprises
    async with repo.db.transaction():
        if revoke:
            done = await enterprises.unbind(
                person.id, entry.enterprise_id, Role.TAX_HANDLER, unbound_by=actor_user_id
            )
        else:
            try:
                await enterprises.bind(
                    person.id, entry.enterprise_id, Role.TAX_HANDLER, bound_by=actor_user_id
                )
                done = True
            except BindingExists:
                done = False
        if done:
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
    return done
