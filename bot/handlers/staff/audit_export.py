"""/audit <period> (admins): the audit rows of the period as a CSV document, personal data masked.

Rows are masked when written (``AuditRepo``); they are masked again here because an export leaves
the system: a value that slipped through at write time must not leave with it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, Message

from bot.domain.clock import CHINA
from bot.domain.masking import mask_free_text, mask_record
from bot.domain.models import AuditEntry
from bot.handlers.staff.common import ADMIN, HasRole, StaffCtx, command_args
from bot.handlers.staff.period import PeriodError, parse_period
from bot.services.views import export_audit

# Times are China time with their offset written (a bare time would be read as local either way).
AT_COLUMN = "at (China time, UTC+08:00)"
COLUMNS = ("id", AT_COLUMN, "actor_user_id", "action", "subject_type", "subject_id", "before", "after")


def audit_csv(entries: Sequence[AuditEntry]) -> bytes:
    """UTF-8 with a BOM: Excel, which most bureau staff open CSVs with, needs it to show Chinese."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for e in entries:
        writer.writerow(
            [
                e.id,
                e.at.astimezone(CHINA).isoformat(timespec="seconds"),
                "" if e.actor_user_id is None else e.actor_user_id,
                e.action,
                e.subject_type,
                mask_free_text(e.subject_id or ""),
                ""
                if e.before is None
                else json.dumps(mask_record(e.before), ensure_ascii=False, sort_keys=True),
                ""
                if e.after is None
                else json.dumps(mask_record(e.after), ensure_ascii=False, sort_keys=True),
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def create_router() -> Router:
    router = Router(name="staff.audit")
    router.message.filter(HasRole(ADMIN))

    @router.message(Command("audit"))
    async def audit(message: Message, sc: StaffCtx) -> None:
        bot, t, repo = sc.bot, sc.t, sc.repo
        assert message.from_user is not None
        args = command_args(message)
        if not args:
            await message.answer(t("staff.audit.usage"))
            return
        try:
            period = parse_period(args, repo.clock())
        except PeriodError:
            await message.answer(t("staff.period.invalid"))
            return
        entries = await export_audit(repo, message.from_user.id, period.start, period.end, period.label)
        await bot.send_document(
            message.chat.id,
            BufferedInputFile(audit_csv(entries), f"audit_{period.label}.csv"),
            caption=t("staff.audit.caption", period=period.label, count=len(entries)),
        )

    return router
