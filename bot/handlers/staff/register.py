"""Register loading (admins): send a CSV or XLSX as a document (or, for the identity registry, a ZIP of
the table and the authority's photos beside it); every row is checked and reported, the accepted
rows are staged, and nothing is loaded until the admin confirms. Loading is one
transaction with closing the staged load (the use cases :mod:`bot.services.register_loads`), so a
double press loads once and a failure loads nothing.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Mapping
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.domain.errors import RegisterRejected
from bot.domain.staff import RegisterLoad
from bot.handlers.staff.common import ADMIN, HasRole, StaffAct, StaffCtx, staff_button
from bot.handlers.staff.pages import clamp, page_keyboard, page_line, paginate
from bot.i18n import Translator
from bot.services.register_loads import apply_load, may_decide, refuse_register, register_today, stage_load
from bot.services.registers import (
    ENTERPRISES,
    MAX_FILE_BYTES,
    ZIP_MAX_BYTES,
    RegisterError,
    RegisterReport,
    read_bundle,
    read_table,
    validate_register,
)
from bot.storage.repositories import Repositories

log = logging.getLogger(__name__)

SUFFIXES = (".csv", ".xlsx", ".zip")
REPORT_PAGE = "reg_pg"
# The report's header (a file name of up to 255 characters) and the confirmation share the message
# with one page of rejected rows: Telegram's 4,096 characters minus room for both.
ROWS_BUDGET = 2800
# The audit rows a report is paged from (upload writes one, with every rejected line and its reasons).
_REPORT_ACTIONS = ("register.report", "register.refused")


def _is_register(message: Message) -> bool:
    name = (message.document.file_name or "") if message.document else ""
    return name.lower().endswith(SUFFIXES)


def report_record(report: RegisterReport, file_name: str) -> dict[str, Any]:
    """What the audit row of an upload keeps: enough to render every page of its report again (line
    numbers and reason codes only; no cell of the file)."""
    return {
        "kind": report.kind,
        "file": file_name,
        "accepted": len(report.accepted),
        "rejected": len(report.rejected),
        "rows": [[r.line, list(r.reasons)] for r in report.rejected],
    }


def report_page(t: Translator, record: Mapping[str, Any], page: int) -> tuple[str, int, int]:
    """(text, page, pages) of one page of a register report: the header, one page of rejected rows
    and the page line."""
    header = t(
        "staff.register.report",
        file=record["file"],
        kind=t("staff.register.kind_" + str(record["kind"])),
        accepted=record["accepted"],
        rejected=record["rejected"],
    )
    rows_ = [
        t("staff.register.rejected_row", line=line, reasons="; ".join(t.reason(c) for c in codes))
        for line, codes in record["rows"]
    ]
    pages = paginate(rows_, budget=ROWS_BUDGET)
    page = clamp(page, len(pages))
    lines = [header, *pages[page]]
    if len(pages) > 1:
        lines.append(page_line(t, page, len(pages)))
    return "\n".join(lines), page, len(pages)


def report_keyboard(
    t: Translator, entry_id: int, page: int, pages: int, load_id: int | None
) -> InlineKeyboardMarkup | None:
    """The page buttons, and while the load waits for a decision, confirm and cancel."""
    keyboard: list[list[InlineKeyboardButton]] = []
    paging = page_keyboard(t, REPORT_PAGE, page, pages, str(entry_id))
    if paging is not None:
        keyboard += paging.inline_keyboard
    if load_id is not None:
        keyboard.append([staff_button(t("staff.register.apply"), "reg_ok", load_id)])
        keyboard.append([staff_button(t("common.cancel"), "reg_no", load_id)])
    return InlineKeyboardMarkup(inline_keyboard=keyboard) if keyboard else None


def confirm_text(t: Translator, kind: str, accepted: int, enterprises: int) -> str:
    confirm = t("staff.register.confirm", accepted=accepted)
    if kind == ENTERPRISES:
        # Loading replaces the people of every enterprise the file names: say so before the press.
        confirm = t("staff.register.replaces", enterprises=enterprises) + "\n" + confirm
    return confirm


async def render_report(
    t: Translator, repo: Repositories, entry_id: int, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    """Page ``page`` of the report kept in audit row ``entry_id``, with the confirmation while its
    load is pending."""
    entry = await repo.audit.get(entry_id)
    assert entry is not None and entry.after is not None
    record = entry.after
    text, page, pages = report_page(t, record, page)
    load_id: int | None = None
    if entry.action == "register.report" and entry.subject_id is not None:
        load = await repo.staff.get_load(int(entry.subject_id))
        if load is not None and load.status == "pending":
            load_id = load.id
            text += "\n\n" + confirm_text(t, load.kind, load.accepted, int(record.get("enterprises", 0)))
    elif entry.action == "register.refused":
        text += "\n\n" + t("staff.register.nothing")
    return text, report_keyboard(t, entry_id, page, pages, load_id)


async def _refused(
    query: CallbackQuery, t: Translator, repo: Repositories, load: RegisterLoad, at: str
) -> bool:
    """True (audited, the admin told) when this admin may not confirm / cancel ``load``."""
    denial = await may_decide(repo, query.from_user.id, load, at)
    if denial is None:
        return False
    await query.answer(t.reason(denial), show_alert=True)
    return True


def create_router() -> Router:
    router = Router(name="staff.register")
    router.message.filter(HasRole(ADMIN))
    router.callback_query.filter(HasRole(ADMIN))

    @router.message(Command("register"))
    async def usage(message: Message, sc: StaffCtx) -> None:
        t = sc.t
        await message.answer(t("staff.register.usage"))

    @router.message(F.document, _is_register)
    async def upload(message: Message, sc: StaffCtx) -> None:
        bot, t, repo, settings = sc.bot, sc.t, sc.repo, sc.settings
        assert message.from_user is not None and message.document is not None
        document = message.document
        file_name = document.file_name or "register.csv"
        bundled = file_name.lower().endswith(".zip")
        limit = ZIP_MAX_BYTES if bundled else MAX_FILE_BYTES
        if document.file_size is not None and document.file_size > limit:
            await message.answer(t.reason("register_zip_too_large" if bundled else "register_too_large"))
            return
        buffer = io.BytesIO()
        try:
            await bot.download(document.file_id, destination=buffer)
        except Exception:
            log.warning("register download failed", exc_info=True)
            await message.answer(t.reason("upload_failed"))
            return
        if len(buffer.getvalue()) > limit:
            await message.answer(t.reason("register_zip_too_large" if bundled else "register_too_large"))
            return
        try:
            if bundled:
                # Unpacking (and inflating) is CPU work: off the event loop.
                bundle = await asyncio.to_thread(read_bundle, buffer.getvalue())
                table, photos = bundle.table, bundle.photos
            else:
                table, photos = read_table(buffer.getvalue(), file_name), {}
            report = validate_register(
                table, today=register_today(repo), max_rows=settings.register_max_rows, photos=photos
            )
        except RegisterError as exc:
            await message.answer(t.reason(exc.code))
            return
        record = report_record(report, file_name)
        if not report.accepted:
            entry_id = await refuse_register(repo, message.from_user.id, record)
        else:
            if report.kind == ENTERPRISES:
                record["enterprises"] = len({r["taxpayer_id"] for r in report.accepted})
            entry_id = await stage_load(repo, message.from_user.id, report, record, file_name)
        # Every rejected row is listed, a page at a time (the buttons page through the audit row).
        text, keyboard = await render_report(t, repo, entry_id, 0)
        await message.answer(text, reply_markup=keyboard)

    @router.callback_query(StaffAct.filter(F.a == REPORT_PAGE))
    async def report_page_pressed(query: CallbackQuery, callback_data: StaffAct, sc: StaffCtx) -> None:
        t, repo = sc.t, sc.repo
        entry = await repo.audit.get(int(callback_data.v)) if callback_data.v.isdigit() else None
        # Only the admin who uploaded the file pages its report (the audit row says who).
        if (
            entry is None
            or entry.action not in _REPORT_ACTIONS
            or entry.actor_user_id != query.from_user.id
            or not isinstance(query.message, Message)
        ):
            await query.answer(t("staff.register.report_gone"), show_alert=True)
            return
        text, keyboard = await render_report(t, repo, entry.id, callback_data.n)
        await query.answer()
        await query.message.edit_text(text, reply_markup=keyboard)

    @router.callback_query(StaffAct.filter(F.a == "reg_ok"))
    async def apply(query: CallbackQuery, callback_data: StaffAct, sc: StaffCtx) -> None:
        bot, t, repo = sc.bot, sc.t, sc.repo
        load = await repo.staff.get_load(callback_data.n)
        if load is None or load.status != "pending":
            await query.answer(t("staff.register.already_decided"), show_alert=True)
            return
        if await _refused(query, t, repo, load, "confirm"):
            return
        try:
            count = await apply_load(repo, load, query.from_user.id)
        except RegisterRejected as exc:
            # Nothing was written (one transaction); the staged load stays pending for a retry.
            await query.answer()
            reasons = "; ".join(t.reason(code) for code in exc.codes)
            await bot.send_message(query.from_user.id, t("staff.register.failed", reasons=reasons))
            return
        if count is None:
            await query.answer(t("staff.register.already_decided"), show_alert=True)
            return
        await query.answer()
        await bot.send_message(query.from_user.id, t("staff.register.applied", count=count, load_id=load.id))

    @router.callback_query(StaffAct.filter(F.a == "reg_no"))
    async def cancel(query: CallbackQuery, callback_data: StaffAct, sc: StaffCtx) -> None:
        bot, t, repo = sc.bot, sc.t, sc.repo
        load = await repo.staff.get_load(callback_data.n)
        if load is not None and load.status == "pending" and await _refused(query, t, repo, load, "cancel"):
            return
        if load is None or not await repo.staff.finish_load(
            load.id, applied=False, actor_user_id=query.from_user.id
        ):
            await query.answer(t("staff.register.already_decided"), show_alert=True)
            return
        await query.answer()
        await bot.send_message(query.from_user.id, t("staff.register.cancelled"))

    return router
