"""/staff (what the user may do), /grant and /revoke (admins only)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.domain.policies import Denial
from bot.domain.staff import StaffRole
from bot.handlers.staff.common import ADMIN, ANY_STAFF, HasRole, StaffAct, StaffCtx, command_args
from bot.handlers.staff.pages import clamp, page_keyboard, page_line, paginate
from bot.i18n import Translator
from bot.services.staff_roles import SettingsAdmin, grant_role, revoke_role
from bot.services.views import admin_command_denied, console_viewed
from bot.storage.repositories import Repositories

# Commands by the least role that may use them, in the order /staff lists them.
REVIEWER_COMMANDS = ("staff", "review", "person", "enterprise")
ADMIN_COMMANDS = ("grant", "revoke", "stats", "audit", "deletions", "register")
MEMBERS_PAGE = "stf_pg"
# The commands and the counts above the members list take well under 1,000 characters.
MEMBERS_BUDGET = 2500


async def console_text(
    t: Translator, staff_role: StaffRole, repo: Repositories, page: int = 0
) -> tuple[str, InlineKeyboardMarkup | None]:
    """/staff: the commands, what is waiting, and for admins one page of the staff members."""
    commands = REVIEWER_COMMANDS + (ADMIN_COMMANDS if staff_role is StaffRole.ADMIN else ())
    lines = [t("staff.help.title", role=t("staff.role." + staff_role.value)), ""]
    lines += [t("staff.help." + c) for c in commands]
    # What is waiting, so a staff member sees at a glance whether there is work.
    lines += ["", t("staff.help.waiting_review", count=await repo.review.count_open())]
    if staff_role is not StaffRole.ADMIN:
        return "\n".join(lines), None
    pending = len(await repo.staff.open_deletion_requests())
    lines.append(t("staff.help.waiting_deletions", count=pending))
    members = await repo.staff.members()
    rows = [t("staff.members.row", user_id=m.user_id, role=t("staff.role." + m.role.value)) for m in members]
    pages = paginate(rows or [t("staff.members.none")], budget=MEMBERS_BUDGET)
    page = clamp(page, len(pages))
    lines += ["", t("staff.members.title"), *pages[page]]
    if len(pages) > 1:
        lines.append(page_line(t, page, len(pages)))
    return "\n".join(lines), page_keyboard(t, MEMBERS_PAGE, page, len(pages), "")


def create_router() -> Router:
    router = Router(name="staff.roles")
    router.message.filter(HasRole(ANY_STAFF))

    @router.message(Command("staff"))
    async def staff(message: Message, sc: StaffCtx) -> None:
        t, repo, staff_role = sc.t, sc.repo, sc.role
        assert message.from_user is not None
        text, keyboard = await console_text(t, staff_role, repo)
        await console_viewed(repo, message.from_user.id)
        await message.answer(text, reply_markup=keyboard)

    @router.callback_query(StaffAct.filter(F.a == MEMBERS_PAGE), HasRole(ADMIN))
    async def members_page(query: CallbackQuery, callback_data: StaffAct, sc: StaffCtx) -> None:
        t, repo, staff_role = sc.t, sc.repo, sc.role
        if not isinstance(query.message, Message):
            await query.answer()
            return
        text, keyboard = await console_text(t, staff_role, repo, callback_data.n)
        await console_viewed(repo, query.from_user.id, callback_data.n)
        await query.answer()
        await query.message.edit_text(text, reply_markup=keyboard)

    @router.message(Command("grant"), HasRole(ADMIN))
    async def grant(message: Message, sc: StaffCtx) -> None:
        t, repo, settings = sc.t, sc.repo, sc.settings
        assert message.from_user is not None
        parts = command_args(message).split()
        if len(parts) != 2 or not parts[0].isdigit() or parts[1] not in {r.value for r in StaffRole}:
            await message.answer(t("staff.grant.usage"))
            return
        user_id, role = int(parts[0]), StaffRole(parts[1])
        done = await grant_role(repo, settings.admin_ids, message.from_user.id, user_id, role)
        if isinstance(done, Denial):
            await message.answer(t("staff.grant.refused", reason=t.reason(done)))
        elif isinstance(done, SettingsAdmin):
            await message.answer(t("staff.grant.settings_admin", user_id=user_id))
        else:
            before = done.before
            await message.answer(
                t(
                    "staff.grant.done",
                    user_id=user_id,
                    role=t("staff.role." + role.value),
                    before=t("staff.role." + before.value) if before else "",
                )
            )

    @router.message(Command("revoke"), HasRole(ADMIN))
    async def revoke(message: Message, sc: StaffCtx) -> None:
        t, repo, settings = sc.t, sc.repo, sc.settings
        assert message.from_user is not None
        arg = command_args(message)
        if not arg.isdigit():
            await message.answer(t("staff.revoke.usage"))
            return
        user_id = int(arg)
        done = await revoke_role(repo, settings.admin_ids, message.from_user.id, user_id)
        if isinstance(done, SettingsAdmin):
            await message.answer(t("staff.grant.settings_admin", user_id=user_id))
            return
        key = "staff.revoke.done" if done.before else "staff.revoke.none"
        await message.answer(t(key, user_id=user_id))

    @router.message(Command(*ADMIN_COMMANDS), HasRole((StaffRole.REVIEWER,)))
    async def admin_only(message: Message, sc: StaffCtx) -> None:
        t, repo = sc.t, sc.repo
        # Reached only by reviewers (admins matched the handlers above or in the admin routers):
        # they know the console exists, so a clear refusal, recorded, rather than "unknown command".
        assert message.from_user is not None
        command = (message.text or "").split(maxsplit=1)[0].lstrip("/").split("@")[0]
        await admin_command_denied(repo, message.from_user.id, command)
        await message.answer(t("staff.admin_only"))

    return router
