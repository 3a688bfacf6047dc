"""What the web chat needs from the sandbox over HTTP (no browser): its files, the user list, and the
reply keyboard in the message object."""

from __future__ import annotations

import aiohttp
import pytest

pytestmark = [pytest.mark.e2e]

TOKEN = "4243:webchat-routes"


async def test_page_and_assets_are_served(sandbox: str, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{sandbox}/") as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        assert resp.headers["Cache-Control"] == "no-cache"
        page = await resp.text()
    assert 'src="web/chat.js"' in page and 'href="web/chat.css"' in page
    assert "实名采集" in page
    for name, content_type in (("chat.js", "text/javascript"), ("chat.css", "text/css")):
        async with http.get(f"{sandbox}/web/{name}") as resp:
            assert resp.status == 200, name
            assert resp.content_type == content_type
            assert len(await resp.read()) > 1000
    for path in ("/web/README.md", "/web/..%2Fcontrol.py", "/web/.hidden.js", "/web/nothing.js", "/web/"):
        async with http.get(f"{sandbox}{path}") as resp:
            assert resp.status == 404, path


async def test_users_are_listed(sandbox: str, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{sandbox}/sandbox/api/users") as resp:
        assert (await resp.json()) == {"users": []}
    # No bot polls this sandbox: a short timeout, the message is recorded all the same.
    sends = ((11, {"text": "hi", "first_name": "Ann", "language_code": "en"}), (12, {"text": "你好"}))
    for user_id, body in sends:
        async with http.post(f"{sandbox}/sandbox/api/users/{user_id}/send?timeout=0.2", json=body) as resp:
            assert resp.status == 504
    async with http.get(f"{sandbox}/sandbox/api/users") as resp:
        users = {u["id"]: u for u in (await resp.json())["users"]}
    assert users[11]["first_name"] == "Ann" and users[11]["language_code"] == "en"
    assert users[12]["first_name"] == "User 12" and users[12]["language_code"] == "zh-hans"
    assert users[12]["messages"] == 1 and isinstance(users[12]["last_date"], int)


async def test_reply_keyboard_is_in_the_message_object(sandbox: str, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{sandbox}/sandbox/api/users/21/send?timeout=0.2", json={"text": "hi"}) as resp:
        assert resp.status == 504
    markup = {
        "keyboard": [[{"text": "📱 Share", "request_contact": True}], ["Back"]],
        "one_time_keyboard": True,
        "input_field_placeholder": "Phone",
    }
    async with http.post(
        f"{sandbox}/bot{TOKEN}/sendMessage", json={"chat_id": 21, "text": "Phone?", "reply_markup": markup}
    ) as resp:
        assert (await resp.json())["ok"]
    async with http.post(
        f"{sandbox}/bot{TOKEN}/sendMessage",
        json={"chat_id": 21, "text": "ok", "reply_markup": {"remove_keyboard": True}},
    ) as resp:
        assert (await resp.json())["ok"]
    async with http.get(f"{sandbox}/sandbox/api/users/21/messages") as resp:
        _, asked, removed = (await resp.json())["messages"]
    assert asked["keyboard"] == [["📱 Share"], ["Back"]]  # unchanged contract
    assert asked["reply_keyboard"] == {
        "keyboard": [[{"text": "📱 Share", "request_contact": True}], [{"text": "Back"}]],
        "one_time_keyboard": True,
        "input_field_placeholder": "Phone",
    }
    assert asked["input_field_placeholder"] == "Phone"
    assert removed["reply_keyboard"] is None and removed["remove_keyboard"] is True
