"""Errors answered in the exact shape Telegram uses, so the bot's error handling is exercised."""

from __future__ import annotations


class BotApiError(Exception):
    def __init__(self, error_code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        # Telegram's ResponseParameters.retry_after of a 429 (flood control).
        self.retry_after = retry_after


def bad_request(detail: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {detail}")


class ControlError(Exception):
    """An error of the control API: answered as ``{"ok": false, "error": ...}`` with ``status``."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
