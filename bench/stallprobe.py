"""What stalls the bot's event loop (issue 22): installed in the bot's process by
``bench_load.py --stalls``; py-spy is not installed here, so this is built from the interpreter's own
hooks.

- **Callbacks.** ``asyncio.Handle._run`` is wrapped: every callback (a task step, a transport's
  ``data_received``, a timer) is timed in wall and in the main thread's CPU time. A callback whose wall
  time is far above its CPU time was descheduled (the machine's other processes), one with CPU ≈ wall
  ran that long.
- **Loop iterations.** ``BaseEventLoop._run_once`` is wrapped: the time an iteration spent running its
  ready callbacks and how many it ran. A "stall" as the watcher sees it (a 5 ms sleep waking late) is
  one long callback or one iteration with many callbacks: both are told apart here.
- **Garbage collections.** ``gc.callbacks``: each collection's generation and duration.
- **Stacks during long callbacks.** A sampler thread looks at the main thread every 2 ms while a
  callback has run for more than 20 ms, and counts the innermost frames it finds, by place.

``snapshot()`` returns the figures as plain data for the stats file the benchmark reads.
"""

from __future__ import annotations

import asyncio
import asyncio.base_events
import asyncio.events
import gc
import sys
import threading
import time
from typing import Any

_LONG_CALLBACK_S = 0.020  # sample stacks of callbacks running longer than this
_BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500)


class StallProbe:
    def __init__(self) -> None:
        self.callbacks = 0
        self.callback_wall = 0.0
        self.callback_cpu = 0.0
        self.longest: list[tuple[float, float, str]] = []  # (wall s, cpu s, what), the 15 longest
        self.callback_hist = dict.fromkeys(_BUCKETS_MS, 0)
        self.iterations = 0
        self.iteration_hist = dict.fromkeys(_BUCKETS_MS, 0)
        self.longest_iterations: list[tuple[float, int]] = []  # (busy s, callbacks run)
        self.gc: dict[int, list[tuple[float, float]]] = {0: [], 1: [], 2: []}  # (wall, CPU) by generation
        self.gc_collected = 0
        self.gc_events: list[tuple[float, int, float, float]] = []  # (end, generation, wall ms, CPU ms)
        self.stacks: dict[str, int] = {}
        self.api_calls: dict[str, int] = {}
        self._current_started = 0.0
        self._iter_busy = 0.0
        self._iter_count = 0
        self._gc_started = (0.0, 0.0)
        self._main = threading.main_thread().ident or 0

    # --- hooks -------------------------------------------------------------------------------------

    def install(self, callbacks: bool = True) -> None:
        """The collections' hook always; the callbacks', iterations' and stacks' only with ``callbacks``
        (they cost a few microseconds per callback)."""
        gc.callbacks.append(self._on_gc)
        if callbacks:
            self._install_loop_hooks()
            self.count_api_calls()

    def count_api_calls(self) -> None:
        """Bot API calls by method (the bot's one session class, wrapped before the bot is built)."""
        from bot.session import RetryingSession

        probe, original = self, RetryingSession.make_request

        async def make_request(session: Any, bot: Any, method: Any, timeout: Any = None) -> Any:  # noqa: ASYNC109
            name = type(method).__name__
            probe.api_calls[name] = probe.api_calls.get(name, 0) + 1
            result = await original(session, bot, method, timeout)
            if isinstance(result, list):  # getUpdates: how many came per call
                probe.api_calls["updates received"] = probe.api_calls.get("updates received", 0) + len(result)
            return result

        RetryingSession.make_request = make_request  # type: ignore[method-assign]

    def _install_loop_hooks(self) -> None:
        probe = self
        original_run = asyncio.events.Handle._run
        original_once = asyncio.base_events.BaseEventLoop._run_once

        def _run(handle: asyncio.events.Handle) -> None:
            wall0, cpu0 = time.perf_counter(), time.thread_time()
            probe._current_started = wall0
            try:
                original_run(handle)
            finally:
                probe._current_started = 0.0
                wall, cpu = time.perf_counter() - wall0, time.thread_time() - cpu0
                probe._callback(handle, wall, cpu)

        def _run_once(loop: asyncio.base_events.BaseEventLoop) -> None:
            probe._iter_busy, probe._iter_count = 0.0, 0
            original_once(loop)
            probe._iteration(probe._iter_busy, probe._iter_count)

        asyncio.events.Handle._run = _run  # type: ignore[method-assign]
        asyncio.base_events.BaseEventLoop._run_once = _run_once  # type: ignore[method-assign]
        threading.Thread(target=self._sample, name="stallprobe", daemon=True).start()

    def _callback(self, handle: asyncio.events.Handle, wall: float, cpu: float) -> None:
        self.callbacks += 1
        self.callback_wall += wall
        self.callback_cpu += cpu
        self._iter_busy += wall
        self._iter_count += 1
        _bucket(self.callback_hist, wall)
        if len(self.longest) < 15 or wall > self.longest[-1][0]:
            self.longest.append((wall, cpu, _describe(handle)))
            self.longest.sort(reverse=True)
            del self.longest[15:]

    def _iteration(self, busy: float, count: int) -> None:
        self.iterations += 1
        _bucket(self.iteration_hist, busy)
        if len(self.longest_iterations) < 10 or busy > self.longest_iterations[-1][0]:
            self.longest_iterations.append((busy, count))
            self.longest_iterations.sort(reverse=True)
            del self.longest_iterations[10:]

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = (time.perf_counter(), time.thread_time())
        else:
            wall0, cpu0 = self._gc_started
            wall, cpu = time.perf_counter() - wall0, time.thread_time() - cpu0
            self.gc[int(info["generation"])].append((wall, cpu))
            self.gc_events.append((time.time(), int(info["generation"]), wall * 1000, cpu * 1000))
            del self.gc_events[:-3000]
            self.gc_collected += int(info.get("collected", 0))

    def _sample(self) -> None:
        while True:
            time.sleep(0.002)
            started = self._current_started
            if not started or time.perf_counter() - started < _LONG_CALLBACK_S:
                continue
            frame = sys._current_frames().get(self._main)
            places = []
            while frame is not None and len(places) < 6:
                code = frame.f_code
                name = code.co_filename.rsplit("site-packages/", 1)[-1].rsplit("/wt-load/", 1)[-1]
                places.append(f"{name}:{frame.f_lineno} {code.co_name}")
                frame = frame.f_back
            key = " < ".join(places)
            self.stacks[key] = self.stacks.get(key, 0) + 1

    def dump_heap(self, path: str) -> None:
        """The garbage collector's tracked objects (the frozen ones are not among them), by type: what
        a full collection has to walk. Called on SIGUSR1 from the benchmark, after a phase."""
        import collections
        import json

        started = time.thread_time()
        objects = gc.get_objects()
        by_type = collections.Counter(type(o).__qualname__ for o in objects)
        modules = collections.Counter(getattr(type(o), "__module__", "?") for o in objects)
        report = {
            "tracked": len(objects),
            "frozen": gc.get_freeze_count(),
            "generations": [len(gc.get_objects(g)) for g in range(3)],
            "types": by_type.most_common(25),
            "modules": modules.most_common(15),
            "took_ms": (time.thread_time() - started) * 1000,
        }
        del objects
        with open(path, "w") as out:
            json.dump(report, out)

    # --- results -----------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        gcs = {
            str(g): {
                "n": len(d),
                "total_ms": sum(w for w, _ in d) * 1000,
                "cpu_ms": sum(c for _, c in d) * 1000,
                "max_ms": max((w for w, _ in d), default=0.0) * 1000,
                "max_cpu_ms": max((c for _, c in d), default=0.0) * 1000,
            }
            for g, d in self.gc.items()
        }
        return {
            "callbacks": self.callbacks,
            "callback_wall_s": self.callback_wall,
            "callback_cpu_s": self.callback_cpu,
            "callback_hist_ms": {str(k): v for k, v in self.callback_hist.items()},
            "longest_callbacks": [(w * 1000, c * 1000, what) for w, c, what in self.longest],
            "iterations": self.iterations,
            "iteration_hist_ms": {str(k): v for k, v in self.iteration_hist.items()},
            "longest_iterations": [(b * 1000, n) for b, n in self.longest_iterations],
            "gc": gcs,
            "gc_collected": self.gc_collected,
            "gc_events": list(self.gc_events),
            "api_calls": dict(self.api_calls),
            "stacks": dict(sorted(self.stacks.items(), key=lambda kv: -kv[1])[:400]),
        }


def _bucket(hist: dict[int, int], seconds: float) -> None:
    ms = seconds * 1000
    for edge in reversed(_BUCKETS_MS):
        if ms >= edge:
            hist[edge] += 1
            return


def _describe(handle: asyncio.events.Handle) -> str:
    callback = getattr(handle, "_callback", None)
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        coro = owner.get_coro()
        return f"task {getattr(coro, '__qualname__', coro)!s}"
    return repr(callback)[:120]
