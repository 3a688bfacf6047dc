"""Staff of the tax bureau inside the bot: their roles, PIPL deletion requests, registers staged for loading.

``StaffRole`` is a staff member's role in the console; an enterprise person's role (法定代表人, 财务负责人,
办税人) is :class:`bot.domain.enterprise.Role`, a different thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["DeletionRequest", "DeletionStatus", "RegisterLoad", "StaffMember", "StaffRole"]


class StaffRole(StrEnum):
    ADMIN = "admin"  # everything, grants and revokes staff
    REVIEWER = "reviewer"  # review queue and look-ups only


class DeletionStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    REFUSED = "refused"


@dataclass(frozen=True)
class StaffMember:
    user_id: int
    role: StaffRole
    granted_by: int
    granted_at: datetime


@dataclass(frozen=True)
class DeletionRequest:
    id: int
    user_id: int
    person_id: int | None
    status: DeletionStatus
    requested_at: datetime
    decided_at: datetime | None = None
    decided_by: int | None = None
    note: str | None = None


@dataclass(frozen=True)
class RegisterLoad:
    id: int
    kind: str
    uploaded_by: int
    file_name: str | None
    rows: list[dict[str, Any]]
    accepted: int
    rejected: int
    status: str
    created_at: datetime
