"""How timestamps are stored: UTC ISO-8601 text with microseconds, so text order is time order."""

from __future__ import annotations

from datetime import UTC, date, datetime

# "Now" is not here: it is the injected clock (bot.domain.clock, Services.clock).
__all__ = ["date_from_db", "date_to_db", "from_db", "to_db"]


def to_db(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one (UTC)")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_db(text: str) -> datetime:
    return datetime.fromisoformat(text)


def date_to_db(day: date) -> str:
    return day.isoformat()


def date_from_db(text: str) -> date:
    return date.fromisoformat(text)
