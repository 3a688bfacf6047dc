"""Start-up tuning (bot/runtime.py): aiogram's response models stay built, the GC is tuned once."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from aiogram.methods import GetMe, SendMessage
from aiogram.methods.base import Response

from bot.runtime import GC_GEN0_THRESHOLD, pin_response_models, tune_gc


def test_response_models_survive_a_collection() -> None:
    pinned = pin_response_models()
    assert len(pinned) > 20
    # What aiogram asks pydantic for on each call is the pinned class itself (strongly held here,
    # while pydantic's own cache of parametrised models is weak).
    gc.collect()
    assert Response[SendMessage.__returning__] in pinned  # type: ignore[name-defined]
    assert Response[GetMe.__returning__] in pinned  # type: ignore[name-defined]


@pytest.fixture
def restore_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_tune_gc_freezes_and_raises_the_threshold(restore_gc: None) -> None:
    figures = tune_gc()
    assert gc.get_threshold()[0] == GC_GEN0_THRESHOLD == figures["gen0_threshold"]
    assert figures["frozen_objects"] == gc.get_freeze_count() > 10_000
    assert figures["rss_bytes"] > 0
