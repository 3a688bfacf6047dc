"""Use case: save a finished 实名采集信息补录 (guide §2), or hand it to staff review.

The on-site photo (and, on the expired-card path, the renewed card) is saved only when nothing is in
doubt: the face is no other collected person's (refused outright), the card was read (not typed), the
identity authority vouched for it, and the face check passed clearly. Typed card fields or a face near
the threshold go to a reviewer, whose approval saves what this would have saved
(:func:`bot.services.records.apply_supplement`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.domain.models import ReviewKind
from bot.services.records import apply_supplement
from bot.services.review_cases import SentToReview, WaitsForReview, open_review_case
from bot.storage.repositories import Repositories

__all__ = ["FaceOfAnother", "SupplementOutcome", "Supplemented", "save_supplement"]

FLOW = "supplement"


@dataclass(frozen=True)
class Supplemented:
    kept: frozenset[str]  # the media ids now part of the record


@dataclass(frozen=True)
class FaceOfAnother:
    """The selfie is another collected person's face: refused, nothing opened."""


SupplementOutcome = Supplemented | FaceOfAnother | SentToReview | WaitsForReview


async def save_supplement(
    repo: Repositories,
    user_id: int,
    person_id: int,
    data: Mapping[str, Any],
    *,
    typed: bool,
    identity_reasons: Sequence[str],
    payload: Mapping[str, Any],
    media_ids: Sequence[str],
    threshold: float,
) -> SupplementOutcome:
    """``data``: the dialog's data (the face check's outcome, the path, the new card, the consents)."""
    outcome = dict(data["face"])
    face_reasons = list(outcome.get("reasons", []))
    live = tuple(outcome["encoding"])
    if await repo.persons.nearest_face(live, threshold, exclude_person_id=person_id) is not None:
        return FaceOfAnother()
    kind: ReviewKind | None = None
    reasons: list[str] = []
    if not typed and identity_reasons:
        kind, reasons = ReviewKind.IDENTITY_UNVERIFIED, [*identity_reasons, *face_reasons]
    elif typed or outcome["decision"] != "pass":
        # Typed card fields, or a face near the threshold, are no proof that the new card or the photo
        # is this person's: a reviewer compares them.
        kind = ReviewKind.UNREADABLE_CARD if typed else ReviewKind.SUPPLEMENT_FACE_NEAR_THRESHOLD
        reasons = (["review_card_typed"] if typed else []) + [*identity_reasons, *face_reasons]
    if kind is not None:
        opened = await open_review_case(
            repo,
            user_id,
            FLOW,
            kind,
            person_id=person_id,
            payload=payload,
            reasons=reasons,
            media_ids=media_ids,
        )
        return SentToReview(kind, reasons) if opened else WaitsForReview()
    async with repo.db.transaction():
        kept = await apply_supplement(repo, person_id, data, actor_user_id=user_id, signer_user_id=user_id)
    return Supplemented(kept)
