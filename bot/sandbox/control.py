"""The control API that simulated users, testers and tools drive (contract in README.md)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from aiohttp import web

from .errors import BotApiError, ControlError
from .formatting import command_entities, utf16_len
from .params import MalformedBody, Params, TooLarge, Upload, read_params
from .state import Chat, PendingUpdate, SandboxState, Subscriber, now_ts
from .uploads import media_object

log = logging.getLogger(__name__)
PREFIX = "/sandbox/api"
FILE_FIELDS = ("photo", "video", "video_note", "document")
MAX_USER_ID = 2**52
_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
ControlHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda obj: json.dumps(obj, ensure_ascii=False))


def _guarded(handler: ControlHandler) -> ControlHandler:
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ControlError as exc:
            return _json({"ok": False, "error": exc.error}, status=exc.status)
        except BotApiError as exc:
            # Validation shared with the Bot API (e.g. a caption's markup) reads the same for testers.
            return _json({"ok": False, "error": exc.description}, status=exc.error_code)
        except Exception:
            log.exception("sandbox control API failed on %s", request.path)
            return _json({"ok": False, "error": "internal error of the sandbox, see its log"}, status=500)

    return wrapper


class ControlApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.config = state.config

    def register(self, router: web.UrlDispatcher) -> None:
        routes: list[tuple[str, str, ControlHandler]] = [
            ("GET", "/users", self.users),
            ("POST", "/users/{user_id}/send", self.send),
            ("GET", "/users/{user_id}/messages", self.messages),
            ("GET", "/users/{user_id}/events", self.events),
            ("POST", "/sms", self.post_sms),
            ("GET", "/sms", self.get_sms),
            ("GET", "/sms/events", self.sms_events),
            ("GET", "/commands", self.commands),
            ("GET", "/health", self.health),
            ("GET", "/files/{file_id}", self.file),
            ("POST", "/reset", self.reset),
        ]
        for method, path, handler in routes:
            router.add_route(method, PREFIX + path, _guarded(handler))

    # -- helpers -----------------------------------------------------------------------------------

    @staticmethod
    def _user_id(request: web.Request) -> int:
        try:
            user_id = int(request.match_info["user_id"])
        except ValueError:
            raise ControlError(400, "user_id must be a positive integer") from None
        if not 0 < user_id < MAX_USER_ID:
            raise ControlError(400, "user_id must be a positive integer")
        return user_id

    async def _params(self, request: web.Request) -> Params:
        try:
            return await read_params(
                request,
                max_file_bytes=self.config.max_file_bytes,
                max_text_bytes=self.config.max_request_text_bytes,
            )
        except TooLarge:
            raise ControlError(413, f"a file is larger than {self.config.max_file_bytes} bytes") from None
        except MalformedBody as exc:
            raise ControlError(400, str(exc)) from None

    def _timeout(self, request: web.Request) -> float:
        raw = request.query.get("timeout")
        if raw is None:
            return self.config.send_timeout
        try:
            timeout = float(raw)
        except ValueError:
            raise ControlError(400, "timeout must be a number of seconds") from None
        if not 0 < timeout <= self.config.max_send_timeout:
            raise ControlError(400, f"timeout must be in (0, {self.config.max_send_timeout}]")
        return timeout

    # -- users -------------------------------------------------------------------------------------

    async def send(self, request: web.Request) -> web.StreamResponse:
        user_id = self._user_id(request)
        timeout = self._timeout(request)
        p = await self._params(request)
        chat = self.state.get_or_create_chat(
            user_id, first_name=p.get_str("first_name"), language_code=p.get_str("language_code")
        )
        async with chat.lock:
            update = await self._build_update(chat, p)
            waiter = update.waiter
            assert waiter is not None
            try:
                handled = await self.state.wait_handled(waiter, timeout)
            finally:
                self.state.release_waiter(chat, waiter)
        if waiter.reset:
            raise ControlError(409, "the sandbox was reset while the update was being handled")
        body: dict[str, Any] = {
            "ok": handled,
            "update_id": update.update_id,
            "replies": [msg.view() for msg in waiter.replies.values()],
            "callback_answer": waiter.callback_answer,
        }
        if not handled:
            body["error"] = f"the bot did not finish handling update {update.update_id} within {timeout:g} s"
            return _json(body, status=504)
        return _json(body)

    async def _build_update(self, chat: Chat, p: Params) -> PendingUpdate:
        files = [name for name in FILE_FIELDS if name in p.uploads]
        if len(files) > 1:
            raise ControlError(400, "send one file at a time (photo, video, video_note or document)")
        if files:
            return await self._send_file(chat, p, files[0], p.uploads[files[0]])
        if p.has("callback_data"):
            return self._press_button(chat, p)
        if p.has("contact"):
            contact = p.get_json("contact")
            if not isinstance(contact, dict) or not str(contact.get("phone_number") or "").strip():
                raise ControlError(400, "contact must be an object with a phone_number")
            owner = contact.get("user_id") or chat.id
            if not str(owner).isdigit():
                raise ControlError(400, "contact.user_id must be a positive integer")
            content: dict[str, Any] = {
                "contact": {
                    "phone_number": str(contact["phone_number"]),
                    "first_name": str(contact.get("first_name") or chat.user["first_name"]),
                    "user_id": int(owner),
                    **({"last_name": str(contact["last_name"])} if contact.get("last_name") else {}),
                }
            }
            return self._user_message(chat, p, content)
        text = p.get_str("text")
        if text is None:
            raise ControlError(
                400,
                "nothing to send: give text, callback_data, contact, "
                "or a photo/video/video_note/document file",
            )
        if not text.strip():
            raise ControlError(400, "text is empty")
        if utf16_len(text) > 4096:
            raise ControlError(400, "text is longer than 4096 characters")
        content = {"text": text}
        entities = command_entities(text)
        if entities:
            content["entities"] = entities
        return self._user_message(chat, p, content)

    def _user_message(self, chat: Chat, p: Params, content: dict[str, Any]) -> PendingUpdate:
        if p.get_bool("forwarded"):
            date = now_ts() - 60
            content["forward_origin"] = {
                "type": "user",
                "date": date,
                "sender_user": {
                    "id": p.get_int("forward_from_id") or 777_000_001,
                    "is_bot": False,
                    "first_name": p.get_str("forward_from_name") or "Forwarded User",
                },
            }
            content["forward_date"] = date
        msg = self.state.add_message(chat, "user", content, sender_user=dict(chat.user))
        return self.state.enqueue_update("message", dict(msg.payload), chat)

    async def _send_file(self, chat: Chat, p: Params, kind: str, upload: Upload) -> PendingUpdate:
        if not upload.data:
            raise ControlError(400, f"the {kind} file is empty")
        obj = await media_object(self.state, kind, upload, strict=False)
        content: dict[str, Any] = {kind: obj}
        caption = p.get_str("caption")
        if caption:
            if utf16_len(caption) > 1024:
                raise ControlError(400, "caption is longer than 1024 characters")
            content["caption"] = caption
        return self._user_message(chat, p, content)

    def _press_button(self, chat: Chat, p: Params) -> PendingUpdate:
        data = p.get_str("callback_data")
        if not data:
            raise ControlError(400, "callback_data is empty")
        try:
            message_id = p.get_int("message_id")
        except BotApiError:
            message_id = None
        if message_id is None:
            raise ControlError(400, "message_id (the message with the button) is required")
        msg = chat.messages.get(message_id)
        if msg is None or msg.deleted or msg.sender != "bot":
            raise ControlError(400, f"message {message_id} not found in the chat with user {chat.id}")
        query_id, record = self.state.new_callback_query(chat.id)
        payload = {
            "id": query_id,
            "from": dict(chat.user),
            "message": dict(msg.payload),
            "chat_instance": str(abs(hash(("sandbox", chat.id))) % 10**18),
            "data": data,
        }
        update = self.state.enqueue_update("callback_query", payload, chat)
        record.update_id = update.update_id
        return update

    async def users(self, request: web.Request) -> web.StreamResponse:
        listed = []
        for chat in self.state.chats.values():
            last = next(reversed(chat.messages.values()), None)
            listed.append(
                {
                    "id": chat.id,
                    "first_name": chat.user["first_name"],
                    "language_code": chat.user["language_code"],
                    "messages": len(chat.messages),
                    "last_date": last.payload.get("date") if last else None,
                }
            )
        return _json({"users": listed})

    async def messages(self, request: web.Request) -> web.StreamResponse:
        chat = self.state.chats.get(self._user_id(request))
        views = [msg.view() for msg in chat.messages.values()] if chat else []
        # The revision the snapshot shows: the page drops the stream's events up to it (see Event).
        return _json({"messages": views, "revision": chat.revision if chat else 0})

    async def events(self, request: web.Request) -> web.StreamResponse:
        user_id = self._user_id(request)
        replay = request.query.get("replay", "1") not in {"0", "false", "no"}
        sub = self.state.subscribe(user_id, replay=replay)
        return await self._stream(request, sub, user_id)

    async def _stream(self, request: web.Request, sub: Subscriber, user_id: int | None) -> web.StreamResponse:
        response = web.StreamResponse(headers=_SSE_HEADERS)
        try:
            await response.prepare(request)
            await response.write(b": connected\n\n")
            seq = 0
            while True:
                try:
                    event = await asyncio.wait_for(sub.queue.get(), self.config.sse_ping_interval)
                except TimeoutError:
                    await response.write(b": ping\n\n")
                    continue
                if event is None:
                    break
                seq += 1
                payload = json.dumps(event.data, ensure_ascii=False)
                event_id = seq if event.revision is None else event.revision
                await response.write(f"id: {event_id}\nevent: {event.kind}\ndata: {payload}\n\n".encode())
        except (ConnectionResetError, ConnectionError):
            pass
        finally:
            self.state.unsubscribe(sub, user_id)
        return response

    # -- SMS, commands, files, health, reset -------------------------------------------------------

    async def post_sms(self, request: web.Request) -> web.StreamResponse:
        p = await self._params(request)
        phone, text = p.get_str("phone"), p.get_str("text")
        if not phone or text is None:
            raise ControlError(400, "phone and text are required")
        return _json({"ok": True, "sms": self.state.add_sms(phone, text)})

    async def get_sms(self, request: web.Request) -> web.StreamResponse:
        phone = request.query.get("phone")
        messages = [m for m in self.state.sms if phone is None or m["phone"] == phone]
        return _json({"messages": messages})

    async def sms_events(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, self.state.subscribe_sms(), None)

    async def commands(self, request: web.Request) -> web.StreamResponse:
        entries = [
            {"scope": e.scope, "language_code": e.language_code, "commands": e.commands}
            for e in self.state.commands.values()
        ]
        by_language = {
            e["language_code"]: e["commands"] for e in entries if e["scope"] == {"type": "default"}
        }
        return _json({"by_language": by_language, "entries": entries})

    async def health(self, request: web.Request) -> web.StreamResponse:
        last = self.state.last_poll_at
        polling = last is not None and time.monotonic() - last < self.config.max_long_poll + 5
        return _json(
            {
                "ok": True,
                "users": len(self.state.chats),
                "pending_updates": self.state.pending_updates,
                "bot_polling": polling,
                "acking_bots": sorted(self.state.acking_bots),
            }
        )

    async def file(self, request: web.Request) -> web.StreamResponse:
        stored = self.state.files.get(request.match_info["file_id"])
        if stored is None:
            raise ControlError(404, "file not found")
        headers = {}
        if stored.file_name:
            headers["Content-Disposition"] = f"inline; filename*=UTF-8''{_quote(stored.file_name)}"
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream", headers=headers
        )

    async def reset(self, request: web.Request) -> web.StreamResponse:
        self.state.reset()
        return _json({"ok": True})


def _quote(name: str) -> str:
    return quote(name, safe="")
