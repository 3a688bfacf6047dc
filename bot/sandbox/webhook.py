"""Webhook delivery: while ``setWebhook`` is in force, queued updates are POSTed to the bot's URL.

Like Telegram: the ``X-Telegram-Bot-Api-Secret-Token`` header carries the secret, a 2xx answer
confirms the update, anything else (or no answer) keeps it queued and it is retried after a pause,
and up to ``max_connections`` updates are in flight at once. The sandbox does not execute a method
returned in the webhook's response body (aiogram's "reply in the response"); bots here call the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp

from .state import PendingUpdate, SandboxState, WebhookSettings, now_ts

log = logging.getLogger(__name__)
RETRY_PAUSE = 1.0
DELIVERY_TIMEOUT = 60.0  # Telegram gives up on a webhook request after about a minute


class WebhookDeliverer:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._in_flight: dict[int, asyncio.Task[None]] = {}

    def ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="sandbox-webhook")

    async def _run(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT))
        try:
            while not self.state.closing and (hook := self.state.webhook) is not None:
                room = hook.max_connections - len(self._in_flight)
                for update in self.state.deliverable(set(self._in_flight), max(room, 0)):
                    task = asyncio.create_task(self._deliver(hook, update))
                    self._in_flight[update.update_id] = task
                    task.add_done_callback(self._forget)
                # Woken by a new update; the timeout also picks up retries and a removed webhook.
                await self.state.wait_for_updates(0.2)
        finally:
            await self._stop_deliveries()

    def _forget(self, task: asyncio.Task[None]) -> None:
        for update_id, running in list(self._in_flight.items()):
            if running is task:
                del self._in_flight[update_id]

    async def _deliver(self, hook: WebhookSettings, update: PendingUpdate) -> None:
        assert self._session is not None
        headers = {"X-Telegram-Bot-Api-Secret-Token": hook.secret_token} if hook.secret_token else {}
        try:
            async with self._session.post(hook.url, json=update.body, headers=headers) as response:
                await response.read()
                ok = 200 <= response.status < 300
                error = f"Wrong response from the webhook: {response.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            ok, error = False, f"Connection failed: {type(exc).__name__}"
        if ok:
            self.state.mark_fetched(update, hook.bot_id)
            self.state.delivered(update.update_id)
            return
        hook.last_error_date, hook.last_error_message = now_ts(), error
        log.info("webhook delivery of update %s failed: %s", update.update_id, error)
        await asyncio.sleep(RETRY_PAUSE)  # stays in flight meanwhile, so the retry waits too

    async def _stop_deliveries(self) -> None:
        for task in list(self._in_flight.values()):
            task.cancel()
        for task in list(self._in_flight.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._in_flight.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
