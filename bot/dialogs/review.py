"""Handing a finished dialog to staff review instead of saving it (采集, 补录, 变更).

The case keeps, encrypted, what the approval needs to save exactly what the dialog would have saved
(``payload``), and lists the dialog's photos for the reviewer; those stay on disk when the dialog
ends. The taxpayer is told that a person will decide and that they will be notified here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.dialogs.base import Ctx, end_dialog, home_button, keyboard
from bot.domain.models import ReviewKind
from bot.domain.outcomes import EventOutcome

__all__ = ["already_in_review", "dialog_media", "open_review", "tell_in_review", "waits_for_review"]


def dialog_media(data: Mapping[str, Any]) -> list[str]:
    """The photos of the dialog a reviewer looks at: card sides, portrait, authority photo, the on-site
    photo and the selfie frames kept for review."""
    card, other, face, checked = (dict(data.get(k) or {}) for k in ("card", "other", "face", "authority"))
    found = (
        card.get("front_media"),
        card.get("back_media"),
        card.get("portrait_media"),
        other.get("photo_media") or checked.get("photo_media"),
        face.get("media"),
        *face.get("review_media", []),
    )
    return [m for m in found if m]


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
    data = await ctx.get()
    flow = str(data.get("flow"))
    media = dialog_media(data)
    codes = list(dict(data.get("face") or {}).get("reasons", [])) if reasons is None else reasons
    async with ctx.repo.db.transaction():
        # Checked in the serial transaction that opens the case: a case opened since the entry check
        # (two updates at once, the same account in another chat) is seen, and no second one opens.
        waiting = await waits_for_review(ctx, flow)
        if not waiting:
            await ctx.repo.review.open_case(
                kind, ctx.user_id, reasons=codes, media_ids=media, payload=payload, person_id=person_id
            )
    if waiting:
        await tell_in_review(ctx, in_review_key, flow)
        return
    await ctx.repo.events.record(
        flow, step, EventOutcome.REVIEW, user_id=ctx.user_id, reason_code=codes[0] if codes else str(kind)
    )
    await end_dialog(ctx.state, ctx.services, keep=frozenset(media))
    await ctx.say(ctx.t(say_key), keyboard([home_button(ctx.t)]))


async def waits_for_review(ctx: Ctx, flow: str) -> bool:
    """Whether this account has an open case of ``flow``. A rejected, approved or erased case is no
    longer open, so the function may be used again. A case without a flow in its payload is a
    collection, as the approval reads it (bot/handlers/staff/review.py)."""
    cases = await ctx.repo.review.open_for_user(ctx.user_id)
    return any((case.payload.get("flow") or "collect") == flow for case in cases)


IN_REVIEW_BLOCK = "entry_in_review"


async def tell_in_review(ctx: Ctx, say_key: str, flow: str | None = None) -> None:
    """End the dialog (its uploads go: the waiting case keeps its own) and tell the user ``say_key``.
    The refusal is recorded as ``blocked``: for the statistics it is no new run (an approval of the
    waiting case belongs to the run that was sent to review)."""
    name = flow or str((await ctx.get()).get("flow") or "")
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
