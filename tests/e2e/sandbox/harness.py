"""A small real aiogram bot polling the sandbox over HTTP, and a control API client for the tests."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiogram import BaseMiddleware, Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.methods.base import TelegramMethod
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    TelegramObject,
    Update,
)
from PIL import Image

ACK_TOKEN = "1001:ack-bot-token"
ECHO_TOKEN = "2002:echo-bot-token"


class SandboxAck(TelegramMethod[bool]):
    """The sandbox's custom method: "I have finished handling this update"."""

    __returning__ = bool
    __api_method__ = "sandboxAck"

    update_id: int | None = None


async def declare_ack(bot: Bot) -> None:
    """Tells the sandbox "I ack" before the first update, so it never guesses from quiet."""
    await bot(SandboxAck())


class AckMiddleware(BaseMiddleware):
    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        try:
            return await handler(event, data)
        finally:
            if isinstance(event, Update):
                await data["bot"](SandboxAck(update_id=event.update_id))


def png(width: int = 640, height: int = 480, color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


def jpeg(width: int, height: int, color: str = "blue") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="JPEG")
    return buf.getvalue()


def home_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text="Edit me", callback_data="edit")],
            [InlineKeyboardButton(text="Alert", callback_data="alert")],
            [InlineKeyboardButton(text="Docs", url="https://example.org/")],
        ]
    )


def make_router() -> Router:
    router = Router()

    @router.message(Command("start"))
    async def start(message: Message) -> None:
        assert message.from_user is not None
        await message.answer(
            f"Hello, <b>{message.from_user.first_name}</b> &amp; welcome ({message.from_user.language_code})",
            parse_mode="HTML",
            reply_markup=home_keyboard(),
        )

    @router.callback_query(F.data == "edit")
    async def edit(callback: CallbackQuery) -> None:
        assert isinstance(callback.message, Message)
        await callback.message.edit_text("Edited <i>text</i>", parse_mode="HTML")
        await callback.answer("edited")

    @router.callback_query(F.data == "alert")
    async def alert(callback: CallbackQuery) -> None:
        await callback.answer("Careful!", show_alert=True)

    @router.callback_query()
    async def other_callback(callback: CallbackQuery) -> None:
        await callback.answer(f"unknown button {callback.data}")

    @router.message(Command("photo"))
    async def photo(message: Message) -> None:
        await message.answer_photo(
            BufferedInputFile(png(800, 600), "red.png"), caption="A <b>red</b> square", parse_mode="HTML"
        )

    @router.message(Command("album"))
    async def album(message: Message) -> None:
        await message.answer_media_group(
            [
                InputMediaPhoto(media=BufferedInputFile(png(100, 100, "green"), "g.png"), caption="one"),
                InputMediaPhoto(media=BufferedInputFile(png(120, 80, "yellow"), "y.png")),
            ]
        )

    @router.message(Command("doc"))
    async def doc(message: Message) -> None:
        await message.answer_document(
            BufferedInputFile("回执 receipt".encode(), "receipt.txt"), caption="receipt"
        )

    @router.message(Command("keyboard"))
    async def keyboard(message: Message) -> None:
        await message.answer(
            "Share your phone",
            reply_markup=ReplyKeyboardMarkup(
                keyboard=[
                    [KeyboardButton(text="📱 Share", request_contact=True)],
                    [KeyboardButton(text="Back")],
                ],
                resize_keyboard=True,
            ),
        )

    @router.message(Command("remove"))
    async def remove(message: Message) -> None:
        await message.answer("Keyboard gone", reply_markup=ReplyKeyboardRemove())

    @router.message(Command("delete"))
    async def delete(message: Message) -> None:
        sent = await message.answer("short-lived")
        await sent.delete()
        await message.answer("deleted one")

    @router.message(Command("slow"))
    async def slow(message: Message) -> None:
        assert message.bot is not None
        await message.bot.send_chat_action(message.chat.id, "typing")
        await asyncio.sleep(0.8)  # longer than the quiet period: only the ack ends the wait
        await message.answer("slow answer")

    @router.message(Command("errors"))
    async def errors(message: Message) -> None:
        assert message.bot is not None
        found: list[str] = []
        for call in (
            message.bot.edit_message_text("x", chat_id=message.chat.id, message_id=99999),
            message.bot.send_message(message.chat.id, "<br>", parse_mode="HTML"),
            message.bot.send_message(987654321, "nobody"),
        ):
            try:
                await call
            except TelegramBadRequest as exc:
                found.append(exc.message)
        await message.answer("\n".join(found))

    @router.message(Command("commands"))
    async def commands(message: Message) -> None:
        assert message.bot is not None
        await message.bot.set_my_commands([BotCommand(command="start", description="开始")])
        await message.bot.set_my_commands(
            [BotCommand(command="start", description="Start")], language_code="en"
        )
        await message.answer("published")

    @router.message(F.contact)
    async def contact(message: Message) -> None:
        assert message.contact is not None
        await message.answer(f"phone {message.contact.phone_number} of {message.contact.user_id}")

    @router.message(F.photo)
    async def user_photo(message: Message, bot: Bot) -> None:
        assert message.photo
        largest = message.photo[-1]
        data = await bot.download(largest)
        assert data is not None
        forwarded = "forwarded " if message.forward_origin else ""
        await message.answer(
            f"{forwarded}photo {largest.width}x{largest.height} {len(data.read())} bytes "
            f"{len(message.photo)} sizes caption={message.caption}"
        )

    @router.message(F.video)
    async def user_video(message: Message) -> None:
        assert message.video is not None
        v = message.video
        await message.answer(f"video {v.width}x{v.height} {v.duration}s {v.mime_type}")

    @router.message(F.video_note)
    async def user_video_note(message: Message) -> None:
        assert message.video_note is not None
        await message.answer(f"video note {message.video_note.length} {message.video_note.duration}s")

    @router.message(F.document)
    async def user_document(message: Message, bot: Bot) -> None:
        assert message.document is not None
        data = await bot.download(message.document)
        assert data is not None
        await message.answer(f"document {message.document.file_name} {len(data.read())} bytes")

    @router.message(F.text)
    async def echo(message: Message) -> None:
        assert message.text is not None
        await message.answer(message.text)

    return router


class RunningBot:
    def __init__(self, url: str, token: str, *, ack: bool) -> None:
        self.bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(url)))
        self.dp = Dispatcher()
        if ack:
            self.dp.update.outer_middleware(AckMiddleware())
        self.dp.include_router(make_router())
        self.task: asyncio.Task[None] | None = None
        self.acks = ack

    async def start(self) -> None:
        started = asyncio.Event()
        if self.acks:
            self.dp.startup.register(declare_ack)
        self.dp.startup.register(started.set)
        self.task = asyncio.create_task(
            self.dp.start_polling(self.bot, handle_signals=False, close_bot_session=False, polling_timeout=5)
        )
        await asyncio.wait_for(started.wait(), 10)

    async def stop(self) -> None:
        if self.task is not None:
            # Cancelling start_polling's task would leave its inner polling task running (aiogram
            # only cancels that after its stop signal), so a stopped bot would keep polling.
            await self.dp.stop_polling()
            await self.task
        await self.bot.session.close()


class Control:
    """The control API as a tester uses it."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http = http
        self.url = url

    async def send(self, user_id: int, *, wait: float | None = None, **payload: Any) -> tuple[int, Any]:
        params = {"timeout": str(wait)} if wait else None
        async with self.http.post(
            f"{self.url}/sandbox/api/users/{user_id}/send", json=payload, params=params
        ) as resp:
            return resp.status, await resp.json()

    async def ok(self, user_id: int, **payload: Any) -> dict[str, Any]:
        status, body = await self.send(user_id, **payload)
        assert status == 200, body
        assert isinstance(body, dict)
        return body

    async def upload(
        self,
        user_id: int,
        field: str,
        data: bytes,
        filename: str,
        wait: float | None = None,
        **fields: str,
    ) -> tuple[int, dict[str, Any]]:
        form = aiohttp.FormData()
        form.add_field(field, data, filename=filename)
        for key, value in fields.items():
            form.add_field(key, value)
        params = {"timeout": str(wait)} if wait else None
        url = f"{self.url}/sandbox/api/users/{user_id}/send"
        async with self.http.post(url, data=form, params=params) as resp:
            return resp.status, await resp.json()

    async def get(self, path: str, **params: str) -> tuple[int, Any]:
        async with self.http.get(f"{self.url}{path}", params=params) as resp:
            if resp.content_type == "application/json":
                return resp.status, await resp.json()
            return resp.status, await resp.read()

    async def bot_api(self, token: str, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
        async with self.http.post(f"{self.url}/bot{token}/{method}", json=params) as resp:
            return resp.status, await resp.json()
