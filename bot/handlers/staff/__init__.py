"""The staff console: tax-bureau staff run the service from Telegram.

One router per concern under one root whose outer middleware decides the user's staff role once per
update (:mod:`bot.handlers.staff.common`). Included before the dialogs and the fallback; a user who is
not staff matches nothing here and gets the fallback's answer, as for any unknown command.
"""

from __future__ import annotations

from aiogram import Router

from bot.handlers.staff import audit_export, deletion, lookup, register, review, roles, stats
from bot.handlers.staff.common import ANY_STAFF, HasRole, StaffRoleMiddleware

__all__ = ["create_router"]


def create_router() -> Router:
    root = Router(name="staff")
    middleware = StaffRoleMiddleware()
    root.message.outer_middleware(middleware)
    root.callback_query.outer_middleware(middleware)
    # Every handler below needs a staff role (each router's own filters say which): an update of
    # anyone else, i.e. almost every update, skips the seven routers in this one check (issue 22).
    root.message.filter(HasRole(ANY_STAFF))
    root.callback_query.filter(HasRole(ANY_STAFF))
    root.include_routers(
        roles.create_router(),
        review.create_router(),
        lookup.create_router(),
        stats.create_router(),
        audit_export.create_router(),
        deletion.create_router(),
        register.create_router(),
    )
    return root
