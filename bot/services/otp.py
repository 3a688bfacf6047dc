"""SMS verification codes: sending with rate limits, and checking.

Rules (issue 5): 6-digit codes from ``secrets``, kept only as an HMAC (bound to the user and the
phone), valid 5 minutes, at most 5 wrong tries, at most 1 send a minute and 10 a day per phone AND
per user. The day is a rolling 24 hours. A newer code replaces the older one. A send the gateway
failed does not count against the limits. Phones are stored as an HMAC too; nothing here is logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.clock import Clock, system_clock
from bot.domain.phone import InvalidPhoneNumber, normalize_mainland_mobile
from bot.integrations.sms import SmsError, SmsGateway
from bot.storage.repositories.otp import OtpRepo
from bot.storage.sql import Database

__all__ = ["OtpService", "RateLimit", "SendResult", "SendStatus", "VerifyResult", "VerifyStatus"]

log = logging.getLogger(__name__)

CODE_DIGITS = 6
_MINUTE = timedelta(minutes=1)
_DAY = timedelta(days=1)


class SendStatus(StrEnum):
    SENT = "sent"
    RATE_LIMITED = "rate_limited"
    SMS_FAILED = "sms_failed"


class RateLimit(StrEnum):
    PHONE_MINUTE = "phone_minute"
    PHONE_DAY = "phone_day"
    USER_MINUTE = "user_minute"
    USER_DAY = "user_day"


@dataclass(frozen=True)
class SendResult:
    status: SendStatus
    limit: RateLimit | None = None  # which limit, when rate limited
    retry_at: datetime | None = None  # when a send will be allowed again, when rate limited
    expires_at: datetime | None = None  # when the sent code expires

    @property
    def sent(self) -> bool:
        return self.status is SendStatus.SENT

    def retry_after(self, now: datetime) -> timedelta:
        return max(timedelta(0), self.retry_at - now) if self.retry_at else timedelta(0)


class VerifyStatus(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    TOO_MANY_TRIES = "too_many_tries"
    NO_CODE = "no_code"  # never sent, replaced, already used, or another phone


@dataclass(frozen=True)
class VerifyResult:
    status: VerifyStatus
    tries_left: int | None = None  # with WRONG

    @property
    def ok(self) -> bool:
        return self.status is VerifyStatus.OK


class OtpService:
    def __init__(
        self,
        db: Database,
        sms: SmsGateway,
        secret: bytes,
        *,
        clock: Clock = system_clock,
        ttl: timedelta = timedelta(minutes=5),
        max_tries: int = 5,
        per_minute: int = 1,
        per_day: int = 10,
    ) -> None:
        if len(secret) < 32:
            raise ValueError("the OTP secret must have at least 32 bytes")
        self._db = db
        self._repo = OtpRepo(db)
        self._sms = sms
        self._secret = bytes(secret)
        self._clock = clock
        self._ttl = ttl
        self._max_tries = max_tries
        self._per_minute = per_minute
        self._per_day = per_day

    def _mac(self, *parts: str) -> str:
        return hmac.new(self._secret, "\0".join(parts).encode(), hashlib.sha256).hexdigest()

    def _phone_index(self, phone: str) -> str:
        return self._mac("phone", phone)

    def _code_hash(self, user_id: int, phone_index: str, code: str) -> str:
        return self._mac("code", str(user_id), phone_index, code)

    async def send_code(self, user_id: int, phone: str, text_for: Callable[[str], str]) -> SendResult:
        """Send a new code to ``phone`` (any common spelling; raises ``InvalidPhoneNumber``).
        ``text_for(code)`` renders the localised SMS text."""
        number = normalize_mainland_mobile(phone)
        phone_index = self._phone_index(number)
        now = self._clock()
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        expires_at = now + self._ttl
        # Limits checked and the send recorded in one write transaction, so concurrent requests
        # cannot both slip under a limit; the SMS itself goes out after the commit (no network I/O
        # while holding the database's write lock).
        async with self._db.transaction():
            blocked = await self._blocking_limit(user_id, phone_index, now)
            if blocked is not None:
                limit, retry_at = blocked
                return SendResult(SendStatus.RATE_LIMITED, limit=limit, retry_at=retry_at)
            code_id = await self._repo.insert(
                user_id, phone_index, self._code_hash(user_id, phone_index, code), now, expires_at
            )
        try:
            await self._sms.send(number, text_for(code))
        except SmsError:
            log.warning("verification SMS could not be sent")
            await self._repo.delete(code_id)
            return SendResult(SendStatus.SMS_FAILED)
        return SendResult(SendStatus.SENT, expires_at=expires_at)

    async def _blocking_limit(
        self, user_id: int, phone_index: str, now: datetime
    ) -> tuple[RateLimit, datetime] | None:
        """The limit that keeps a send back longest, and when it lets go."""
        by_phone = await self._repo.sends_since(now - _DAY, phone_index=phone_index)
        by_user = await self._repo.sends_since(now - _DAY, user_id=user_id)
        found: list[tuple[RateLimit, datetime]] = []
        for sends, minute_limit, day_limit in (
            (by_phone, RateLimit.PHONE_MINUTE, RateLimit.PHONE_DAY),
            (by_user, RateLimit.USER_MINUTE, RateLimit.USER_DAY),
        ):
            last_minute = [t for t in sends if t > now - _MINUTE]
            if len(last_minute) >= self._per_minute:
                found.append((minute_limit, last_minute[len(last_minute) - self._per_minute] + _MINUTE))
            if len(sends) >= self._per_day:
                found.append((day_limit, sends[len(sends) - self._per_day] + _DAY))
        return max(found, key=lambda item: item[1]) if found else None

    async def verify(self, user_id: int, phone: str, code: str) -> VerifyResult:
        try:
            number = normalize_mainland_mobile(phone)
        except InvalidPhoneNumber:
            return VerifyResult(VerifyStatus.NO_CODE)
        phone_index = self._phone_index(number)
        typed = "".join(unicodedata.normalize("NFKC", code).split())
        now = self._clock()
        async with self._db.transaction():
            record = await self._repo.latest(user_id, phone_index)
            if record is None or record.consumed_at is not None:
                return VerifyResult(VerifyStatus.NO_CODE)
            if record.attempts >= self._max_tries:
                return VerifyResult(VerifyStatus.TOO_MANY_TRIES, tries_left=0)
            if now >= record.expires_at:
                return VerifyResult(VerifyStatus.EXPIRED)
            if hmac.compare_digest(self._code_hash(user_id, phone_index, typed), record.code_hash):
                await self._repo.consume(record.id, now)
                return VerifyResult(VerifyStatus.OK)
            attempts = await self._repo.add_attempt(record.id)
        tries_left = max(0, self._max_tries - attempts)
        if tries_left == 0:
            return VerifyResult(VerifyStatus.TOO_MANY_TRIES, tries_left=0)
        return VerifyResult(VerifyStatus.WRONG, tries_left=tries_left)

    async def prune(self, older_than: timedelta = timedelta(days=2)) -> int:
        """Forget codes older than the daily-limit window (run from a periodic job)."""
        return await self._repo.prune(self._clock() - max(older_than, _DAY))
