"""Use cases of register loading (admins, /register): stage the accepted rows of a checked file with
its report, then load them on confirmation. Loading is one transaction with closing the staged load,
so a double press loads once and a failure loads nothing (the load stays pending for a retry)."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.domain.clock import china_date
from bot.domain.enterprise import RegisterRow
from bot.domain.identity import IdentityRecord
from bot.domain.policies import Denial, may_decide_load
from bot.domain.staff import RegisterLoad
from bot.services.registers import IDENTITY_REGISTRY, RegisterReport, decode_photo
from bot.storage.repositories import Repositories
from bot.verification.ids import DocumentType

__all__ = ["apply_load", "may_decide", "refuse_register", "register_today", "stage_load"]


async def refuse_register(repo: Repositories, staff_id: int, record: dict[str, Any]) -> int:
    """A register refused as a whole (nothing staged): its report is an audit row, the id returned
    (the report's pages are read from it)."""
    return await repo.audit.write(staff_id, "register.refused", "register_load", None, None, record)


async def may_decide(repo: Repositories, staff_id: int, load: RegisterLoad, at: str) -> Denial | None:
    """Whether ``staff_id`` may confirm / cancel ``load`` (``at``: which); a refusal is audited."""
    decision = may_decide_load(staff_id, load.uploaded_by)
    if decision.denial is not None:
        await repo.audit.write(
            staff_id,
            "register.refused_decision",
            "register_load",
            load.id,
            None,
            {"reason": str(decision.denial), "at": at, "uploaded_by": load.uploaded_by},
        )
    return decision.denial


def register_today(repo: Repositories) -> date:
    """The bureau's day (China time): it decides card expiry in the rows."""
    return china_date(repo.clock())


async def stage_load(
    repo: Repositories, staff_id: int, report: RegisterReport, record: dict[str, Any], file_name: str
) -> int:
    """Stage the report's accepted rows with the audit row of the report (``record``); returns the
    audit row's id (the report is paged from it)."""
    async with repo.db.transaction():
        load_id = await repo.staff.stage_load(
            report.kind,
            report.accepted,
            uploaded_by=staff_id,
            file_name=file_name,
            rejected=len(report.rejected),
        )
        return await repo.audit.write(staff_id, "register.report", "register_load", load_id, None, record)


async def apply_load(repo: Repositories, load: RegisterLoad, staff_id: int) -> int | None:
    """Load the staged rows and close the load; the number of rows loaded, or None when the load was
    confirmed or cancelled already. Raises :class:`bot.domain.errors.RegisterRejected` (nothing
    written) when the repository refuses the rows (its rules may be newer than the check)."""
    async with repo.db.transaction():
        if not await repo.staff.finish_load(load.id, applied=True, actor_user_id=staff_id):
            return None
        return await _apply_rows(repo, load.kind, load.rows, staff_id)


async def _apply_rows(repo: Repositories, kind: str, rows: list[dict[str, Any]], loaded_by: int) -> int:
    if kind == IDENTITY_REGISTRY:
        records = [
            IdentityRecord(
                DocumentType(r["doc_type"]),
                r["number"],
                r["name"],
                date.fromisoformat(r["birth_date"]) if r.get("birth_date") else None,
                decode_photo(r["photo"]) if r.get("photo") else None,
            )
            for r in rows
        ]
        return await repo.identity_registry.load(records, loaded_by=loaded_by)
    # The rows were checked when staged; checked again by the repository (its rules may be newer).
    await repo.enterprises.load(
        [RegisterRow(**r) for r in rows], loaded_by=loaded_by, today=register_today(repo)
    )
    return len(rows)
