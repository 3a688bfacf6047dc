"""A simulated Telegram user driving the local sandbox's control API over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp


class SandboxError(AssertionError):
    pass


class SandboxUser:
    def __init__(
        self, http: aiohttp.ClientSession, base_url: str, user_id: int, language_code: str = "zh-hans"
    ):
        self.http, self.base, self.user_id, self.language_code = http, base_url, user_id, language_code

    @property
    def _send_url(self) -> str:
        return f"{self.base}/sandbox/api/users/{self.user_id}/send"

    async def _post(self, **kwargs: Any) -> dict[str, Any]:
        async with self.http.post(self._send_url, **kwargs) as resp:
            body: dict[str, Any] = await resp.json()
            if resp.status != 200:
                raise SandboxError(f"{resp.status}: {body}")
            return body

    async def send(self, text: str) -> list[dict[str, Any]]:
        body = await self._post(json={"text": text, "language_code": self.language_code})
        return list(body["replies"])

    async def press(self, callback_data: str, message_id: int) -> list[dict[str, Any]]:
        body = await self._post(
            json={
                "callback_data": callback_data,
                "message_id": message_id,
                "language_code": self.language_code,
            }
        )
        replies = list(body["replies"])
        answer = body.get("callback_answer")
        if answer and answer.get("text"):
            replies.append(
                {"message_id": None, "text": answer["text"], "buttons": [], "callback_answer": True}
            )
        return replies

    async def press_label(self, replies: list[dict[str, Any]], label_part: str) -> list[dict[str, Any]]:
        """Press the (last) inline button whose label contains `label_part` among these replies."""
        for message in reversed(replies):
            for row in message.get("buttons") or []:
                for button in row:
                    if label_part in button["text"]:
                        return await self.press(button["callback_data"], message["message_id"])
        raise SandboxError(f"no button {label_part!r} in {[m.get('buttons') for m in replies]}")

    async def share_contact(self, phone: str) -> list[dict[str, Any]]:
        body = await self._post(
            json={"contact": {"phone_number": phone}, "language_code": self.language_code}
        )
        return list(body["replies"])

    async def upload(
        self, field: str, data: bytes, filename: str, forwarded: bool = False
    ) -> list[dict[str, Any]]:
        form = aiohttp.FormData()
        form.add_field(field, data, filename=filename)
        form.add_field("language_code", self.language_code)
        if forwarded:
            form.add_field("forwarded", "1")
        body = await self._post(data=form)
        return list(body["replies"])

    async def messages(self) -> list[dict[str, Any]]:
        async with self.http.get(f"{self.base}/sandbox/api/users/{self.user_id}/messages") as resp:
            body = await resp.json()
        return list(body["messages"] if isinstance(body, dict) else body)

    @contextlib.asynccontextmanager
    async def chat_log(self) -> AsyncIterator[ChatLog]:
        """Every change to this chat from now on (the sandbox's event stream): the replies of a send
        show each message only in its latest state, this shows each state it went through."""
        log = ChatLog()
        url = f"{self.base}/sandbox/api/users/{self.user_id}/events"
        response = await self.http.get(url, params={"replay": "0"}, timeout=aiohttp.ClientTimeout(total=None))
        # The sandbox subscribes before it answers: from here on no event is missed.

        async def read() -> None:
            kind = ""
            async for raw in response.content:
                line = raw.decode("utf-8").rstrip("\n")
                if line.startswith("event: "):
                    kind = line[len("event: ") :]
                elif line.startswith("data: ") and kind:
                    log.events.append((kind, json.loads(line[len("data: ") :])))
                    kind = ""

        reader = asyncio.get_running_loop().create_task(read())
        try:
            yield log
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            response.close()

    async def sms(self, phone: str) -> list[dict[str, Any]]:
        async with self.http.get(f"{self.base}/sandbox/api/sms", params={"phone": phone}) as resp:
            body = await resp.json()
        return list(body["messages"])


class ChatLog:
    """Events of one chat as the sandbox streamed them: ("new" | "edited" | "deleted" | "action", data)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def versions(self, message_id: int) -> list[str]:
        """The texts one message showed, in order: as sent, then after each edit."""
        return [
            data.get("text") or ""
            for kind, data in self.events
            if kind in {"new", "edited"} and data.get("message_id") == message_id
        ]

    async def wait_for(self, message_id: int, text_part: str, seconds: float = 10.0) -> list[str]:
        """The message's versions once one contains `text_part` (the stream may trail the send's answer)."""
        deadline = asyncio.get_running_loop().time() + seconds
        while not any(text_part in v for v in self.versions(message_id)):
            if asyncio.get_running_loop().time() > deadline:
                raise SandboxError(
                    f"message {message_id} never showed {text_part!r}: {self.versions(message_id)}"
                )
            await asyncio.sleep(0.05)
        return self.versions(message_id)


def texts(replies: list[dict[str, Any]]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def labels(replies: list[dict[str, Any]]) -> list[str]:
    return [b["text"] for r in replies for row in (r.get("buttons") or []) for b in row]
