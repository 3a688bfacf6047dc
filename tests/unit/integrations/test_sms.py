from __future__ import annotations

import asyncio
import logging

import pytest
from aiohttp import web

from bot.integrations.sms import HttpSmsGateway, SandboxSmsGateway, SmsError, SmsGateway

from .conftest import Recorder, status


async def no_sleep(_delay: float) -> None:
    return None


async def test_sandbox_posts_to_the_control_api(http: Recorder) -> None:
    http.answers = [status(200, {"ok": True})]
    gateway = SandboxSmsGateway(http.url("/").rstrip("/") + "/")
    assert isinstance(gateway, SmsGateway)
    try:
        await gateway.send("13800138000", "验证码 123456")
    finally:
        await gateway.close()
    [(path, _headers, body)] = http.requests
    assert path == "/sandbox/api/sms"
    assert body == {"phone": "13800138000", "text": "验证码 123456"}


async def test_sandbox_failure_raises(http: Recorder) -> None:
    http.answers = [status(400, {"ok": False})]
    gateway = SandboxSmsGateway(http.url("/"))
    with pytest.raises(SmsError):
        await gateway.send("13800138000", "x")
    await gateway.close()


async def test_http_gateway_contract_and_retries_on_5xx(
    http: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    http.answers = [status(503), status(502), status(200)]
    gateway = HttpSmsGateway(http.url("/sms"), "secret-key", timeout=2, retries=2)
    gateway._client._sleep = no_sleep  # keep the test fast
    caplog.set_level(logging.DEBUG)
    try:
        await gateway.send("13800138000", "验证码 654321")
    finally:
        await gateway.close()
    assert len(http.requests) == 3
    keys = {headers["Idempotency-Key"] for _, headers, _ in http.requests}
    assert len(keys) == 1  # the same message on every retry
    _, headers, body = http.requests[0]
    assert headers["Authorization"] == "Bearer secret-key"
    assert body == {"phone": "13800138000", "text": "验证码 654321"}
    assert "13800138000" not in caplog.text and "654321" not in caplog.text


async def test_http_gateway_gives_up_after_retries(http: Recorder) -> None:
    http.answers = [status(500)]
    gateway = HttpSmsGateway(http.url("/sms"), "k", timeout=2, retries=2)
    gateway._client._sleep = no_sleep
    with pytest.raises(SmsError, match="HTTP 500"):
        await gateway.send("13800138000", "x")
    await gateway.close()
    assert len(http.requests) == 3


async def test_http_gateway_does_not_retry_a_4xx(http: Recorder) -> None:
    http.answers = [status(401)]
    gateway = HttpSmsGateway(http.url("/sms"), "wrong", timeout=2, retries=3)
    with pytest.raises(SmsError, match="401"):
        await gateway.send("13800138000", "x")
    await gateway.close()
    assert len(http.requests) == 1


async def test_http_gateway_times_out(http: Recorder) -> None:
    async def slow(_request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(2)
        return web.Response()

    http.answers = [slow]
    gateway = HttpSmsGateway(http.url("/sms"), "k", timeout=0.2, retries=1)
    gateway._client._sleep = no_sleep
    with pytest.raises(SmsError, match="timeout"):
        await gateway.send("13800138000", "x")
    await gateway.close()
    assert len(http.requests) == 2


async def test_unreachable_provider() -> None:
    gateway = HttpSmsGateway("http://127.0.0.1:9/sms", "k", timeout=1, retries=0)
    with pytest.raises(SmsError, match="connection"):
        await gateway.send("13800138000", "x")
    await gateway.close()
