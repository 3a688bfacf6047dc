"""Feeds the real dispatcher synthetic updates like a Telegram user (after aiogram_dialog's BotClient)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiogram import Dispatcher
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage, SendPhoto, TelegramMethod
from aiogram.types import (
    CallbackQuery,
    Chat,
    Contact,
    Document,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    PhotoSize,
    Update,
    User,
    Video,
)

from tests.helpers.mocked_bot import MockedBot

_update_ids = itertools.count(1)


@dataclass
class Reply:
    """What the user sees of one bot call: text and buttons."""

    method: TelegramMethod[Any]
    text: str
    buttons: list[list[tuple[str, str]]] = field(default_factory=list)

    def button_data(self, label_part: str) -> str:
        for row in self.buttons:
            for text, data in row:
                if label_part in text:
                    return data
        raise AssertionError(f"no button containing {label_part!r} in {self.buttons}")


def _reply(method: TelegramMethod[Any]) -> Reply | None:
    text: str | None = None
    markup: Any = None
    match method:
        case SendMessage() | EditMessageText():
            text, markup = method.text, method.reply_markup
        case SendPhoto():
            text, markup = method.caption or "", method.reply_markup
        case AnswerCallbackQuery():
            text = method.text or ""
        case _:
            return None
    buttons: list[list[tuple[str, str]]] = []
    if isinstance(markup, InlineKeyboardMarkup):
        buttons = [[(b.text, b.callback_data or "") for b in row] for row in markup.inline_keyboard]
    return Reply(method=method, text=text or "", buttons=buttons)


class BotClient:
    def __init__(
        self, dp: Dispatcher, bot: MockedBot, user_id: int = 1001, language_code: str = "zh-hans"
    ) -> None:
        self.dp, self.bot = dp, bot
        self.user = User(id=user_id, is_bot=False, first_name="测试用户", language_code=language_code)
        self.chat = Chat(id=user_id, type="private")
        self._message_ids = itertools.count(1)

    def _message(self, **fields: Any) -> Message:
        return Message(
            message_id=next(self._message_ids),
            date=datetime.now(UTC),
            chat=self.chat,
            from_user=self.user,
            **fields,
        )

    async def _feed(self, **update: Any) -> list[Reply]:
        before = len(self.bot.recorder.requests)
        await self.dp.feed_update(self.bot, Update(update_id=next(_update_ids), **update))
        made = self.bot.recorder.requests[before:]
        return [r for r in (_reply(m) for m in made) if r is not None]

    async def send(self, text: str) -> list[Reply]:
        entities = None
        if text.startswith("/"):
            entities = [MessageEntity(type="bot_command", offset=0, length=len(text.split()[0]))]
        return await self._feed(message=self._message(text=text, entities=entities))

    async def press(self, data: str, message_id: int = 1) -> list[Reply]:
        message = Message(
            message_id=message_id,
            date=datetime.now(UTC),
            chat=self.chat,
            from_user=User(id=self.bot.id, is_bot=True, first_name="bot"),
            text="…",
        )
        query = CallbackQuery(
            id=str(next(_update_ids)), from_user=self.user, chat_instance="ci", data=data, message=message
        )
        return await self._feed(callback_query=query)

    async def send_photo(self, data: bytes, caption: str | None = None) -> list[Reply]:
        file_id = f"photo{next(_update_ids)}"
        self.bot.recorder.files[file_id] = data
        photo = [
            PhotoSize(file_id=file_id, file_unique_id=file_id, width=800, height=500, file_size=len(data))
        ]
        return await self._feed(message=self._message(photo=photo, caption=caption))

    async def send_document(self, data: bytes, file_name: str, mime_type: str | None = None) -> list[Reply]:
        file_id = f"document{next(_update_ids)}"
        self.bot.recorder.files[file_id] = data
        document = Document(
            file_id=file_id,
            file_unique_id=file_id,
            file_name=file_name,
            mime_type=mime_type,
            file_size=len(data),
        )
        return await self._feed(message=self._message(document=document))

    async def send_video(self, data: bytes, duration: int = 5) -> list[Reply]:
        file_id = f"video{next(_update_ids)}"
        self.bot.recorder.files[file_id] = data
        video = Video(
            file_id=file_id,
            file_unique_id=file_id,
            width=480,
            height=480,
            duration=duration,
            file_size=len(data),
        )
        return await self._feed(message=self._message(video=video))

    async def share_contact(self, phone: str) -> list[Reply]:
        contact = Contact(phone_number=phone, first_name=self.user.first_name, user_id=self.user.id)
        return await self._feed(message=self._message(contact=contact))
