"""The four-eyes rule of the review desk, fed from the records: who the deciding staff member is and
who the case's taxpayer is, as :class:`bot.domain.policies.ReviewParty` values; the rule itself is
:func:`bot.domain.policies.may_decide_review`.

Each side is widened to everything the records tie to it, so a second Telegram account, a document
typed on 【信息核实】 or a register listing cannot hide the relation:

- the staff member: their Telegram account, the person it is linked to, that person's document (by
  blind index), the enterprises that person is bound to or listed in;
- the taxpayer: the case's Telegram account, the person it is linked to, the case's person (补录 /
  变更: the subject; collection: the record it collides with), the person the case's document number
  is collected as, those persons' documents and the case's own, and every enterprise any of them is
  bound to or listed in.

Called when a case is shown and again inside the transaction that decides it.
"""

from __future__ import annotations

from typing import Any

from bot.domain.models import Person, ReviewCase
from bot.domain.policies import Decision, Denial, ReviewParty, may_decide_review
from bot.services.records import document_from_data
from bot.storage.repositories import Repositories
from bot.verification.ids import DocumentType

__all__ = ["check_review", "record_refusal"]


async def _widen(
    repo: Repositories,
    user_ids: set[int],
    persons: list[Person],
    documents: list[tuple[DocumentType, str]],
) -> ReviewParty:
    person_ids = {p.id for p in persons}
    documents = documents + [(p.document.doc_type, p.document.number) for p in persons]
    enterprises: set[int] = set()
    for person_id in person_ids:
        enterprises |= {b.enterprise_id for b in await repo.enterprises.bindings_of(person_id)}
    indexes: set[str] = set()
    for doc_type, number in dict.fromkeys(documents):
        if not number:
            continue
        indexes.add(repo.persons.document_index(doc_type, number))
        enterprises |= set(await repo.enterprises.listed_roles(doc_type, number))
    return ReviewParty(frozenset(user_ids), frozenset(person_ids), frozenset(indexes), frozenset(enterprises))


def _case_document(payload: dict[str, Any]) -> tuple[DocumentType, str] | None:
    try:
        doc = document_from_data(payload)
    except (KeyError, TypeError, ValueError):
        return None  # 变更 without a new card, a payload erased on request
    return (doc.doc_type, doc.number) if doc.number else None


async def staff_party(repo: Repositories, staff_id: int) -> ReviewParty:
    person = await repo.persons.find_by_telegram(staff_id)
    return await _widen(repo, {staff_id}, [person] if person else [], [])


async def taxpayer_party(repo: Repositories, case: ReviewCase) -> ReviewParty:
    persons: dict[int, Person] = {}
    linked = await repo.persons.find_by_telegram(case.user_id)
    if linked is not None:
        persons[linked.id] = linked
    document = _case_document(dict(case.payload))
    if document is not None:
        found = await repo.persons.find_by_document(*document)
        if found is not None:
            persons[found.id] = found
    if case.person_id is not None and case.person_id not in persons:
        subject = await repo.persons.get(case.person_id)
        if subject is not None:
            persons[subject.id] = subject
    # A case's person erased meanwhile still names who the case was about.
    party = await _widen(repo, {case.user_id}, list(persons.values()), [document] if document else [])
    if case.person_id is not None:
        party = ReviewParty(
            party.user_ids, party.person_ids | {case.person_id}, party.document_indexes, party.enterprise_ids
        )
    return party


async def check_review(repo: Repositories, staff_id: int, case: ReviewCase) -> Decision:
    """May ``staff_id`` decide ``case``? Reads inside the caller's transaction when there is one."""
    return may_decide_review(await staff_party(repo, staff_id), await taxpayer_party(repo, case))


async def record_refusal(
    repo: Repositories, staff_id: int, case: ReviewCase, denial: Denial, at: str
) -> None:
    """The audit row of a refused decision (``at``: view, approve, reject)."""
    await repo.audit.write(
        staff_id,
        "review.four_eyes",
        "review_case",
        case.id,
        None,
        {"reason": str(denial), "at": at},
    )
