"""/stats [period] (admins): runs per flow by outcome, each step's outcomes, refusals by reason, review
backlog, median time to complete; as text and as a PNG chart, every label in the reader's language."""

from __future__ import annotations

import asyncio

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, Message

from bot.handlers.staff.common import ADMIN, HasRole, StaffCtx, command_args
from bot.handlers.staff.period import Period, PeriodError, parse_period
from bot.i18n import Translator
from bot.services.stats import RUN_OUTCOMES, ChartLabels, StatsSummary, cjk_font, render_chart, summarize
from bot.services.views import stats_viewed

# The chart's language when the server has no font that draws Chinese.
CHART_FALLBACK_LANGUAGE = "en"


def _duration(t: Translator, seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(round(seconds), 60)
    return t("staff.stats.duration", minutes=minutes, seconds=secs)


def flow_name(t: Translator, flow: str) -> str:
    key = "menu." + flow
    return t(key) if t.catalog.has(key, t.lang) else t("staff.stats.other_flow", code=flow)


def step_name(t: Translator, step: str) -> str:
    key = "staff.stats.step_name." + step
    return t(key) if t.catalog.has(key, t.lang) else t("staff.stats.other_step", code=step)


def stats_text(t: Translator, summary: StatsSummary, period: Period) -> str:
    lines = [t("staff.stats.title", period=period.label), ""]
    if not summary.flows:
        lines.append(t("staff.stats.no_events"))
    for name in sorted(summary.flows):
        f = summary.flows[name]
        lines.append(
            t(
                "staff.stats.flow",
                flow=flow_name(t, name),
                started=f.started,
                completed=f.completed,
                review=f.in_review,
                review_rejected=f.review_rejected,
                answered=f.answered,
                refused=f.refused,
                abandoned=f.abandoned,
                median=_duration(t, f.median_seconds),
            )
        )
        if f.blocked:
            lines.append(t("staff.stats.blocked", count=sum(f.blocked.values())))
        for step, outcomes in sorted(f.step_outcomes.items()):
            counts = "，".join(
                t("staff.stats.outcome_count", outcome=t("staff.stats.outcome." + o), count=n)
                for o, n in sorted(outcomes.items())
            )
            line = t("staff.stats.step", step=step_name(t, step), counts=counts)
            if f.refused_at.get(step):
                line += t("staff.stats.step_refused", count=f.refused_at[step])
            if f.abandoned_at.get(step):
                line += t("staff.stats.step_abandoned", count=f.abandoned_at[step])
            lines.append(line)
    lines.append("")
    lines.append(t("staff.stats.rejections"))
    lines += [
        t("staff.stats.rejection_row", reason=t.reason(code), count=n)
        for code, n in summary.rejections.most_common()
    ] or [t("staff.none")]
    lines.append("")
    lines.append(t("staff.stats.backlog", count=summary.backlog))
    lines.append(t("staff.stats.median", median=_duration(t, summary.median_seconds)))
    return "\n".join(lines)


def _first_sentence(text: str) -> str:
    """A reason's first sentence (what went wrong; the advice that follows is for the taxpayer)."""
    for stop in ("。", ". ", "："):
        head, found, _ = text.partition(stop)
        if found and head:
            return head
    return text


def chart_labels(t: Translator, summary: StatsSummary, period: Period, font: str | None) -> ChartLabels:
    return ChartLabels(
        title=t("staff.stats.chart_title", period=period.label),
        runs=t("staff.stats.chart_runs"),
        rejections=t("staff.stats.chart_rejections"),
        count_axis=t("staff.stats.chart_count"),
        no_data=t("staff.stats.chart_no_data"),
        outcomes={o: t("staff.stats.run." + o) for o in RUN_OUTCOMES},
        flows={name: flow_name(t, name) for name in summary.flows},
        reasons={code: _first_sentence(t.reason(code)) for code in summary.rejections},
        font=font,
    )


def chart_translator(t: Translator, font: str | None) -> Translator:
    """The reader's language, unless it needs a font the server lacks (then English, not boxes)."""
    if font is None and t.lang.startswith("zh"):
        return t.catalog.translator(CHART_FALLBACK_LANGUAGE)
    return t


def create_router() -> Router:
    router = Router(name="staff.stats")
    router.message.filter(HasRole(ADMIN))

    @router.message(Command("stats"))
    async def stats(message: Message, sc: StaffCtx) -> None:
        bot, t, repo = sc.bot, sc.t, sc.repo
        assert message.from_user is not None
        try:
            period = parse_period(command_args(message), repo.clock())
        except PeriodError:
            await message.answer(t("staff.period.invalid"))
            return
        events = await repo.events.between(period.start, period.end)
        summary = summarize(events, await repo.review.count_open())
        await stats_viewed(repo, message.from_user.id, period.label)
        await message.answer(stats_text(t, summary, period))
        # matplotlib is CPU work: off the event loop so other users are not kept waiting.
        font = await asyncio.to_thread(cjk_font)
        labels = chart_labels(chart_translator(t, font), summary, period, font)
        png = await asyncio.to_thread(render_chart, summary, labels)
        await bot.send_photo(
            message.chat.id,
            BufferedInputFile(png, f"stats_{period.label}.png"),
            caption=t("staff.stats.chart", period=period.label),
        )

    return router
