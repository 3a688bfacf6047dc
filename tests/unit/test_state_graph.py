"""The declared dialog graph (bot/dialogs/graph.py): complete, connected, and drawn in docs/STATES.md."""

from __future__ import annotations

import ast
from pathlib import Path

from bot.config import REPO_ROOT
from bot.dialogs.graph import GROUPS, STEPS, allowed, draw


def test_every_states_group_of_the_dialogs_is_declared() -> None:
    declared = {group.__name__ for group in GROUPS}
    found = set()
    for path in (REPO_ROOT / "bot" / "dialogs").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(b, ast.Name) and b.id == "StatesGroup" for b in node.bases
            ):
                found.add(node.name)
    assert found == declared


def test_every_step_is_reachable_from_the_menu() -> None:
    seen: set[str] = set()
    todo = [None]
    while todo:
        for nxt in STEPS.get(todo.pop(), ()):
            if nxt.state not in seen:
                seen.add(str(nxt.state))
                todo.append(nxt)
    every = {str(s.state) for group in GROUPS for s in group.__all_states__}
    assert every - seen == set()


def test_ending_and_showing_again_are_always_allowed_and_jumps_are_not() -> None:
    first = next(iter(STEPS[None]))
    assert allowed(first.state, None) and allowed(first.state, first.state)
    assert allowed(None, first.state)
    assert not allowed(None, "CollectSG:consent")  # no function starts at its consent


def test_the_drawing_is_current() -> None:
    assert (REPO_ROOT / "docs" / "STATES.md").read_text(encoding="utf-8") == draw()


async def test_an_undeclared_step_is_caught(tmp_path: Path) -> None:
    """The suite's check itself: a jump the graph does not declare is recorded as a violation."""
    from aiogram.fsm.storage.base import StorageKey

    from bot.dialogs.card import CardSG
    from bot.dialogs.collect import CollectSG
    from bot.storage.crypto import FieldCipher
    from bot.storage.factory import open_database
    from bot.storage.fsm import DatabaseStorage
    from tests.helpers import state_graph

    db = await open_database(tmp_path / "g.sqlite3")
    storage = DatabaseStorage(db, FieldCipher.from_master(b"g" * 32, key_id="k1"))
    key = StorageKey(bot_id=1, chat_id=2, user_id=2)
    try:
        await storage.set_state(key, CollectSG.document)  # an entry
        await storage.set_state(key, CardSG.front)  # a declared step
        assert state_graph.take_violations() == []
        await storage.set_state(key, CollectSG.consent)  # front → consent skips the card's checks
        assert state_graph.take_violations() == [(CardSG.front.state, CollectSG.consent.state)]
    finally:
        await db.close()
