"""Last-resort error handler: log without personal data, apologise, keep the dialog state."""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.types import ErrorEvent

from bot.i18n import Catalog, language_for

log = logging.getLogger(__name__)


def create_router() -> Router:
    router = Router(name="errors")

    @router.errors()
    async def on_error(event: ErrorEvent, catalog: Catalog) -> bool:
        update = event.update
        # Only the exception type and traceback: messages of exceptions raised on user input may
        # quote that input, which can be personal data.
        log.error(
            "update %s failed: %s",
            update.update_id,
            type(event.exception).__name__,
            exc_info=(type(event.exception), event.exception, event.exception.__traceback__),
        )
        user = update.event.from_user if hasattr(update.event, "from_user") else None
        if user is None or update.bot is None:
            return True
        t = catalog.translator(language_for(user.language_code, catalog.default))
        try:
            await update.bot.send_message(user.id, t("common.error"))
        except Exception:  # the apology itself must never raise out of the error handler
            log.warning("could not send the apology for update %s", update.update_id)
        return True

    return router
