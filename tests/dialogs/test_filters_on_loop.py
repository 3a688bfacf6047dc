"""The dispatcher's synchronous filters run on the event loop (bot.app.filters_on_the_loop, issue 22)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from aiogram import Dispatcher

from bot.ui import Function, Go, Nav, Node, Tip
from tests.helpers.client import BotClient


def test_no_filter_of_the_dispatcher_is_left_to_a_thread(dp: Dispatcher) -> None:
    filters = [
        event_filter
        for router in dp.chain_tail
        for observer in router.observers.values()
        for handler in [observer._handler, *observer.handlers]
        for event_filter in handler.filters or []
    ]
    assert len(filters) > 100  # the dialogs' state filters are among them
    assert all(event_filter.awaitable for event_filter in filters)


async def test_a_walk_through_menus_and_dialog_states_never_hops_to_a_thread(
    client: BotClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops: list[str] = []
    real = asyncio.to_thread

    async def to_thread(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        hops.append(repr(func))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", to_thread)
    (home,) = await client.send("/start")
    assert home.buttons
    await client.press(Nav(node=Node.TAX).pack())
    await client.press(Tip(func=Function.COLLECT, parent=Node.HOME).pack())
    started = await client.press(Go(func=Function.COLLECT).pack())
    assert started  # the collection's first step, a state of its dialog
    await client.send("not a button")  # a state handler's filters, then its "use the buttons" answer
    await client.send("/cancel")
    assert hops == []
