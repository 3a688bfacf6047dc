"""The guide's functions as dialogs; `create_dialogs_router` is what the dispatcher factory includes."""

from __future__ import annotations

from aiogram import Router

from bot.dialogs import card, collect, face, phone
from bot.dialogs.base import DialogMiddleware, Flow


def create_dialogs_router() -> Router:
    collect_flow = collect.CollectFlow()
    flows: dict[str, Flow] = {collect_flow.name: collect_flow}
    middleware = DialogMiddleware(flows)
    root = Router(name="dialogs")
    for child in (
        collect.create_router(collect_flow),
        card.create_router(),
        phone.create_router(),
        face.create_router(),
    ):
        child.message.middleware(middleware)
        child.callback_query.middleware(middleware)
        root.include_router(child)
    return root
