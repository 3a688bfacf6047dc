"""Run statistics from verification events: started, completed, in review, abandoned per step."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from bot.domain.outcomes import EventOutcome
from bot.services.stats import render_chart, summarize
from bot.storage.repositories.events import VerificationEvent

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
_ids = itertools.count(1)


def ev(
    minutes: float,
    user: int,
    step: str,
    outcome: EventOutcome,
    reason: str | None = None,
    flow: str = "collect",
) -> VerificationEvent:
    return VerificationEvent(
        id=next(_ids),
        at=T0 + timedelta(minutes=minutes),
        user_id=user,
        attempt_id=None,
        flow=flow,
        step=step,
        outcome=outcome,
        reason_code=reason,
        duration_ms=None,
    )


def test_runs_are_split_by_start_and_classified() -> None:
    events = [
        ev(0, 1, "start", EventOutcome.STARTED),
        ev(4, 1, "save", EventOutcome.COMPLETED),
        ev(0, 2, "start", EventOutcome.STARTED),
        ev(1, 2, "card", EventOutcome.REJECTED, "idcard_blurry"),
        # user 2 starts again and finishes in 10 minutes
        ev(20, 2, "start", EventOutcome.STARTED),
        ev(30, 2, "save", EventOutcome.COMPLETED),
        ev(0, 3, "start", EventOutcome.STARTED),
        ev(6, 3, "face", EventOutcome.REVIEW, "face_match_uncertain"),
        ev(0, 4, "start", EventOutcome.STARTED),
        ev(2, 4, "consent", EventOutcome.CANCELLED, "consent_declined"),
        ev(3, 5, "save", EventOutcome.COMPLETED),  # started before the period (a late approval)
        ev(0, 6, "start", EventOutcome.STARTED, flow="supplement"),
    ]
    summary = summarize(events, backlog=3)
    collect = summary.flows["collect"]
    assert collect.started == 5
    assert collect.completed == 3
    assert collect.in_review == 1
    assert collect.abandoned == 2
    assert collect.abandoned_at == {"card": 1, "consent": 1}
    assert collect.durations == [240.0, 600.0]
    assert collect.median_seconds == 420.0
    assert collect.step_outcomes["card"] == {"rejected": 1}
    assert summary.flows["supplement"].abandoned_at == {"start": 1}
    assert summary.rejections == {"idcard_blurry": 1}
    assert summary.backlog == 3
    assert summary.median_seconds == 420.0


def test_nothing_recorded() -> None:
    summary = summarize([], backlog=0)
    assert summary.flows == {} and summary.median_seconds is None


def test_chart_is_a_png_even_when_empty() -> None:
    labels = ("completed", "in review", "abandoned", "rejections")
    assert render_chart(summarize([], 0), "empty", labels).startswith(b"\x89PNG")
    events = [
        ev(0, 1, "start", EventOutcome.STARTED),
        ev(1, 1, "card", EventOutcome.REJECTED, "idcard_blurry"),
    ]
    assert render_chart(summarize(events, 1), "2026-11", labels).startswith(b"\x89PNG")
