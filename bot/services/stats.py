"""Statistics of the verification flows over a period, from ``verification_events`` (no personal data).

A *run* is one go of a user through a flow: it begins at the flow's ``start`` event and ends at the
next ``start`` of the same user in the same flow, or at the end of the period. A run is completed
when it has a ``completed`` event, under review when it was sent to staff and not completed (yet),
and abandoned otherwise, at the step of its last event.
"""

from __future__ import annotations

import io
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bot.domain.outcomes import EventOutcome
from bot.storage.repositories.events import VerificationEvent

__all__ = ["FlowStats", "StatsSummary", "render_chart", "summarize"]

START_STEP = "start"


@dataclass
class FlowStats:
    started: int = 0
    completed: int = 0
    in_review: int = 0
    abandoned_at: Counter[str] = field(default_factory=Counter)  # step → runs that stopped there
    step_outcomes: dict[str, Counter[str]] = field(default_factory=dict)  # step → outcome → count
    durations: list[float] = field(default_factory=list)  # seconds, start → completed

    @property
    def abandoned(self) -> int:
        return sum(self.abandoned_at.values())

    @property
    def median_seconds(self) -> float | None:
        return statistics.median(self.durations) if self.durations else None


@dataclass
class StatsSummary:
    flows: dict[str, FlowStats]
    rejections: Counter[str]  # reason code → count
    backlog: int  # open review cases now

    @property
    def median_seconds(self) -> float | None:
        every = [d for f in self.flows.values() for d in f.durations]
        return statistics.median(every) if every else None


def summarize(events: Iterable[VerificationEvent], backlog: int) -> StatsSummary:
    flows: dict[str, FlowStats] = defaultdict(FlowStats)
    rejections: Counter[str] = Counter()
    runs: dict[tuple[str, int | None], list[VerificationEvent]] = {}
    finished: list[list[VerificationEvent]] = []
    for event in sorted(events, key=lambda e: (e.at, e.id)):
        stats = flows[event.flow]
        stats.step_outcomes.setdefault(event.step, Counter())[str(event.outcome)] += 1
        if event.outcome is EventOutcome.REJECTED:
            rejections[event.reason_code or "unknown"] += 1
        key = (event.flow, event.user_id)
        if event.step == START_STEP and event.outcome is EventOutcome.STARTED:
            if key in runs:
                finished.append(runs.pop(key))
            runs[key] = [event]
        elif key in runs:
            runs[key].append(event)
        elif event.outcome is EventOutcome.COMPLETED:
            # Completed in the period, started before it (a review approved days later): it counts
            # as completed, without a duration.
            stats.completed += 1
    finished.extend(runs.values())
    for run in finished:
        stats = flows[run[0].flow]
        stats.started += 1
        done = next((e for e in run if e.outcome is EventOutcome.COMPLETED), None)
        if done is not None:
            stats.completed += 1
            stats.durations.append((done.at - run[0].at).total_seconds())
        elif any(e.outcome is EventOutcome.REVIEW for e in run):
            stats.in_review += 1
        else:
            stats.abandoned_at[run[-1].step] += 1
    return StatsSummary(flows=dict(flows), rejections=rejections, backlog=backlog)


def render_chart(summary: StatsSummary, title: str, labels: Sequence[str]) -> bytes:
    """A PNG: runs per flow (completed / in review / abandoned) and rejections by reason.

    Axis labels are the ASCII flow names and reason codes, so no CJK font is needed on the server;
    ``labels`` are the legend texts (completed, in review, abandoned, rejections) in ASCII as well.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display on a server; must precede pyplot
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.5), dpi=100)
    try:
        names = sorted(summary.flows) or ["-"]
        completed = [summary.flows[n].completed if n in summary.flows else 0 for n in names]
        review = [summary.flows[n].in_review if n in summary.flows else 0 for n in names]
        abandoned = [summary.flows[n].abandoned if n in summary.flows else 0 for n in names]
        left.bar(names, completed, label=labels[0], color="#2e7d32")
        left.bar(names, review, bottom=completed, label=labels[1], color="#f9a825")
        bottoms = [c + r for c, r in zip(completed, review, strict=True)]
        left.bar(names, abandoned, bottom=bottoms, label=labels[2], color="#c62828")
        left.set_title("runs")
        left.legend(loc="upper right", fontsize="small")
        reasons = summary.rejections.most_common(10)
        if reasons:
            right.barh([code for code, _ in reasons][::-1], [n for _, n in reasons][::-1], color="#1565c0")
        right.set_title(labels[3])
        right.tick_params(axis="y", labelsize="x-small")
        fig.suptitle(title)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(fig)
