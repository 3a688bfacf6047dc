"""Async facade over a process pool: the CPU-heavy engines (face, ID card OCR) run off the event loop.

One :class:`VerificationPool` is built at start-up by the caller (no module-level pool) and shared by
every engine: ``await pool.run(verify_selfie_video, video, challenge, refs)``. The functions and their
arguments and results must be picklable (module-level functions, plain data).

* Workers: one per CPU the process may use, started with ``spawn`` (a forked child would inherit the
  event loop, aiogram's sessions and open sockets), each running the ``warmup`` callables once so
  the models load once per worker, not per request.
* Admission: at most ``workers`` calls run at once; the others wait in order. ``queue_depth`` (waiting)
  and ``in_flight`` (running) let the bot tell a user their place in the queue; a call's own place is
  reported to its ``progress`` callback as it changes (calls ahead of it, then ``None`` once it runs).
* Timeout: :class:`VerificationTimeout`. A process cannot be interrupted mid-call, so the pool with the
  stuck call is retired: new calls go to a fresh pool at once, the old one is terminated when its
  other calls are done.
* A worker that dies (segfault in native code, out of memory) breaks its pool: the call fails with
  :class:`VerificationCrashed` and the pool is rebuilt for the next call.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import os
import signal
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

__all__ = [
    "VerificationCrashed",
    "VerificationError",
    "VerificationPool",
    "VerificationTimeout",
    "default_workers",
]

log = logging.getLogger(__name__)
T = TypeVar("T")
# Called with the number of calls waiting ahead of this one whenever it changes, then with None once a
# worker runs it.
PositionCallback = Callable[[int | None], Awaitable[None]]


class VerificationError(Exception):
    """Base of the pool's own failures (an engine's reason codes are results, not exceptions)."""


class VerificationTimeout(VerificationError):
    pass


class VerificationCrashed(VerificationError):
    pass


def default_workers() -> int:
    """CPUs this process may run on (cgroup / affinity aware where the platform says so)."""
    counter = getattr(os, "process_cpu_count", None)  # Python 3.13+
    if counter is not None:
        n = counter()
        if n:
            return int(n)
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _init_worker(warmup: Sequence[Callable[[], None]]) -> None:
    # Ctrl-C reaches the whole process group: a worker must not die of it mid-call with a traceback.
    # The parent stops the pool when it stops (close()), which ends the workers in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for fn in warmup:
        fn()


def _noop() -> int:
    return os.getpid()


class _Generation:
    """One executor and the calls it is running."""

    def __init__(self, executor: ProcessPoolExecutor) -> None:
        self.executor = executor
        self.running: set[Future[Any]] = set()
        self.retired = False


class VerificationPool:
    def __init__(
        self,
        workers: int | None = None,
        timeout: float = 60.0,
        warmup: Sequence[Callable[[], None]] = (),
    ) -> None:
        if workers is not None and workers < 1:
            raise ValueError("workers must be at least 1")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.workers = workers or default_workers()
        self.timeout = timeout
        self._warmup = tuple(warmup)
        self._gen: _Generation | None = None
        self._slots: asyncio.Semaphore | None = None
        # Calls waiting for a slot, oldest first (a token each): their index is their place in line.
        self._line: list[object] = []
        self._line_moved = asyncio.Event()
        self._running = 0
        self._closed = False
        self._retiring: set[asyncio.Task[None]] = set()
        self.rebuilds = 0

    # --- counters ----------------------------------------------------------------------------------
    @property
    def queue_depth(self) -> int:
        """Calls waiting for a free worker."""
        return len(self._line)

    @property
    def in_flight(self) -> int:
        """Calls running in a worker now."""
        return self._running

    # --- life cycle --------------------------------------------------------------------------------
    def _new_generation(self) -> _Generation:
        ctx = multiprocessing.get_context("spawn")
        executor = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=ctx, initializer=_init_worker, initargs=(self._warmup,)
        )
        return _Generation(executor)

    async def start(self) -> None:
        """Start every worker and wait for its warmup (so the first user does not pay for it)."""
        if self._closed:
            raise RuntimeError("the pool is closed")
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.workers)
        if self._gen is None:
            self._gen = self._new_generation()
        loop = asyncio.get_running_loop()
        gen = self._gen
        await asyncio.gather(*(loop.run_in_executor(gen.executor, _noop) for _ in range(self.workers)))

    async def close(self, grace: float = 5.0) -> None:
        """Stop taking calls; wait up to ``grace`` seconds for running ones, then terminate workers."""
        self._closed = True
        gen, self._gen = self._gen, None
        for task in list(self._retiring):
            task.cancel()
        if gen is None:
            return
        pending = [asyncio.wrap_future(f) for f in list(gen.running) if not f.done()]
        for fut in pending:
            # these are only watched here; their callers get the outcome from their own wrapper. An
            # exception left unread is logged from __del__, at any moment (even inside an import).
            fut.add_done_callback(_swallow)
        if pending:
            await asyncio.wait(pending, timeout=grace)
        _terminate(gen.executor)
        await asyncio.to_thread(functools.partial(gen.executor.shutdown, wait=True, cancel_futures=True))

    async def __aenter__(self) -> VerificationPool:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- calls -------------------------------------------------------------------------------------
    async def run(
        self,
        fn: Callable[..., T],
        *args: Any,
        timeout: float | None = None,  # noqa: ASYNC109
        progress: PositionCallback | None = None,
    ) -> T:
        """``fn(*args)`` in a worker process; raises VerificationTimeout / VerificationCrashed, or
        whatever ``fn`` raised (re-raised here after pickling). ``progress`` hears this call's place
        in line (an exception it raises is logged, never the call's failure)."""
        if self._closed:
            raise RuntimeError("the pool is closed")
        if self._slots is None or self._gen is None:
            await self.start()
        assert self._slots is not None
        limit = self.timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        ticket = object()
        self._line.append(ticket)
        watcher = None if progress is None else loop.create_task(self._follow(ticket, progress))
        try:
            await self._slots.acquire()
        finally:
            self._line.remove(ticket)
            self._moved()
            if watcher is not None:
                # Not awaited: a report in flight must not hold a slot that is already ours.
                watcher.cancel()
        self._running += 1
        try:
            if self._closed:
                raise RuntimeError("the pool is closed")
            if progress is not None:
                await _report(progress, None)
            gen = self._current()
            try:
                cfut = gen.executor.submit(fn, *args)
            except BrokenProcessPool as exc:
                self._rebuild(gen)
                raise VerificationCrashed(str(exc) or "worker pool broken") from exc
            gen.running.add(cfut)
            cfut.add_done_callback(gen.running.discard)
            afut = asyncio.wrap_future(cfut, loop=loop)
            try:
                return await asyncio.wait_for(asyncio.shield(afut), limit)
            except TimeoutError:
                afut.add_done_callback(_swallow)
                self._retire(gen, stuck=cfut)
                raise VerificationTimeout(
                    f"{getattr(fn, '__name__', fn)!s} took longer than {limit:.0f} s"
                ) from None
            except BrokenProcessPool as exc:
                self._rebuild(gen)
                raise VerificationCrashed(str(exc) or "a worker process died") from exc
        finally:
            self._running -= 1
            self._slots.release()

    def _moved(self) -> None:
        """Wake every waiting call's watcher: the line got shorter."""
        self._line_moved.set()
        self._line_moved = asyncio.Event()

    async def _follow(self, ticket: object, progress: PositionCallback) -> None:
        last: int | None = None
        while ticket in self._line:
            moved = self._line_moved  # taken before reading the place, so no move is missed
            ahead = self._line.index(ticket)
            if ahead != last:
                last = ahead
                await _report(progress, ahead)
            await moved.wait()

    def _current(self) -> _Generation:
        if self._gen is None:
            self._gen = self._new_generation()
        return self._gen

    def _rebuild(self, broken: _Generation) -> None:
        if self._gen is broken and not self._closed:
            log.warning("verification pool broken; rebuilding")
            self.rebuilds += 1
            self._gen = self._new_generation()
            broken.executor.shutdown(wait=False, cancel_futures=True)

    def _retire(self, gen: _Generation, stuck: Future[Any]) -> None:
        """Send new calls to a fresh pool; kill the old one once the calls it still runs (other than
        the stuck one) are done."""
        if gen.retired:
            return
        gen.retired = True
        if self._gen is gen and not self._closed:
            self.rebuilds += 1
            self._gen = self._new_generation()
        task = asyncio.get_running_loop().create_task(self._drain_and_kill(gen, stuck))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _drain_and_kill(self, gen: _Generation, stuck: Future[Any]) -> None:
        others = [asyncio.wrap_future(f) for f in list(gen.running) if f is not stuck and not f.done()]
        if others:
            await asyncio.gather(*others, return_exceptions=True)
        _terminate(gen.executor)
        await asyncio.to_thread(functools.partial(gen.executor.shutdown, wait=True, cancel_futures=True))


def _terminate(executor: ProcessPoolExecutor) -> None:
    """Kill the executor's workers that are still busy (the public API can only wait for them)."""
    processes = getattr(executor, "_processes", None) or {}
    for proc in list(processes.values()):
        with contextlib.suppress(Exception):
            if proc.is_alive():
                proc.terminate()


async def _report(progress: PositionCallback, ahead: int | None) -> None:
    try:
        await progress(ahead)
    except Exception:  # telling the user where they are is advice; the call goes on regardless
        log.warning("a progress callback failed", exc_info=True)


def _swallow(fut: asyncio.Future[Any]) -> None:
    """The caller has gone (timed out); read the late result so asyncio does not log it."""
    if not fut.cancelled():
        fut.exception()
