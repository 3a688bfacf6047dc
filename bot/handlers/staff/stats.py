"""/stats [period] (admins): runs started / completed / abandoned per step, rejections by reason,
review backlog, median time to complete; as text and as a PNG chart."""

from __future__ import annotations

import asyncio

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, Message

from bot.handlers.staff.common import ADMIN, HasRole, command_args
from bot.handlers.staff.period import Period, PeriodError, parse_period
from bot.i18n import Translator
from bot.services.stats import StatsSummary, render_chart, summarize
from bot.storage.repositories import Repositories

# Chart legends stay ASCII: the server may have no CJK font (see render_chart).
CHART_LABELS = ("completed", "in review", "abandoned", "rejections by reason")


def _duration(t: Translator, seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(round(seconds), 60)
    return t("staff.stats.duration", minutes=minutes, seconds=secs)


def stats_text(t: Translator, summary: StatsSummary, period: Period) -> str:
    lines = [t("staff.stats.title", period=period.label), ""]
    if not summary.flows:
        lines.append(t("staff.stats.no_events"))
    for name in sorted(summary.flows):
        f = summary.flows[name]
        lines.append(
            t(
                "staff.stats.flow",
                flow=name,
                started=f.started,
                completed=f.completed,
                review=f.in_review,
                abandoned=f.abandoned,
                median=_duration(t, f.median_seconds),
            )
        )
        for step, outcomes in sorted(f.step_outcomes.items()):
            counts = ", ".join(f"{outcome} {n}" for outcome, n in sorted(outcomes.items()))
            stopped = f.abandoned_at.get(step, 0)
            lines.append(t("staff.stats.step", step=step, counts=counts, abandoned=stopped))
    lines.append("")
    lines.append(t("staff.stats.rejections"))
    lines += [
        t("staff.stats.rejection_row", reason=t.reason(code), code=code, count=n)
        for code, n in summary.rejections.most_common()
    ] or [t("staff.none")]
    lines.append("")
    lines.append(t("staff.stats.backlog", count=summary.backlog))
    lines.append(t("staff.stats.median", median=_duration(t, summary.median_seconds)))
    return "\n".join(lines)


def create_router() -> Router:
    router = Router(name="staff.stats")
    router.message.filter(HasRole(ADMIN))

    @router.message(Command("stats"))
    async def stats(message: Message, bot: Bot, t: Translator, repo: Repositories) -> None:
        assert message.from_user is not None
        try:
            period = parse_period(command_args(message), repo.clock())
        except PeriodError:
            await message.answer(t("staff.period.invalid"))
            return
        events = await repo.events.between(period.start, period.end)
        summary = summarize(events, await repo.review.count_open())
        await repo.audit.write(
            message.from_user.id, "staff.stats", "report", None, None, {"period": period.label}
        )
        await message.answer(stats_text(t, summary, period))
        # matplotlib is CPU work: off the event loop so other users are not kept waiting.
        png = await asyncio.to_thread(render_chart, summary, f"{period.label}", CHART_LABELS)
        await bot.send_photo(
            message.chat.id,
            BufferedInputFile(png, f"stats_{period.label}.png"),
            caption=t("staff.stats.chart", period=period.label),
        )

    return router
