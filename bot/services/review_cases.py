"""Use case: hand a finished dialog to staff review instead of saving it (采集, 补录, 变更).

The case keeps, encrypted, what the approval needs to save exactly what the dialog would have saved
(``payload``), and lists the dialog's photos for the reviewer. One account waits for at most one open
case of a function: the check is made again in the serial transaction that opens the case, so two
updates at once (or the same account in another chat) cannot open a second one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.domain.models import ReviewKind
from bot.storage.repositories import Repositories

__all__ = ["SentToReview", "WaitsForReview", "case_media", "open_review_case", "waits_for_review"]


@dataclass(frozen=True)
class SentToReview:
    """A use case handed the submission to a reviewer: the case is open, for these reasons."""

    kind: ReviewKind
    reasons: list[str]


@dataclass(frozen=True)
class WaitsForReview:
    """A case of this account's function is open already: nothing saved, nothing opened."""


def case_media(data: Mapping[str, Any]) -> list[str]:
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


async def waits_for_review(repo: Repositories, user_id: int, flow: str) -> bool:
    """Whether this account has an open case of ``flow``. A rejected, approved or erased case is no
    longer open, so the function may be used again. A case without a flow in its payload is a
    collection, as the approval reads it (bot/services/review_decisions.py)."""
    cases = await repo.review.open_for_user(user_id)
    return any((case.payload.get("flow") or "collect") == flow for case in cases)


async def open_review_case(
    repo: Repositories,
    user_id: int,
    flow: str,
    kind: ReviewKind,
    *,
    person_id: int | None,
    payload: Mapping[str, Any],
    reasons: Sequence[str],
    media_ids: Sequence[str],
) -> bool:
    """Open the case (its audit row is the repository's); False, and nothing opened, when the account
    already waits for a case of ``flow``."""
    async with repo.db.transaction():
        # Checked in the serial transaction that opens the case: a case opened since the entry check
        # is seen, and no second one opens.
        if await waits_for_review(repo, user_id, flow):
            return False
        await repo.review.open_case(
            kind, user_id, reasons=reasons, media_ids=media_ids, payload=payload, person_id=person_id
        )
    return True
