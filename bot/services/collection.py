"""Use case: save a finished 实名信息采集 (guide §1), or hand it to staff review.

What decides it, after the dialog's face check:
- typed card fields (a card the engine could not read) → an ``unreadable_card`` case;
- an identity the authority did not vouch for (corrected, a permit without its photo, no answer) →
  ``identity_unverified``; a face near the threshold → ``face_near_threshold``;
- the number collected already: the same face is told "already collected" (and only then: the
  dialog never says it before the face check), another face → ``same_number_other_face``;
- the face of another collected number → ``same_face_other_number``.
Otherwise the record is saved, in the serial transaction that sees a case opened since the dialog's
entry (the account then waits for that decision) and a record saved meanwhile (never a second one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.domain.errors import DuplicatePerson
from bot.domain.models import CollectedRecord, Person, ReviewKind
from bot.services.review_cases import SentToReview, WaitsForReview, open_review_case, waits_for_review
from bot.storage.repositories import Repositories
from bot.verification.face.match import distance

__all__ = [
    "AlreadyCollected",
    "Collected",
    "CollectionOutcome",
    "SentToReview",
    "Submission",
    "WaitsForReview",
    "save_collection",
]

FLOW = "collect"


@dataclass(frozen=True)
class Submission:
    """What the dialog gathered and judged: the record to save, the face check's decision and
    reasons, whether the card was typed, the identity authority's reasons (none: verified), and what a
    review case would keep (the dialog's data and photos)."""

    user_id: int
    record: CollectedRecord
    face_decision: str
    face_reasons: Sequence[str] = ()
    typed: bool = False
    identity_reasons: Sequence[str] = ()
    payload: Mapping[str, Any] = field(default_factory=dict)
    media_ids: Sequence[str] = ()


@dataclass(frozen=True)
class Collected:
    person: Person


@dataclass(frozen=True)
class AlreadyCollected:
    """The number is collected (the same face, or a record saved since the checks)."""


CollectionOutcome = Collected | AlreadyCollected | SentToReview | WaitsForReview


def _review_kind(sub: Submission) -> tuple[ReviewKind | None, list[str]]:
    reasons = list(sub.face_reasons)
    if sub.typed:
        # The fields were typed from a card the engine could not read: a person compares them, and
        # the selfie, with the card photos.
        return ReviewKind.UNREADABLE_CARD, ["review_card_typed", *reasons, *sub.identity_reasons]
    if sub.identity_reasons:
        # A corrected identity (or a permit) without the authority's photo, an authority that did not
        # answer, a portrait that is not the selfie: a person compares read, typed and photos.
        return ReviewKind.IDENTITY_UNVERIFIED, [*sub.identity_reasons, *reasons]
    if sub.face_decision == "review":
        return ReviewKind.FACE_NEAR_THRESHOLD, reasons
    return None, reasons


async def save_collection(repo: Repositories, sub: Submission, *, threshold: float) -> CollectionOutcome:
    document, live = sub.record.document, sub.record.live_photo
    kind, reasons = _review_kind(sub)
    collided: int | None = None
    existing = await repo.persons.find_by_document(document.doc_type, document.number)
    if existing is not None and not sub.typed:
        # Told only now, after the face check, and only to the face of that record.
        stored = existing.live_photo
        if stored is not None and distance(live.encoding, stored.encoding) < threshold:
            return AlreadyCollected()
        kind, collided = ReviewKind.SAME_NUMBER_OTHER_FACE, existing.id
        reasons.append("review_number_collected_other_face")
    same_face = await repo.persons.nearest_face(live.encoding, threshold)
    if same_face is not None and collided is None:
        other = await repo.persons.get(same_face.person_id)
        if other is not None and other.document.number != document.number:
            if kind is None or kind is ReviewKind.FACE_NEAR_THRESHOLD:
                kind = ReviewKind.SAME_FACE_OTHER_NUMBER
            collided = same_face.person_id
            reasons.append("review_same_face_other_number")
    if kind is not None:
        opened = await open_review_case(
            repo,
            sub.user_id,
            FLOW,
            kind,
            person_id=collided,
            payload=sub.payload,
            reasons=reasons,
            media_ids=sub.media_ids,
        )
        return SentToReview(kind, reasons) if opened else WaitsForReview()
    try:
        async with repo.db.transaction():
            # A case opened since the entry (two updates at once, another chat) is seen here, in the
            # serial transaction that saves: the account waits for that decision instead.
            if await waits_for_review(repo, sub.user_id, FLOW):
                return WaitsForReview()
            person = await repo.persons.save_collected(sub.record, actor_user_id=sub.user_id)
    except DuplicatePerson:
        # Someone collected this number between our check and now: never a second record.
        return AlreadyCollected()
    return Collected(person)
