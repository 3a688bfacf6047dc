"""Who a logged-in person is for the policies (:mod:`bot.domain.policies`): register roles, bindings
and the last face step-up, read fresh from the records at every step."""

from __future__ import annotations

from bot.domain.models import Person
from bot.domain.policies import Actor
from bot.storage.repositories import Repositories

__all__ = ["actor_for"]


async def actor_for(repo: Repositories, user_id: int, person: Person | None) -> Actor:
    """What the policies need about ``person`` acting from the account ``user_id``."""
    if person is None:
        return Actor(None)
    doc = person.document
    return Actor(
        person_id=person.id,
        listed=await repo.enterprises.listed_roles(doc.doc_type, doc.number),
        bindings=await repo.enterprises.bindings_of(person.id),
        stepup_at=await repo.guards.stepup_at(user_id, person.id),
    )
