"""Use cases of 实名信息维护 (guide §4) besides the tax-handler authorisation
(:mod:`bot.services.tax_handlers`): the maintainer's face step-up, and the new phone (verified by code)
and residence of a person of the maintainer's enterprise, with a row saying who acted for whom.

Each is one transaction; the per-field audit rows are the repositories'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.domain.enterprise import EnterprisePerson
from bot.domain.models import Consent
from bot.services.records import apply_edits
from bot.storage.repositories import Repositories

__all__ = ["pass_stepup", "save_maintenance"]


async def pass_stepup(
    repo: Repositories, user_id: int, maintainer_id: int, signed: Sequence[Consent]
) -> datetime:
    """The face step-up of ``maintainer_id`` passed in the chat of ``user_id``: its time (what
    :func:`bot.domain.policies.stepup_valid` reads) and the agreement the maintainer signed for it."""
    async with repo.db.transaction():
        at = await repo.guards.record_stepup(user_id, maintainer_id)
        await repo.persons.add_consents(maintainer_id, tuple(signed), telegram_user_id=user_id)
    return at


async def save_maintenance(
    repo: Repositories,
    maintainer_user_id: int,
    person_id: int,
    entry: EnterprisePerson,
    edits: Mapping[str, Any],
) -> list[str]:
    """维护 of the person of register ``entry`` by a maintainer of its enterprise. Returns what changed."""
    async with repo.db.transaction():
        changed = await apply_edits(repo, person_id, edits, actor_user_id=maintainer_user_id)
        await repo.audit.write(
            maintainer_user_id,
            "enterprise.maintain",
            "person",
            person_id,
            None,
            {
                "enterprise_id": entry.enterprise_id,
                "enterprise_person_id": entry.id,
                "role": str(entry.role),
                "changed": changed,
            },
        )
    return changed
