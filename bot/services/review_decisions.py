"""Use cases of the review desk (/review): show the next case, reveal it in full, approve it, or
reject it with a reason. Staff access to a case is processing of personal information: every view,
reveal and refusal of the four-eyes rule is an audit row, written here.

Approving saves from the case's payload with the same functions the dialog's own use case uses
(:mod:`bot.services.records`: the collected record; 补录's new card / on-site photo; 变更's phone,
residence and re-link), in the serial transaction that closes the case, so two reviewers pressing at
once cannot both save, and a failed save leaves the case open. The four-eyes rule
(:mod:`bot.services.four_eyes`) is asked again in that transaction: a link or a binding made since the
case was shown counts. Each refusal of that rule is an audit row.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.errors import DuplicatePerson
from bot.domain.models import Person, ReviewCase
from bot.domain.outcomes import EventOutcome
from bot.domain.policies import Decision, Denial
from bot.services.closing import close_and
from bot.services.four_eyes import check_review, record_refusal
from bot.services.records import apply_change, apply_supplement, collected_record
from bot.storage.repositories import Repositories

__all__ = [
    "ALREADY_COLLECTED",
    "RECORD_GONE",
    "Decided",
    "approve_case",
    "case_flow",
    "case_person",
    "decidable_case",
    "next_case",
    "reject_case",
    "reveal_case",
]

ALREADY_COLLECTED = "review_reject_already_collected"
# 补录 / 变更 of a person erased (PIPL deletion) while the case waited.
RECORD_GONE = "review_reject_record_gone"


@dataclass(frozen=True)
class Decided:
    """What became of a decision: ``outcome`` is approved | rejected | duplicate | record_gone (the
    case closed; ``reason`` what the taxpayer is told), already_decided (another reviewer was first)
    or refused (the four-eyes rule; ``reason`` is its denial). ``case`` is the case as closed."""

    outcome: str
    reason: str | None = None
    case: ReviewCase | None = None


class _Refused(Exception):
    """The four-eyes rule forbids this staff member the decision (checked in its transaction)."""

    def __init__(self, denial: Denial) -> None:
        super().__init__(str(denial))
        self.denial = denial


def case_flow(case: ReviewCase) -> str:
    """The function whose dialog opened the case (a case without one is a collection)."""
    return str(case.payload.get("flow") or "collect")


async def next_case(repo: Repositories, staff_id: int, after: int = 0) -> tuple[ReviewCase, Decision] | None:
    """The oldest open case after ``after`` (wrapping round to cases skipped earlier), viewed by
    ``staff_id`` (audited), with whether the four-eyes rule lets them decide it (a refusal audited)."""
    case = await repo.review.next_open(after_id=after)
    if case is None and after:
        case = await repo.review.next_open()
    if case is None:
        return None
    await repo.audit.write(staff_id, "review.view", "review_case", case.id, None, None)
    decision = await check_review(repo, staff_id, case)
    if decision.denial is not None:
        await record_refusal(repo, staff_id, case, decision.denial, "view")
    return case, decision


async def decidable_case(
    repo: Repositories, staff_id: int, case_id: int, at: str
) -> ReviewCase | Denial | None:
    """The open case ``staff_id`` may decide; the four-eyes denial (audited, ``at`` the step), or
    None when the case is decided already or gone."""
    case = await repo.review.get(case_id)
    if case is None or case.status != "open":
        return None
    decision = await check_review(repo, staff_id, case)
    if decision.denial is not None:
        await record_refusal(repo, staff_id, case, decision.denial, at)
        return decision.denial
    return case


async def reveal_case(repo: Repositories, staff_id: int, case_id: int) -> ReviewCase | Denial | None:
    """The case in full for who may decide it (not the taxpayer themselves, nor a colleague of the
    same enterprise); every reveal is an audit row."""
    case = await decidable_case(repo, staff_id, case_id, "reveal")
    if isinstance(case, ReviewCase):
        await repo.audit.write(
            staff_id, "review.reveal", "review_case", case.id, None, {"person_id": case.person_id}
        )
    return case


async def case_person(repo: Repositories, staff_id: int, case_id: int) -> Person | None:
    """The stored person a case is about (or collides with), looked up by ``staff_id`` (audited)."""
    case = await repo.review.get(case_id)
    found = await repo.persons.get(case.person_id) if case and case.person_id is not None else None
    if found is not None:
        await repo.audit.write(
            staff_id,
            "staff.lookup.person",
            "person",
            found.id,
            None,
            {"query": f"review_case #{case_id}", "found": [found.id]},
        )
    return found


async def approve_case(repo: Repositories, case: ReviewCase, staff_id: int) -> Decided:
    """Close the case as approved and finish the record."""
    flow = case_flow(case)

    async def close() -> ReviewCase | None:
        decision = await check_review(repo, staff_id, case)
        if decision.denial is not None:
            raise _Refused(decision.denial)
        return await repo.review.decide(case.id, approved=True, staff_user_id=staff_id)

    async def save(_: ReviewCase) -> None:
        await _apply(case, flow, staff_id, repo)

    try:
        done = await close_and(repo, close, save)
    except _Refused as refused:
        await record_refusal(repo, staff_id, case, refused.denial, "approve")
        return Decided("refused", str(refused.denial))
    except DuplicatePerson:
        # Collected by someone else meanwhile: there must never be a second record for one number.
        return await _close_refused(case, staff_id, repo, "duplicate", ALREADY_COLLECTED)
    except LookupError:
        return await _close_refused(case, staff_id, repo, "record_gone", RECORD_GONE)
    if done is None:
        return Decided("already_decided")
    await repo.events.record(flow, "save", EventOutcome.COMPLETED, user_id=case.user_id)
    return Decided("approved", None, done[0])


async def reject_case(repo: Repositories, shown: ReviewCase, staff_id: int, reason: str) -> Decided:
    """Close the case as rejected for ``reason`` (a reason code the taxpayer is told)."""
    try:
        async with repo.db.transaction():
            decision = await check_review(repo, staff_id, shown)
            if decision.denial is not None:
                raise _Refused(decision.denial)
            case = await repo.review.decide(shown.id, approved=False, staff_user_id=staff_id, reason=reason)
    except _Refused as refused:
        await record_refusal(repo, staff_id, shown, refused.denial, "reject")
        return Decided("refused", str(refused.denial))
    if case is None:
        return Decided("already_decided")
    flow = case_flow(case)
    await repo.events.record(flow, "review", EventOutcome.REJECTED, user_id=case.user_id, reason_code=reason)
    return Decided("rejected", reason, case)


async def _apply(case: ReviewCase, flow: str, staff_id: int, repo: Repositories) -> None:
    """Save what the case's dialog would have saved (inside the caller's transaction)."""
    if not case.payload:
        return  # erased on request: nothing left to save
    if flow == "collect":
        await repo.persons.save_collected(
            collected_record(case.user_id, case.payload), actor_user_id=staff_id
        )
        return
    if case.person_id is None:
        raise LookupError("the person of the case was erased")
    if flow == "supplement":
        await apply_supplement(
            repo, case.person_id, case.payload, actor_user_id=staff_id, signer_user_id=case.user_id
        )
    elif flow == "change":
        await apply_change(repo, case.person_id, case.payload, actor_user_id=staff_id, user_id=case.user_id)


async def _close_refused(
    case: ReviewCase, staff_id: int, repo: Repositories, outcome: str, reason: str
) -> Decided:
    """The approval could not be saved (rolled back): close the case as refused, with ``reason``."""
    decided = await repo.review.decide(case.id, approved=False, staff_user_id=staff_id, reason=reason)
    return Decided(outcome, reason, decided) if decided else Decided("already_decided")
