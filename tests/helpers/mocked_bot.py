"""A bot whose session answers Bot API calls itself and records them (after aiogram's tests/mocked_bot.py).

Unlike aiogram's version, which replays queued responses, this one fabricates the answer Telegram
would give for the methods the bot uses, so a whole dialog can run through the real dispatcher.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any, cast

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.enums import ParseMode
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteMessage,
    EditMessageReplyMarkup,
    EditMessageText,
    GetFile,
    SendChatAction,
    SendDocument,
    SendMediaGroup,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType
from aiogram.types import Chat, File, InlineKeyboardMarkup, Message, PhotoSize, User


class RecordingSession(BaseSession):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[TelegramMethod[Any]] = []
        self.files: dict[str, bytes] = {}
        self._ids = itertools.count(1000)

    async def close(self) -> None:
        pass

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None  # noqa: ASYNC109
    ) -> TelegramType:
        self.requests.append(method)
        result = self._result(bot, method)
        if isinstance(result, Message):
            result = result.as_(bot)  # as the real session does, so `message.edit_text()` works
        return cast(TelegramType, result)

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,  # noqa: ASYNC109
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        path = url.rsplit("/", 1)[-1]
        yield self.files[path]

    def _message(self, bot: Bot, chat_id: int | str, **fields: Any) -> Message:
        return Message(
            message_id=next(self._ids),
            date=datetime.now(UTC),
            chat=Chat(id=int(chat_id), type="private"),
            from_user=User(id=bot.id, is_bot=True, first_name="bot"),
            **fields,
        )

    def _result(self, bot: Bot, method: TelegramMethod[Any]) -> Any:
        match method:
            case SendMessage():
                markup = (
                    method.reply_markup if isinstance(method.reply_markup, InlineKeyboardMarkup) else None
                )
                return self._message(bot, method.chat_id, text=method.text, reply_markup=markup)
            case SendPhoto():
                photo = [PhotoSize(file_id="p", file_unique_id="p", width=1, height=1)]
                return self._message(bot, method.chat_id, photo=photo, caption=method.caption)
            case SendDocument():
                return self._message(bot, method.chat_id, caption=method.caption)
            case SendMediaGroup():
                photo = [PhotoSize(file_id="p", file_unique_id="p", width=1, height=1)]
                return [self._message(bot, method.chat_id, photo=photo) for _ in method.media]
            case EditMessageText():
                return self._message(bot, method.chat_id or 0, text=method.text)
            case EditMessageReplyMarkup() | AnswerCallbackQuery() | SendChatAction() | DeleteMessage():
                return True
            case GetFile():
                return File(file_id=method.file_id, file_unique_id=method.file_id, file_path=method.file_id)
        return True


class MockedBot(Bot):
    def __init__(self) -> None:
        super().__init__(
            "42:TEST", session=RecordingSession(), default=DefaultBotProperties(parse_mode=ParseMode.HTML)
        )
        self._me = User(id=42, is_bot=True, first_name="实名采集", username="shiming_test_bot")

    @property
    def recorder(self) -> RecordingSession:
        return cast(RecordingSession, self.session)
