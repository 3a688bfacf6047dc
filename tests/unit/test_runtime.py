"""Start-up tuning (bot/runtime.py): aiogram's response models stay built, the GC is tuned once."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

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



def _worker_gc_state() -> tuple[int, int]:
    return gc.get_threshold()[0], gc.get_freeze_count()


async def test_verification_workers_tune_their_collector() -> None:
    # The pool the bot builds ends its workers' warm-up with the collector's tuning (bot.services).
    from bot.runtime import tune_worker_gc
    from bot.verification.pool import VerificationPool

    async with VerificationPool(workers=1, timeout=60, warmup=(tune_worker_gc,)) as pool:
        threshold, frozen = await pool.run(_worker_gc_state)
    assert threshold == GC_GEN0_THRESHOLD
    assert frozen > 0


def test_the_workers_tuning_does_not_load_aiogram() -> None:
    # A worker never talks to the Bot API; its tuning must not pull aiogram into its memory.
    code = "import sys, bot.runtime; bot.runtime.tune_worker_gc(); print('aiogram' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_bots_pool_tunes_its_workers(tmp_path: Path) -> None:
    from bot.runtime import tune_worker_gc
    from bot.services import build_verifier
    from tests.helpers.factory import make_settings

    verifier = build_verifier(make_settings(tmp_path))
    assert verifier.pool._warmup[-1] is tune_worker_gc
