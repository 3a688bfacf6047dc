"""Lasting face pauses (issue 16): how repeated failed selfies pause a person, their face and the
account, and what a pause looks like to the dialogs and to staff (stored by
bot.storage.repositories.face_pauses)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["FacePause", "FailOutcome", "PausePolicy"]


@dataclass(frozen=True)
class PausePolicy:
    limit: int  # failures that begin a pause
    window: timedelta  # ... counted within this time
    base: timedelta  # the first pause
    cap: timedelta  # the longest pause
    forget: timedelta  # a key paused no longer than this ago starts again at the first pause

    def length(self, earlier_pauses: int) -> timedelta:
        factor: int = 2 ** min(earlier_pauses, 30)
        longer: timedelta = self.base * factor
        return min(self.cap, longer)


@dataclass(frozen=True)
class FailOutcome:
    paused_until: datetime | None  # a pause began (the latest end over the keys)
    failures_left: int  # failures before a pause, on the key closest to one


@dataclass(frozen=True)
class FacePause:
    key: str
    kind: str  # user | document | face
    doc_key: str | None
    failures: int
    pauses: int
    paused_until: datetime | None
    last_pause_at: datetime | None
    lifted_at: datetime | None
    lifted_by: int | None

    def active(self, now: datetime) -> bool:
        return self.paused_until is not None and self.paused_until > now
