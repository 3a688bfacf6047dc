"""A demo "e-tax website" (issue 20): a login-like page at ``/portal/`` whose QR code hands real-name
collection to the bot, as the bureau's website does with its mobile app.

It plays a real portal's part, over HTTP only: its backend (these handlers) holds the portal's API key,
creates the handoff through the bot's portal API, polls it, receives its callback and verifies the
signed result with the published key (JWKS) by itself, with ``cryptography``, never with the bot's
code. The browser sees neither the key nor the bot's API. ``connect_portal_demo`` tells it where the
bot's API is (the bot's ``__main__`` in sandbox mode; tests).
"""

from __future__ import annotations

import base64
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["PortalDemo", "connect_portal_demo", "register_portal_demo"]

PORTAL_DIR = Path(__file__).resolve().parent / "portal_web"
_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
MAX_CALLBACKS = 1000


@dataclass
class PortalDemo:
    api_url: str | None = None
    api_key: str | None = None
    # Callbacks received, by handoff id (bounded: the sandbox runs for days).
    callbacks: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)


PORTAL_DEMO = web.AppKey("portal_demo", PortalDemo)


def connect_portal_demo(app: web.Application, api_url: str, api_key: str) -> None:
    demo = app[PORTAL_DEMO]
    demo.api_url, demo.api_key = api_url.rstrip("/"), api_key


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_result(token: str, jwks: dict[str, Any]) -> dict[str, Any] | None:
    """The claims of a compact JWS whose EdDSA signature verifies under a key of ``jwks``, else None."""
    try:
        head_b64, payload_b64, signature_b64 = token.split(".")
        header = json.loads(_b64url_decode(head_b64))
        if header.get("alg") != "EdDSA":
            return None
        for key in jwks.get("keys", []):
            if key.get("kty") != "OKP" or key.get("crv") != "Ed25519" or key.get("kid") != header.get("kid"):
                continue
            public = Ed25519PublicKey.from_public_bytes(_b64url_decode(key["x"]))
            try:
                public.verify(_b64url_decode(signature_b64), f"{head_b64}.{payload_b64}".encode("ascii"))
            except InvalidSignature:
                return None
            claims = json.loads(_b64url_decode(payload_b64))
            return claims if isinstance(claims, dict) else None
    except (ValueError, KeyError, TypeError):
        return None
    return None


async def _bot_api(demo: PortalDemo, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    if demo.api_url is None or demo.api_key is None:
        raise web.HTTPServiceUnavailable(text=json.dumps({"error": "portal_api_not_connected"}))
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        session.request(
            method, demo.api_url + path, json=body, headers={"X-Portal-Key": demo.api_key}
        ) as response,
    ):
        return response.status, await response.json(content_type=None)


def _callback_url(request: web.Request) -> str | None:
    # The bot accepts callbacks to the loopback only (the sandbox portal's callback prefix).
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(sockname, tuple) and sockname[0] == "127.0.0.1":
        return f"http://127.0.0.1:{sockname[1]}/portal/api/callback"
    return None


async def _login(request: web.Request) -> web.Response:
    """The page's 【扫码登录】: a new handoff, its QR code and short code (never the API key)."""
    demo = request.app[PORTAL_DEMO]
    try:
        options = await request.json()
    except ValueError:
        options = {}
    body: dict[str, Any] = {"purpose": options.get("purpose") or "collection"}
    if options.get("expected_document_number"):
        body["expected_document_number"] = str(options["expected_document_number"])
    callback = _callback_url(request)
    if callback:
        body["callback_url"] = callback
    try:
        status, answer = await _bot_api(demo, "POST", "/handoff", body)
    except aiohttp.ClientError:
        return web.json_response({"ok": False, "error": "bot_unreachable"}, status=502)
    if status != 201:
        return web.json_response({"ok": False, "error": answer.get("error", status)}, status=502)
    link = answer["deep_link"]
    token = link.rsplit("start=", 1)[-1]
    return web.json_response(
        {
            "ok": True,
            "id": answer["id"],
            "short_code": answer["short_code"],
            "expires_at": answer["expires_at"],
            "deep_link": link,
            "qr_png_base64": answer["qr_png_base64"],
            "qr_svg": answer["qr_svg"],
            # The sandbox's stand-in for Telegram's t.me link: the web chat opens it for its user.
            "web_chat_link": f"/?start={token}",
        }
    )


async def _status(request: web.Request) -> web.Response:
    demo = request.app[PORTAL_DEMO]
    handoff_id = request.match_info["handoff_id"]
    try:
        status, answer = await _bot_api(demo, "GET", f"/handoff/{handoff_id}")
        if status != 200:
            return web.json_response({"ok": False, "error": answer.get("error", status)}, status=404)
        view: dict[str, Any] = {"ok": True, "state": answer["state"], "reason": answer.get("reason")}
        if answer.get("result"):
            _, jwks = await _bot_api(demo, "GET", "/handoff/keys")
            claims = verify_result(answer["result"], jwks)
            view["verified"] = claims is not None
            view["claims"] = claims
    except aiohttp.ClientError:
        return web.json_response({"ok": False, "error": "bot_unreachable"}, status=502)
    view["callback_received"] = handoff_id in demo.callbacks
    return web.json_response(view, headers={"Cache-Control": "no-store"})


async def _callback(request: web.Request) -> web.Response:
    demo = request.app[PORTAL_DEMO]
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        raise web.HTTPBadRequest(text="no id")
    demo.callbacks[body["id"]] = body
    while len(demo.callbacks) > MAX_CALLBACKS:
        demo.callbacks.popitem(last=False)
    return web.json_response({"ok": True})


async def _page(request: web.Request) -> web.StreamResponse:
    name = request.match_info.get("name") or "index.html"
    path = PORTAL_DIR / name
    content_type = _TYPES.get(path.suffix)
    if content_type is None or "/" in name or name.startswith(".") or not path.is_file():
        raise web.HTTPNotFound(text="not found")
    return web.Response(body=path.read_bytes(), content_type=content_type, charset="utf-8", headers=_HEADERS)


async def _redirect(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/portal/")


def register_portal_demo(app: web.Application) -> None:
    app[PORTAL_DEMO] = PortalDemo()
    app.router.add_get("/portal", _redirect)
    app.router.add_get("/portal/", _page)
    app.router.add_get("/portal/{name}", _page)
    app.router.add_post("/portal/api/login", _login)
    app.router.add_get("/portal/api/handoff/{handoff_id}", _status)
    app.router.add_post("/portal/api/callback", _callback)
