"""The message that tells a user where their verification job is, kept current, then turned into the result.

A step posts it with :meth:`ProgressMessage.post` (the verifier's first estimate of the line), lends
its reporter to the verifier for the length of the call (``async with progress.live() as report``),
and at last edits it with the outcome (:meth:`ProgressMessage.edit_text`, like ``Message.edit_text``).

Positions are advice: an edit is made only when the text changes, at most one per ``interval`` (the
latest text wins), and an edit that fails (not modified, flood control, the network) is logged and
forgotten, never the step's failure. Telegram allows a chat about one message a second; a position
that moves every half second must not spend that on edits nobody can read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiogram.exceptions import TelegramRetryAfter
from aiogram.types import Message

from bot.services.verifier import Progress, ProgressReporter

log = logging.getLogger(__name__)

# Seconds between two position edits of one message (the post counts as the first: a job done
# within this time shows no intermediate state at all).
EDIT_INTERVAL = 2.0
# How long the result waits for a position edit already on the wire before going ahead.
_SETTLE_SECONDS = 5.0

Render = Callable[[Progress], str]


def texts(t: Callable[..., str], running: str, queued: str) -> Render:
    """Catalogue keys → the text for each state: ``running`` once a worker has the job, ``queued`` (with
    ``ahead``) while it waits."""

    def render(progress: Progress) -> str:
        return t(running) if progress.started else t(queued, ahead=progress.ahead)

    return render


def first_guess(waiting: int) -> Progress:
    """Before the job reports: nobody waiting means it should start at once."""
    return Progress(ahead=waiting) if waiting > 0 else Progress(started=True)


class ProgressMessage:
    def __init__(self, message: Message, render: Render, *, interval: float | None = None) -> None:
        self.message = message
        self.render = render
        self.interval = EDIT_INTERVAL if interval is None else interval
        self._loop = asyncio.get_running_loop()
        self._shown = message.text or ""
        self._wanted = self._shown
        self._last_edit = self._loop.time()
        self._live = False
        self._stop = asyncio.Event()
        self._editor: asyncio.Task[None] | None = None

    @classmethod
    async def post(
        cls, to: Message, render: Render, first: Progress, *, interval: float | None = None
    ) -> ProgressMessage:
        """Answer ``to`` with the text for ``first``; the returned object edits that answer."""
        sent = await to.answer(render(first))
        return cls(sent, render, interval=interval)

    # --- while the verifier runs --------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def live(self) -> AsyncIterator[ProgressReporter]:
        """The reporter to hand to the verifier; once the block ends no position edit follows."""
        self._live = True
        self._stop.clear()
        try:
            yield self.report
        finally:
            await self._settle()

    async def report(self, progress: Progress) -> None:
        """Never blocks on Telegram: it only records the wanted text and wakes the editor."""
        if not self._live:
            return
        self._wanted = self.render(progress)
        if self._wanted != self._shown and (self._editor is None or self._editor.done()):
            self._editor = self._loop.create_task(self._edit_loop())

    async def _edit_loop(self) -> None:
        while self._live and self._wanted != self._shown:
            delay = self._last_edit + self.interval - self._loop.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
                continue  # the wanted text may have changed meanwhile, or the block ended
            text = self._wanted
            self._last_edit = self._loop.time()
            try:
                await self.message.edit_text(text)
            except TelegramRetryAfter as exc:
                # Flood control: the next edit waits as long as Telegram asks, the text stays wanted.
                self._last_edit = self._loop.time() + exc.retry_after - self.interval
                log.info("progress edit postponed by flood control (%s s)", exc.retry_after)
                continue
            except Exception:  # "message is not modified", the message deleted, the network
                log.info("progress edit failed", exc_info=True)
            # A text that failed is not retried: a newer position will be tried in its turn.
            self._shown = text

    async def _settle(self) -> None:
        """Stop position edits; wait for one already sent (it must not land after the result)."""
        self._live = False
        self._stop.set()
        editor, self._editor = self._editor, None
        if editor is None or editor.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(editor), _SETTLE_SECONDS)
        except TimeoutError:
            editor.cancel()

    # --- the outcome ----------------------------------------------------------------------------------
    async def edit_text(self, text: str, **kwargs: Any) -> None:
        """The result (or the refusal): always sent, and what the message says from now on."""
        await self._settle()
        await self.message.edit_text(text, **kwargs)
        self._shown = self._wanted = text
