"""Telling the taxpayer that a finished dialog went to staff review instead of being saved (采集, 补录,
变更); the case itself is opened by the use case :mod:`bot.services.review_cases`.

The dialog's photos stay on disk when the dialog ends (the case lists them). The taxpayer is told that
a person will decide and that they will be notified here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.dialogs import calls
from bot.dialogs.base import Ctx, end_dialog, home_button, keyboard
from bot.domain.models import ReviewKind
from bot.domain.outcomes import EventOutcome
from bot.services import review_cases

__all__ = ["already_in_review", "open_review", "tell_in_review", "tell_review", "waits_for_review"]


async def open_review(
    ctx: Ctx,
    kind: ReviewKind,
    person_id: int | None,
    payload: Mapping[str, Any],
    say_key: str,
    *,
    in_review_key: str,
    reasons: list[str] | None = None,
    step: str = "face",
) -> None:
    """Open the case, end the dialog keeping its photos, and tell the user (``say_key``); or, when
    the account already waits for a case of this flow, open none and tell ``in_review_key``."""
    data = await calls.view(ctx)
    flow = str(data["flow"])
    media = review_cases.case_media(data)
    face = calls.FaceResult.found(data)
    codes = (list(face.reasons) if face is not None else []) if reasons is None else reasons
    opened = await review_cases.open_review_case(
        ctx.repo,
        ctx.user_id,
        flow,
        kind,
        person_id=person_id,
        payload=payload,
        reasons=codes,
        media_ids=media,
    )
    if not opened:
        await tell_in_review(ctx, in_review_key, flow)
        return
    await tell_review(ctx, flow, kind, codes, media, say_key, step=step)


async def tell_review(
    ctx: Ctx,
    flow: str,
    kind: ReviewKind,
    codes: list[str],
    media: list[str],
    say_key: str,
    *,
    step: str = "face",
) -> None:
    """After a use case opened a case: end the dialog keeping its photos and tell the user ``say_key``."""
    await ctx.repo.events.record(
        flow, step, EventOutcome.REVIEW, user_id=ctx.user_id, reason_code=codes[0] if codes else str(kind)
    )
    await end_dialog(ctx.state, ctx.services, keep=frozenset(media))
    await ctx.say(ctx.t(say_key), keyboard([home_button(ctx.t)]))


async def waits_for_review(ctx: Ctx, flow: str) -> bool:
    """Whether this account has an open case of ``flow`` (the use case's rule)."""
    return await review_cases.waits_for_review(ctx.repo, ctx.user_id, flow)


IN_REVIEW_BLOCK = "entry_in_review"


async def tell_in_review(ctx: Ctx, say_key: str, flow: str | None = None) -> None:
    """End the dialog (its uploads go: the waiting case keeps its own) and tell the user ``say_key``.
    The refusal is recorded as ``blocked``: for the statistics it is no new run (an approval of the
    waiting case belongs to the run that was sent to review)."""
    name = flow or await calls.flow_of(ctx)
    if name:
        await ctx.repo.events.record(
            name, "entry", EventOutcome.BLOCKED, user_id=ctx.user_id, reason_code=IN_REVIEW_BLOCK
        )
    await end_dialog(ctx.state, ctx.services, bot=ctx.bot)
    await ctx.say(ctx.t(say_key), keyboard([home_button(ctx.t)]))


async def already_in_review(ctx: Ctx, flow: str, say_key: str) -> bool:
    """True (and the user told ``say_key``, the dialog ended) when this account already waits for a
    decision on a case of ``flow``: the same submission twice would only be decided twice."""
    if not await waits_for_review(ctx, flow):
        return False
    await tell_in_review(ctx, say_key, flow)
    return True
