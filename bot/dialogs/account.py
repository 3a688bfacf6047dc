"""What the functions 2–6 share: "logged in", the policy actor, refusals, and the edit screen of
phone and residence used by 实名信息变更 and 实名信息维护.

"Logged in" (SPEC.md): the Telegram account is linked to a person who completed collection.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from aiogram.fsm.state import State

from bot.dialogs.base import Ctx, act, back_row, end_dialog, home_button, keyboard
from bot.dialogs.records import apply_edits
from bot.domain.enterprise import Role
from bot.domain.masking import mask_address, mask_name, mask_phone
from bot.domain.models import Person
from bot.domain.outcomes import EventOutcome
from bot.domain.policies import Actor, Denial
from bot.ui import Function, Node, Tip, button

__all__ = [
    "EDIT_ACTIONS",
    "actor_for",
    "ask_to_collect",
    "clean_residence",
    "logged_in",
    "refuse",
    "role_name",
    "save_edits",
    "show_edits",
]

EDIT_ACTIONS = frozenset({"edit_phone", "edit_residence", "save"})
RESIDENCE_MIN, RESIDENCE_MAX = 2, 120


async def logged_in(ctx: Ctx) -> Person | None:
    return await ctx.repo.persons.find_by_telegram(ctx.user_id)


def collect_button(ctx: Ctx) -> list[Any]:
    return [button(ctx.t("menu.collect"), Tip(func=Function.COLLECT, parent=Node.HOME))]


async def ask_to_collect(ctx: Ctx) -> None:
    """The answer of a function that needs login to an account that is not linked to a person."""
    await end_dialog(ctx.state, ctx.services)
    await ctx.say(ctx.t("functions.login_required"), keyboard(collect_button(ctx), [home_button(ctx.t)]))


async def actor_for(ctx: Ctx, person: Person | None) -> Actor:
    """What the policies need about ``person``: register roles, bindings and the last face step-up."""
    if person is None:
        return Actor(None)
    doc = person.document
    return Actor(
        person_id=person.id,
        listed=await ctx.repo.enterprises.listed_roles(doc.doc_type, doc.number),
        bindings=await ctx.repo.enterprises.bindings_of(person.id),
        stepup_at=await ctx.repo.guards.stepup_at(ctx.user_id, person.id),
    )


async def refuse(ctx: Ctx, denial: Denial | str, *, flow: str) -> None:
    """End the dialog with the reason; every refusal of the policies is also a statistics event."""
    code = str(denial)
    await end_dialog(ctx.state, ctx.services)
    await ctx.repo.events.record(flow, "policy", EventOutcome.REJECTED, user_id=ctx.user_id, reason_code=code)
    rows = [collect_button(ctx)] if denial is Denial.NOT_LOGGED_IN else []
    await ctx.say(ctx.t("policy." + code), keyboard(*rows, [home_button(ctx.t)]))


def role_name(ctx: Ctx, role: Role | str) -> str:
    return ctx.t("role." + str(role))


def clean_residence(text: str) -> str | None:
    """A residence as typed, without control or zero-width characters; None when unusable."""
    value = " ".join("".join(ch for ch in unicodedata.normalize("NFC", text) if ch.isprintable()).split())
    return value if RESIDENCE_MIN <= len(value) <= RESIDENCE_MAX else None


# --- the edit screen (变更 / 维护) ---------------------------------------------------------------------


async def show_edits(ctx: Ctx, state: State, person: Person, *, note: str | None = None) -> None:
    """Current values (masked), the pending new ones, and 【下一步】 to save them."""
    edits: dict[str, Any] = dict((await ctx.get()).get("edits", {}))
    new_phone = edits.get("phone", {}).get("number") if edits.get("phone") else None
    text = ctx.t(
        "functions.edit_screen",
        name=mask_name(person.name),
        phone=mask_phone(person.phone.number) if person.phone else None,
        residence=mask_address(person.residence) if person.residence else None,
        new_phone=mask_phone(new_phone) if new_phone else None,
        new_residence=edits.get("residence"),
    )
    await ctx.state.set_state(state)
    await ctx.say(
        (note + "\n\n" + text) if note else text,
        keyboard(
            [act(ctx.t("functions.edit_phone"), "edit_phone")],
            [act(ctx.t("functions.edit_residence"), "edit_residence")],
            [act(ctx.t("functions.save"), "save")],
            back_row(ctx.t),
        ),
    )


async def save_edits(
    ctx: Ctx, person_id: int, *, relink: bool = False, audit: dict[str, Any] | None = None
) -> list[str]:
    """Save the pending edits (and, for 变更, the re-link of this account) in one transaction;
    returns what changed. ``audit`` adds a row saying who acted for whom (维护)."""
    data = await ctx.get()
    async with ctx.repo.db.transaction():
        changed = await apply_edits(
            ctx.repo,
            person_id,
            dict(data.get("edits", {})),
            actor_user_id=ctx.user_id,
            relink_user_id=ctx.user_id if relink else None,
            consents=list(data.get("consents", [])),
        )
        if audit is not None:
            details = {k: v for k, v in audit.items() if k != "action"}
            await ctx.repo.audit.write(
                ctx.user_id, str(audit["action"]), "person", person_id, None, {**details, "changed": changed}
            )
    return changed
