"""The period of /stats and /audit, as staff type it. Days are China days (the bureau's business day).

Accepted: nothing (the last 7 days), ``today`` / ``今天``, ``7d`` (the last N days, today included),
``2026-11`` (a month), ``2026-11-27`` (a day), ``2026-11-01..2026-11-27`` (days, both included;
``~`` works as the separator too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot.domain.clock import CHINA, china_date

__all__ = ["DEFAULT_DAYS", "MAX_DAYS", "Period", "PeriodError", "parse_period"]

DEFAULT_DAYS = 7
# A longer export would be one huge message; a year covers every report staff asked for.
MAX_DAYS = 366

_DAYS = re.compile(r"^(\d{1,3})\s*(?:d|天)$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_RANGE = re.compile(r"^(\S+)\s*(?:\.\.|~|～)\s*(\S+)$")


class PeriodError(ValueError):
    """Not a period we understand."""


@dataclass(frozen=True)
class Period:
    first: date  # China days, both included
    last: date

    @property
    def start(self) -> datetime:
        """UTC start (inclusive)."""
        return datetime.combine(self.first, time(), CHINA).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """UTC end (exclusive): the start of the day after ``last``."""
        return datetime.combine(self.last + timedelta(days=1), time(), CHINA).astimezone(UTC)

    @property
    def label(self) -> str:
        if self.first == self.last:
            return self.first.isoformat()
        return f"{self.first.isoformat()}..{self.last.isoformat()}"


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PeriodError(text) from None


def parse_period(text: str, now: datetime) -> Period:
    """``now`` is aware (UTC); raises :class:`PeriodError` on anything else."""
    today = china_date(now)
    value = text.strip()
    if not value:
        period = Period(today - timedelta(days=DEFAULT_DAYS - 1), today)
    elif value.lower() in {"today", "今天"}:
        period = Period(today, today)
    elif match := _DAYS.match(value):
        days = int(match.group(1))
        if days < 1:
            raise PeriodError(value)
        period = Period(today - timedelta(days=days - 1), today)
    elif match := _MONTH.match(value):
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            raise PeriodError(value)
        first = date(year, month, 1)
        following = date(year + (month == 12), month % 12 + 1, 1)
        period = Period(first, following - timedelta(days=1))
    elif match := _RANGE.match(value):
        period = Period(_day(match.group(1)), _day(match.group(2)))
    else:
        day = _day(value)
        period = Period(day, day)
    if period.last < period.first or (period.last - period.first).days + 1 > MAX_DAYS:
        raise PeriodError(value)
    return period
