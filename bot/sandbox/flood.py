"""Flood control as Telegram applies it to bots: 429 ``Too Many Requests: retry after N``.

Telegram documents the limits only roughly (Bots FAQ): about one message a second in one chat, with
short bursts tolerated; no more than 30 messages a second in all; no more than 20 a minute in one
group. Each limit is a token bucket here. A request is refused while any bucket it draws on holds less
than one message; an accepted request takes as many messages as it sends (an album of eight takes
eight) and may leave its buckets in debt, so the *next* message in that chat waits, as on Telegram,
where a large album followed at once by a text is answered with ``retry_after``.

Only requests that create messages count (``send*``); edits, deletions, callback answers and chat
actions do not (Telegram's limits for those are not documented, and the bot's progress edits already
pace themselves).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from .config import SandboxConfig
from .errors import BotApiError


def too_many_requests(retry_after: int) -> BotApiError:
    return BotApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


@dataclass(slots=True)
class Bucket:
    capacity: float
    rate: float  # messages per second
    tokens: float
    updated: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def wait(self) -> float:
        """Seconds until the bucket holds one message again (0 if it does)."""
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class FloodControl:
    """The buckets of one sandbox: per bot, per private chat, per group (negative chat id)."""

    def __init__(self, config: SandboxConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._buckets: dict[tuple[str, int, int], Bucket] = {}

    def _bucket(self, key: tuple[str, int, int], capacity: float, rate: float, now: float) -> Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Bucket(capacity, rate, capacity, now)
        else:
            bucket.refill(now)
        return bucket

    def charge(self, bot_id: int, chat_id: int, messages: int = 1) -> None:
        """Take ``messages`` from the bot's and the chat's buckets, or raise 429 taking nothing."""
        config = self.config
        if not config.flood_control:
            return
        now = self._clock()
        buckets = [self._bucket(("bot", bot_id, 0), config.bot_burst, config.bot_rate, now)]
        if chat_id < 0:
            per_minute = config.group_messages_per_minute
            buckets.append(self._bucket(("group", bot_id, chat_id), per_minute, per_minute / 60, now))
        else:
            buckets.append(self._bucket(("chat", bot_id, chat_id), config.chat_burst, config.chat_rate, now))
        wait = max(bucket.wait() for bucket in buckets)
        if wait > 0:
            # Telegram's retry_after is whole seconds, never 0.
            raise too_many_requests(max(1, math.ceil(wait)))
        for bucket in buckets:
            bucket.tokens -= messages
        if len(self._buckets) > config.max_flood_buckets:
            self._forget_full(now)

    def _forget_full(self, now: float) -> None:
        """A bucket that has refilled is the same as no bucket: drop those (memory stays bounded)."""
        for key, bucket in list(self._buckets.items()):
            bucket.refill(now)
            if bucket.tokens >= bucket.capacity:
                del self._buckets[key]

    def reset(self) -> None:
        self._buckets.clear()
