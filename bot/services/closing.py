"""A decision that closes a case or a request: compare-and-set from open, and the work it decides,
in one transaction — or neither, when another staff member decided first.

Shared by the review desk (approving a case saves the record) and PIPL deletion (closing the request
erases the person): in both, a second admin pressing at the same moment finds the row closed, and
their work is rolled back instead of being done twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.storage.repositories import Repositories

__all__ = ["close_and"]

T = TypeVar("T")
R = TypeVar("R")


class _DecidedFirst(Exception):
    """The row was no longer open: roll the work back."""


async def close_and(
    repo: Repositories, close: Callable[[], Awaitable[T | None]], work: Callable[[T], Awaitable[R]]
) -> tuple[T, R] | None:
    """``close()`` (the compare-and-set: the closed row, None when it was not open), then ``work``
    on the closed row, in one serial transaction. None when another decided first (nothing done);
    any exception of ``close`` or ``work`` rolls both back and is the caller's."""
    try:
        async with repo.db.transaction():
            closed = await close()
            if closed is None:
                raise _DecidedFirst
            return closed, await work(closed)
    except _DecidedFirst:
        return None
