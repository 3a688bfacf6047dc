"""Long staff lists split into pages with ◀ / ▶ buttons (Telegram refuses a message over 4,096
characters: an enterprise with 125 register people did not fit).

A page is rendered again from the records on each press (nothing is kept in memory: a restart or
another replica serves the next page as well), by the handler that owns the list; this module only
cuts lines into pages and builds the buttons.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardMarkup

from bot.handlers.staff.common import staff_button
from bot.i18n import Translator

# Room for the header and the page line below Telegram's 4,096 characters (counted after entities
# are parsed; the HTML tags of the templates make the raw text somewhat longer).
PAGE_CHARS = 3500
PAGE_ROWS = 25


def paginate(rows: Sequence[str], *, budget: int = PAGE_CHARS, max_rows: int = PAGE_ROWS) -> list[list[str]]:
    """Rows cut into pages of at most ``max_rows`` rows and ``budget`` characters; never empty
    (one empty page for no rows). A single row longer than the budget is a page of its own, cut."""
    pages: list[list[str]] = [[]]
    used = 0
    for row in rows:
        row = row if len(row) <= budget else row[: budget - 1] + "…"
        page = pages[-1]
        if page and (len(page) >= max_rows or used + len(row) + 1 > budget):
            pages.append([])
            page, used = pages[-1], 0
        page.append(row)
        used += len(row) + 1
    return pages


def clamp(page: int, pages: int) -> int:
    return min(max(page, 0), max(pages - 1, 0))


def page_keyboard(t: Translator, action: str, page: int, pages: int, key: str) -> InlineKeyboardMarkup | None:
    """◀ / ▶ buttons for page ``page`` (0-based) of ``pages``; None for a single page. ``key`` says
    which list (a taxpayer id, a person id, a report id) and must stay short (64-byte callback data)."""
    if pages <= 1:
        return None
    buttons = []
    if page > 0:
        buttons.append(staff_button(t("pages.previous"), action, page - 1, key))
    if page < pages - 1:
        buttons.append(staff_button(t("pages.next"), action, page + 1, key))
    return InlineKeyboardMarkup(inline_keyboard=[buttons])


def page_line(t: Translator, page: int, pages: int) -> str:
    return t("pages.indicator", page=page + 1, pages=pages) if pages > 1 else ""
