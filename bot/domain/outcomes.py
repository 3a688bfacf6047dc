"""How a step of a flow ended, as counted in the statistics: one vocabulary for dialogs, staff, storage."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["EventOutcome"]


class EventOutcome(StrEnum):
    STARTED = "started"
    PASSED = "passed"
    REJECTED = "rejected"  # with a reason code
    REVIEW = "review"  # sent to staff review
    COMPLETED = "completed"  # the whole flow
    CANCELLED = "cancelled"
    ERROR = "error"
