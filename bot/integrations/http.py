"""JSON over HTTP with timeouts and bounded retries, shared by the real gateways.

Retried: timeouts, connection errors, 408, 425, 429 and 5xx (the request may not have been
processed). Not retried: other 4xx (our request is wrong; retrying cannot help). Backoff doubles
from ``backoff`` seconds with up to 25 % jitter so that many clients do not retry in step.
Errors never carry the request body (it holds personal data).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp

__all__ = ["HttpFailure", "JsonClient"]

log = logging.getLogger(__name__)

_RETRYABLE_STATUS = frozenset({408, 425, 429})


class HttpFailure(Exception):
    def __init__(self, message: str, *, status: int | None = None, retryable: bool) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class JsonClient:
    """Owns its ``aiohttp.ClientSession`` (created on first use, in the running loop) unless one
    is given; ``close()`` closes only an owned session."""

    def __init__(
        self,
        *,
        timeout: float,
        retries: int,
        backoff: float = 0.5,
        headers: Mapping[str, str] | None = None,
        session: aiohttp.ClientSession | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if timeout <= 0 or retries < 0 or backoff < 0:
            raise ValueError("timeout must be positive, retries and backoff not negative")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._retries = retries
        self._backoff = backoff
        self._headers = dict(headers or {})
        self._session = session
        self._owns_session = session is None
        self._sleep = sleep

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._owns_session = True
        return self._session

    async def post(
        self, url: str, payload: Mapping[str, Any], *, headers: Mapping[str, str] | None = None
    ) -> Any:
        """POST ``payload`` as JSON; the parsed JSON answer of a 2xx (None when empty). ``headers``
        are added to this request (every retry sends the same ones)."""
        merged = {**self._headers, **(headers or {})}
        last: HttpFailure | None = None
        for attempt in range(self._retries + 1):
            if attempt:
                delay = self._backoff * 2 ** (attempt - 1)
                await self._sleep(delay + random.uniform(0, delay / 4))
            try:
                return await self._post_once(url, payload, merged)
            except HttpFailure as failure:
                if not failure.retryable:
                    raise
                last = failure
                log.warning(
                    "POST %s failed (attempt %d of %d): %s", url, attempt + 1, self._retries + 1, failure
                )
        assert last is not None
        raise last

    async def _post_once(self, url: str, payload: Mapping[str, Any], headers: Mapping[str, str]) -> Any:
        try:
            async with self._get_session().post(
                url, json=dict(payload), headers=dict(headers), timeout=self._timeout
            ) as response:
                if 200 <= response.status < 300:
                    body = await response.read()
                    if not body.strip():
                        return None
                    try:
                        return await response.json(content_type=None)
                    except ValueError:
                        raise HttpFailure(
                            "answer is not JSON", status=response.status, retryable=False
                        ) from None
                retryable = response.status in _RETRYABLE_STATUS or response.status >= 500
                raise HttpFailure(f"HTTP {response.status}", status=response.status, retryable=retryable)
        except TimeoutError:
            raise HttpFailure("timeout", retryable=True) from None
        except aiohttp.ClientError as exc:
            raise HttpFailure(f"connection failed: {type(exc).__name__}", retryable=True) from None

    async def close(self) -> None:
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()
