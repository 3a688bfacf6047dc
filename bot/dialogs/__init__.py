"""The guide's functions as dialogs; `create_dialogs_router` is what the dispatcher factory includes."""

from __future__ import annotations

from aiogram import Router

from bot.dialogs import (
    authority,
    bind,
    card,
    change,
    collect,
    face,
    handoff,
    maintain,
    phone,
    supplement,
    unbind,
)
from bot.dialogs.base import DialogMiddleware, Flow


def create_dialogs_router() -> Router:
    collect_flow = collect.CollectFlow()
    supplement_flow = supplement.SupplementFlow()
    change_flow = change.ChangeFlow()
    maintain_flow = maintain.MaintainFlow()
    bind_flow = bind.BindFlow()
    unbind_flow = unbind.UnbindFlow()
    handoff_flow = handoff.HandoffFlow()
    every = (collect_flow, supplement_flow, change_flow, maintain_flow, bind_flow, unbind_flow, handoff_flow)
    flows: dict[str, Flow] = {f.name: f for f in every}
    middleware = DialogMiddleware(flows)
    root = Router(name="dialogs")
    for child in (
        handoff.create_router(handoff_flow),  # first: `/start <token>` ends whatever dialog is open
        collect.create_router(collect_flow),
        supplement.create_router(supplement_flow),
        change.create_router(change_flow),
        maintain.create_router(maintain_flow),
        bind.create_router(bind_flow),
        unbind.create_router(unbind_flow),
        card.create_router(),
        authority.create_router(),
        phone.create_router(),
        face.create_router(),
    ):
        child.message.middleware(middleware)
        child.callback_query.middleware(middleware)
        root.include_router(child)
    return root
