"""What every dialog step shares: the per-update context, dialog buttons, retries, media download.

A guide function (collect, supplement, ...) is a `Flow`: it owns its own states and strings together
reusable sub-dialogs (card capture, identity authority, phone code, face check), which it calls with a
typed input and which return a typed result to its hooks (``on_card``, ``back_from_card``, ...)
through the stack of ``bot/dialogs/calls.py``, so the same card capture serves collection, supplement
and change.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from aiogram import BaseMiddleware, Bot, F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    TelegramObject,
    User,
)

from bot.config import Settings
from bot.conversation import Common, Kept
from bot.conversation import end_dialog as end_dialog  # what every dialog step that leaves calls
from bot.dialogs.calls import DIALOG_VERSION, VERSION_KEY, needs_upgrade, upgrade
from bot.domain.clock import china_date
from bot.domain.outcomes import EventOutcome
from bot.i18n import Translator
from bot.services import Services
from bot.storage.repositories import Repositories
from bot.ui import FUNCTION_PARENT, Function, Go, Nav, Node, button, home_keyboard, tip_keyboard, tip_text

log = logging.getLogger(__name__)

# The Bot API lets bots download files up to 20 MB.
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024


ReplyMarkup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None
K = TypeVar("K", bound=Kept)


class Act(CallbackData, prefix="d"):
    """A button inside a dialog. Handlers filter on the state too, so a button left over in the chat
    from an earlier step (or forged) falls through to the fallback's "this button has expired"."""

    a: str
    v: str = ""


class Flow(Protocol):
    """A function's dialog. The sub-dialogs it calls return to its hooks (``on_card(ctx, result)``,
    ``back_from_card(ctx)``, ...: ``calls.finish`` and ``calls.back_from`` call them by name)."""

    name: str


@dataclass
class Ctx:
    bot: Bot
    user: User
    state: FSMContext
    t: Translator
    services: Services
    repo: Repositories
    flows: Mapping[str, Flow]

    @property
    def user_id(self) -> int:
        return self.user.id

    @property
    def settings(self) -> Settings:
        return self.services.settings

    def now(self) -> datetime:
        """The services' clock (aware UTC): every decision of a step reads this one moment source."""
        return self.services.clock()

    def today(self) -> date:
        """The bureau's business day: card expiry and "today" are judged by the China calendar."""
        return china_date(self.now())

    # The FSM data as stored: read and written only by the typed accessors below and the call stack
    # (bot/dialogs/calls.py); a step names no key of it.
    async def get(self) -> dict[str, Any]:
        data = await self.state.get_data()
        if needs_upgrade(data):
            # Stored in an earlier shape (a dialog in flight across the deployment): upgraded once.
            data = upgrade(data, await self.state.get_state())
            await self.state.set_data(data)
        return data

    async def put(self, **values: Any) -> None:
        if "flow" in values:  # a dialog begins: its data are in the current shape
            values[VERSION_KEY] = DIALOG_VERSION
        await self.state.update_data(**values)

    async def load(self, model: type[K]) -> K:
        """The ``model`` this dialog keeps (a fresh one when it keeps none yet)."""
        return model.of(await self.get())

    async def find(self, model: type[K]) -> K | None:
        """The ``model`` this dialog keeps; None when it keeps none (a result not returned yet)."""
        return model.found(await self.get())

    async def change(self, model: type[K], **values: Any) -> K:
        """The ``model`` this dialog keeps, with ``values`` set, kept again (and returned)."""
        changed = (await self.load(model)).model_copy(update=values)
        await self.store(changed)
        return changed

    async def store(self, *values: Kept) -> None:
        """Keep each of ``values`` (whole, under its model's key), in one write."""
        await self.put(**{value.KEY: value.dump() for value in values})

    async def begin(self, flow: str, *values: Kept) -> None:
        """A flow's dialog begins (on data already cleared): its name, with ``values``."""
        await self.put(flow=flow, **{value.KEY: value.dump() for value in values})

    async def say(self, text: str, markup: ReplyMarkup = None, **kwargs: Any) -> Message:
        return await self.bot.send_message(self.user.id, text, reply_markup=markup, **kwargs)

    async def say_home(self, text: str) -> Message:
        """A function's last word (its success text) followed by the home screen, as the guide ends."""
        return await self.say(text + "\n\n" + self.t("menu.home", name=None), home_keyboard(self.t))

    async def typing(self, action: str = "typing") -> None:
        try:
            await self.bot.send_chat_action(self.user.id, action)
        except Exception:  # a progress hint must never break the step
            log.debug("chat action failed", exc_info=True)


class DialogMiddleware(BaseMiddleware):
    """Builds the `ctx` every dialog handler takes, from what the outer middlewares injected."""

    def __init__(self, flows: Mapping[str, Flow]) -> None:
        self.flows = flows

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user = data.get("event_from_user")
        if user is not None and "state" in data:
            data["ctx"] = Ctx(
                bot=data["bot"],
                user=user,
                state=data["state"],
                t=data["t"],
                services=data["services"],
                repo=data["repo"],
                flows=self.flows,
            )
        return await handler(event, data)


def act(text: str, action: str, value: str = "") -> InlineKeyboardButton:
    return button(text, Act(a=action, v=value))


def keyboard(*rows: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[r for r in rows if r])


def back_row(t: Translator) -> list[InlineKeyboardButton]:
    return [act(t("common.back"), "back")]


def home_button(t: Translator) -> InlineKeyboardButton:
    return button(t("common.home"), Nav(node=Node.HOME))


# --- retries ---------------------------------------------------------------------------------------


async def spend_try(ctx: Ctx, step: str) -> bool:
    """Count a failed attempt at `step`; False once the attempts allowed by the settings are used."""
    common = await ctx.load(Common)
    common.tries[step] = int(common.tries.get(step, 0)) + 1
    await ctx.store(common)
    return bool(common.tries[step] < ctx.services.settings.max_step_retries)


async def tries_used(ctx: Ctx, step: str) -> int:
    return int((await ctx.load(Common)).tries.get(step, 0))


async def reset_tries(ctx: Ctx, step: str) -> None:
    common = await ctx.load(Common)
    if common.tries.pop(step, None) is not None:
        await ctx.store(common)


# --- temporary media -------------------------------------------------------------------------------


async def keep_temp_media(ctx: Ctx, data: bytes, kind: str) -> str:
    """Store an upload encrypted for the rest of the dialog; listed so an abandoned dialog deletes it."""
    media_id = await ctx.services.media.put(data, kind)
    common = await ctx.load(Common)
    common.temp_media.append(media_id)
    await ctx.store(common)
    return media_id


async def pause(ctx: Ctx, reason_key: str) -> None:
    """Too many failed tries: stop here, keep nothing, and say where to get help."""
    await end_dialog(ctx.state, ctx.services, bot=ctx.bot)
    await ctx.say(
        ctx.t(reason_key) + "\n\n" + ctx.t("dialog.paused"),
        keyboard([button(ctx.t("menu.help"), Nav(node=Node.HELP))], [home_button(ctx.t)]),
    )


# --- uploads ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    kind: str  # photo | document | video | video_note | animation
    file_id: str
    size: int | None
    mime: str | None = None
    duration: int | None = None
    forwarded: bool = False


def upload_of(message: Message) -> Upload | None:
    forwarded = message.forward_origin is not None
    if message.photo:
        p = message.photo[-1]
        return Upload("photo", p.file_id, p.file_size, "image/jpeg", forwarded=forwarded)
    if message.video_note:
        v = message.video_note
        return Upload("video_note", v.file_id, v.file_size, "video/mp4", v.duration, forwarded)
    if message.video:
        v2 = message.video
        return Upload("video", v2.file_id, v2.file_size, v2.mime_type, v2.duration, forwarded)
    if message.animation:
        a = message.animation
        return Upload("animation", a.file_id, a.file_size, a.mime_type, a.duration, forwarded)
    if message.document:
        d = message.document
        return Upload("document", d.file_id, d.file_size, d.mime_type, forwarded=forwarded)
    return None


class DownloadRefused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def download(ctx: Ctx, upload: Upload, max_bytes: int = MAX_DOWNLOAD_BYTES) -> bytes:
    if upload.size is not None and upload.size > max_bytes:
        raise DownloadRefused("upload_too_large")
    buffer = io.BytesIO()
    try:
        await ctx.bot.download(upload.file_id, destination=buffer)
    except Exception as exc:
        log.warning("download failed: %s", type(exc).__name__)
        raise DownloadRefused("upload_failed") from exc
    data = buffer.getvalue()
    if len(data) > max_bytes:
        raise DownloadRefused("upload_too_large")
    if not data:
        raise DownloadRefused("upload_empty")
    return data


def reasons_text(t: Translator, codes: list[str]) -> str:
    unique = list(dict.fromkeys(codes))
    return "\n".join(f"• {t.reason(code)}" for code in unique)


# --- entering and leaving a function ---------------------------------------------------------------


class Startable(Protocol):
    name: str

    async def start(self, ctx: Ctx) -> None: ...


def register_entry(router: Router, flow: Startable, func: Function) -> None:
    """The tip screen's 【开始】 of `func` starts `flow` (and counts a start for the statistics)."""

    @router.callback_query(Go.filter(F.attr_("func") == func))
    async def go(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        await ctx.repo.events.record(flow.name, "start", EventOutcome.STARTED, user_id=ctx.user_id)
        await flow.start(ctx)


Screen = Callable[["Ctx"], Awaitable[None]]


def buttons_only(router: Router, screens: Mapping[State, Screen]) -> None:
    """Steps answered by buttons alone: typed text there is told so, then the step is shown again (each
    screen re-checks its rules)."""
    for state, show in screens.items():
        _buttons_only(router, state, show)


def _buttons_only(router: Router, state: State, show: Screen) -> None:
    @router.message(state)
    async def unexpected(message: Message, ctx: Ctx) -> None:
        await message.answer(ctx.t("functions.use_buttons"))
        await show(ctx)


def on_press(router: Router, states: State | tuple[State, ...], action: str, then: Screen) -> None:
    """A button that only leads on (no value of its own): answer the press, then show `then`."""
    for state in states if isinstance(states, tuple) else (states,):

        @router.callback_query(state, Act.filter(F.a == action))
        async def pressed(query: CallbackQuery, ctx: Ctx) -> None:
            await query.answer()
            await then(ctx)


async def back_to_tip(ctx: Ctx, func: Function) -> None:
    """ "Back" from a function's first step: leave the dialog, show the function's tip again."""
    await end_dialog(ctx.state, ctx.services)
    await ctx.say(tip_text(ctx.t, func), tip_keyboard(ctx.t, func, FUNCTION_PARENT.get(func, Node.HOME)))


async def complete(ctx: Ctx, flow: str, step: str, text: str, *, keep: frozenset[str] = frozenset()) -> None:
    """A function's success: the dialog ends (its uploads go, but ``keep``: now part of a record),
    the run counts as completed at ``step``, and the success text leads home."""
    await end_dialog(ctx.state, ctx.services, keep=keep)
    await ctx.repo.events.record(flow, step, EventOutcome.COMPLETED, user_id=ctx.user_id)
    await ctx.say_home(text)
