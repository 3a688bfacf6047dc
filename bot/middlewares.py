"""Outer update middlewares: sandbox acknowledgement, duplicate updates, repositories per update,
language per user, per-user throttling."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.fsm.context import FSMContext
from aiogram.methods import TelegramMethod
from aiogram.types import CallbackQuery, Message, TelegramObject, Update, User

from bot.config import Settings
from bot.domain.clock import Clock, system_clock
from bot.i18n import Catalog, Translator, language_for
from bot.storage.fsm import DatabaseStorage
from bot.storage.repositories import Repositories
from bot.storage.repositories.updates import UpdateRepo
from bot.storage.sql import Database, DuplicateUpdate, reset_update_claim, set_update_claim

log = logging.getLogger(__name__)

TOUCH_INTERVAL = timedelta(minutes=5)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class SandboxAck(TelegramMethod[bool]):
    """The local sandbox's one extension of the Bot API: "this update is fully handled".

    It lets the control API return exactly when the bot is done, instead of guessing from silence.
    """

    __returning__ = bool
    __api_method__ = "sandboxAck"

    update_id: int | None = None  # None: "this bot acknowledges updates" (sent once at start-up)


class SandboxAckMiddleware(BaseMiddleware):
    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        try:
            return await handler(event, data)
        finally:
            bot: Bot | None = data.get("bot")
            if isinstance(event, Update) and bot is not None:
                await bot(SandboxAck(update_id=event.update_id))


class RepositoriesMiddleware(BaseMiddleware):
    """Gives handlers `repo`, built per update by the one factory (``Services.repositories``)."""

    def __init__(self, repositories: Callable[[], Repositories]) -> None:
        self.repositories = repositories

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        data["repo"] = self.repositories()
        return await handler(event, data)


class I18nMiddleware(BaseMiddleware):
    """Gives handlers `t`: the user's stored choice wins, else Telegram's language_code."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        lang = self.catalog.default
        if user is not None:
            repo: Repositories = data["repo"]
            record = await repo.users.get(user.id)
            # last_seen is for retention and statistics; minute precision is plenty and saves a
            # write transaction on almost every update.
            if (
                record is None
                or repo.clock() - record.last_seen > TOUCH_INTERVAL
                or (user.language_code and user.language_code[:35] != record.telegram_language)
            ):
                await repo.users.touch(user.id, user.language_code)
            data["account"] = record
            lang = record.language if record and record.language else language_for(user.language_code, lang)
        data["t"] = self.catalog.translator(lang)
        data["lang"] = lang
        return await handler(event, data)


# --- hardening (issue 8): duplicate updates and per-user throttling ---------------------------------


def update_fingerprint(update: Update) -> int:
    """The key a claim is stored under: the update id *and* what identifies the event it carries.

    Telegram redelivers an update with the same id and the same content, so the key is stable for a
    redelivery. The update id alone is not enough: the local sandbox numbers updates from 1 again
    each time it restarts (in `make run` it lives in the bot's process), and a bare id would make a
    restarted bot drop every new update as "already handled". A signed 63-bit value fits SQLite's
    INTEGER.
    """
    event = update.event
    user = getattr(event, "from_user", None)
    parts = [str(update.update_id), update.event_type, str(user.id if user else "")]
    if isinstance(event, Message):
        parts += [str(event.message_id), str(int(event.date.timestamp()))]
    elif isinstance(event, CallbackQuery):
        parts.append(event.id)
    digest = hashlib.blake2b("|".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class IdempotencyMiddleware(BaseMiddleware):
    """The same update delivered twice (a webhook retried, polling restarted before the offset was
    confirmed) is handled once.

    With ``fsm`` (the dialog state is in the records database) an already-claimed update is
    recognised by a read, and the claim itself is written in the update's first write transaction —
    usually the dialog state's, written once at the update's end — instead of one of its own
    (:class:`bot.storage.sql.UpdateClaim`);
    an update that wrote nothing is claimed once handled. A second delivery running at the same time
    loses at its first write (:class:`DuplicateUpdate`, which rolls that transaction back) and is
    dropped. Without it (FSM in Redis, where the first write is often not in the database), the claim
    row is written before the handlers run.

    A handler that fails gives its claim back, so a redelivery gets another chance. Claims older than
    the redelivery window are pruned now and then, which keeps the table small.
    """

    PRUNE_EVERY = 1000

    def __init__(
        self,
        db: Database,
        window: timedelta,
        clock: Clock = system_clock,
        *,
        fsm: DatabaseStorage | None = None,
    ) -> None:
        self.clock = clock
        self.repo = UpdateRepo(db, clock)
        self.window = window
        self.fsm = fsm
        self.join_first_write = fsm is not None
        self._since_prune = 0
        self.duplicates = 0

    def _duplicate(self, event: Update) -> None:
        self.duplicates += 1
        log.info("update %s delivered again: ignored", event.update_id)

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        bot: Bot | None = data.get("bot")
        if not isinstance(event, Update) or bot is None:
            return await handler(event, data)
        key = update_fingerprint(event)
        if self.join_first_write:
            if await self.repo.claimed(bot.id, key):
                return self._duplicate(event)
            claim = self.repo.deferred(bot.id, key)
        else:
            if not await self.repo.claim(bot.id, key):
                return self._duplicate(event)
            claim = None
        self._since_prune += 1
        if self._since_prune >= self.PRUNE_EVERY:
            self._since_prune = 0
            await self.repo.prune(self.clock() - self.window)
        token = set_update_claim(claim)
        try:
            if self.fsm is not None:
                # The dialog state's writes are kept until the update ends, then written with the
                # claim in one transaction (DatabaseStorage.buffered).
                state = data.get("state")
                async with self.fsm.buffered(state.key if isinstance(state, FSMContext) else None):
                    result = await handler(event, data)
            else:
                result = await handler(event, data)
        except DuplicateUpdate:
            return self._duplicate(event)
        except Exception:
            if claim is None or claim.done:
                with contextlib.suppress(Exception):  # the database may be the thing that failed
                    await self.repo.release(bot.id, key)
            raise
        finally:
            reset_update_claim(token)
        if claim is not None and not claim.done and not await self.repo.claim(bot.id, key):
            # Wrote nothing, and another delivery finished first: both were read-only answers.
            self._duplicate(event)
        return result


@dataclass
class _Bucket:
    tokens: float
    stamp: float
    warned: bool = False


class TokenBuckets:
    """Per-user token buckets in memory: `capacity` at once, then `rate` per second.

    One process serves a bot, so memory is the right place; full buckets are forgotten when the map
    grows, which bounds it by the number of users active in the last few seconds.
    """

    MAX_USERS = 100_000

    def __init__(self, capacity: float, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity, self.rate, self.clock = capacity, rate, clock
        self._buckets: dict[int, _Bucket] = {}

    def take(self, user_id: int) -> tuple[bool, float, bool]:
        """(allowed, seconds until the next token, first refusal since the last allowed one)."""
        now = self.clock()
        bucket = self._buckets.get(user_id)
        if bucket is None:
            if len(self._buckets) >= self.MAX_USERS:
                self._forget_full(now)
            bucket = self._buckets[user_id] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            bucket.warned = False
            return True, 0.0, False
        first = not bucket.warned
        bucket.warned = True
        return False, (1 - bucket.tokens) / self.rate, first

    def _forget_full(self, now: float) -> None:
        full = [
            uid for uid, b in self._buckets.items() if b.tokens + (now - b.stamp) * self.rate >= self.capacity
        ]
        for uid in full:
            del self._buckets[uid]
        if len(self._buckets) >= self.MAX_USERS:  # everyone is mid-burst: forget the oldest
            for uid in sorted(self._buckets, key=lambda u: self._buckets[u].stamp)[: self.MAX_USERS // 10]:
                del self._buckets[uid]


def is_expensive(event: Update) -> bool:
    """Updates whose handling may run OCR or a face check: anything carrying a file."""
    message = event.message
    if message is None:
        return False
    return bool(message.photo or message.video or message.video_note or message.document or message.animation)


class ThrottlingMiddleware(BaseMiddleware):
    """Per-user limits: every update, and separately updates that carry a photo, video or file.

    The first refused update gets a localized "wait N seconds" (a callback gets it as an alert);
    further ones in the same flood are dropped silently, so a flood cannot make the bot flood back.
    Runs after the language middleware (it needs `t`).
    """

    def __init__(self, settings: Settings) -> None:
        self.updates = TokenBuckets(settings.throttle_burst, settings.throttle_rate)
        self.media = TokenBuckets(settings.throttle_media_burst, settings.throttle_media_per_minute / 60)
        self.refused = 0

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if not isinstance(event, Update) or user is None:
            return await handler(event, data)
        allowed, wait, first = self.updates.take(user.id)
        key = "throttle.messages"
        if allowed and is_expensive(event):
            allowed, wait, first = self.media.take(user.id)
            key = "throttle.media"
        if allowed:
            return await handler(event, data)
        self.refused += 1
        if first:
            t: Translator = data["t"]
            text = t(key, seconds=max(1, math.ceil(wait)))
            with contextlib.suppress(Exception):  # a refusal must never raise
                if event.callback_query is not None:
                    await event.callback_query.answer(text, show_alert=True)
                elif event.message is not None:
                    await event.message.answer(text)
        elif event.callback_query is not None:
            # Telegram shows a spinner until a callback is answered: end it even for a dropped one.
            with contextlib.suppress(Exception):
                await event.callback_query.answer()
        return None
