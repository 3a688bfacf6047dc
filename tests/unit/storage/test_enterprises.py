"""The enterprise register, bindings, guards and the policies over them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.enterprise import Binding, EnterpriseStatus, RegisterRow, Role, row_problems
from bot.domain.errors import BindingExists, RegisterRejected
from bot.domain.policies import (
    Actor,
    Denial,
    authoriser_roles,
    maintainable_enterprises,
    may_authorise_tax_handler,
    may_bind,
    may_maintain,
    may_unbind,
)
from bot.storage.crypto import FieldCipher
from bot.storage.repositories import Repositories
from bot.storage.sql import Database
from bot.verification.ids import DocumentType, validate_document_number, validate_uscc
from tests.helpers.register import (
    HAIOU,
    LI,
    WANG,
    XINGHE,
    YUNSHAN,
    ZHAO,
    collected_person,
    load_register,
    register_rows,
)

ID = DocumentType.RESIDENT_ID


def test_fixture_numbers_are_valid() -> None:
    rows = register_rows()
    assert len(rows) == 8
    for row in rows:
        assert validate_uscc(row.taxpayer_id) == []
        assert validate_document_number(ID, row.doc_number or "") == []
        assert row_problems(row) == []


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"taxpayer_id": "91210102MA0QWE7R1A"}, "register_taxpayer_id"),
        ({"status": "gone"}, "register_status"),
        ({"role": "boss"}, "register_role"),
        ({"doc_number": "110101199003071234"}, "register_doc_number"),
        ({"doc_type": "passport"}, "register_doc_type"),
        ({"person_name": " "}, "register_person_name"),
        ({"phone": "12345"}, "register_phone"),
        ({"enterprise_name": ""}, "register_enterprise_name"),
    ],
)
def test_row_problems(change: dict[str, str], code: str) -> None:
    assert code in row_problems(replace(register_rows()[0], **change))


async def test_load_and_look_up(repo: Repositories, db: Database) -> None:
    result = await repo.enterprises.load(register_rows(), loaded_by=42)
    assert (result.enterprises, result.people, result.removed) == (3, 8, 0)
    xinghe = await repo.enterprises.get(XINGHE.lower())  # normalised
    assert xinghe is not None and xinghe.name == "辽宁星河商贸有限公司" and xinghe.active
    haiou = await repo.enterprises.get(HAIOU)
    assert haiou is not None and haiou.status is EnterpriseStatus.DEREGISTERED
    people = await repo.enterprises.people(xinghe.id)
    assert [p.role for p in people] == [
        Role.LEGAL_REP,
        Role.FINANCE_OFFICER,
        Role.TAX_HANDLER,
        Role.INVOICE_BUYER,
    ]
    assert people[0].number == WANG and people[0].phone == "13800138000" and people[3].phone is None
    roles = await repo.enterprises.listed_roles(ID, WANG)
    yunshan = await repo.enterprises.get(YUNSHAN)
    assert yunshan is not None and haiou is not None
    assert roles == {
        xinghe.id: frozenset({Role.LEGAL_REP}),
        yunshan.id: frozenset({Role.FINANCE_OFFICER}),
        haiou.id: frozenset({Role.LEGAL_REP}),
    }
    assert await repo.enterprises.is_listed(XINGHE, ID, ZHAO, Role.TAX_HANDLER)
    assert not await repo.enterprises.is_listed(YUNSHAN, ID, ZHAO, Role.TAX_HANDLER)
    # personal data never in clear in the database or the audit log
    async with db.read() as conn:
        dump = "\n".join(
            str(tuple(r)) for r in await (await conn.execute("SELECT * FROM enterprise_people")).fetchall()
        )
        audit = "\n".join(
            str(tuple(r)) for r in await (await conn.execute("SELECT * FROM audit_log")).fetchall()
        )
    for secret in (WANG, "王小明", "13800138000"):
        assert secret not in dump and secret not in audit
    entries = await repo.audit.for_subject("enterprise", xinghe.id)
    assert entries[0].action == "enterprise.load" and entries[0].actor_user_id == 42
    assert entries[0].after is not None and entries[0].after["people"][0]["name"] == "王**"
    assert entries[0].after["enterprise_name"] == "辽宁星河商贸有限公司"  # public: not masked


async def test_reload_replaces_an_enterprises_people(repo: Repositories) -> None:
    await load_register(repo)
    rows = [r for r in register_rows() if r.taxpayer_id == XINGHE and r.doc_number != LI]
    rows = [replace(r, phone="13911112222") if r.doc_number == ZHAO else r for r in rows]
    result = await repo.enterprises.load(rows, loaded_by=None)
    assert (result.enterprises, result.people, result.removed) == (1, 3, 1)
    xinghe = await repo.enterprises.get(XINGHE)
    assert xinghe is not None
    people = await repo.enterprises.people(xinghe.id)
    assert LI not in {p.number for p in people}
    assert [p.phone for p in people if p.number == ZHAO] == ["13911112222"]
    assert len(await repo.enterprises.roles_of(ID, WANG)) == 3  # other enterprises untouched


async def test_bad_batch_loads_nothing(repo: Repositories) -> None:
    rows = register_rows()
    rows[3] = replace(rows[3], taxpayer_id="91210102MA0QWE7R10")
    with pytest.raises(RegisterRejected) as caught:
        await repo.enterprises.load(rows, loaded_by=None)
    assert caught.value.row == 3 and caught.value.codes == ["register_taxpayer_id"]
    conflicting = [*register_rows(), replace(register_rows()[0], enterprise_name="别的名字")]
    with pytest.raises(RegisterRejected):
        await repo.enterprises.load(conflicting, loaded_by=None)
    assert await repo.enterprises.count() == 0


async def test_enterprise_only_row(repo: Repositories) -> None:
    row = RegisterRow(taxpayer_id=XINGHE, enterprise_name="辽宁星河商贸有限公司", status="suspended")
    assert (await repo.enterprises.load([row], loaded_by=None)).people == 0
    found = await repo.enterprises.get(XINGHE)
    assert found is not None and found.status is EnterpriseStatus.SUSPENDED


async def test_bind_unbind_history_and_audit(repo: Repositories) -> None:
    await load_register(repo)
    person = await collected_person(repo, 500, WANG)
    xinghe = await repo.enterprises.get(XINGHE)
    assert xinghe is not None
    binding = await repo.enterprises.bind(person.id, xinghe.id, Role.LEGAL_REP, bound_by=500)
    with pytest.raises(BindingExists):
        await repo.enterprises.bind(person.id, xinghe.id, Role.LEGAL_REP, bound_by=500)
    assert await repo.enterprises.binding(person.id, xinghe.id) == binding
    assert await repo.enterprises.binding(person.id, xinghe.id, Role.TAX_HANDLER) is None
    assert await repo.enterprises.bindings_for(xinghe.id) == [binding]
    assert await repo.enterprises.unbind(person.id, xinghe.id, Role.LEGAL_REP, unbound_by=500)
    assert not await repo.enterprises.unbind(person.id, xinghe.id, Role.LEGAL_REP, unbound_by=500)
    assert await repo.enterprises.bindings_of(person.id) == []
    again = await repo.enterprises.bind(person.id, xinghe.id, Role.LEGAL_REP, bound_by=None)
    assert again.id != binding.id
    actions = [e.action for e in await repo.audit.for_subject("enterprise_binding", binding.id)]
    assert actions == ["enterprise.unbind", "enterprise.bind"]
    # PIPL erase of the person takes the bindings with it
    await repo.persons.erase(person.id, actor_user_id=None)
    assert await repo.enterprises.bindings_for(xinghe.id) == []


async def test_guards_pause_and_stepup(db: Database, cipher: FieldCipher) -> None:
    now = [datetime(2026, 3, 1, 8, 0, tzinfo=UTC)]
    repo = Repositories(db, cipher, clock=lambda: now[0])
    keys = [repo.guards.user_key(1), repo.guards.document_key(ID, WANG)]
    window, pause = timedelta(minutes=30), timedelta(minutes=30)
    assert await repo.guards.fail("change", keys, limit=3, window=window, pause=pause) is None
    assert await repo.guards.fail("change", keys, limit=3, window=window, pause=pause) is None
    until = await repo.guards.fail("change", keys, limit=3, window=window, pause=pause)
    assert until == now[0] + pause
    # another Telegram account with the same document is paused too
    assert await repo.guards.paused_until("change", [repo.guards.user_key(2), keys[1]]) == until
    now[0] += timedelta(minutes=31)
    assert await repo.guards.paused_until("change", keys) is None
    await repo.guards.fail("change", keys, limit=3, window=window, pause=pause)
    await repo.guards.succeed("change", keys)
    await repo.guards.fail("change", keys, limit=3, window=window, pause=pause)
    assert await repo.guards.fail("change", keys, limit=3, window=window, pause=pause) is None

    person = await collected_person(repo, 1, WANG)
    assert await repo.guards.stepup_at(1, person.id) is None
    stamp = await repo.guards.record_stepup(1, person.id)
    assert await repo.guards.stepup_at(1, person.id) == stamp
    assert await repo.guards.stepup_at(1, person.id + 1) is None


# --- policies ------------------------------------------------------------------------------------

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _binding(enterprise_id: int, role: Role) -> Binding:
    return Binding(1, 7, enterprise_id, role, NOW, 7)


def test_maintain_needs_binding_listing_and_fresh_stepup() -> None:
    actor = Actor(7, {1: frozenset({Role.LEGAL_REP})}, [_binding(1, Role.LEGAL_REP)], NOW)
    assert may_maintain(actor, 1, now=NOW + timedelta(minutes=4), stepup_minutes=5).allowed
    assert (
        may_maintain(actor, 1, now=NOW + timedelta(minutes=6), stepup_minutes=5).denial
        is Denial.STEPUP_REQUIRED
    )
    assert may_maintain(actor, 2, now=NOW, stepup_minutes=5).denial is Denial.NOT_BOUND
    delisted = replace(actor, listed={})
    assert may_maintain(delisted, 1, now=NOW, stepup_minutes=5).denial is Denial.NOT_BOUND
    buyer = Actor(7, {1: frozenset({Role.INVOICE_BUYER})}, [_binding(1, Role.INVOICE_BUYER)], NOW)
    assert may_maintain(buyer, 1, now=NOW, stepup_minutes=5).denial is Denial.NOT_BOUND
    assert may_maintain(Actor(None), 1, now=NOW, stepup_minutes=5).denial is Denial.NOT_LOGGED_IN
    assert maintainable_enterprises(actor) == [1] and maintainable_enterprises(buyer) == []


def test_bind_and_unbind_rules() -> None:
    from bot.domain.enterprise import Enterprise

    active = Enterprise(1, XINGHE, "星河", EnterpriseStatus.ACTIVE, NOW)
    closed = Enterprise(2, HAIOU, "海鸥", EnterpriseStatus.DEREGISTERED, NOW)
    actor = Actor(7, {1: frozenset({Role.LEGAL_REP, Role.TAX_HANDLER}), 2: frozenset({Role.LEGAL_REP})})
    assert may_bind(actor, active, Role.LEGAL_REP).allowed
    assert may_bind(actor, active, Role.FINANCE_OFFICER).denial is Denial.NOT_LISTED
    assert may_bind(actor, active, Role.TAX_HANDLER).denial is Denial.ROLE_NOT_BINDABLE
    assert may_bind(actor, closed, Role.LEGAL_REP).denial is Denial.ENTERPRISE_INACTIVE
    bound = replace(actor, bindings=[_binding(1, Role.LEGAL_REP)])
    assert may_bind(bound, active, Role.LEGAL_REP).denial is Denial.ALREADY_BOUND
    assert may_unbind(actor, 1).denial is Denial.NO_BINDING
    assert may_unbind(replace(actor, bindings=[_binding(1, Role.TAX_HANDLER)]), 1).allowed
    assert may_unbind(actor, 2).denial is Denial.NOT_TAX_HANDLER
    assert may_unbind(Actor(None), 1).denial is Denial.NOT_LOGGED_IN


def test_authorising_tax_handlers() -> None:
    """Only a bound, listed legal rep / finance officer with a fresh step-up authorises the enterprise's
    listed tax handlers, once collected; revoking needs a binding and no active enterprise."""
    from bot.domain.enterprise import Enterprise, EnterprisePerson

    active = Enterprise(1, XINGHE, "星河", EnterpriseStatus.ACTIVE, NOW)
    handler = EnterprisePerson(11, 1, Role.TAX_HANDLER, ID, ZHAO, "赵强", None)
    rep = Actor(7, {1: frozenset({Role.LEGAL_REP})}, [_binding(1, Role.LEGAL_REP)], NOW)

    def decide(
        actor: Actor = rep,
        target: EnterprisePerson = handler,
        *,
        enterprise: Enterprise = active,
        collected: bool = True,
        bound: bool = False,
        revoke: bool = False,
        minutes: float = 1,
    ) -> Denial | None:
        return may_authorise_tax_handler(
            actor,
            enterprise,
            target,
            collected=collected,
            bound=bound,
            revoke=revoke,
            now=NOW + timedelta(minutes=minutes),
            stepup_minutes=5,
        ).denial

    assert decide() is None and decide(bound=True, revoke=True) is None
    officer = Actor(7, {1: frozenset({Role.FINANCE_OFFICER})}, [_binding(1, Role.FINANCE_OFFICER)], NOW)
    assert decide(officer) is None and authoriser_roles(officer, 1) == {Role.FINANCE_OFFICER}
    # a tax handler maintains, but authorises nobody (not even with a fresh step-up)
    tax_handler = Actor(7, {1: frozenset({Role.TAX_HANDLER})}, [_binding(1, Role.TAX_HANDLER)], NOW)
    assert decide(tax_handler) is Denial.NOT_AUTHORISER
    assert decide(tax_handler, bound=True, revoke=True) is Denial.NOT_AUTHORISER
    assert authoriser_roles(tax_handler, 1) == frozenset()
    # listed as legal rep but bound only as tax handler: the binding in the authorising role counts
    mixed = replace(tax_handler, listed={1: frozenset({Role.LEGAL_REP, Role.TAX_HANDLER})})
    assert decide(mixed) is Denial.NOT_AUTHORISER
    # rights need the binding and the register, as for maintenance
    assert decide(replace(rep, listed={})) is Denial.NOT_BOUND
    assert decide(replace(rep, bindings=[])) is Denial.NOT_BOUND
    assert decide(Actor(None)) is Denial.NOT_LOGGED_IN
    assert decide(minutes=6) is Denial.STEPUP_REQUIRED
    assert decide(bound=True, revoke=True, minutes=6) is Denial.STEPUP_REQUIRED
    # the target: this enterprise's register entry as tax handler
    assert decide(target=replace(handler, enterprise_id=2)) is Denial.OTHER_ENTERPRISE
    assert decide(target=replace(handler, role=Role.FINANCE_OFFICER)) is Denial.TARGET_NOT_TAX_HANDLER
    assert decide(collected=False) is Denial.TARGET_NOT_COLLECTED
    assert decide(bound=True) is Denial.TARGET_ALREADY_AUTHORISED
    assert decide(revoke=True) is Denial.TARGET_NOT_AUTHORISED
    # an enterprise not in normal status gets no new tax handler, but its handlers can be revoked
    suspended = replace(active, status=EnterpriseStatus.SUSPENDED)
    assert decide(enterprise=suspended) is Denial.ENTERPRISE_INACTIVE
    assert decide(enterprise=suspended, bound=True, revoke=True) is None


def test_every_denial_has_a_message() -> None:
    from bot.config import REPO_ROOT
    from bot.i18n import LANGUAGES, Catalog

    catalog = Catalog.load(REPO_ROOT / "locales")
    for lang in LANGUAGES:
        missing = [d for d in Denial if "policy." + d.value not in catalog.messages[lang]]
        assert not missing, (lang, missing)
