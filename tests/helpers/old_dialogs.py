"""Dialogs as an earlier version stored them (bot/dialogs/calls.py ``upgrade``): version 2 kept the
flows' and sub-dialogs' own values as loose keys of the FSM data.

``every_step_as_version_2`` (a fixture) rewrites the stored dialog into that shape before every update
a test sends: each step of the walk then begins on a dialog stored by the code before, as a dialog in
flight across the deployment does, and must go on as it would have.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.conversation import Common
from bot.dialogs import calls
from bot.dialogs.calls import FlowData, StepData
from tests.helpers.client import BotClient

__all__ = ["as_version_2", "every_step_as_version_2"]


def as_version_2(data: dict[str, Any]) -> dict[str, Any]:
    """What version 2 stored for the same dialog: no model of the dialog's own values, their fields
    under the loose keys of before (only those that were set), the face check's input without the
    person (version 2 took it from the dialog's ``person_id``)."""
    old = dict(data)
    loose: dict[str, Any] = {}
    common = old.pop(Common.KEY, None)
    if isinstance(common, dict):
        loose.update({k: common[k] for k in Common.LOOSE if common.get(k) not in (None, [], {})})
    for step in StepData.STEPS:
        kept = old.pop(step.KEY, None)
        if isinstance(kept, dict):
            loose.update({key: kept[f] for key, f in step.loose().items() if kept.get(f) is not None})
    flow = FlowData.FLOWS.get(str(old.get("flow") or ""))
    kept = old.pop(flow.KEY, None) if flow is not None else None
    if flow is not None and isinstance(kept, dict):
        loose.update(flow.model_validate(kept).flat())  # the shape the record builders read, as before
    frames = []
    for frame in old.get(calls.STACK) or []:
        if frame.get("sub") == "face" and isinstance(frame.get("input"), dict):
            frame = {**frame, "input": {k: v for k, v in frame["input"].items() if k != "person_id"}}
        frames.append(frame)
    if calls.STACK in old:
        old[calls.STACK] = frames
    if calls.VERSION_KEY in old:
        old[calls.VERSION_KEY] = 2
    return {**old, **loose}


@pytest.fixture
def every_step_as_version_2(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Before each update a client sends, its stored dialog is rewritten into version 2; yields the
    count of dialogs so rewritten (a walk that rewrote none proves nothing)."""
    feed = BotClient._feed
    rewritten = [0]

    async def _feed(self: BotClient, **update: Any) -> Any:
        state = self.dp.fsm.get_context(self.bot, chat_id=self.user.id, user_id=self.user.id)
        data = await state.get_data()
        if data.get(calls.VERSION_KEY) == calls.DIALOG_VERSION or Common.KEY in data:
            await state.set_data(as_version_2(data))
            rewritten[0] += 1
        return await feed(self, **update)

    monkeypatch.setattr(BotClient, "_feed", _feed)
    yield rewritten
    assert rewritten[0] > 0, "no step began on a dialog stored in version 2"
