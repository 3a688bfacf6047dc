"""Process start-up tuning shared by the bot, the webhook replicas and the verification workers (issue 22).

**aiogram's response models.** aiogram validates every Bot API answer as ``Response[T]`` with
``T = method.__returning__``, building the parametrised pydantic model on each call. pydantic keeps
parametrised generics in a *weak* cache (``pydantic._internal._generics._GENERIC_TYPES_CACHE``), so
between calls the class is collected and the next call rebuilds it: ≈ 4 ms of CPU each time, 13 % of
a plain update's CPU in the profile. :func:`pin_response_models` builds ``Response[T]`` once for
every method's return type and keeps a strong reference for the life of the process.

**The garbage collector.** After start-up the process holds some hundreds of thousands of long-lived
objects (aiogram's and pydantic's models, the locale catalogues, compiled templates, the engines' code);
every full collection walked them all again. :func:`tune_gc` moves them to the permanent generation
(``gc.freeze()``) and raises the young-generation threshold, which a bot that allocates a few thousand
short-lived objects per update crossed several times per update. The figures that chose the threshold
are in bench/RESULTS-load.md.
"""

from __future__ import annotations

import functools
import gc
import logging
import os
from typing import Any

log = logging.getLogger(__name__)

# Young-generation threshold, chosen with `bench/bench_load.py --gc-sweep 700,3000,10000,20000,50000`
# (bench/RESULTS-load.md): GC CPU per plain update 0.62 / 0.40 / 0.21 / 0.23 / 0.06 ms; the young
# collections grow with it (tens of ms at 50,000 on a loaded machine) but the middle generation's, which
# at 20,000 were the longest, are no longer reached; the bot process's peak RSS did not change (275-277 MB).
# CPython's default is 700.
GC_GEN0_THRESHOLD = 50_000


@functools.cache
def pin_response_models() -> tuple[type[Any], ...]:
    """``Response[T]`` for every Bot API method's return type, built once and kept (strong refs)."""
    import aiogram.methods as methods
    from aiogram.methods.base import Response, TelegramMethod

    returning: dict[str, Any] = {}
    for name in dir(methods):
        cls = getattr(methods, name)
        if isinstance(cls, type) and issubclass(cls, TelegramMethod) and cls is not TelegramMethod:
            target = getattr(cls, "__returning__", None)
            if target is not None:
                returning.setdefault(repr(target), target)
    return tuple(Response[target] for target in returning.values())  # type: ignore[valid-type]


def _rss_bytes() -> int:
    try:
        with open(f"/proc/{os.getpid()}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def tune_gc(gen0: int | None = None) -> dict[str, int]:
    """Pin the response models, freeze what start-up loaded and raise the young-generation threshold;
    call it once, after the models and catalogues are loaded. Logs and returns what it did, memory
    included."""
    pinned = len(pin_response_models())
    return freeze_gc(gen0, pinned=pinned)


def freeze_gc(gen0: int | None = None, *, pinned: int = 0) -> dict[str, int]:
    """The collector half of :func:`tune_gc`, for processes that never talk to the Bot API (the
    verification pool's workers, after their models are loaded): aiogram is not imported."""
    before = _rss_bytes()
    gc.collect()
    gc.freeze()
    threshold = GC_GEN0_THRESHOLD if gen0 is None else gen0
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(threshold, gen1, gen2)
    after = _rss_bytes()
    figures = {
        "frozen_objects": gc.get_freeze_count(),
        "gen0_threshold": threshold,
        "pinned_response_models": pinned,
        "rss_bytes": after,
        "rss_change_bytes": after - before,
    }
    log.info(
        "start-up tuning: %d response models pinned, %d objects frozen, gen-0 threshold %d;"
        " RSS %.1f MB (%+.1f MB)",
        pinned,
        figures["frozen_objects"],
        threshold,
        after / 2**20,
        (after - before) / 2**20,
    )
    return figures


def tune_worker_gc() -> None:
    """A verification worker's last warm-up step: its engines' models are loaded by the steps before."""
    freeze_gc()
