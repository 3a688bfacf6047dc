"""All state of one sandbox: chats, files, the update queue, waiters, SMS, published commands.

Everything runs on one event loop, so plain dicts need no locks; the only lock is per chat, taken by
the control API so that one simulated user's updates are handled (and their replies attributed) in
order. Every change of a message is pushed to the chat's subscribers (the waiting send call, server-sent
event streams), which is what makes the web chat page of issue 9 a thin client.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from .config import SandboxConfig
from .errors import BotApiError, bad_request
from .flood import FloodControl

Sender = Literal["user", "bot"]


class Event(NamedTuple):
    """One server-sent event. `revision` numbers a chat's message changes (new, edited, deleted) and
    goes out as the event's id: a page that fetched a snapshot at revision R applies only the events
    after R, so a change made between the server taking the snapshot and the page applying it is
    neither lost nor undone."""

    kind: str
    data: dict[str, Any]
    revision: int | None = None


UPDATE_TYPES_DEFAULT = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
    }
)
_FILE_ID_PREFIX = {
    "photo": "AgAC",
    "thumbnail": "AAMC",
    "document": "BQAC",
    "video": "BAAC",
    "video_note": "DQAC",
}
_FILE_FOLDER = {
    "photo": "photos",
    "thumbnail": "thumbnails",
    "document": "documents",
    "video": "videos",
    "video_note": "video_notes",
}
_REPLY_KEYBOARD_OPTIONS = ("is_persistent", "resize_keyboard", "one_time_keyboard", "input_field_placeholder")


def webhook_conflict() -> BotApiError:
    return BotApiError(
        409,
        "Conflict: can't use getUpdates method while webhook is active; "
        "use deleteWebhook to delete the webhook first",
    )


def now_ts() -> int:
    return int(time.time())


@dataclass(slots=True)
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    file_path: str
    mime_type: str | None
    file_name: str | None
    # The Telegram object(s) this file was sent as, so re-sending by file_id reproduces them.
    meta: Any = None

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(slots=True)
class ChatMessage:
    message_id: int
    sender: Sender
    payload: dict[str, Any]
    markup: dict[str, Any] | None = None
    raw_text: str | None = None
    parse_mode: str | None = None
    edited: bool = False
    deleted: bool = False

    @property
    def inline_keyboard(self) -> list[list[dict[str, Any]]] | None:
        if self.markup and isinstance(self.markup.get("inline_keyboard"), list):
            rows: list[list[dict[str, Any]]] = self.markup["inline_keyboard"]
            return rows
        return None

    def view(self) -> dict[str, Any]:
        """The control API's message object (see README.md)."""
        p = self.payload
        photo = p.get("photo")
        media = p.get("video") or p.get("video_note") or p.get("document")
        file_id = photo[-1]["file_id"] if photo else (media or {}).get("file_id")
        doc = p.get("document")
        markup = self.markup or {}
        buttons = []
        for row in self.inline_keyboard or []:
            out_row = []
            for b in row:
                item: dict[str, Any] = {"text": b.get("text", ""), "callback_data": b.get("callback_data")}
                if "url" in b:
                    item["url"] = b["url"]
                out_row.append(item)
            buttons.append(out_row)
        keyboard = [
            [b if isinstance(b, str) else str(b.get("text", "")) for b in row]
            for row in markup.get("keyboard") or []
        ]
        reply_keyboard = None
        if markup.get("keyboard"):
            # The whole reply keyboard (request_contact and friends), for clients that draw it.
            reply_keyboard = {
                "keyboard": [
                    [{"text": b} if isinstance(b, str) else dict(b) for b in row]
                    for row in markup["keyboard"]
                ],
                **{key: markup[key] for key in _REPLY_KEYBOARD_OPTIONS if key in markup},
            }
        return {
            "message_id": self.message_id,
            "from": self.sender,
            "date": p.get("date"),
            "text": p.get("text") or p.get("caption") or "",
            "raw_text": self.raw_text,
            "parse_mode": self.parse_mode,
            "photo": bool(photo),
            "document": (
                {k: doc.get(k) for k in ("file_id", "file_name", "mime_type", "file_size")} if doc else None
            ),
            "video": "video" in p,
            "video_note": "video_note" in p,
            "file_id": file_id,
            "contact": p.get("contact"),
            "media_group_id": p.get("media_group_id"),
            "forwarded": "forward_origin" in p,
            "buttons": buttons,
            "keyboard": keyboard,
            "reply_keyboard": reply_keyboard,
            "remove_keyboard": bool(markup.get("remove_keyboard")),
            "force_reply": bool(markup.get("force_reply")),
            "input_field_placeholder": markup.get("input_field_placeholder"),
            "edited": self.edited,
            "deleted": self.deleted,
        }


class Subscriber:
    """A bounded event queue; a consumer too slow to keep up is cut off rather than growing memory."""

    __slots__ = ("closed", "queue")

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=size)
        self.closed = False

    def push(self, event: Event) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class Waiter:
    """One update a control API call waits on, and what the bot did in its chat meanwhile."""

    __slots__ = (
        "callback_answer",
        "changed",
        "chat_id",
        "done",
        "fetched_at",
        "fetched_by",
        "last_activity",
        "replies",
        "reset",
        "update_id",
    )

    def __init__(self, update_id: int, chat_id: int) -> None:
        self.update_id = update_id
        self.chat_id = chat_id
        self.replies: dict[int, ChatMessage] = {}
        self.callback_answer: dict[str, Any] | None = None
        self.fetched_by: int | None = None
        self.fetched_at: float | None = None
        self.last_activity = 0.0
        self.done = False
        self.reset = False
        self.changed = asyncio.Event()

    def touch(self) -> None:
        self.last_activity = time.monotonic()
        self.changed.set()

    def finish(self) -> None:
        self.done = True
        self.changed.set()


class Chat:
    """A private chat between the bot and one simulated user (chat id == user id)."""

    __slots__ = (
        "busy",
        "id",
        "last_action",
        "lock",
        "messages",
        "next_message_id",
        "revision",
        "user",
        "waiter",
    )

    def __init__(self, user_id: int, first_name: str, language_code: str) -> None:
        self.id = user_id
        self.user: dict[str, Any] = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }
        self.messages: OrderedDict[int, ChatMessage] = OrderedDict()
        self.next_message_id = 1
        self.revision = 0
        self.lock = asyncio.Lock()
        self.waiter: Waiter | None = None
        self.last_action: str | None = None
        # Bot API calls for this chat still being processed (a photo being recompressed): a bot that
        # never acks is not "quiet" while one runs.
        self.busy = 0

    def chat_object(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.user["first_name"]}
        for key in ("last_name", "username"):
            if key in self.user:
                chat[key] = self.user[key]
        return chat


@dataclass(slots=True)
class PendingUpdate:
    update_id: int
    kind: str
    body: dict[str, Any]
    waiter: Waiter | None


@dataclass(slots=True)
class WebhookSettings:
    """What ``setWebhook`` registered; while it exists updates are POSTed, never fetched."""

    bot_id: int
    url: str
    secret_token: str | None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass(slots=True)
class CallbackRecord:
    chat_id: int
    update_id: int
    answered: bool = False
    pressed_at: float = field(default_factory=time.monotonic)


@dataclass(slots=True)
class CommandsEntry:
    scope: dict[str, Any]
    language_code: str
    commands: list[dict[str, str]] = field(default_factory=list)


class SandboxState:
    """Every piece of sandbox state; one instance per server."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.chats: dict[int, Chat] = {}
        self.chat_subscribers: dict[int, set[Subscriber]] = {}
        self.files: OrderedDict[str, StoredFile] = OrderedDict()
        self._files_by_path: dict[str, str] = {}
        self._file_bytes = 0
        self._file_seq = itertools.count(1)
        self._updates: deque[PendingUpdate] = deque()
        # Never reset: a polling bot keeps its offset across POST /sandbox/api/reset.
        self._update_seq = itertools.count(1)
        self._update_event = asyncio.Event()
        self._poller: object | None = None
        self._allowed_updates: frozenset[str] = UPDATE_TYPES_DEFAULT
        self.waiters: dict[int, Waiter] = {}
        self._callbacks: OrderedDict[str, CallbackRecord] = OrderedDict()
        self._callback_seq = itertools.count(secrets.randbelow(10**12) * 1000)
        self._media_group_seq = itertools.count(10**13 + secrets.randbelow(10**12))
        # Keyed by bot id, and kept across resets: knowledge about the bot, not chat state.
        self.acking_bots: set[int] = set()
        self.sms: deque[dict[str, Any]] = deque(maxlen=config.max_sms)
        self.sms_subscribers: set[Subscriber] = set()
        self.commands: dict[tuple[str, str], CommandsEntry] = {}
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        self.last_poll_at: float | None = None
        self.webhook: WebhookSettings | None = None
        self.flood = FloodControl(config)
        self.closing = False

    # -- chats and messages ------------------------------------------------------------------------

    def get_or_create_chat(
        self, user_id: int, *, first_name: str | None = None, language_code: str | None = None
    ) -> Chat:
        chat = self.chats.get(user_id)
        if chat is None:
            language = language_code or self.config.default_language
            chat = Chat(user_id, first_name or f"User {user_id}", language)
            self.chats[user_id] = chat
            return chat
        if first_name:
            chat.user["first_name"] = first_name
        if language_code:
            chat.user["language_code"] = language_code
        return chat

    def chat_for_bot(self, chat_id: int | str | None) -> Chat:
        """The chat a Bot API call addresses; Telegram's error if the user never talked to the bot."""
        if chat_id is None or chat_id == "":
            raise bad_request("chat_id is empty")
        try:
            key = int(chat_id)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None
        chat = self.chats.get(key)
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def add_message(
        self,
        chat: Chat,
        sender: Sender,
        content: dict[str, Any],
        *,
        sender_user: dict[str, Any],
        markup: dict[str, Any] | None = None,
        raw_text: str | None = None,
        parse_mode: str | None = None,
    ) -> ChatMessage:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        payload: dict[str, Any] = {
            "message_id": message_id,
            "from": sender_user,
            "chat": chat.chat_object(),
            "date": now_ts(),
            **content,
        }
        if markup and "inline_keyboard" in markup:
            # Telegram echoes only inline keyboards back in the Message object.
            payload["reply_markup"] = markup
        msg = ChatMessage(message_id, sender, payload, markup, raw_text, parse_mode)
        chat.messages[message_id] = msg
        while len(chat.messages) > self.config.max_messages_per_chat:
            chat.messages.popitem(last=False)
        self.emit(chat, "new", msg)
        return msg

    def emit(self, chat: Chat, kind: str, msg: ChatMessage) -> None:
        if msg.sender == "bot" and chat.waiter is not None:
            chat.waiter.replies[msg.message_id] = msg
            chat.waiter.touch()
        chat.revision += 1
        subscribers = self.chat_subscribers.get(chat.id)
        if subscribers:
            event = Event(kind, msg.view(), chat.revision)
            for sub in list(subscribers):
                sub.push(event)

    def emit_action(self, chat: Chat, action: str) -> None:
        chat.last_action = action
        self.touch(chat)
        for sub in list(self.chat_subscribers.get(chat.id, ())):
            sub.push(Event("action", {"action": action, "date": now_ts()}))

    def touch(self, chat: Chat) -> None:
        if chat.waiter is not None:
            chat.waiter.touch()

    @contextlib.contextmanager
    def working(self, chat: Chat) -> Iterator[None]:
        """Around slow media work for a bot's call: the quiet-period guess waits for it."""
        chat.busy += 1
        self.touch(chat)
        try:
            yield
        finally:
            chat.busy -= 1
            self.touch(chat)

    def subscribe(self, user_id: int, *, replay: bool) -> Subscriber:
        """Events of one chat; the chat need not exist yet (a web page opens before the first message)."""
        sub = Subscriber(self.config.event_queue_size)
        chat = self.chats.get(user_id)
        if replay and chat is not None:
            for msg in list(chat.messages.values())[-(self.config.event_queue_size // 2) :]:
                sub.push(Event("new", msg.view(), chat.revision))
        self.chat_subscribers.setdefault(user_id, set()).add(sub)
        return sub

    def subscribe_sms(self) -> Subscriber:
        sub = Subscriber(self.config.event_queue_size)
        self.sms_subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber, user_id: int | None = None) -> None:
        sub.closed = True
        if user_id is None:
            self.sms_subscribers.discard(sub)
            return
        subscribers = self.chat_subscribers.get(user_id)
        if subscribers is not None:
            subscribers.discard(sub)
            if not subscribers:
                del self.chat_subscribers[user_id]

    # -- updates -----------------------------------------------------------------------------------

    def enqueue_update(self, kind: str, payload: dict[str, Any], chat: Chat | None) -> PendingUpdate:
        update_id = next(self._update_seq)
        waiter = None
        if chat is not None:
            waiter = Waiter(update_id, chat.id)
            self.waiters[update_id] = waiter
            chat.waiter = waiter
        update = PendingUpdate(update_id, kind, {"update_id": update_id, kind: payload}, waiter)
        self._updates.append(update)
        while len(self._updates) > self.config.max_pending_updates:
            self._updates.popleft()
        self._update_event.set()
        return update

    @property
    def pending_updates(self) -> int:
        return len(self._updates)

    def _confirm(self, offset: int | None) -> None:
        if not offset:
            return
        if offset > 0:
            while self._updates and self._updates[0].update_id < offset:
                self._updates.popleft()
        else:
            while len(self._updates) > -offset:
                self._updates.popleft()

    def _collect(self, limit: int) -> list[PendingUpdate]:
        batch: list[PendingUpdate] = []
        for update in self._updates:
            if update.kind in self._allowed_updates:
                batch.append(update)
                if len(batch) >= limit:
                    break
        return batch

    async def get_updates(
        self,
        bot_id: int,
        *,
        offset: int | None,
        limit: int,
        wait_seconds: float,
        allowed_updates: Iterable[str] | None,
    ) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise webhook_conflict()
        me = object()
        if self._poller is not None:
            self._update_event.set()  # wakes the older poller so that it notices the conflict
        self._poller = me
        if allowed_updates is not None:
            allowed = frozenset(allowed_updates)
            self._allowed_updates = allowed or UPDATE_TYPES_DEFAULT
        self._confirm(offset)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, min(wait_seconds, self.config.max_long_poll))
        try:
            while True:
                self.last_poll_at = time.monotonic()
                if self.webhook is not None:
                    raise webhook_conflict()
                if self._poller is not me:
                    raise BotApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                batch = self._collect(limit)
                remaining = deadline - loop.time()
                if batch or remaining <= 0 or self.closing:
                    break
                self._update_event.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._update_event.wait(), remaining)
        finally:
            if self._poller is me:
                self._poller = None
        fetched = time.monotonic()
        for update in batch:
            waiter = update.waiter
            if waiter is not None and waiter.fetched_at is None:
                waiter.fetched_at = fetched
                waiter.fetched_by = bot_id
                waiter.changed.set()
        return [update.body for update in batch]

    def drop_pending_updates(self) -> None:
        self._updates.clear()

    # -- webhook delivery (see webhook.py) -----------------------------------------------------------

    def set_allowed_updates(self, allowed: Iterable[str]) -> None:
        self._allowed_updates = frozenset(allowed) or UPDATE_TYPES_DEFAULT

    def set_webhook(self, webhook: WebhookSettings | None) -> None:
        self.webhook = webhook
        # A long poll in progress must end with the conflict, as on Telegram.
        self._update_event.set()

    async def wait_for_updates(self, seconds: float) -> None:
        """Sleep until an update is queued (or ``seconds`` pass): the webhook deliverer's idle wait."""
        self._update_event.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._update_event.wait(), seconds)

    def deliverable(self, skip: set[int], limit: int) -> list[PendingUpdate]:
        """Queued updates in order, except those being delivered now."""
        batch = [u for u in self._updates if u.update_id not in skip and u.kind in self._allowed_updates]
        return batch[:limit]

    def mark_fetched(self, update: PendingUpdate, bot_id: int) -> None:
        """A webhook response counts as a fetch: a bot that never acks is then judged by its silence."""
        waiter = update.waiter
        if waiter is not None and waiter.fetched_at is None:
            waiter.fetched_at = time.monotonic()
            waiter.fetched_by = bot_id
            waiter.changed.set()

    def delivered(self, update_id: int) -> None:
        for update in self._updates:
            if update.update_id == update_id:
                self._updates.remove(update)  # a reset may have emptied the queue meanwhile
                return

    def ack(self, bot_id: int, update_id: int | None) -> None:
        self.acking_bots.add(bot_id)
        waiter = self.waiters.get(update_id) if update_id is not None else None
        if waiter is not None:
            waiter.finish()

    async def wait_handled(self, waiter: Waiter, wait_seconds: float) -> bool:
        """Wait until the bot acked the update (or, for a bot that never acks, went quiet).

        Returns False on timeout.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        quiet = self.config.quiet_period
        while not waiter.done:
            now = loop.time()
            if now >= deadline or self.closing:
                return False
            wake = deadline
            chat = self.chats.get(waiter.chat_id)
            busy = chat is not None and chat.busy > 0
            if waiter.fetched_at is not None and not busy and self._may_guess(waiter):
                mono = time.monotonic()
                quiet_until = max(waiter.fetched_at, waiter.last_activity) + quiet
                if mono >= quiet_until:
                    break
                wake = min(wake, now + (quiet_until - mono))
            waiter.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.changed.wait(), max(wake - now, 0.001))
        return True

    def _may_guess(self, waiter: Waiter) -> bool:
        return not self.config.require_ack and waiter.fetched_by not in self.acking_bots

    def release_waiter(self, chat: Chat, waiter: Waiter) -> None:
        self.waiters.pop(waiter.update_id, None)
        if chat.waiter is waiter:
            chat.waiter = None

    # -- callback queries --------------------------------------------------------------------------

    def new_callback_query(self, chat_id: int) -> tuple[str, CallbackRecord]:
        """A query id; the caller sets ``update_id`` on the record once the update is queued."""
        query_id = str(next(self._callback_seq))
        record = CallbackRecord(chat_id, 0)
        self._callbacks[query_id] = record
        while len(self._callbacks) > self.config.max_callback_queries:
            self._callbacks.popitem(last=False)
        return query_id, record

    def answer_callback(self, query_id: str, answer: dict[str, Any]) -> None:
        record = self._callbacks.get(query_id)
        deadline = self.config.callback_answer_timeout
        late = deadline is not None and record is not None and time.monotonic() - record.pressed_at > deadline
        if record is None or record.answered or late:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        record.answered = True
        waiter = self.waiters.get(record.update_id)
        if waiter is not None:
            waiter.callback_answer = answer
            waiter.touch()

    def new_media_group_id(self) -> str:
        return str(next(self._media_group_seq))

    # -- files -------------------------------------------------------------------------------------

    def add_file(
        self, kind: str, data: bytes, *, ext: str, mime_type: str | None = None, file_name: str | None = None
    ) -> StoredFile:
        seq = next(self._file_seq)
        stored = StoredFile(
            file_id=_FILE_ID_PREFIX.get(kind, "CAAC") + secrets.token_urlsafe(40),
            file_unique_id="AQAD" + secrets.token_urlsafe(9),
            kind=kind,
            data=data,
            file_path=f"{_FILE_FOLDER.get(kind, 'files')}/file_{seq}{ext}",
            mime_type=mime_type,
            file_name=file_name,
        )
        self.files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored.file_id
        self._file_bytes += stored.size
        while self._file_bytes > self.config.max_total_file_bytes and len(self.files) > 1:
            _, old = self.files.popitem(last=False)
            self._files_by_path.pop(old.file_path, None)
            self._file_bytes -= old.size
        return stored

    def file_by_path(self, path: str) -> StoredFile | None:
        file_id = self._files_by_path.get(path)
        return self.files.get(file_id) if file_id else None

    # -- SMS and commands --------------------------------------------------------------------------

    def add_sms(self, phone: str, text: str) -> dict[str, Any]:
        record = {
            "phone": phone,
            "text": text,
            "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        self.sms.append(record)
        for sub in list(self.sms_subscribers):
            sub.push(Event("sms", record))
        return record

    @staticmethod
    def scope_key(scope: dict[str, Any] | None) -> str:
        return json.dumps(scope or {"type": "default"}, sort_keys=True)

    # -- lifecycle ---------------------------------------------------------------------------------

    def reset(self) -> None:
        for waiter in self.waiters.values():
            waiter.reset = True
            waiter.finish()
        self.waiters.clear()
        self.close_subscribers()
        self.chats.clear()
        self.files.clear()
        self._files_by_path.clear()
        self._file_bytes = 0
        self._updates.clear()
        self._callbacks.clear()
        self.sms.clear()
        self.commands.clear()
        self.menu_buttons.clear()
        self.flood.reset()

    def close_subscribers(self) -> None:
        for subscribers in self.chat_subscribers.values():
            for sub in subscribers:
                sub.close()
        self.chat_subscribers.clear()
        for sub in self.sms_subscribers:
            sub.close()
        self.sms_subscribers.clear()

    def shutdown(self) -> None:
        self.closing = True
        self._update_event.set()
        for waiter in self.waiters.values():
            waiter.changed.set()
        self.close_subscribers()
