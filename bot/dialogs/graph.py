"""Each function's dialog, as a graph of its steps: the one place that says which step may follow which.

A dialog moves between the states of its ``StatesGroup`` and those of the shared sub-dialogs (card,
authority, phone, consent and face steps are states of their own groups). ``STEPS`` lists, for every
state, the states a handler may move the user to next; ending the dialog (the state cleared) and
showing the same step again are always allowed. The test suite checks every transition the dialogs
make against it (tests/helpers/state_graph.py), and docs/STATES.md is drawn from it
(``python -m bot.dialogs.graph > docs/STATES.md``; a test keeps the drawing current).
"""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup

from bot.dialogs.authority import AuthoritySG
from bot.dialogs.bind import BindSG
from bot.dialogs.card import CardSG
from bot.dialogs.change import ChangeSG
from bot.dialogs.collect import CollectSG
from bot.dialogs.face import FaceSG
from bot.dialogs.handoff import HandoffSG
from bot.dialogs.maintain import MaintainSG
from bot.dialogs.phone import PhoneSG
from bot.dialogs.supplement import SupplementSG
from bot.dialogs.unbind import UnbindSG

__all__ = ["GROUPS", "STEPS", "allowed", "draw", "is_dialog_state"]

GROUPS: tuple[type[StatesGroup], ...] = (
    CollectSG,
    SupplementSG,
    ChangeSG,
    MaintainSG,
    BindSG,
    UnbindSG,
    HandoffSG,
    CardSG,
    AuthoritySG,
    PhoneSG,
    FaceSG,
)

# None: no dialog (the menu) — the first step of each function.
STEPS: dict[State | None, tuple[State, ...]] = {
    None: (
        BindSG.taxpayer_id,
        CardSG.front,
        CollectSG.document,
        FaceSG.video,
        HandoffSG.confirm,
        MaintainSG.enterprise,
        MaintainSG.people,
        SupplementSG.expired,
        SupplementSG.photo,
        UnbindSG.taxpayer_id,
    ),
    AuthoritySG.failed: (
        CardSG.verify,
        FaceSG.agreement,  # 补录: retried and matched, on to the face step
        PhoneSG.number,
        SupplementSG.photo,  # 补录 of the on-site photo: back
    ),
    BindSG.role: (
        BindSG.choose,
        BindSG.taxpayer_id,
    ),
    BindSG.taxpayer_id: (BindSG.role,),
    CardSG.back: (
        CardSG.front,
        CardSG.manual,
        CardSG.verify,
    ),
    CardSG.edit: (CardSG.verify,),
    CardSG.front: (
        CardSG.manual,
        CardSG.portrait,
        CollectSG.document,
        SupplementSG.expired,
    ),
    CardSG.manual: (
        CardSG.back,
        CardSG.front,
        CardSG.verify,
    ),
    CardSG.portrait: (CardSG.back,),
    CardSG.verify: (
        CardSG.back,
        CardSG.edit,
        CollectSG.consent,
        FaceSG.agreement,
    ),
    ChangeSG.edit: (
        ChangeSG.residence,
        PhoneSG.number,
    ),
    ChangeSG.residence: (ChangeSG.edit,),
    CollectSG.consent: (
        AuthoritySG.failed,
        CollectSG.other_confirm,
        PhoneSG.number,
    ),
    CollectSG.document: (
        CardSG.front,
        CollectSG.other_type,
    ),
    CollectSG.other_confirm: (
        CollectSG.consent,
        PhoneSG.number,
    ),
    CollectSG.other_field: (CollectSG.other_confirm,),
    CollectSG.other_type: (CollectSG.other_field,),
    FaceSG.agreement: (
        FaceSG.video,
        PhoneSG.number,
    ),
    FaceSG.video: (
        ChangeSG.edit,
        FaceSG.agreement,
        MaintainSG.enterprise,
        MaintainSG.people,
    ),
    MaintainSG.edit: (
        MaintainSG.person,
        MaintainSG.residence,
        PhoneSG.number,
    ),
    MaintainSG.enterprise: (MaintainSG.people,),
    MaintainSG.handler: (MaintainSG.person,),
    MaintainSG.people: (MaintainSG.person,),
    MaintainSG.person: (
        MaintainSG.edit,
        MaintainSG.handler,
        MaintainSG.people,
    ),
    MaintainSG.residence: (MaintainSG.edit,),
    PhoneSG.code: (
        ChangeSG.edit,
        FaceSG.agreement,
        MaintainSG.edit,
    ),
    PhoneSG.number: (
        FaceSG.agreement,
        PhoneSG.code,
    ),
    SupplementSG.expired: (CardSG.front,),
    SupplementSG.photo: (
        AuthoritySG.failed,  # the authority refused the stored identity, or did not answer
        FaceSG.agreement,
    ),
    UnbindSG.confirm: (UnbindSG.shown,),
    UnbindSG.query: (
        UnbindSG.shown,
        UnbindSG.taxpayer_id,
    ),
    UnbindSG.shown: (UnbindSG.confirm,),
    UnbindSG.taxpayer_id: (UnbindSG.query,),
}

_NAMES: frozenset[str] = frozenset(s.state for group in GROUPS for s in group.__all_states__ if s.state)
_EDGES: frozenset[tuple[str | None, str]] = frozenset(
    (None if a is None else a.state, str(b.state)) for a, targets in STEPS.items() for b in targets
)


def is_dialog_state(name: str | None) -> bool:
    """A state of one of the dialogs (None, no dialog, included)."""
    return name is None or name in _NAMES


def allowed(old: str | None, new: str | None) -> bool:
    if new is None or old == new:
        return True  # the dialog ends, or the step is shown again
    return (old, new) in _EDGES


def _node(name: str | None) -> str:
    return "[*]" if name is None else name.replace(":", "_")


def draw() -> str:
    """docs/STATES.md: one Mermaid state diagram per group, with the edges that leave its states."""
    lines = [
        "# Dialog state graphs",
        "",
        "Drawn from `bot/dialogs/graph.py` by `python -m bot.dialogs.graph > docs/STATES.md`; a test",
        "fails when this file and the code differ, and the dialog tests fail on any step not declared there.",
        "`[*]` is the menu (no dialog); every step may also end the dialog or be shown again.",
    ]
    sections: list[tuple[str, list[State | None]]] = [("Entries", [None])]
    sections += [(group.__name__, list(group.__all_states__)) for group in GROUPS]
    for title, members in sections:
        edges = [(a, b) for a in members for b in STEPS.get(a, ())]
        if not edges:
            continue
        lines += ["", f"## {title}", "", "```mermaid", "stateDiagram-v2"]
        for a, b in edges:
            lines.append(f"    {_node(None if a is None else a.state)} --> {_node(b.state)}")
        lines.append("```")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(draw(), end="")
