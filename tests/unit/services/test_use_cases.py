"""The use cases of bot/services own their policy checks and transactions (issue 19): called the same
way by a dialog, a staff handler or, here, a test, they ask the rule again at the moment of writing."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.domain.enterprise import Role
from bot.domain.models import CollectedRecord, ReviewKind
from bot.domain.policies import Denial
from bot.services.bindings import bind_self, unbind_self
from bot.services.collection import Submission, save_collection
from bot.services.review_cases import WaitsForReview, open_review_case, waits_for_review
from bot.services.tax_handlers import set_tax_handler
from bot.storage.repositories import Repositories
from bot.storage.sql import Database
from tests.helpers.register import LI, WANG, XINGHE, ZHAO, collected_person, load_register
from tests.unit.storage.conftest import cipher, database_url, db, repo

__all__ = ["cipher", "database_url", "db", "repo"]

MAINTAINER, HANDLER = 1, 2


async def test_authorising_a_tax_handler_asks_the_rule_again_when_it_writes(repo: Repositories) -> None:
    await load_register(repo)
    wang = await collected_person(repo, MAINTAINER, WANG)
    await collected_person(repo, HANDLER, ZHAO, "赵强", encoding=tuple(0.02 * i for i in range(128)))
    xinghe = await repo.enterprises.get(XINGHE)
    assert xinghe is not None
    await repo.enterprises.bind(wang.id, xinghe.id, Role.LEGAL_REP, bound_by=MAINTAINER)
    entry = next(p for p in await repo.enterprises.people(xinghe.id) if p.role is Role.TAX_HANDLER)
    now = repo.clock()

    async def authorise(*, revoke: bool = False) -> Denial | None:
        return await set_tax_handler(repo, MAINTAINER, wang, entry, revoke=revoke, now=now, stepup_minutes=5)

    # No face step-up: the dialog's screens would not offer it, and the use case refuses it too.
    assert await authorise() is Denial.STEPUP_REQUIRED
    zhao = await repo.persons.find_by_document(entry.doc_type, entry.number)
    assert zhao is not None
    assert await repo.enterprises.binding(zhao.id, xinghe.id, Role.TAX_HANDLER) is None
    await repo.guards.record_stepup(MAINTAINER, wang.id)
    assert await authorise() is None
    assert await repo.enterprises.binding(zhao.id, xinghe.id, Role.TAX_HANDLER) is not None
    # A second press (another chat, a race) is told, not bound twice.
    assert await authorise() is Denial.TARGET_ALREADY_AUTHORISED
    assert await authorise(revoke=True) is None
    assert await authorise(revoke=True) is Denial.TARGET_NOT_AUTHORISED
    # A step-up gone stale since the confirmation is seen at the write.
    assert (
        await set_tax_handler(
            repo, MAINTAINER, wang, entry, revoke=False, now=now + timedelta(minutes=6), stepup_minutes=5
        )
        is Denial.STEPUP_REQUIRED
    )
    actions = [e.action for e in await repo.audit.for_subject("person", zhao.id)]
    assert actions.count("enterprise.authorise_tax_handler") == 1
    assert actions.count("enterprise.revoke_tax_handler") == 1


async def test_binding_and_unbinding_oneself_ask_the_rule(repo: Repositories) -> None:
    await load_register(repo)
    li = await collected_person(repo, MAINTAINER, LI, "李丽")
    xinghe = await repo.enterprises.get(XINGHE)
    assert xinghe is not None
    # 李丽 is the finance officer of 星河, not its legal representative.
    assert await bind_self(repo, MAINTAINER, li, xinghe, Role.LEGAL_REP) is Denial.NOT_LISTED
    assert await bind_self(repo, MAINTAINER, li, xinghe, Role.FINANCE_OFFICER) is None
    assert await bind_self(repo, MAINTAINER, li, xinghe, Role.FINANCE_OFFICER) is Denial.ALREADY_BOUND
    # Unbinding is for the enterprise's listed tax handler, and only their own binding.
    assert await unbind_self(repo, MAINTAINER, li, xinghe) is not None
    zhao = await collected_person(repo, HANDLER, ZHAO, "赵强", encoding=tuple(0.02 * i for i in range(128)))
    assert await unbind_self(repo, HANDLER, zhao, xinghe) is Denial.NO_BINDING
    await repo.enterprises.bind(zhao.id, xinghe.id, Role.TAX_HANDLER, bound_by=MAINTAINER)
    assert await unbind_self(repo, HANDLER, zhao, xinghe) is None
    assert await repo.enterprises.binding(zhao.id, xinghe.id, Role.TAX_HANDLER) is None


async def test_one_open_case_per_function_and_account(repo: Repositories, db: Database) -> None:
    wang = await collected_person(repo, 99, WANG)
    record = CollectedRecord(
        telegram_user_id=7,
        document=wang.document,
        consents=(),
        phone=wang.phone,  # type: ignore[arg-type]
        live_photo=wang.live_photo,  # type: ignore[arg-type]
    )

    async def open_one() -> bool:
        return await open_review_case(
            repo,
            7,
            "collect",
            ReviewKind.FACE_NEAR_THRESHOLD,
            person_id=None,
            payload={"flow": "collect"},
            reasons=["face_near_threshold"],
            media_ids=[],
        )

    assert await open_one() is True
    assert await open_one() is False
    assert await waits_for_review(repo, 7, "collect") and not await waits_for_review(repo, 7, "change")
    # The save of a collection sees the waiting case in its transaction: nothing saved, nothing opened.
    other = replace_number(record)
    result = await save_collection(repo, Submission(7, other, "pass"), threshold=0.0)
    assert isinstance(result, WaitsForReview)
    assert await repo.persons.find_by_telegram(7) is None
    assert len(await repo.review.open_for_user(7)) == 1


def replace_number(record: CollectedRecord) -> CollectedRecord:
    """The same record under another (valid) document number, so no collision decides it."""
    return replace(record, document=replace(record.document, number=LI))
