"""The portal handoff over HTTP: the bot's API (keys, requests, states, the QR code decoded by OpenCV, the
JWKS), a simulated user scanning it in the sandbox, and the sandbox's demo website's backend (its own
signature check and the callback). Scripted engines: the face step-up needs no models."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.config import Settings
from bot.domain.masking import mask_name
from bot.storage.repositories import Repositories
from tests.e2e.conftest import RunningBot
from tests.e2e.handoff_env import PORTAL_KEY, Portal, decode_qr, free_port, portal, sandbox, sandbox_server
from tests.helpers.factory import make_settings
from tests.helpers.fakes import FakeVerifier, valid_number, verdict
from tests.helpers.register import collected_person
from tests.helpers.sandbox_user import SandboxUser, texts

__all__ = ["portal", "sandbox", "sandbox_server"]

pytestmark = [pytest.mark.e2e]

OTHER_KEY = "other-portal-key"


@pytest.fixture
def e2e_settings(tmp_path: Path) -> Settings:
    portals = {"desktop": {"name": "电子税务局桌面端", "key": OTHER_KEY}}
    return make_settings(tmp_path, handoff_port=free_port(), handoff_portals=portals)


@pytest.fixture
async def running_bot(sandbox: str, e2e_settings: Settings) -> AsyncIterator[RunningBot]:
    verifier = FakeVerifier()
    verifier.verdicts[b"selfie"] = verdict("pass")
    running = RunningBot(e2e_settings, sandbox, verifier=verifier)
    await running.start()
    yield running
    await running.stop()


async def create(http: aiohttp.ClientSession, portal: Portal, **body: Any) -> dict[str, Any]:
    async with http.post(portal.api + "/handoff", json=body, headers={"X-Portal-Key": PORTAL_KEY}) as r:
        assert r.status == 201, await r.text()
        answer: dict[str, Any] = await r.json()
        return answer


async def status(http: aiohttp.ClientSession, portal: Portal, handoff_id: str, key: str = PORTAL_KEY) -> Any:
    async with http.get(f"{portal.api}/handoff/{handoff_id}", headers={"X-Portal-Key": key}) as r:
        return r.status, await r.json()


async def test_api_contract_and_qr_code(portal: Portal, http: aiohttp.ClientSession) -> None:
    async with http.post(portal.api + "/handoff", json={"purpose": "collection"}) as r:
        assert r.status == 401
    async with http.post(portal.api + "/handoff", json={}, headers={"X-Portal-Key": "wrong"}) as r:
        assert r.status == 401
    async with http.post(
        portal.api + "/handoff", json={"purpose": "pay_taxes"}, headers={"X-Portal-Key": PORTAL_KEY}
    ) as r:
        assert r.status == 400 and (await r.json())["error"] == "purpose_unknown"
    async with http.post(
        portal.api + "/handoff", data=b"not json", headers={"X-Portal-Key": PORTAL_KEY}
    ) as r:
        assert r.status == 400

    answer = await create(http, portal, purpose="collection")
    link = answer["deep_link"]
    assert link.startswith("https://t.me/shiming_sandbox_bot?start=")
    token = link.split("start=", 1)[1]
    assert 22 <= len(token) <= 64 and all(c.isalnum() or c in "_-" for c in token)
    assert answer["state"] == "waiting" and answer["short_code"] and answer["expires_at"]
    plain = {k: v for k, v in answer.items() if k not in ("deep_link", "qr_svg", "qr_png_base64")}
    assert token not in json.dumps(plain)  # the token travels in the link (and its QR code) only
    # The QR code, read back by OpenCV, is the deep link; the SVG is the same code as vector.
    assert decode_qr(base64.b64decode(answer["qr_png_base64"])) == link
    assert answer["qr_svg"].lstrip().startswith("<svg") and "path" in answer["qr_svg"]

    code, view = await status(http, portal, answer["id"])
    assert code == 200 and view["state"] == "waiting" and "result" not in view
    # Another portal does not see it (not even that it exists).
    code, _ = await status(http, portal, answer["id"], key=OTHER_KEY)
    assert code == 404
    code, _ = await status(http, portal, "ho_nothing")
    assert code == 404

    async with http.get(portal.api + "/handoff/keys") as r:
        jwks = await r.json(content_type=None)
    assert jwks["keys"][0]["kty"] == "OKP" and jwks["keys"][0]["crv"] == "Ed25519"
    async with http.get(portal.api + "/.well-known/jwks.json") as r:
        assert await r.json(content_type=None) == jwks


async def test_scan_decline_and_reuse(
    portal: Portal, http: aiohttp.ClientSession, make_user: Callable[..., SandboxUser]
) -> None:
    answer = await create(http, portal, purpose="collection")
    token = answer["deep_link"].split("start=", 1)[1]
    user = make_user(701)
    replies = await user.send(f"/start {token}")
    assert answer["short_code"] in texts(replies) and "电子税务局（沙盒演示）" in texts(replies)
    assert (await status(http, portal, answer["id"]))[1]["state"] == "opened"
    replies = await user.press_label(replies, "不是我发起的")
    assert "未向网站提供任何信息" in texts(replies)
    view = (await status(http, portal, answer["id"]))[1]
    assert view["state"] == "failed" and view["reason"] == "declined"
    replies = await make_user(702).send(f"/start {token}")
    assert "已被其他账号使用" in texts(replies)


async def test_face_stepup_through_the_demo_website(
    portal: Portal, http: aiohttp.ClientSession, make_user: Callable[..., SandboxUser]
) -> None:
    """The demo website's backend creates the handoff (with its callback), the user scans and passes a
    face step-up, and the website sees the result verified by its own check and the callback arrive."""
    services = portal.running.services
    assert services is not None
    await collected_person(Repositories(services.db, services.cipher), 703, valid_number(), "王小明")
    async with http.post(
        portal.sandbox + "/portal/api/login",
        json={"purpose": "face_stepup", "expected_document_number": valid_number()},
    ) as r:
        login = await r.json()
    assert login["ok"], login
    assert "X-Portal-Key" not in json.dumps(login) and PORTAL_KEY not in json.dumps(login)
    token = login["web_chat_link"].split("start=", 1)[1]
    assert login["deep_link"].endswith(token)

    user = make_user(703)
    replies = await user.send(f"/start {token}")
    assert login["short_code"] in texts(replies) and "刷脸验证" in texts(replies)
    replies = await user.press_label(replies, "确认，继续")
    replies = await user.upload("video_note", b"selfie", "selfie.mp4")
    assert "刷脸验证成功" in texts(replies), texts(replies)

    async with http.get(f"{portal.sandbox}/portal/api/handoff/{login['id']}") as r:
        seen = await r.json()
    assert seen["state"] == "done" and seen["verified"] is True
    claims = seen["claims"]
    assert claims["method"] == "face_stepup" and claims["expected_document"] == "matched"
    assert claims["person"]["name"] == mask_name("王小明")
    assert valid_number() not in json.dumps(claims)
    for _ in range(50):  # the callback is sent in the background
        async with http.get(f"{portal.sandbox}/portal/api/handoff/{login['id']}") as r:
            if (await r.json())["callback_received"]:
                break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the callback never arrived")
