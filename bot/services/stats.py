"""Statistics of the verification flows over a period, from ``verification_events`` (no personal data).

A *run* is one go of a user through a flow: it begins at the flow's ``start`` event and ends at the
next ``start`` of the same user in the same flow, or at the end of the period. An entry the function
refused before any dialog (``blocked``: a case of the flow waits for review, the account is already
linked) is no run: its events go back to the run it repeats, so an approval arriving later is
credited to the run that was sent to review.

Each run has exactly one outcome (``RUN_OUTCOMES``): completed (a ``completed`` event, the approval of
its review included); in review (sent to staff, not decided yet); rejected in review; answered (the
function told the user there was nothing to do, e.g. 补录 of a complete record); refused (its last
event a refusal: a pause after the last try, the authority's "no", another number); abandoned
otherwise, at the step of its last event. Every refusal is counted by its reason as well.
"""

from __future__ import annotations

import io
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.domain.outcomes import EventOutcome
from bot.storage.repositories.events import VerificationEvent

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.font_manager import FontProperties

__all__ = [
    "RUN_OUTCOMES",
    "ChartLabels",
    "FlowStats",
    "StatsSummary",
    "cjk_font",
    "render_chart",
    "summarize",
]

START_STEP = "start"
REVIEW_STEP = "review"  # the staff decision on a case (bot/handlers/staff/review.py)
RUN_OUTCOMES = ("completed", "in_review", "review_rejected", "answered", "refused", "abandoned")


@dataclass
class FlowStats:
    started: int = 0  # runs begun in the period
    completed: int = 0  # runs completed in the period (a late approval of an earlier run included)
    in_review: int = 0
    review_rejected: int = 0
    answered: int = 0
    refused_at: Counter[str] = field(default_factory=Counter)  # step → runs that ended refused there
    abandoned_at: Counter[str] = field(default_factory=Counter)  # step → runs that stopped there
    blocked: Counter[str] = field(default_factory=Counter)  # reason → entries refused (no run)
    step_outcomes: dict[str, Counter[str]] = field(default_factory=dict)  # step → outcome → count
    durations: list[float] = field(default_factory=list)  # seconds, start → completed

    @property
    def abandoned(self) -> int:
        return sum(self.abandoned_at.values())

    @property
    def refused(self) -> int:
        return sum(self.refused_at.values())

    @property
    def median_seconds(self) -> float | None:
        return statistics.median(self.durations) if self.durations else None

    def outcome_counts(self) -> dict[str, int]:
        return {
            "completed": self.completed,
            "in_review": self.in_review,
            "review_rejected": self.review_rejected,
            "answered": self.answered,
            "refused": self.refused,
            "abandoned": self.abandoned,
        }


@dataclass
class StatsSummary:
    flows: dict[str, FlowStats]
    rejections: Counter[str]  # reason code → count
    backlog: int  # open review cases now

    @property
    def median_seconds(self) -> float | None:
        every = [d for f in self.flows.values() for d in f.durations]
        return statistics.median(every) if every else None


def _classify(stats: FlowStats, run: list[VerificationEvent]) -> None:
    stats.started += 1
    done = next((e for e in run if e.outcome is EventOutcome.COMPLETED), None)
    if done is not None:
        stats.completed += 1
        stats.durations.append((done.at - run[0].at).total_seconds())
        return
    sent = next((i for i, e in enumerate(run) if e.outcome is EventOutcome.REVIEW), None)
    if sent is not None:
        decided = any(e.step == REVIEW_STEP and e.outcome is EventOutcome.REJECTED for e in run[sent + 1 :])
        if decided:
            stats.review_rejected += 1
        else:
            stats.in_review += 1
        return
    last = run[-1]
    if last.outcome is EventOutcome.ANSWERED:
        stats.answered += 1
    elif last.outcome is EventOutcome.REJECTED:
        stats.refused_at[last.step] += 1
    else:
        stats.abandoned_at[last.step] += 1


def summarize(events: Iterable[VerificationEvent], backlog: int) -> StatsSummary:
    flows: dict[str, FlowStats] = defaultdict(FlowStats)
    rejections: Counter[str] = Counter()
    runs: list[list[VerificationEvent]] = []
    current: dict[tuple[str, int | None], list[VerificationEvent]] = {}
    previous: dict[tuple[str, int | None], list[VerificationEvent] | None] = {}
    for event in sorted(events, key=lambda e: (e.at, e.id)):
        stats = flows[event.flow]
        key = (event.flow, event.user_id)
        if event.outcome is EventOutcome.BLOCKED:
            stats.blocked[event.reason_code or "unknown"] += 1
            run = current.pop(key, None)
            if run is not None:
                # The refused entry's own start is no run; the run it repeats goes on.
                runs.remove(run)
                earlier = previous.pop(key, None)
                if earlier is not None:
                    current[key] = earlier
            continue
        stats.step_outcomes.setdefault(event.step, Counter())[str(event.outcome)] += 1
        if event.outcome is EventOutcome.REJECTED:
            rejections[event.reason_code or "unknown"] += 1
        if event.step == START_STEP and event.outcome is EventOutcome.STARTED:
            previous[key] = current.get(key)
            run = [event]
            runs.append(run)
            current[key] = run
        elif key in current:
            current[key].append(event)
        elif event.outcome is EventOutcome.COMPLETED:
            # Completed in the period, started before it (a review approved days later): it counts
            # as completed, without a duration.
            stats.completed += 1
        elif event.step == REVIEW_STEP and event.outcome is EventOutcome.REJECTED:
            stats.review_rejected += 1
    for run in runs:
        _classify(flows[run[0].flow], run)
    # A flow whose only events were refused entries still shows (its blocked count).
    return StatsSummary(flows=dict(flows), rejections=rejections, backlog=backlog)


@dataclass(frozen=True)
class ChartLabels:
    """Every text of the chart, in the reader's language (the handler picks one the font can draw)."""

    title: str
    runs: str
    rejections: str
    count_axis: str
    no_data: str
    outcomes: Mapping[str, str]  # RUN_OUTCOMES → legend text
    flows: Mapping[str, str]  # flow code → name
    reasons: Mapping[str, str]  # reason code → short text
    font: str | None = None  # a font file that draws these labels (CJK); None: matplotlib's default


_COLOURS = {
    "completed": "#2e7d32",
    "in_review": "#f9a825",
    "review_rejected": "#6a1b9a",
    "answered": "#90a4ae",
    "refused": "#ef6c00",
    "abandoned": "#c62828",
}


def _wrap(text: str, width: int) -> str:
    """Line breaks every ``width`` characters: a long Chinese reason must not run off the chart."""
    return "\n".join(text[i : i + width] for i in range(0, len(text), width)) or text


def render_chart(summary: StatsSummary, labels: ChartLabels) -> bytes:
    """A PNG: runs per flow by outcome (horizontal bars, so long flow names stay readable) and
    refusals by reason; integer count axes; a "no data" note on an empty panel."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a server; must precede pyplot
    import matplotlib.pyplot as plt
    from matplotlib import font_manager
    from matplotlib.ticker import MaxNLocator

    prop = font_manager.FontProperties(fname=labels.font) if labels.font else None
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5.5), dpi=100)
    try:
        names = sorted(summary.flows)
        counts = {n: summary.flows[n].outcome_counts() for n in names}
        names = [n for n in names if any(counts[n].values())]
        if names:
            y = list(range(len(names)))[::-1]
            lefts = [0] * len(names)
            for outcome in RUN_OUTCOMES:
                values = [counts[n][outcome] for n in names]
                if any(values):
                    left.barh(
                        y,
                        values,
                        left=lefts,
                        label=labels.outcomes[outcome],
                        color=_COLOURS[outcome],
                    )
                    lefts = [a + b for a, b in zip(lefts, values, strict=True)]
            left.set_yticks(y, [_wrap(labels.flows.get(n, n), 10) for n in names], fontproperties=prop)
            left.legend(loc="lower right", fontsize="small", prop=prop)
        else:
            _no_data(left, labels.no_data, prop)
        left.set_title(labels.runs, fontproperties=prop)
        reasons = summary.rejections.most_common(10)
        if reasons:
            right.barh(list(range(len(reasons)))[::-1], [n for _, n in reasons], color="#1565c0")
            right.set_yticks(
                list(range(len(reasons)))[::-1],
                [_wrap(labels.reasons.get(code, code), 16) for code, _ in reasons],
                fontproperties=prop,
                fontsize="x-small",
            )
        else:
            _no_data(right, labels.no_data, prop)
        right.set_title(labels.rejections, fontproperties=prop)
        for ax in (left, right):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel(labels.count_axis, fontproperties=prop)
            ax.set_xlim(left=0)
        fig.suptitle(labels.title, fontproperties=prop)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(fig)


def _no_data(ax: Axes, text: str, prop: FontProperties | None) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontproperties=prop)
    ax.set_yticks([])


# Families that draw Chinese, in order of preference (Debian: fonts-wqy-zenhei, fonts-noto-cjk, ...).
_CJK_FAMILIES = (
    "Noto Sans CJK",
    "Source Han Sans",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "AR PL UMing",
)


def cjk_font() -> str | None:
    """The file of an installed font that draws Chinese, for the chart's labels; None without one."""
    from matplotlib import font_manager

    fonts = font_manager.fontManager.ttflist
    for family in _CJK_FAMILIES:
        for entry in fonts:
            if entry.name.startswith(family):
                return str(entry.fname)
    return None
