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
    # The entry refused before a dialog began (a case of this flow waits for review, the account is
    # already linked): no new run; the statistics give the event back to the run it repeats.
    BLOCKED = "blocked"
    # The function answered and ended without a dialog to do ("该证件已实名采集"): a run, not abandoned.
    ANSWERED = "answered"
