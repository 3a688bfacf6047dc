"""Last-resort error handler: log without personal data, apologise, keep the dialog state."""

from __future__ import annotations

import errno
import logging
import sqlite3

from aiogram import Router
from aiogram.types import ErrorEvent

from bot.domain.errors import DatabaseBusy
from bot.i18n import Catalog, language_for

log = logging.getLogger(__name__)

# too many connections, out of memory, lock not available, query cancelled (statement timeout),
# serialization failure, deadlock, admin shutdown, crash shutdown, cannot connect now
_PG_BUSY = frozenset({"53300", "53200", "55P03", "57014", "40001", "40P01", "57P01", "57P02", "57P03"})


def apology_key(exc: BaseException) -> str:
    """Which apology fits: storage faults the user can do nothing about but wait get their own words.

    SQLite says "database is locked" / "database is busy" when another process held the file longer
    than the busy timeout, and "database or disk is full" (SQLITE_FULL); writing a media file on a full
    disk raises ENOSPC (or EDQUOT over a quota). PostgreSQL's errors carry a SQLSTATE: disk full
    (53100), or a server that is overloaded, restarting or unreachable, or a lock not granted within
    ``lock_timeout`` (see ``_PG_BUSY``); a pool with no free connection raises DatabaseBusy.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sqlite3.OperationalError):
            message = str(current).lower()
            if "full" in message:
                return "errors.disk_full"
            if "locked" in message or "busy" in message:
                return "errors.busy"
        if isinstance(current, DatabaseBusy):
            return "errors.busy"
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str):
            if sqlstate == "53100":
                return "errors.disk_full"
            if sqlstate in _PG_BUSY or sqlstate.startswith("08"):  # class 08: connection exceptions
                return "errors.busy"
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return "errors.disk_full"
        current = current.__cause__ or current.__context__
    return "common.error"


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
            await update.bot.send_message(user.id, t(apology_key(event.exception)))
        except Exception:  # the apology itself must never raise out of the error handler
            log.warning("could not send the apology for update %s", update.update_id)
        return True

    return router
