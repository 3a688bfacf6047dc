"""Small reply helpers used by every router, so menus edit in place where Telegram allows it."""

from __future__ import annotations

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message


async def edit_or_send(query: CallbackQuery, text: str, keyboard: InlineKeyboardMarkup | None = None) -> None:
    """Edit the message that carried the button; send a new one when it cannot be edited.

    A message can be too old, be a photo, or already show this content ("message is not modified").
    """
    message = query.message
    if isinstance(message, Message) and message.text is not None:
        try:
            await message.edit_text(text, reply_markup=keyboard)
            return
        except TelegramBadRequest as exc:
            if "not modified" in exc.message:
                return
    if query.bot is not None:
        await query.bot.send_message(query.from_user.id, text, reply_markup=keyboard)
