"""The periods staff type after /stats and /audit: China days, inclusive, bounded."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.handlers.staff.period import MAX_DAYS, Period, PeriodError, parse_period

# 2026-11-26 20:00 UTC is already 2026-11-27 04:00 in China.
NOW = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("", date(2026, 11, 21), date(2026, 11, 27)),
        ("today", date(2026, 11, 27), date(2026, 11, 27)),
        ("今天", date(2026, 11, 27), date(2026, 11, 27)),
        ("1d", date(2026, 11, 27), date(2026, 11, 27)),
        ("30d", date(2026, 10, 29), date(2026, 11, 27)),
        ("7天", date(2026, 11, 21), date(2026, 11, 27)),
        ("2026-02", date(2026, 2, 1), date(2026, 2, 28)),
        ("2026-12", date(2026, 12, 1), date(2026, 12, 31)),
        ("2026-11-03", date(2026, 11, 3), date(2026, 11, 3)),
        ("2026-11-01..2026-11-27", date(2026, 11, 1), date(2026, 11, 27)),
        ("2026-11-01 ~ 2026-11-02", date(2026, 11, 1), date(2026, 11, 2)),
    ],
)
def test_periods(text: str, first: date, last: date) -> None:
    assert parse_period(text, NOW) == Period(first, last)


@pytest.mark.parametrize(
    "text",
    ["yesterday", "0d", "2026-13", "2026-11-31", "2026-11-27..2026-11-01", "2024-01-01..2026-01-01", "1000d"],
)
def test_bad_periods(text: str) -> None:
    with pytest.raises(PeriodError):
        parse_period(text, NOW)


def test_bounds_are_china_midnights_in_utc() -> None:
    period = parse_period("2026-11-27", NOW)
    assert period.start == datetime(2026, 11, 26, 16, 0, tzinfo=UTC)
    assert period.end == datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    assert period.label == "2026-11-27"
    assert parse_period("2026-11-01..2026-11-02", NOW).label == "2026-11-01..2026-11-02"


def test_longest_period() -> None:
    period = parse_period(f"{MAX_DAYS}d", NOW)
    assert (period.last - period.first).days + 1 == MAX_DAYS
