"""Who may see or change whom: the one policy module for the enterprise functions (guide §4–§6).

Decisions are pure functions of an :class:`Actor` (what the register and the bindings say about the
logged-in person) so every dialog step can ask again cheaply, and a forged button (another
enterprise's person id) is refused by the same rule as everything else.

Rules:

- **Rights need both** a current binding *and* the register still listing the person in that role:
  the register is authoritative, so someone removed from it loses the rights their binding gave.
- **Maintenance (维护)**: legal rep, finance officer or tax handler of the enterprise (bound and
  listed), with a face step-up younger than the configured minutes; only that enterprise's people.
- **Bind (绑定)**: only as legal rep or finance officer, only when the register lists the person in
  that role for that enterprise, the enterprise is active, and the binding does not exist yet.
- **Unbind (解绑)**: only a tax handler listed in the register for that enterprise, who has a binding.
- **Authorise a tax handler (授权办税)**, inside maintenance: whoever may maintain the enterprise *as its
  legal rep or finance officer* (a tax handler may not authorise others) binds a person the register
  lists as the enterprise's tax handler, once that person has completed collection, while the
  enterprise is active; **revoking** (取消授权) ends that binding, the same end as the handler's own
  unbind, and is allowed whatever the enterprise's status.
- **Four eyes (staff)**: no staff member decides (approves or rejects) a review case whose taxpayer is
  themselves — the same Telegram account, or the same person (a person id, or a document number by
  its blind index) — or is related to them through an enterprise (either side bound to it, or listed
  in its register); no admin grants a role to themselves. Checked when the case is shown and again
  in the transaction of the decision (a link or binding made in between counts). A staged register
  load is confirmed or cancelled only by the admin who uploaded it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.enterprise import Binding, Enterprise, EnterprisePerson, Role

__all__ = [
    "ALLOW",
    "AUTHORISER_ROLES",
    "BINDABLE_ROLES",
    "MAINTAINER_ROLES",
    "Actor",
    "Decision",
    "Denial",
    "ReviewParty",
    "authoriser_roles",
    "maintainable_enterprises",
    "maintainer_roles",
    "may_authorise_tax_handler",
    "may_bind",
    "may_decide_load",
    "may_decide_review",
    "may_grant_role",
    "may_maintain",
    "may_unbind",
    "stepup_valid",
]

MAINTAINER_ROLES = frozenset({Role.LEGAL_REP, Role.FINANCE_OFFICER, Role.TAX_HANDLER})
BINDABLE_ROLES = frozenset({Role.LEGAL_REP, Role.FINANCE_OFFICER})
# Who may authorise (and revoke) an enterprise's tax handlers: the people who bind themselves.
AUTHORISER_ROLES = BINDABLE_ROLES
# A step-up stamped slightly in the future (clock skew between processes) is still accepted.
_SKEW = timedelta(seconds=5)


class Denial(StrEnum):
    NOT_LOGGED_IN = "policy_not_logged_in"
    STEPUP_REQUIRED = "policy_stepup_required"
    NOT_BOUND = "policy_not_bound"
    OTHER_ENTERPRISE = "policy_other_enterprise"
    ROLE_NOT_BINDABLE = "policy_role_not_bindable"
    NOT_LISTED = "policy_not_listed"
    ENTERPRISE_INACTIVE = "policy_enterprise_inactive"
    ALREADY_BOUND = "policy_already_bound"
    NOT_TAX_HANDLER = "policy_not_tax_handler"
    NO_BINDING = "policy_no_binding"
    NOT_AUTHORISER = "policy_not_authoriser"
    TARGET_NOT_TAX_HANDLER = "policy_target_not_tax_handler"
    TARGET_NOT_COLLECTED = "policy_target_not_collected"
    TARGET_ALREADY_AUTHORISED = "policy_target_already_authorised"
    TARGET_NOT_AUTHORISED = "policy_target_not_authorised"
    REVIEW_OWN_ACCOUNT = "policy_review_own_account"
    REVIEW_SAME_PERSON = "policy_review_same_person"
    REVIEW_RELATED_ENTERPRISE = "policy_review_related_enterprise"
    SELF_GRANT = "policy_self_grant"
    LOAD_NOT_UPLOADER = "policy_load_not_uploader"


@dataclass(frozen=True)
class Decision:
    denial: Denial | None = None

    @property
    def allowed(self) -> bool:
        return self.denial is None


ALLOW = Decision()


@dataclass(frozen=True)
class Actor:
    """The logged-in person as the policies see them; ``person_id`` None = not logged in."""

    person_id: int | None
    listed: Mapping[int, frozenset[Role]] = field(default_factory=dict)  # enterprise id → register roles
    bindings: Sequence[Binding] = ()
    stepup_at: datetime | None = None


def stepup_valid(stepup_at: datetime | None, now: datetime, minutes: int) -> bool:
    return stepup_at is not None and stepup_at - _SKEW <= now <= stepup_at + timedelta(minutes=minutes)


def maintainer_roles(actor: Actor, enterprise_id: int) -> frozenset[Role]:
    """Roles in which the actor may maintain the enterprise: bound, still listed, a maintainer role."""
    bound = {b.role for b in actor.bindings if b.enterprise_id == enterprise_id}
    return frozenset(bound & actor.listed.get(enterprise_id, frozenset()) & MAINTAINER_ROLES)


def maintainable_enterprises(actor: Actor) -> list[int]:
    if actor.person_id is None:
        return []
    return sorted({b.enterprise_id for b in actor.bindings if maintainer_roles(actor, b.enterprise_id)})


def may_maintain(
    actor: Actor,
    enterprise_id: int,
    *,
    now: datetime,
    stepup_minutes: int,
    target: EnterprisePerson | None = None,
) -> Decision:
    """May the actor list ``enterprise_id``'s people (and, with ``target``, change that person)?"""
    if actor.person_id is None:
        return Decision(Denial.NOT_LOGGED_IN)
    if not maintainer_roles(actor, enterprise_id):
        return Decision(Denial.NOT_BOUND)
    if target is not None and target.enterprise_id != enterprise_id:
        return Decision(Denial.OTHER_ENTERPRISE)
    if not stepup_valid(actor.stepup_at, now, stepup_minutes):
        return Decision(Denial.STEPUP_REQUIRED)
    return ALLOW


def authoriser_roles(actor: Actor, enterprise_id: int) -> frozenset[Role]:
    """Roles in which the actor may authorise the enterprise's tax handlers (bound, still listed)."""
    return maintainer_roles(actor, enterprise_id) & AUTHORISER_ROLES


def may_authorise_tax_handler(
    actor: Actor,
    enterprise: Enterprise,
    target: EnterprisePerson,
    *,
    collected: bool,
    bound: bool,
    revoke: bool = False,
    now: datetime,
    stepup_minutes: int,
) -> Decision:
    """May the actor bind ``target`` (a register entry) as ``enterprise``'s tax handler, or with
    ``revoke`` end that binding? ``collected``: the entry's document has a collected person;
    ``bound``: that person is bound to the enterprise as tax handler now."""
    decision = may_maintain(actor, enterprise.id, now=now, stepup_minutes=stepup_minutes, target=target)
    if decision.denial is not None:
        return decision
    if not authoriser_roles(actor, enterprise.id):
        return Decision(Denial.NOT_AUTHORISER)
    if target.role is not Role.TAX_HANDLER:
        return Decision(Denial.TARGET_NOT_TAX_HANDLER)
    if revoke:
        return ALLOW if bound else Decision(Denial.TARGET_NOT_AUTHORISED)
    if not enterprise.active:
        return Decision(Denial.ENTERPRISE_INACTIVE)
    if not collected:
        return Decision(Denial.TARGET_NOT_COLLECTED)
    if bound:
        return Decision(Denial.TARGET_ALREADY_AUTHORISED)
    return ALLOW


def may_bind(actor: Actor, enterprise: Enterprise, role: Role) -> Decision:
    if actor.person_id is None:
        return Decision(Denial.NOT_LOGGED_IN)
    if role not in BINDABLE_ROLES:
        return Decision(Denial.ROLE_NOT_BINDABLE)
    if role not in actor.listed.get(enterprise.id, frozenset()):
        return Decision(Denial.NOT_LISTED)
    if not enterprise.active:
        return Decision(Denial.ENTERPRISE_INACTIVE)
    if any(b.enterprise_id == enterprise.id and b.role is role for b in actor.bindings):
        return Decision(Denial.ALREADY_BOUND)
    return ALLOW


def may_unbind(actor: Actor, enterprise_id: int) -> Decision:
    if actor.person_id is None:
        return Decision(Denial.NOT_LOGGED_IN)
    if Role.TAX_HANDLER not in actor.listed.get(enterprise_id, frozenset()):
        return Decision(Denial.NOT_TAX_HANDLER)
    if not any(b.enterprise_id == enterprise_id and b.role is Role.TAX_HANDLER for b in actor.bindings):
        return Decision(Denial.NO_BINDING)
    return ALLOW


@dataclass(frozen=True)
class ReviewParty:
    """One side of a review case as the four-eyes rule sees it: the Telegram accounts, the persons
    (record ids), the blind indexes of their document numbers, and the enterprises they are bound
    to or listed in."""

    user_ids: frozenset[int] = frozenset()
    person_ids: frozenset[int] = frozenset()
    document_indexes: frozenset[str] = frozenset()
    enterprise_ids: frozenset[int] = frozenset()


def may_decide_review(staff: ReviewParty, taxpayer: ReviewParty) -> Decision:
    """May ``staff`` approve or reject the case of ``taxpayer``? (Four eyes: never one's own case,
    nor that of someone sharing an enterprise with them.)"""
    if staff.user_ids & taxpayer.user_ids:
        return Decision(Denial.REVIEW_OWN_ACCOUNT)
    if staff.person_ids & taxpayer.person_ids or staff.document_indexes & taxpayer.document_indexes:
        return Decision(Denial.REVIEW_SAME_PERSON)
    if staff.enterprise_ids & taxpayer.enterprise_ids:
        return Decision(Denial.REVIEW_RELATED_ENTERPRISE)
    return ALLOW


def may_grant_role(actor_user_id: int, target_user_id: int) -> Decision:
    """An admin grants roles to others only: a role one gives oneself has no second pair of eyes."""
    if actor_user_id == target_user_id:
        return Decision(Denial.SELF_GRANT)
    return ALLOW


def may_decide_load(actor_user_id: int, uploaded_by: int) -> Decision:
    """Confirm or cancel a staged register load: only the admin who uploaded the file (who saw its
    report) decides about it."""
    if actor_user_id != uploaded_by:
        return Decision(Denial.LOAD_NOT_UPLOADER)
    return ALLOW
