"""What every staff router shares: who is staff (and in which role), the staff buttons, and how a
taxpayer is told something in their own language.

The decision "is this user staff" is taken once per update by :class:`StaffRoleMiddleware` (an outer
middleware of the staff root router, so it runs before any staff filter) and is the one place that
decides it: ``ADMIN_IDS`` from the settings are admins, everyone else has the role an admin granted
(``staff_roles``) or none. Non-staff never match a staff handler and fall through to the fallback's
"unknown command", exactly like any unknown command.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.filters import Filter
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, Message, TelegramObject, User

from bot.config import Settings
from bot.domain.staff import StaffRole
from bot.i18n import Translator, language_for
from bot.services import Services
from bot.storage.repositories import Repositories
from bot.ui import home_keyboard

__all__ = [
    "ADMIN",
    "ANY_STAFF",
    "HasRole",
    "StaffAct",
    "StaffCtx",
    "StaffRoleMiddleware",
    "command_args",
    "notify_user",
    "role_of",
    "staff_button",
    "translator_for",
]

log = logging.getLogger(__name__)

ADMIN = (StaffRole.ADMIN,)
ANY_STAFF = (StaffRole.ADMIN, StaffRole.REVIEWER)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class StaffAct(CallbackData, prefix="st"):
    """A staff button. ``n`` is the record it acts on (case, request, load id)."""

    a: str
    n: int = 0
    v: str = ""


def staff_button(text: str, action: str, n: int = 0, v: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=StaffAct(a=action, n=n, v=v).pack())


async def role_of(user_id: int, settings: Settings, repo: Repositories) -> StaffRole | None:
    if user_id in settings.admin_ids:
        return StaffRole.ADMIN
    return await repo.staff.role_of(user_id)


def _may_concern_staff(event: TelegramObject) -> bool:
    """Only commands, documents (registers) and staff buttons can reach a staff handler; everything
    else skips the role look-up (one database read saved on almost every update)."""
    if isinstance(event, Message):
        return bool((event.text or "").startswith("/") or event.document is not None)
    if isinstance(event, CallbackQuery):
        return (event.data or "").startswith(StaffAct.__prefix__ + ":")
    return False


@dataclass
class StaffCtx:
    """What every staff handler takes (one argument, as a dialog step takes its ``ctx``): the staff
    member, their translator, the services and the per-update repositories."""

    bot: Bot
    user: User
    t: Translator
    services: Services
    repo: Repositories
    role: StaffRole
    settings: Settings

    @property
    def user_id(self) -> int:
        return self.user.id

    async def say(self, text: str, markup: Any = None, **kwargs: Any) -> Message:
        """A message to the staff member's own chat (staff work in their private chat with the bot)."""
        return await self.bot.send_message(self.user.id, text, reply_markup=markup, **kwargs)

    async def notify(self, user_id: int, compose: Callable[[Translator], str]) -> bool:
        """Tell a taxpayer what became of their case or request, in their own language (``compose``
        writes the text with their translator), with the home screen's buttons; False when Telegram
        refused the message (the decision stands)."""
        ut = await translator_for(user_id, self.services, self.repo)
        return await notify_user(self.bot, user_id, compose(ut), reply_markup=home_keyboard(ut))


class StaffRoleMiddleware(BaseMiddleware):
    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        role: StaffRole | None = None
        if user is not None and _may_concern_staff(event):
            role = await role_of(user.id, data["settings"], data["repo"])
        data["staff_role"] = role
        if role is not None and user is not None:
            data["sc"] = StaffCtx(
                data["bot"], user, data["t"], data["services"], data["repo"], role, data["settings"]
            )
        return await handler(event, data)


class HasRole(Filter):
    def __init__(self, roles: tuple[StaffRole, ...]) -> None:
        self.roles = roles

    async def __call__(self, event: TelegramObject, staff_role: StaffRole | None = None) -> bool:
        return staff_role is not None and staff_role in self.roles


def command_args(message: Message) -> str:
    """The text after the command (``/person 1381234...`` → ``1381234...``), stripped."""
    parts = (message.text or "").split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


async def translator_for(user_id: int, services: Services, repo: Repositories) -> Translator:
    """The language of a message sent to ``user_id`` outside their own update (a notice): the one
    they chose, else the one their Telegram client last reported, else the default (zh_CN)."""
    account = await repo.users.get(user_id)
    default = services.catalog.default
    if account is None:
        return services.catalog.translator(default)
    lang = account.language or language_for(account.telegram_language, default)
    return services.catalog.translator(lang)


async def notify_user(bot: Bot, user_id: int, text: str, **kwargs: Any) -> bool:
    """Tell a taxpayer something; False when Telegram refuses (blocked the bot, deleted account).
    A staff decision stands whether or not the message gets through."""
    try:
        await bot.send_message(user_id, text, **kwargs)
    except Exception:
        log.warning("could not notify a user", exc_info=True)
        return False
    return True
