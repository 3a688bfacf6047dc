"""One clock: nothing in bot/ reads the wall clock except the clock itself and the process entries;
China days and China time as people read them."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from bot.config import REPO_ROOT
from bot.domain.clock import FixedClock, china_date, china_now
from bot.i18n import Catalog

CATALOG = Catalog.load(REPO_ROOT / "locales")

# Reading the wall clock: only the clock itself does (system_clock); the sandbox is a separate program
# (it emulates Telegram's servers, which have their own clock).
_WALL_CLOCK = re.compile(r"datetime\.now\(|datetime\.utcnow\(|date\.today\(|\butcnow\(|time\.time\(")
_ALLOWED = {
    "bot/domain/clock.py",
    # A command-line tool's default for --today (verification may not import domain).
    "bot/verification/idcard/__main__.py",
}
# Calling system_clock() directly instead of an injected clock: only process entries and schema stamps.
_DIRECT = re.compile(r"\bsystem_clock\(\)")
_DIRECT_ALLOWED = {"bot/domain/clock.py", "bot/cli.py", "bot/storage/db.py", "bot/storage/pg.py"}


def _sources() -> list[tuple[str, str]]:
    found = []
    for path in sorted((REPO_ROOT / "bot").rglob("*.py")):
        rel = path.relative_to(REPO_ROOT).as_posix()
        if rel.startswith("bot/sandbox/"):
            continue
        found.append((rel, path.read_text(encoding="utf-8")))
    return found


def test_nothing_reads_the_wall_clock_but_the_clock() -> None:
    offenders = [
        f"{rel}:{n}: {line.strip()}"
        for rel, text in _sources()
        if rel not in _ALLOWED
        for n, line in enumerate(text.splitlines(), 1)
        if _WALL_CLOCK.search(line)
    ]
    assert offenders == [], "use the injected clock (Services.clock, repo.clock, ctx.now()):\n" + "\n".join(
        offenders
    )


def test_the_system_clock_is_called_only_at_the_edges() -> None:
    offenders = [
        f"{rel}:{n}"
        for rel, text in _sources()
        if rel not in _DIRECT_ALLOWED
        for n, line in enumerate(text.splitlines(), 1)
        if _DIRECT.search(line)
    ]
    assert offenders == []


@pytest.mark.parametrize(
    ("utc", "day"),
    [
        (datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC), date(2026, 11, 30)),  # 23:59:59 in Beijing
        (datetime(2026, 11, 30, 16, 0, 0, tzinfo=UTC), date(2026, 12, 1)),  # 00:00 in Beijing
        (datetime(2028, 2, 29, 15, 59, 0, tzinfo=UTC), date(2028, 2, 29)),  # leap day's last minute
        (datetime(2028, 2, 29, 16, 0, 0, tzinfo=UTC), date(2028, 3, 1)),
        (datetime(2026, 12, 31, 16, 0, 0, tzinfo=UTC), date(2027, 1, 1)),  # the year turns in Beijing first
    ],
)
def test_the_china_day_turns_at_16_utc(utc: datetime, day: date) -> None:
    assert china_date(utc) == day
    assert china_now(FixedClock(utc)).date() == day


def test_naive_moments_are_refused() -> None:
    with pytest.raises(ValueError):
        china_date(datetime(2026, 12, 1, 12, 0))
    with pytest.raises(ValueError):
        FixedClock(datetime(2026, 12, 1, 12, 0))
    with pytest.raises(ValueError):
        CATALOG.translator("en").moment(datetime(2026, 12, 1, 12, 0))


def test_a_fixed_clock_moves_only_when_told() -> None:
    clock = FixedClock(datetime(2026, 11, 30, 15, 59, tzinfo=UTC))
    assert clock() == clock()
    clock.advance(minutes=1)
    assert clock() == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("lang", "shown"),
    [("zh_CN", "2026-12-02 02:22（北京时间）"), ("en", "2026-12-02 02:22 (China time)")],
)
def test_moments_read_in_china_time_with_the_zone(lang: str, shown: str) -> None:
    stored = datetime(2026, 12, 1, 18, 22, 41, tzinfo=UTC)
    assert CATALOG.translator(lang).moment(stored) == shown
