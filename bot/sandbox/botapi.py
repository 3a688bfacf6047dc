"""The Telegram Bot API as the bot sees it: ``/bot{token}/{method}`` and ``/file/bot{token}/{path}``."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .errors import BotApiError, bad_request
from .formatting import Entity, format_text, utf16_len
from .params import MalformedBody, Params, TooLarge, Upload, file_too_large, read_params
from .state import Chat, ChatMessage, CommandsEntry, SandboxState, WebhookSettings, now_ts
from .uploads import media_object
from .webhook import WebhookDeliverer

log = logging.getLogger(__name__)
TOKEN_RE = re.compile(r"^(\d+):[A-Za-z0-9_-]+$")
SECRET_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
SANDBOX_ACK_METHOD = "sandboxAck"
MAX_TEXT = 4096
MAX_CAPTION = 1024
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_INLINE_ACTIONS = (
    "callback_data",
    "url",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "callback_game",
    "pay",
    "web_app",
    "copy_text",
)
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)


@dataclass(frozen=True, slots=True)
class Call:
    bot_id: int
    params: Params


Handler = Callable[[Call], Awaitable[Any]]


def error_response(error_code: int, description: str, *, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": error_code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=error_code)


def parse_token(token: str) -> int | None:
    m = TOKEN_RE.match(token)
    return int(m.group(1)) if m else None


class BotApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.config = state.config
        self.webhooks = WebhookDeliverer(state)
        table: dict[str, Handler] = {
            "getMe": self.get_me,
            "logOut": self.true,
            "close": self.true,
            "getUpdates": self.get_updates,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "sendMessage": self.send_message,
            "editMessageText": self.edit_message_text,
            "editMessageCaption": self.edit_message_caption,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "deleteMessages": self.delete_messages,
            "answerCallbackQuery": self.answer_callback_query,
            "sendPhoto": self.send_photo,
            "sendDocument": self.send_document,
            "sendVideo": self.send_video,
            "sendVideoNote": self.send_video_note,
            "sendMediaGroup": self.send_media_group,
            "sendChatAction": self.send_chat_action,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "setChatMenuButton": self.set_chat_menu_button,
            "getChatMenuButton": self.get_chat_menu_button,
            "getChat": self.get_chat,
            "getFile": self.get_file,
            SANDBOX_ACK_METHOD: self.sandbox_ack,
        }
        # Telegram matches method names case-insensitively.
        self._methods = {name.lower(): handler for name, handler in table.items()}

    # -- HTTP entry points -------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        bot_id = parse_token(request.match_info["token"])
        if bot_id is None:
            return error_response(401, "Unauthorized")
        handler = self._methods.get(request.match_info["method"].lower())
        if handler is None:
            return error_response(404, "Not Found: method not found")
        try:
            params = await read_params(
                request,
                max_file_bytes=self.config.max_file_bytes,
                max_text_bytes=self.config.max_request_text_bytes,
            )
        except TooLarge:
            err = file_too_large()
            return error_response(err.error_code, err.description)
        except MalformedBody as exc:
            return error_response(400, f"Bad Request: {exc}")
        try:
            result = await handler(Call(bot_id, params))
        except BotApiError as exc:
            return error_response(exc.error_code, exc.description, retry_after=exc.retry_after)
        except Exception:
            # A sandbox bug must read as a Bot API failure to the bot, not as a dropped connection.
            log.exception("sandbox failed on %s", request.match_info["method"])
            return error_response(500, "Internal Server Error: the sandbox failed, see its log")
        return web.json_response({"ok": True, "result": result})

    async def download(self, request: web.Request) -> web.StreamResponse:
        if parse_token(request.match_info["token"]) is None:
            return error_response(401, "Unauthorized")
        stored = self.state.file_by_path(request.match_info["path"])
        if stored is None:
            return error_response(404, "Not Found")
        return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")

    # -- helpers -----------------------------------------------------------------------------------

    def bot_user(self, bot_id: int) -> dict[str, Any]:
        return {
            "id": bot_id,
            "is_bot": True,
            "first_name": self.config.bot_first_name,
            "username": self.config.bot_username,
        }

    def _chat(self, p: Params) -> Chat:
        return self.state.chat_for_bot(p.get_str("chat_id"))

    def _text(
        self, p: Params, name: str, entities_name: str, *, limit: int, too_long: str
    ) -> tuple[str | None, str, list[Entity], str | None]:
        """(raw text, plain text, entities, parse_mode) of a text or caption parameter."""
        raw = p.get_str(name)
        if raw is None:
            return None, "", [], None
        parse_mode = p.get_str("parse_mode") or None
        explicit = p.get_json(entities_name)
        if explicit and not parse_mode:
            if not isinstance(explicit, list):
                raise bad_request(f"can't parse {entities_name} JSON object")
            plain, entities = raw, explicit
        else:
            plain, entities = format_text(raw, parse_mode)
        if utf16_len(plain) > limit:
            raise bad_request(too_long)
        return raw, plain, entities, parse_mode

    def _markup(self, p: Params, *, inline_only: bool = False) -> dict[str, Any] | None:
        try:
            markup = p.get_json("reply_markup")
        except BotApiError:
            raise bad_request("can't parse reply keyboard markup JSON object") from None
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad_request(
                    'can\'t parse inline keyboard button: field "inline_keyboard" must be an Array'
                )
            for row in rows:
                for button in row:
                    self._check_inline_button(button)
            return markup
        if inline_only:
            raise bad_request("inline keyboard expected")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad_request('can\'t parse keyboard button: field "keyboard" must be an Array')
            for row in rows:
                for button in row:
                    text = button if isinstance(button, str) else (button or {}).get("text")
                    if not isinstance(text, str) or not text:
                        raise bad_request("keyboard button text is empty")
            return markup
        if markup.get("remove_keyboard") or markup.get("force_reply"):
            return markup
        raise bad_request("can't parse reply keyboard markup JSON object")

    @staticmethod
    def _check_inline_button(button: Any) -> None:
        if not isinstance(button, dict) or not isinstance(button.get("text"), str):
            raise bad_request('can\'t parse inline keyboard button: Field "text" must be of type String')
        actions = [key for key in _INLINE_ACTIONS if key in button]
        if not actions:
            raise bad_request(
                "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
            )
        data = button.get("callback_data")
        if "callback_data" in button and (
            not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64
        ):
            raise bad_request("BUTTON_DATA_INVALID")

    def _reply_to(self, chat: Chat, p: Params) -> dict[str, Any]:
        reply_to = p.get_int("reply_to_message_id")
        allow_missing = p.get_bool("allow_sending_without_reply")
        parameters = p.get_json("reply_parameters")
        if isinstance(parameters, dict):
            reply_to = parameters.get("message_id", reply_to)
            allow_missing = bool(parameters.get("allow_sending_without_reply", allow_missing))
        if not reply_to:
            return {}
        if not isinstance(reply_to, int):
            raise bad_request("invalid reply_parameters specified")
        target = chat.messages.get(reply_to)
        if target is None or target.deleted:
            if allow_missing:
                return {}
            raise bad_request("message to be replied not found")
        quoted = {k: v for k, v in target.payload.items() if k != "reply_to_message"}
        return {"reply_to_message": quoted}

    def _editable(self, p: Params, *, action: str = "edit") -> tuple[Chat, ChatMessage]:
        if p.get_str("inline_message_id"):
            raise bad_request("message_id_invalid")
        chat = self._chat(p)
        message_id = p.get_int("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        msg = chat.messages.get(message_id)
        if msg is None or msg.deleted:
            raise bad_request(f"message to {action} not found")
        if msg.sender != "bot" and action == "edit":
            raise bad_request("message can't be edited")
        return chat, msg

    def _finish_edit(self, chat: Chat, msg: ChatMessage, markup: dict[str, Any] | None) -> dict[str, Any]:
        msg.markup = markup
        if markup is not None:
            msg.payload["reply_markup"] = markup
        else:
            msg.payload.pop("reply_markup", None)
        msg.payload["edit_date"] = now_ts()
        msg.edited = True
        self.state.emit(chat, "edited", msg)
        return msg.payload

    @staticmethod
    def _set_text(
        payload: dict[str, Any], key: str, entities_key: str, plain: str, entities: list[Entity]
    ) -> None:
        if plain:
            payload[key] = plain
        else:
            payload.pop(key, None)
        if entities:
            payload[entities_key] = entities
        else:
            payload.pop(entities_key, None)

    # -- methods -----------------------------------------------------------------------------------

    async def true(self, call: Call) -> bool:
        return True

    async def get_me(self, call: Call) -> dict[str, Any]:
        return {
            **self.bot_user(call.bot_id),
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def get_updates(self, call: Call) -> list[dict[str, Any]]:
        p = call.params
        limit = p.get_int("limit") or 100
        allowed = p.get_json("allowed_updates")
        valid = isinstance(allowed, list) and all(isinstance(a, str) for a in allowed)
        if allowed is not None and not valid:
            raise bad_request("can't parse allowed_updates JSON array")
        return await self.state.get_updates(
            call.bot_id,
            offset=p.get_int("offset"),
            limit=max(1, min(limit, 100)),
            wait_seconds=p.get_float("timeout") or 0.0,
            allowed_updates=allowed,
        )

    async def set_webhook(self, call: Call) -> bool:
        p = call.params
        url = p.get_str("url") or ""
        if not url:  # Telegram: an empty url removes the webhook
            return await self.delete_webhook(call)
        if not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        secret = p.get_str("secret_token") or None
        if secret is not None and not SECRET_TOKEN_RE.match(secret):
            raise bad_request("secret token contains unallowed characters")
        allowed = p.get_json("allowed_updates")
        if isinstance(allowed, list) and all(isinstance(a, str) for a in allowed):
            self.state.set_allowed_updates(allowed)
        if p.get_bool("drop_pending_updates"):
            self.state.drop_pending_updates()
        connections = max(1, min(p.get_int("max_connections") or 40, 100))
        # Plain http is accepted: the sandbox delivers to local test servers, Telegram would not.
        self.state.set_webhook(WebhookSettings(call.bot_id, url, secret, connections))
        self.webhooks.ensure_running()
        return True

    async def delete_webhook(self, call: Call) -> bool:
        self.state.set_webhook(None)
        if call.params.get_bool("drop_pending_updates"):
            self.state.drop_pending_updates()
        return True

    async def get_webhook_info(self, call: Call) -> dict[str, Any]:
        hook = self.state.webhook
        info: dict[str, Any] = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": self.state.pending_updates,
        }
        if hook is not None:
            info["max_connections"] = hook.max_connections
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
        return info

    async def send_message(self, call: Call) -> dict[str, Any]:
        p = call.params
        chat = self._chat(p)
        raw, plain, entities, parse_mode = self._text(
            p, "text", "entities", limit=MAX_TEXT, too_long="message is too long"
        )
        if raw is None or not plain.strip():
            raise bad_request("message text is empty")
        markup = self._markup(p)
        content: dict[str, Any] = {**self._reply_to(chat, p), "text": plain}
        self.state.flood.charge(call.bot_id, chat.id)
        if entities:
            content["entities"] = entities
        msg = self.state.add_message(
            chat,
            "bot",
            content,
            sender_user=self.bot_user(call.bot_id),
            markup=markup,
            raw_text=raw,
            parse_mode=parse_mode,
        )
        return msg.payload

    async def edit_message_text(self, call: Call) -> dict[str, Any]:
        p = call.params
        chat, msg = self._editable(p)
        raw, plain, entities, parse_mode = self._text(
            p, "text", "entities", limit=MAX_TEXT, too_long="MESSAGE_TOO_LONG"
        )
        if raw is None or not plain.strip():
            raise bad_request("message text is empty")
        if "text" not in msg.payload:
            raise bad_request("there is no text in the message to edit")
        markup = self._markup(p, inline_only=True)
        if (
            msg.payload.get("text") == plain
            and msg.payload.get("entities", []) == entities
            and msg.inline_keyboard == (markup or {}).get("inline_keyboard")
        ):
            raise bad_request(_NOT_MODIFIED)
        self._set_text(msg.payload, "text", "entities", plain, entities)
        msg.raw_text, msg.parse_mode = raw, parse_mode
        return self._finish_edit(chat, msg, markup)

    async def edit_message_caption(self, call: Call) -> dict[str, Any]:
        p = call.params
        chat, msg = self._editable(p)
        if "text" in msg.payload:
            raise bad_request("there is no caption in the message to edit")
        raw, plain, entities, parse_mode = self._text(
            p, "caption", "caption_entities", limit=MAX_CAPTION, too_long="message caption is too long"
        )
        markup = self._markup(p, inline_only=True)
        if (
            msg.payload.get("caption", "") == plain
            and msg.payload.get("caption_entities", []) == entities
            and msg.inline_keyboard == (markup or {}).get("inline_keyboard")
        ):
            raise bad_request(_NOT_MODIFIED)
        self._set_text(msg.payload, "caption", "caption_entities", plain, entities)
        msg.raw_text, msg.parse_mode = raw, parse_mode
        return self._finish_edit(chat, msg, markup)

    async def edit_message_reply_markup(self, call: Call) -> dict[str, Any]:
        p = call.params
        chat, msg = self._editable(p)
        markup = self._markup(p, inline_only=True)
        if msg.inline_keyboard == (markup or {}).get("inline_keyboard"):
            raise bad_request(_NOT_MODIFIED)
        return self._finish_edit(chat, msg, markup)

    async def delete_message(self, call: Call) -> bool:
        chat, msg = self._editable(call.params, action="delete")
        msg.deleted = True
        self.state.emit(chat, "deleted", msg)
        return True

    async def delete_messages(self, call: Call) -> bool:
        p = call.params
        chat = self._chat(p)
        ids = p.get_json("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise bad_request("message_ids must be a list of 1-100 identifiers")
        for message_id in ids:
            if not isinstance(message_id, int | str) or not str(message_id).isdigit():
                raise bad_request("message_ids must be a list of 1-100 identifiers")
            msg = chat.messages.get(int(message_id))
            if msg is not None and not msg.deleted:
                msg.deleted = True
                self.state.emit(chat, "deleted", msg)
        return True

    async def answer_callback_query(self, call: Call) -> bool:
        p = call.params
        query_id = p.get_str("callback_query_id")
        if not query_id:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        text = p.get_str("text")
        if text is not None and len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        answer = {"text": text, "show_alert": p.get_bool("show_alert"), "url": p.get_str("url")}
        self.state.answer_callback(query_id, answer)
        return True

    async def _send_media(self, call: Call, kind: str) -> dict[str, Any]:
        p = call.params
        chat = self._chat(p)
        source = p.get_file(kind)
        if source is None or source == "":
            raise bad_request(f"there is no {kind} in the request")
        raw, plain, entities, parse_mode = self._text(
            p, "caption", "caption_entities", limit=MAX_CAPTION, too_long="message caption is too long"
        )
        markup = self._markup(p)
        reply = self._reply_to(chat, p)
        self.state.flood.charge(call.bot_id, chat.id)
        extra = {key: p.get_int(key) for key in ("width", "height", "duration", "length") if p.has(key)}
        if kind != "video_note":
            extra.pop("length", None)
        else:
            extra.pop("width", None)
            extra.pop("height", None)
        video_extra = extra if kind in {"video", "video_note"} else None
        with self.state.working(chat):
            obj = await media_object(self.state, kind, source, strict=True, extra=video_extra)
        content: dict[str, Any] = {**reply, kind: obj}
        if plain:
            content["caption"] = plain
        if entities:
            content["caption_entities"] = entities
        msg = self.state.add_message(
            chat,
            "bot",
            content,
            sender_user=self.bot_user(call.bot_id),
            markup=markup,
            raw_text=raw,
            parse_mode=parse_mode,
        )
        return msg.payload

    async def send_photo(self, call: Call) -> dict[str, Any]:
        return await self._send_media(call, "photo")

    async def send_document(self, call: Call) -> dict[str, Any]:
        return await self._send_media(call, "document")

    async def send_video(self, call: Call) -> dict[str, Any]:
        return await self._send_media(call, "video")

    async def send_video_note(self, call: Call) -> dict[str, Any]:
        return await self._send_media(call, "video_note")

    async def send_media_group(self, call: Call) -> list[dict[str, Any]]:
        p = call.params
        chat = self._chat(p)
        items = p.get_json("media")
        if not isinstance(items, list) or not 2 <= len(items) <= 10:
            raise bad_request("media must include 2-10 items")
        prepared: list[tuple[str, Upload | str, dict[str, Any]]] = []
        for item in items:
            if not isinstance(item, dict) or item.get("type") not in {"photo", "video", "document"}:
                raise bad_request("unsupported media type in the media group")
            media = item.get("media")
            if not isinstance(media, str) or not media:
                raise bad_request("there is no media in the request")
            prepared.append((str(item["type"]), p.resolve_file(media), item))
        reply = self._reply_to(chat, p)
        # Every item of an album is a message of its own for flood control.
        self.state.flood.charge(call.bot_id, chat.id, len(prepared))
        group_id = self.state.new_media_group_id()
        contents: list[tuple[dict[str, Any], str | None, str | None]] = []
        for kind, source, item in prepared:
            caption = item.get("caption")
            parse_mode = item.get("parse_mode") or p.get_str("parse_mode")
            plain, entities = format_text(caption, parse_mode) if isinstance(caption, str) else ("", [])
            if utf16_len(plain) > MAX_CAPTION:
                raise bad_request("message caption is too long")
            extra: dict[str, int | None] | None = None
            if kind == "video":
                try:
                    extra = {k: int(item[k]) for k in ("width", "height", "duration") if k in item}
                except (TypeError, ValueError):
                    raise bad_request("wrong video dimensions in the media group") from None
            with self.state.working(chat):
                obj = await media_object(self.state, kind, source, strict=True, extra=extra)
            content: dict[str, Any] = {**reply, "media_group_id": group_id, kind: obj}
            if plain:
                content["caption"] = plain
            if entities:
                content["caption_entities"] = entities
            contents.append((content, caption if isinstance(caption, str) else None, parse_mode))
        sender = self.bot_user(call.bot_id)
        sent = [
            self.state.add_message(chat, "bot", content, sender_user=sender, raw_text=raw, parse_mode=mode)
            for content, raw, mode in contents
        ]
        return [msg.payload for msg in sent]

    async def send_chat_action(self, call: Call) -> bool:
        p = call.params
        chat = self._chat(p)
        action = p.get_str("action")
        if action not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self.state.emit_action(chat, action)
        return True

    @staticmethod
    def _scope_and_language(p: Params) -> tuple[dict[str, Any], str]:
        scope = p.get_json("scope") or {"type": "default"}
        if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
            raise bad_request("can't parse BotCommandScope JSON object")
        return scope, p.get_str("language_code") or ""

    async def set_my_commands(self, call: Call) -> bool:
        p = call.params
        commands = p.get_json("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("can't parse commands JSON array")
        checked: list[dict[str, str]] = []
        for item in commands:
            if not isinstance(item, dict):
                raise bad_request("can't parse BotCommand JSON object")
            command, description = item.get("command"), item.get("description")
            if not isinstance(command, str) or not _COMMAND_RE.match(command.lstrip("/")):
                raise bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            checked.append({"command": command.lstrip("/"), "description": description})
        scope, language = self._scope_and_language(p)
        key = (self.state.scope_key(scope), language)
        if checked:
            self.state.commands[key] = CommandsEntry(scope, language, checked)
        else:
            self.state.commands.pop(key, None)
        return True

    async def get_my_commands(self, call: Call) -> list[dict[str, str]]:
        scope, language = self._scope_and_language(call.params)
        entry = self.state.commands.get((self.state.scope_key(scope), language))
        return list(entry.commands) if entry else []

    async def delete_my_commands(self, call: Call) -> bool:
        scope, language = self._scope_and_language(call.params)
        self.state.commands.pop((self.state.scope_key(scope), language), None)
        return True

    async def set_chat_menu_button(self, call: Call) -> bool:
        p = call.params
        chat_id = p.get_int("chat_id")
        if chat_id is not None:
            self.state.chat_for_bot(chat_id)
        button = p.get_json("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in {"default", "commands", "web_app"}:
            raise bad_request("can't parse menu button JSON object")
        self.state.menu_buttons[chat_id] = button
        return True

    async def get_chat_menu_button(self, call: Call) -> dict[str, Any]:
        chat_id = call.params.get_int("chat_id")
        buttons = self.state.menu_buttons
        return buttons.get(chat_id) or buttons.get(None) or {"type": "default"}

    async def get_chat(self, call: Call) -> dict[str, Any]:
        chat = self._chat(call.params)
        return {**chat.chat_object(), "accent_color_id": 0, "max_reaction_count": 11}

    async def get_file(self, call: Call) -> dict[str, Any]:
        file_id = call.params.get_str("file_id")
        if not file_id:
            raise bad_request("file_id is empty")
        stored = self.state.files.get(file_id)
        if stored is None:
            raise bad_request("wrong file_id or the file is temporarily unavailable")
        if stored.size > self.config.max_download_bytes:
            raise bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    async def sandbox_ack(self, call: Call) -> bool:
        """``update_id``: that update is handled. Without it: the bot declares that it will ack every
        update (call once at startup), so even its first update never ends on the quiet-period guess."""
        self.state.ack(call.bot_id, call.params.get_int("update_id"))
        return True
