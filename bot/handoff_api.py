"""The portal handoff API (issue 20), served beside the webhook (``bot/webhook.py``) or, in polling and
sandbox mode, on its own ``HANDOFF_HOST:HANDOFF_PORT``. Contract in the README ("Portal handoff").

- ``POST /handoff`` (header ``X-Portal-Key``): ``{"purpose": "collection" | "face_stepup",
  "expected_document_number"?: str, "callback_url"?: str}`` → 201 with the id, the expiry, the deep
  link and its QR code (PNG in base64, SVG);
- ``GET /handoff/{id}`` (same header): the state and, when done, the signed result;
- ``GET /handoff/keys`` and ``GET /.well-known/jwks.json``: the public key(s) of the result, a JWKS.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import segno
from aiogram import Bot
from aiohttp import web

from bot.domain.handoff import HandoffPurpose
from bot.services import Services
from bot.services.handoff import HandoffRequestError, HandoffService

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-Portal-Key"
MAX_BODY = 16 * 1024
_SERVICE = web.AppKey("handoff_service", HandoffService)
_BOT = web.AppKey("handoff_bot", Bot)


def qr_images(link: str) -> tuple[bytes, str]:
    """The QR code of ``link`` as PNG bytes and SVG text (error correction M: survives a screen's glare)."""
    code = segno.make(link, error="m", micro=False)
    png = io.BytesIO()
    code.save(png, kind="png", scale=8, border=4)
    svg = io.BytesIO()
    code.save(svg, kind="svg", scale=8, border=4, xmldecl=False)
    return png.getvalue(), svg.getvalue().decode("utf-8")


def _error(status: int, code: str) -> web.Response:
    return web.json_response({"ok": False, "error": code}, status=status)


def _portal(request: web.Request) -> str | None:
    return request.app[_SERVICE].authenticate(request.headers.get(API_KEY_HEADER))


async def _create(request: web.Request) -> web.Response:
    service = request.app[_SERVICE]
    portal = _portal(request)
    if portal is None:
        return _error(401, "bad_api_key")
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return _error(400, "body_not_json")
    if not isinstance(body, dict):
        return _error(400, "body_not_object")
    try:
        purpose = HandoffPurpose(body.get("purpose", "collection"))
    except ValueError:
        return _error(400, "purpose_unknown")
    expected, callback = body.get("expected_document_number"), body.get("callback_url")
    if not isinstance(expected, str | None) or not isinstance(callback, str | None):
        return _error(400, "field_not_text")
    try:
        created = await service.create(
            portal, purpose, expected_number=expected or None, callback_url=callback or None
        )
    except HandoffRequestError as exc:
        return _error(400, exc.code)
    me = await request.app[_BOT].me()
    link = created.deep_link(me.username or "")
    png, svg = qr_images(link)
    answer: dict[str, Any] = {
        "ok": True,
        **service.view(created.handoff),
        "deep_link": link,
        "qr_png_base64": base64.b64encode(png).decode("ascii"),
        "qr_svg": svg,
    }
    return web.json_response(answer, status=201, headers={"Cache-Control": "no-store"})


async def _status(request: web.Request) -> web.Response:
    service = request.app[_SERVICE]
    portal = _portal(request)
    if portal is None:
        return _error(401, "bad_api_key")
    handoff = await service.status(portal, request.match_info["handoff_id"])
    if handoff is None:
        return _error(404, "not_found")
    return web.json_response({"ok": True, **service.view(handoff)}, headers={"Cache-Control": "no-store"})


async def _keys(request: web.Request) -> web.Response:
    return web.Response(
        text=json.dumps(request.app[_SERVICE].signer.jwks()),
        content_type="application/jwk-set+json",
        headers={"Cache-Control": "max-age=300"},
    )


def add_portal_routes(app: web.Application, services: Services, bot: Bot) -> None:
    """Register the API on ``app`` (the webhook's, or the one of :func:`serve_portal_api`)."""
    if services.handoffs is None:
        raise RuntimeError("services built without handoffs")
    app[_SERVICE] = services.handoffs
    app[_BOT] = bot
    # /handoff/keys before /handoff/{id}: aiohttp matches in order.
    app.router.add_get("/handoff/keys", _keys)
    app.router.add_get("/.well-known/jwks.json", _keys)
    app.router.add_post("/handoff", _create)
    app.router.add_get("/handoff/{handoff_id}", _status)


@contextlib.asynccontextmanager
async def serve_portal_api(services: Services, bot: Bot) -> AsyncIterator[str | None]:
    """Polling and sandbox mode: the API on its own port (None = not served: port 0 or no portal)."""
    settings = services.settings
    if not settings.handoff_port or not settings.portals():
        yield None
        return
    app = web.Application(client_max_size=MAX_BODY)
    add_portal_routes(app, services, bot)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.handoff_host, settings.handoff_port)
        await site.start()
        url = f"http://{settings.handoff_host}:{settings.handoff_port}"
        log.info("portal handoff API on %s", url)
        yield url
    finally:
        await runner.cleanup()
