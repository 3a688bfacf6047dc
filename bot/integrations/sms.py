"""Sending SMS: the gateway interface, the local sandbox one and a real provider over HTTP.

The text comes from the caller (a localised template with the code in it); gateways only deliver it.
"""

from __future__ import annotations

import logging
import uuid
from typing import Protocol, runtime_checkable

import aiohttp

from bot.domain.masking import mask_phone
from bot.integrations.http import HttpFailure, JsonClient

__all__ = ["HttpSmsGateway", "SandboxSmsGateway", "SmsError", "SmsGateway"]

log = logging.getLogger(__name__)


class SmsError(Exception):
    """The message could not be handed to the provider (after the retries)."""


@runtime_checkable
class SmsGateway(Protocol):
    async def send(self, phone: str, text: str) -> None:
        """Deliver ``text`` to the mainland mobile ``phone`` (11 digits); raise :class:`SmsError`."""
        ...

    async def close(self) -> None: ...


class SandboxSmsGateway:
    """Posts to the local sandbox (``POST {base}/sandbox/api/sms``), where testers read the codes
    (``GET /sandbox/api/sms``). The bot's own log gets only the masked number: the privacy check of
    the logs must pass in the sandbox too, and the sandbox shows the text anyway."""

    def __init__(
        self, sandbox_base_url: str, *, timeout: float = 5.0, session: aiohttp.ClientSession | None = None
    ) -> None:
        self._url = sandbox_base_url.rstrip("/") + "/sandbox/api/sms"
        self._client = JsonClient(timeout=timeout, retries=0, session=session)

    async def send(self, phone: str, text: str) -> None:
        try:
            await self._client.post(self._url, {"phone": phone, "text": text})
        except HttpFailure as failure:
            raise SmsError(f"sandbox SMS failed: {failure}") from None
        log.info("sandbox SMS sent to %s", mask_phone(phone))

    async def close(self) -> None:
        await self._client.close()


class HttpSmsGateway:
    """A real provider behind a small JSON contract (an adapter service maps it to the vendor's API):

    ``POST {url}`` with ``Authorization: Bearer {api_key}`` and body ``{"phone": "13800138000",
    "text": "..."}`` and an ``Idempotency-Key`` header, the same on every retry of one message, so
    the provider can drop a duplicate when a retried request had in fact arrived. Any 2xx means
    accepted. Timeouts, 408/425/429 and 5xx are retried ``retries`` times with exponential backoff;
    other answers fail at once. Phone and text are never logged.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        timeout: float = 5.0,
        retries: int = 2,
        backoff: float = 0.5,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._url = url
        self._client = JsonClient(
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            headers={"Authorization": f"Bearer {api_key}"},
            session=session,
        )

    async def send(self, phone: str, text: str) -> None:
        try:
            await self._client.post(
                self._url, {"phone": phone, "text": text}, headers={"Idempotency-Key": uuid.uuid4().hex}
            )
        except HttpFailure as failure:
            raise SmsError(f"SMS provider failed: {failure}") from None

    async def close(self) -> None:
        await self._client.close()
