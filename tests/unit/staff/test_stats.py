"""Run statistics from verification events: started, completed, in review, abandoned per step."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from bot.domain.outcomes import EventOutcome
from bot.services.stats import RUN_OUTCOMES, ChartLabels, cjk_font, render_chart, summarize
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
    assert collect.refused_at == {"card": 1}  # its last event a refusal
    assert collect.abandoned_at == {"consent": 1}
    assert collect.durations == [240.0, 600.0]
    assert collect.median_seconds == 420.0
    assert collect.step_outcomes["card"] == {"rejected": 1}
    assert summary.flows["supplement"].abandoned_at == {"start": 1}
    assert summary.rejections == {"idcard_blurry": 1}
    assert summary.backlog == 3
    assert summary.median_seconds == 420.0


def test_a_scripted_day() -> None:
    """One day of the desk, every figure stated beforehand: each run has exactly one outcome; a
    refused re-entry is no run; an approval is credited to the run sent to review; a 补录 told
    "该证件已实名采集" is answered, not abandoned; every refusal is counted by its reason."""
    events = [
        # A: collection → review; tries again twice while waiting (refused entries); approved.
        ev(0, 1, "start", EventOutcome.STARTED),
        ev(1, 1, "card_front", EventOutcome.REJECTED, "idcard_blurry"),
        ev(5, 1, "face", EventOutcome.REVIEW, "review_identity_corrected"),
        ev(10, 1, "start", EventOutcome.STARTED),
        ev(10, 1, "entry", EventOutcome.BLOCKED, "entry_in_review"),
        ev(11, 1, "start", EventOutcome.STARTED),
        ev(11, 1, "entry", EventOutcome.BLOCKED, "entry_in_review"),
        ev(60, 1, "save", EventOutcome.COMPLETED),  # the approval
        # A again, already collected: refused entry, no run.
        ev(70, 1, "start", EventOutcome.STARTED),
        ev(70, 1, "entry", EventOutcome.BLOCKED, "entry_already_linked"),
        # B: review, rejected by staff; then a new run completed in 3 minutes.
        ev(0, 2, "start", EventOutcome.STARTED),
        ev(4, 2, "face", EventOutcome.REVIEW, "face_match_uncertain"),
        ev(30, 2, "review", EventOutcome.REJECTED, "review_reject_face_mismatch"),
        ev(40, 2, "start", EventOutcome.STARTED),
        ev(43, 2, "save", EventOutcome.COMPLETED),
        # C: the face check fails twice, then the session pauses (refused at the face).
        ev(0, 3, "start", EventOutcome.STARTED),
        ev(3, 3, "face", EventOutcome.REJECTED, "liveness_no_action"),
        ev(4, 3, "face", EventOutcome.REJECTED, "face_mismatch"),
        # D: leaves at the consent.
        ev(0, 4, "start", EventOutcome.STARTED),
        ev(2, 4, "consent_personal_info_protection", EventOutcome.CANCELLED),
        # E: 补录 of a complete record; then 补录 of a missing photo completed.
        ev(0, 5, "start", EventOutcome.STARTED, flow="supplement"),
        ev(0, 5, "check", EventOutcome.ANSWERED, "supplement_complete", flow="supplement"),
        ev(5, 5, "start", EventOutcome.STARTED, flow="supplement"),
        ev(8, 5, "save", EventOutcome.COMPLETED, flow="supplement"),
    ]
    summary = summarize(events, backlog=0)
    collect, supplement = summary.flows["collect"], summary.flows["supplement"]
    assert collect.started == 5  # A, B, B again, C, D: the four refused entries are no runs
    assert collect.outcome_counts() == {
        "completed": 2,  # A (by the approval), B's second run
        "in_review": 0,  # nothing waits: the backlog agrees
        "review_rejected": 1,  # B's first run
        "answered": 0,
        "refused": 1,  # C
        "abandoned": 1,  # D
    }
    assert sum(collect.outcome_counts().values()) == collect.started
    assert collect.blocked == {"entry_in_review": 2, "entry_already_linked": 1}
    assert collect.refused_at == {"face": 1}
    assert collect.abandoned_at == {"consent_personal_info_protection": 1}
    assert sorted(collect.durations) == [180.0, 3600.0]
    assert supplement.started == 2
    assert supplement.answered == 1 and supplement.completed == 1 and supplement.abandoned == 0
    assert summary.rejections == {
        "idcard_blurry": 1,
        "review_reject_face_mismatch": 1,
        "liveness_no_action": 1,
        "face_mismatch": 1,
    }
    assert "blocked" not in collect.step_outcomes.get("entry", {})


def test_nothing_recorded() -> None:
    summary = summarize([], backlog=0)
    assert summary.flows == {} and summary.median_seconds is None


def _labels(font: str | None = None) -> ChartLabels:
    return ChartLabels(
        title="统计：today",
        runs="各功能办理结果",
        rejections="未通过原因",
        count_axis="次数",
        no_data="该期间没有数据",
        outcomes={o: o for o in RUN_OUTCOMES},
        flows={"collect": "实名信息采集"},
        reasons={"idcard_blurry": "照片模糊"},
        font=font,
    )


def test_chart_is_a_png_even_when_empty() -> None:
    assert render_chart(summarize([], 0), _labels(cjk_font())).startswith(b"\x89PNG")
    events = [
        ev(0, 1, "start", EventOutcome.STARTED),
        ev(1, 1, "card", EventOutcome.REJECTED, "idcard_blurry"),
    ]
    assert render_chart(summarize(events, 1), _labels(cjk_font())).startswith(b"\x89PNG")


def test_chart_axes_count_in_integers_and_say_no_data() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    events = [ev(0, 1, "start", EventOutcome.STARTED), ev(1, 1, "save", EventOutcome.COMPLETED)]
    figures: list[object] = []
    original = plt.close

    def keep(fig: object = None) -> None:
        figures.append(fig)

    plt.close = keep  # type: ignore[assignment]
    try:
        render_chart(summarize(events, 0), _labels(cjk_font()))
    finally:
        plt.close = original  # type: ignore[assignment]
    (fig,) = figures
    left, right = fig.axes  # type: ignore[attr-defined]
    ticks = [t for t in left.get_xticks() if 0 <= t <= 1]
    assert all(float(t).is_integer() for t in ticks)
    assert [t.get_text() for t in left.get_yticklabels()] == ["实名信息采集"]
    assert any(t.get_text() == "该期间没有数据" for t in right.texts)
    original(fig)


def test_every_recorded_step_and_outcome_has_words_in_both_languages() -> None:
    """/stats speaks no codes: each step a dialog records (found in the source), each event outcome
    and each run outcome has a label in zh_CN and English."""
    import re
    from pathlib import Path

    from bot.domain.models import ConsentDocument
    from bot.i18n import Catalog

    root = Path(__file__).resolve().parents[3]
    source = "\n".join(p.read_text(encoding="utf-8") for p in (root / "bot").rglob("*.py"))
    steps = set(re.findall(r'events\.record\(\s*[^,()]+,\s*"([a-z_]+)"', source))
    # A function's success is recorded by the dialogs' ``complete(ctx, flow, step, …)``.
    steps |= set(re.findall(r'complete\(\s*ctx,\s*[^,()]+,\s*"([a-z_]+)"', source))
    steps |= {"card_front", "card_back", "card_edit", "authorise", "revoke", "save", "stepup"}
    steps |= {f"consent_{d.value}" for d in ConsentDocument}
    assert {"start", "face", "authority", "review", "entry", "check"} <= steps
    catalog = Catalog.load(root / "locales")
    for lang in ("zh_CN", "en"):
        for step in steps:
            assert catalog.has(f"staff.stats.step_name.{step}", lang), (lang, step)
        for outcome in EventOutcome:
            assert catalog.has(f"staff.stats.outcome.{outcome.value}", lang), (lang, outcome)
        for run in RUN_OUTCOMES:
            assert catalog.has(f"staff.stats.run.{run}", lang), (lang, run)


def test_stats_text_speaks_no_codes_in_either_language() -> None:
    from pathlib import Path

    from bot.handlers.staff.period import parse_period
    from bot.handlers.staff.stats import stats_text
    from bot.i18n import Catalog

    events = [
        ev(0, 1, "start", EventOutcome.STARTED),
        ev(1, 1, "card_front", EventOutcome.REJECTED, "image_too_blurry"),
        ev(2, 1, "face", EventOutcome.REJECTED, "liveness_no_action"),
        ev(3, 1, "stepup", EventOutcome.PASSED, flow="maintain"),
        ev(4, 2, "start", EventOutcome.STARTED, flow="change"),
        ev(5, 2, "face", EventOutcome.REVIEW, "face_match_uncertain", flow="change"),
        ev(6, 3, "start", EventOutcome.STARTED),
        ev(6, 3, "entry", EventOutcome.BLOCKED, "entry_in_review"),
    ]
    summary = summarize(events, backlog=1)
    catalog = Catalog.load(Path(__file__).resolve().parents[3] / "locales")
    period = parse_period("2026-11", T0)
    codes = ("card_front", "image_too_blurry", "liveness_no_action", "entry_in_review", "stepup")
    english = stats_text(catalog.translator("en"), summary, period)
    assert not [c for c in codes if c in english]  # English words may contain "face", "collect"
    chinese = stats_text(catalog.translator("zh_CN"), summary, period)
    words = ("collect", "change", "maintain", "face", "passed", "rejected", "started", "review")
    assert not [c for c in codes + words if c in chinese]
