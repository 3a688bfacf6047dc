"""Every dialog step a test takes must be an edge of the declared state graph (bot/dialogs/graph.py).

The dialogs' FSM storage is wrapped for the whole test session: each ``set_state`` is checked against
the graph (old state → new state); an undeclared transition fails the test that made it, naming the
edge. With ``STATE_GRAPH_RECORD=path`` the observed edges are written there instead (JSON), to
declare a new dialog's graph from its tests.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import pytest
from aiogram.fsm.state import State

from bot.dialogs.graph import allowed, is_dialog_state
from bot.storage.fsm import DatabaseStorage

_observed: set[tuple[str | None, str | None]] = set()
_violations: list[tuple[str | None, str | None]] = []
_unchecked: ContextVar[bool] = ContextVar("state_graph_unchecked", default=False)


@contextlib.contextmanager
def unchecked() -> Iterator[None]:
    """For a test that puts a user straight into a state (not a step of a dialog)."""
    token = _unchecked.set(True)
    try:
        yield
    finally:
        _unchecked.reset(token)


def _name(state: Any) -> str | None:
    return state.state if isinstance(state, State) else state


def install() -> None:
    original = DatabaseStorage.set_state
    if getattr(original, "_graph_checked", False):
        return

    async def set_state(self: DatabaseStorage, key: Any, state: Any = None) -> None:
        old, new = await self.get_state(key), _name(state)
        # Only the dialogs' own states (the storage's unit tests write made-up names).
        if not _unchecked.get() and is_dialog_state(old) and is_dialog_state(new):
            _observed.add((old, new))
            if not allowed(old, new):
                _violations.append((old, new))
        await original(self, key, state)

    set_state._graph_checked = True  # type: ignore[attr-defined]
    DatabaseStorage.set_state = set_state  # type: ignore[method-assign]


def write_record() -> None:
    path = os.environ.get("STATE_GRAPH_RECORD")
    if path:
        edges = sorted(_observed, key=lambda e: (e[0] or "", e[1] or ""))
        Path(path).write_text(json.dumps(edges, ensure_ascii=False, indent=0), encoding="utf-8")


def take_violations() -> list[tuple[str | None, str | None]]:
    """The undeclared transitions seen since the last call (and forget them)."""
    found = list(_violations)
    _violations.clear()
    return found


@pytest.fixture(autouse=True)
def _state_graph_holds() -> Iterator[None]:
    _violations.clear()
    yield
    if _violations and not os.environ.get("STATE_GRAPH_RECORD"):
        found = sorted(set(_violations), key=lambda e: (e[0] or "", e[1] or ""))
        _violations.clear()
        pytest.fail(
            "dialog transitions not declared in bot/dialogs/graph.py: "
            + ", ".join(f"{a} -> {b}" for a, b in found)
        )
