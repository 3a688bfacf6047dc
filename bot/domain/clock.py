"""The one clock and the one time zone of the product.

Stored times are UTC; everything a person reads, and every calendar decision (card expiry, "today" in
/stats, a China business day), is Asia/Shanghai. Code never asks the wall clock itself: it is handed a
:data:`Clock` (``Services.clock``), so a test, a replayed job or a moved system clock all see one time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

__all__ = ["CHINA", "Clock", "FixedClock", "china_date", "china_now", "system_clock"]

CHINA = ZoneInfo("Asia/Shanghai")

Clock = Callable[[], datetime]
"""Returns an aware UTC datetime."""


def system_clock() -> datetime:
    return datetime.now(UTC)


def china_now(clock: Clock) -> datetime:
    return clock().astimezone(CHINA)


def china_date(moment: datetime) -> date:
    """The China calendar day of an aware moment (23:59 China time is 15:59 UTC of the day before)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one")
    return moment.astimezone(CHINA).date()


class FixedClock:
    """A clock for tests and for one job run: returns the same moment until moved."""

    def __init__(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("naive datetime: pass an aware one")
        self.moment = moment.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.moment += timedelta(**delta)
