"""Replay of a video already submitted: the engine hashes, the caller (who has the database) remembers."""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol, runtime_checkable

__all__ = ["InMemoryReplayGuard", "ReplayGuard"]


@runtime_checkable
class ReplayGuard(Protocol):
    """Answers "was this content hash submitted before?". The bot's implementation is a table."""

    def seen(self, content_hash: str) -> bool: ...

    def remember(self, content_hash: str) -> None: ...


class InMemoryReplayGuard:
    """For tests, the CLI and a single-process demo: the last ``capacity`` hashes."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._hashes: OrderedDict[str, None] = OrderedDict()

    def seen(self, content_hash: str) -> bool:
        return content_hash in self._hashes

    def remember(self, content_hash: str) -> None:
        self._hashes[content_hash] = None
        self._hashes.move_to_end(content_hash)
        while len(self._hashes) > self._capacity:
            self._hashes.popitem(last=False)

    def check_and_remember(self, content_hash: str) -> bool:
        """True when the hash was already there (a replay); remembers it either way."""
        was = self.seen(content_hash)
        self.remember(content_hash)
        return was
