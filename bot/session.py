"""The one retry policy for every Bot API call: flood control (429) and transient failures.

Telegram answers 429 with ``retry_after`` when a bot sends faster than it allows (about one message a
second per chat, with short bursts; 30 a second per bot; 20 a minute per group). Without a policy every
such answer surfaces as an exception in whichever handler made the call: the reviewer gets an apology
instead of the case, a notice is lost. The session waits exactly as long as Telegram asks and tries
again, a bounded number of times, so no handler has to know about flood control.

Transient failures are retried with a short backoff: a connection that could not be opened (the request
never left, so a retry cannot duplicate a message), 5xx answers, and for methods that change nothing
or change it to the same end state (``get*``, ``edit*``, ``delete*``, ``set*``, ...), any network error
including a timeout. A timed-out ``sendMessage`` is not retried: Telegram may have delivered it.

**Gathering updates** (issue 22). aiogram's polling asks for the next batch of updates as soon as it
has handed the last one to its tasks. A bot that keeps up therefore gets one update per ``getUpdates``
(0.93 calls per update in the load benchmark, against 0.07 for a saturated echo bot): a whole HTTP
request, its JSON and its validation per update, in the bot and in Telegram's stand-in on the same
cores. After a batch smaller than ``GATHER_BATCH`` the next ``getUpdates`` waits until ``GATHER_S``
have passed since the last one returned, so the updates that arrive meanwhile come in one answer.
An idle bot (an empty long poll) does not wait; a busy one gets full batches and does not wait
either; in between an update may wait up to ``GATHER_S`` (15 ms) for its poll.

**Late callback answers.** Telegram accepts ``answerCallbackQuery`` only for a while after the press
(and the sandbox enforces the same deadline); later it answers 400 "query is too old". By then the
user's spinner has long ended, so such an answer is moot: the session logs it and returns ``True``
instead of letting the error end the handler before it edits the message or replies — a busy bot
(the load benchmark's mixed phase) otherwise left that user with silence.

File downloads (``bot.download``: a GET of ``/file/bot.../path``, not a method call) are retried the
same way while nothing has been received yet; once bytes have reached the caller a failure is raised
(a retry would write them twice).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import (
    RestartingTelegram,
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import AnswerCallbackQuery, GetUpdates, TelegramMethod
from aiogram.methods.base import TelegramType
from aiohttp import ClientConnectorError, ClientError, ClientResponseError, ClientTimeout

log = logging.getLogger(__name__)

# getUpdates gathering (module docstring): a batch this small waits for company, at most this long.
GATHER_BATCH = 8
GATHER_S = 0.015

# Methods whose repetition cannot produce a second message or a different end state.
_REPEATABLE_PREFIXES = ("get", "edit", "delete", "set", "answer", "sandbox", "close", "logout")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    # Attempts in all, the first included: a handler waits at most about max_total_wait seconds.
    attempts: int = 4
    # A longer retry_after than this is not waited for (a handler would hang; the caller decides).
    max_retry_after: float = 30.0
    max_total_wait: float = 60.0
    backoff: float = 0.5
    max_backoff: float = 4.0

    def backoff_delay(self, attempt: int) -> float:
        """Exponential with jitter, so replicas that failed together do not retry together."""
        base: float = min(self.max_backoff, self.backoff * 2.0 ** (attempt - 1))
        return base * (0.5 + random.random() / 2)


def is_repeatable(method: TelegramMethod[Any]) -> bool:
    return method.__api_method__.lower().startswith(_REPEATABLE_PREFIXES)


def is_expired_callback(exc: TelegramBadRequest) -> bool:
    """Telegram's (and the sandbox's) answer to a callback answered after its deadline."""
    return "query is too old" in exc.message.lower()


class RetryingSession(AiohttpSession):
    """aiogram's aiohttp session with :class:`RetryPolicy` around each request."""

    def __init__(
        self, *args: Any, policy: RetryPolicy | None = None, gather_s: float = GATHER_S, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.policy = policy or RetryPolicy()
        self.gather_s = gather_s
        self._small_batch_at: float | None = None  # when the last getUpdates returned a small batch

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None  # noqa: ASYNC109 (aiogram's signature)
    ) -> TelegramType:
        if not isinstance(method, GetUpdates):
            return await self._with_retries(bot, method, timeout)
        if self._small_batch_at is not None:
            wait = self._small_batch_at + self.gather_s - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        updates: Any = await self._with_retries(bot, method, timeout)
        count = len(updates) if isinstance(updates, list) else 0
        self._small_batch_at = time.monotonic() if 0 < count < GATHER_BATCH else None
        return cast(TelegramType, updates)

    async def _with_retries(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None  # noqa: ASYNC109
    ) -> TelegramType:
        late_is_moot = isinstance(method, AnswerCallbackQuery)
        if not late_is_moot:
            return await self._retrying(bot, method, timeout)
        try:
            return await self._retrying(bot, method, timeout)
        except TelegramBadRequest as exc:
            if not is_expired_callback(exc):
                raise
            log.info("callback answered after Telegram's deadline; the answer is dropped")
            return cast(TelegramType, True)

    def json_body(self, bot: Bot, method: TelegramMethod[TelegramType]) -> bytes | None:
        """The call as one JSON document, or None when it uploads a file (multipart, as aiogram does).

        aiogram encodes every call as a form whose nested fields (a keyboard, entities) are JSON
        strings, URL-quoted field by field; the Bot API also takes a JSON body, which costs half the
        CPU to build here (and to read on the other side). The same fields are sent: aiogram's
        ``prepare_value`` converts each, None and empty strings are left out as in its form. The
        dump itself leaves the None fields out (``exclude_none``): of a 5-button keyboard's ≈ 90
        fields, 80 are None, and walking them took a third of the body's 46 µs (29 µs without;
        the bytes are the same, tests/unit/test_session.py)."""
        files: dict[str, Any] = {}
        body: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False, exclude_none=True).items():
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if prepared is None or prepared == "":
                continue
            body[key] = prepared
        if files:
            return None
        return self.json_dumps(body).encode()

    async def _send(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None  # noqa: ASYNC109
    ) -> TelegramType:
        body = self.json_body(bot, method)
        if body is None:
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(
                url,
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=ClientTimeout(total=self.timeout if timeout is None else timeout),
            ) as resp:
                raw = await resp.text()
        except TimeoutError as exc:
            raise TelegramNetworkError(method=method, message="Request timeout error") from exc
        except ClientError as exc:
            raise TelegramNetworkError(method=method, message=f"{type(exc).__name__}: {exc}") from exc
        response = self.check_response(bot=bot, method=method, status_code=resp.status, content=raw)
        return cast(TelegramType, response.result)

    async def _retrying(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None  # noqa: ASYNC109
    ) -> TelegramType:
        policy = self.policy
        waited = 0.0
        attempt = 1
        while True:
            try:
                return await self._send(bot, method, timeout)
            except TelegramRetryAfter as exc:
                delay = float(exc.retry_after)
                if delay > policy.max_retry_after:
                    raise
                reason = "flood control"
                error: Exception = exc
            except (TelegramServerError, RestartingTelegram) as exc:
                delay, reason, error = policy.backoff_delay(attempt), "server error", exc
            except TelegramNetworkError as exc:
                never_sent = isinstance(exc.__cause__, ClientConnectorError)
                if not (never_sent or is_repeatable(method)):
                    raise
                delay, reason, error = policy.backoff_delay(attempt), "network error", exc
            if attempt >= policy.attempts or waited + delay > policy.max_total_wait:
                raise error
            log.info(
                "%s on %s: retry %d/%d in %.1f s",
                reason,
                method.__api_method__,
                attempt,
                policy.attempts - 1,
                delay,
            )
            await asyncio.sleep(delay)
            waited += delay
            attempt += 1

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,  # noqa: ASYNC109 (aiogram's signature)
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        policy = self.policy
        attempt = 1
        while True:
            received = False
            try:
                chunks = super().stream_content(url, headers, timeout, chunk_size, raise_for_status)
                async for chunk in chunks:
                    received = True
                    yield chunk
                return
            except (ClientError, TimeoutError) as exc:
                client_error = isinstance(exc, ClientResponseError) and exc.status < 500
                if received or client_error or attempt >= policy.attempts:
                    raise
                delay = policy.backoff_delay(attempt)
                name, retries = type(exc).__name__, policy.attempts - 1
                log.info("download failed (%s): retry %d/%d in %.1f s", name, attempt, retries, delay)
                await asyncio.sleep(delay)
                attempt += 1
