"""A portal handoff (issue 20): the e-tax website or desktop client hands one collection or face
step-up to the bot through a QR code, and reads back a signed result.

States: ``waiting`` (created, QR shown) → ``opened`` (one Telegram account used the token and sees the
portal's name and short code) → ``in_progress`` (the user confirmed; the function runs) → ``done`` or
``failed``. ``waiting`` past the token's expiry, or ``opened`` / ``in_progress`` past the session's
deadline, is ``expired``. ``done``, ``failed`` and ``expired`` are final.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = [
    "FINAL_STATES",
    "START_PARAM",
    "Handoff",
    "HandoffMethod",
    "HandoffPurpose",
    "HandoffState",
]

# Telegram's deep-link start parameter: at most 64 characters of A-Z, a-z, 0-9, _ and -.
START_PARAM = re.compile(r"[A-Za-z0-9_-]{1,64}")


class HandoffState(StrEnum):
    WAITING = "waiting"
    OPENED = "opened"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"


FINAL_STATES = frozenset({HandoffState.DONE, HandoffState.FAILED, HandoffState.EXPIRED})


class HandoffPurpose(StrEnum):
    COLLECTION = "collection"  # 实名信息采集 (a face step-up when the account is collected already)
    FACE_STEPUP = "face_stepup"  # a face check of a person already collected


class HandoffMethod(StrEnum):
    """How the person was established: what the portal may rely on."""

    COLLECTION = "collection"  # ID document + phone code + liveness and face match, just now
    FACE_STEPUP = "face_stepup"  # liveness and a match against the stored live face


@dataclass(frozen=True)
class Handoff:
    id: str
    portal: str
    purpose: HandoffPurpose
    short_code: str
    state: HandoffState
    created_at: datetime
    expires_at: datetime
    expected_doc: str | None = None  # HMAC of the expected document number, never the number
    callback_url: str | None = None
    user_id: int | None = None
    person_id: int | None = None
    method: HandoffMethod | None = None
    failure: str | None = None
    result_jws: str | None = None
    opened_at: datetime | None = None
    deadline_at: datetime | None = None
    finished_at: datetime | None = None
    callback_status: str | None = None

    def effective_state(self, now: datetime) -> HandoffState:
        """The state as of ``now``: a handoff whose time ran out is expired even before that is written."""
        if self.state is HandoffState.WAITING and now >= self.expires_at:
            return HandoffState.EXPIRED
        if (
            self.state in (HandoffState.OPENED, HandoffState.IN_PROGRESS)
            and self.deadline_at is not None
            and now >= self.deadline_at
        ):
            return HandoffState.EXPIRED
        return self.state
