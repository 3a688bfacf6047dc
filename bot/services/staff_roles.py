"""Use cases of the staff console's roles (admins: /grant, /revoke): who may give whom a role is
``bot.domain.policies.may_grant_role`` (a refusal is an audit row); an admin by the settings
(``ADMIN_IDS``) is not changed from Telegram. The role change's own audit row is the repository's."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from bot.domain.policies import Denial, may_grant_role
from bot.domain.staff import StaffRole
from bot.storage.repositories import Repositories

__all__ = ["Changed", "SettingsAdmin", "grant_role", "revoke_role"]


@dataclass(frozen=True)
class Changed:
    """The role was changed; ``before`` is what the account had."""

    before: StaffRole | None


@dataclass(frozen=True)
class SettingsAdmin:
    """The account is an admin by the settings: nothing changed."""


async def grant_role(
    repo: Repositories, admin_ids: Collection[int], staff_id: int, user_id: int, role: StaffRole
) -> Changed | SettingsAdmin | Denial:
    decision = may_grant_role(staff_id, user_id)
    if decision.denial is not None:
        await repo.audit.write(
            staff_id,
            "staff.grant.refused",
            "telegram_user",
            user_id,
            None,
            {"role": str(role), "reason": str(decision.denial)},
        )
        return decision.denial
    if user_id in admin_ids:
        return SettingsAdmin()
    return Changed(await repo.staff.grant(user_id, role, granted_by=staff_id))


async def revoke_role(
    repo: Repositories, admin_ids: Collection[int], staff_id: int, user_id: int
) -> Changed | SettingsAdmin:
    if user_id in admin_ids:
        return SettingsAdmin()
    return Changed(await repo.staff.revoke(user_id, revoked_by=staff_id))
