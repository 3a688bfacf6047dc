"""The portal handoff use case (issue 20): create, open once, run, finish, sign, call back.

Rules:
- the token is 192 random bits (``secrets.token_urlsafe(24)``: 32 characters of ``A-Za-z0-9_-``,
  inside Telegram's 64-character start parameter), stored only as its HMAC-SHA256;
- a token opens once, for one Telegram account, before ``handoff_token_minutes``; the session it opens
  (confirmation, then the collection or the face step-up) must finish within ``handoff_session_minutes``;
- the result is a compact JWS (Ed25519, ``alg: EdDSA``) of masked data only, with a person reference
  that is stable per portal (an HMAC of the portal and the document) and useless to any other portal;
- every state change writes an audit row in the same transaction; refused tokens are audited too.
Time is the injected clock's.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import aiohttp

from bot.config import HandoffPortal, Settings
from bot.domain.clock import Clock
from bot.domain.handoff import (
    FINAL_STATES,
    START_PARAM,
    Handoff,
    HandoffMethod,
    HandoffPurpose,
    HandoffState,
)
from bot.domain.masking import mask_id_number, mask_name
from bot.domain.models import Person
from bot.services.jws import Signer, b64url
from bot.storage.crypto import derive_key
from bot.storage.repositories.audit import AuditRepo
from bot.storage.repositories.handoffs import HandoffRepo
from bot.storage.sql import Database
from bot.verification.ids import normalize_number

__all__ = [
    "CreatedHandoff",
    "HandoffKeys",
    "HandoffRefused",
    "HandoffRequestError",
    "HandoffService",
    "OpenResult",
    "handoff_keys",
]

log = logging.getLogger(__name__)

ISSUER = "shiming-bot"
TOKEN_BYTES = 24  # 192 bits; 32 characters in base64url
# No 0/O, 1/I/L, 2/Z, 5/S, 8/B: a code read off a screen and compared by eye must not be misread.
SHORT_CODE_ALPHABET = "ACDEFHJKMNPRTUVWXY34679"
SHORT_CODE_LENGTH = 4
SUBJECT = "handoff"
_ACTIVE = (HandoffState.WAITING, HandoffState.OPENED, HandoffState.IN_PROGRESS)


class HandoffRefused(StrEnum):
    """Why ``/start <token>`` did not open a handoff (each has a message in both locales)."""

    UNKNOWN = "unknown"  # no such token (mistyped, forged, or from another deployment)
    EXPIRED = "expired"
    USED = "used"  # opened before, by this account
    OTHER_ACCOUNT = "other_account"  # opened before, by another Telegram account


class HandoffRequestError(ValueError):
    """A portal's request the API answers with 400 (``code`` says why)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class HandoffKeys:
    token: bytes  # HMAC key of the stored token hashes
    reference: bytes  # HMAC key of the per-portal person references and expected documents
    signing_seed: bytes  # Ed25519 private key


@dataclass(frozen=True)
class CreatedHandoff:
    handoff: Handoff
    token: str  # shown once (in the deep link), never stored

    def deep_link(self, bot_username: str) -> str:
        return f"https://t.me/{bot_username}?start={self.token}"


@dataclass(frozen=True)
class OpenResult:
    handoff: Handoff | None
    refused: HandoffRefused | None = None


def handoff_keys(settings: Settings, index_master: bytes) -> HandoffKeys:
    """Keys derived from the master that derives the blind indexes (it stays through rotations, so
    stored token hashes and person references stay valid); the signing key may be set on its own."""
    if settings.handoff_signing_key is not None:
        encoded = settings.handoff_signing_key.get_secret_value().strip()
        seed = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    else:
        seed = derive_key(index_master, "handoff-signing-ed25519", 32)
    return HandoffKeys(
        token=derive_key(index_master, "handoff-tokens"),
        reference=derive_key(index_master, "handoff-references"),
        signing_seed=seed,
    )


class HandoffService:
    def __init__(self, db: Database, settings: Settings, keys: HandoffKeys, clock: Clock) -> None:
        self._db = db
        self._settings = settings
        self._keys = keys
        self._clock = clock
        self.repo = HandoffRepo(db)
        self._audit = AuditRepo(db, self.now)
        self.signer = Signer.from_seed(keys.signing_seed)
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    def now(self) -> datetime:
        return self._clock()

    # -- portals ---------------------------------------------------------------------------------

    def portal(self, portal_id: str) -> HandoffPortal | None:
        return self._settings.portals().get(portal_id)

    def authenticate(self, api_key: str | None) -> str | None:
        """The portal whose API key this is, or None. Every key is compared (in constant time)."""
        if not api_key:
            return None
        found: str | None = None
        given = hashlib.sha256(api_key.encode("utf-8")).digest()
        for portal_id, portal in self._settings.portals().items():
            wanted = hashlib.sha256(portal.key.get_secret_value().encode("utf-8")).digest()
            if hmac.compare_digest(given, wanted):
                found = portal_id
        return found

    # -- hashing ---------------------------------------------------------------------------------

    def token_hash(self, token: str) -> str:
        return hmac.new(self._keys.token, token.encode("ascii"), hashlib.sha256).hexdigest()

    def _expected_hash(self, number: str) -> str:
        message = b"expected\0" + normalize_number(number).encode("utf-8")
        return hmac.new(self._keys.reference, message, hashlib.sha256).hexdigest()

    def person_reference(self, portal_id: str, person: Person) -> str:
        """Stable for one person and one portal (it survives a re-collection with the same document),
        unrelated across portals, and reveals nothing of the number."""
        doc = person.document
        message = f"person\0{portal_id}\0{doc.doc_type}\0{normalize_number(doc.number)}".encode()
        return "p_" + b64url(hmac.new(self._keys.reference, message, hashlib.sha256).digest()[:18])

    # -- the portal's side -----------------------------------------------------------------------

    async def create(
        self,
        portal_id: str,
        purpose: HandoffPurpose,
        *,
        expected_number: str | None = None,
        callback_url: str | None = None,
    ) -> CreatedHandoff:
        portal = self.portal(portal_id)
        if portal is None:
            raise HandoffRequestError("unknown_portal")
        if callback_url is not None:
            prefix = portal.callback_prefix
            if not prefix or not callback_url.startswith(prefix) or len(callback_url) > 2000:
                raise HandoffRequestError("callback_url_not_allowed")
        if expected_number is not None:
            normalized = normalize_number(expected_number)
            if not 6 <= len(normalized) <= 32 or not normalized.isalnum():
                raise HandoffRequestError("expected_document_invalid")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        if not START_PARAM.fullmatch(token):  # token_urlsafe's alphabet is exactly Telegram's
            raise AssertionError("token outside Telegram's start parameter")
        now = self._clock()
        handoff_id = "ho_" + secrets.token_urlsafe(12)
        code = "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(SHORT_CODE_LENGTH))
        expires = now + timedelta(minutes=self._settings.handoff_token_minutes)
        expected = None if expected_number is None else self._expected_hash(expected_number)
        async with self._db.transaction():
            await self.repo.create(
                handoff_id=handoff_id,
                portal=portal_id,
                purpose=purpose,
                token_hash=self.token_hash(token),
                short_code=code,
                expected_doc=expected,
                callback_url=callback_url,
                created_at=now,
                expires_at=expires,
            )
            await self._audit.write(
                None,
                "handoff.created",
                SUBJECT,
                handoff_id,
                None,
                {
                    "portal": portal_id,
                    "purpose": str(purpose),
                    "expected_document": expected is not None,
                    "callback": callback_url is not None,
                    "expires_at": expires.isoformat(),
                },
            )
        handoff = await self.repo.get(handoff_id)
        assert handoff is not None
        return CreatedHandoff(handoff, token)

    async def status(self, portal_id: str, handoff_id: str) -> Handoff | None:
        """The portal's own handoff as of now (another portal's is None, like a missing one)."""
        handoff = await self.repo.get(handoff_id)
        if handoff is None or handoff.portal != portal_id:
            return None
        return await self._expire_if_due(handoff)

    async def _expire_if_due(self, handoff: Handoff) -> Handoff:
        now = self._clock()
        if handoff.state in FINAL_STATES or handoff.effective_state(now) is not HandoffState.EXPIRED:
            return handoff
        async with self._db.transaction():
            if await self.repo.move(
                handoff.id, from_states=(handoff.state,), to=HandoffState.EXPIRED, finished_at=now
            ):
                await self._audit.write(
                    None,
                    "handoff.expired",
                    SUBJECT,
                    handoff.id,
                    {"state": str(handoff.state)},
                    {"state": "expired"},
                )
        return await self.repo.get(handoff.id) or handoff

    # -- the bot's side --------------------------------------------------------------------------

    async def open(self, token: str, user_id: int) -> OpenResult:
        """``/start <token>``: the handoff, now bound to this account, or why not."""
        if not START_PARAM.fullmatch(token):
            return await self._refuse(None, user_id, HandoffRefused.UNKNOWN)
        digest = self.token_hash(token)
        now = self._clock()
        deadline = now + timedelta(minutes=self._settings.handoff_session_minutes)
        async with self._db.transaction():
            opened = await self.repo.open(digest, user_id, now, deadline)
            handoff = await self.repo.by_token(digest)
            if opened and handoff is not None:
                await self._audit.write(
                    user_id,
                    "handoff.opened",
                    SUBJECT,
                    handoff.id,
                    {"state": "waiting"},
                    {"state": "opened", "portal": handoff.portal},
                )
                return OpenResult(handoff)
        if handoff is None:
            return await self._refuse(None, user_id, HandoffRefused.UNKNOWN)
        handoff = await self._expire_if_due(handoff)
        if handoff.state is HandoffState.EXPIRED and handoff.user_id is None:
            return await self._refuse(handoff, user_id, HandoffRefused.EXPIRED)
        if handoff.user_id != user_id:
            return await self._refuse(handoff, user_id, HandoffRefused.OTHER_ACCOUNT)
        return await self._refuse(handoff, user_id, HandoffRefused.USED)

    async def _refuse(self, handoff: Handoff | None, user_id: int, why: HandoffRefused) -> OpenResult:
        await self._audit.write(
            user_id,
            "handoff.refused",
            SUBJECT,
            None if handoff is None else handoff.id,
            None,
            {"reason": str(why)},
        )
        return OpenResult(handoff, why)

    async def active(self, handoff_id: str, user_id: int) -> Handoff | None:
        """This account's handoff while it may still go on (opened or in progress, in time)."""
        handoff = await self.repo.get(handoff_id)
        if handoff is None or handoff.user_id != user_id:
            return None
        handoff = await self._expire_if_due(handoff)
        return handoff if handoff.state in (HandoffState.OPENED, HandoffState.IN_PROGRESS) else None

    async def begin(self, handoff_id: str, user_id: int) -> Handoff | None:
        """The user confirmed the portal and the code: opened → in progress."""
        if await self.active(handoff_id, user_id) is None:
            return None
        async with self._db.transaction():
            moved = await self.repo.move(
                handoff_id, from_states=(HandoffState.OPENED,), to=HandoffState.IN_PROGRESS, user_id=user_id
            )
            if moved:
                await self._audit.write(
                    user_id,
                    "handoff.started",
                    SUBJECT,
                    handoff_id,
                    {"state": "opened"},
                    {"state": "in_progress"},
                )
        return await self.repo.get(handoff_id) if moved else None

    def expects_other_document(self, handoff: Handoff, person: Person) -> bool:
        return handoff.expected_doc is not None and not hmac.compare_digest(
            handoff.expected_doc, self._expected_hash(person.document.number)
        )

    async def fail(self, handoff_id: str, user_id: int, reason: str) -> Handoff | None:
        now = self._clock()
        async with self._db.transaction():
            moved = await self.repo.move(
                handoff_id,
                from_states=(HandoffState.OPENED, HandoffState.IN_PROGRESS),
                to=HandoffState.FAILED,
                user_id=user_id,
                failure=reason,
                finished_at=now,
            )
            if moved:
                await self._audit.write(
                    user_id,
                    "handoff.failed",
                    SUBJECT,
                    handoff_id,
                    None,
                    {"state": "failed", "reason": reason},
                )
        handoff = await self.repo.get(handoff_id) if moved else None
        if handoff is not None:
            self._schedule_callback(handoff)
        return handoff

    async def complete(
        self, handoff_id: str, user_id: int, person: Person, method: HandoffMethod
    ) -> Handoff | None:
        """The collection or step-up of ``person`` succeeded: in progress → done, with the signed
        result; a person other than the one the portal expected fails the handoff instead."""
        handoff = await self.active(handoff_id, user_id)
        if handoff is None or handoff.state is not HandoffState.IN_PROGRESS:
            return None
        if self.expects_other_document(handoff, person):
            return await self.fail(handoff_id, user_id, "document_mismatch")
        now = self._clock()
        result = self.signer.sign(self._claims(handoff, person, method, now))
        async with self._db.transaction():
            moved = await self.repo.move(
                handoff_id,
                from_states=(HandoffState.IN_PROGRESS,),
                to=HandoffState.DONE,
                user_id=user_id,
                person_id=person.id,
                method=method,
                result_jws=result,
                finished_at=now,
            )
            if moved:
                await self._audit.write(
                    user_id,
                    "handoff.done",
                    SUBJECT,
                    handoff_id,
                    {"state": "in_progress"},
                    {"state": "done", "person_id": person.id, "method": str(method)},
                )
        done = await self.repo.get(handoff_id) if moved else None
        if done is not None:
            self._schedule_callback(done)
        return done

    def _claims(
        self, handoff: Handoff, person: Person, method: HandoffMethod, now: datetime
    ) -> dict[str, Any]:
        doc = person.document
        return {
            "iss": ISSUER,
            "aud": handoff.portal,
            "sub": self.person_reference(handoff.portal, person),
            "jti": handoff.id,
            "iat": int(now.timestamp()),
            "handoff_id": handoff.id,
            "purpose": str(handoff.purpose),
            "method": str(method),
            "completed_at": now.isoformat(timespec="seconds"),
            "person_ref": self.person_reference(handoff.portal, person),
            "document_type": str(doc.doc_type),
            "person": {"name": mask_name(doc.name), "document_number": mask_id_number(doc.number)},
            "expected_document": "matched" if handoff.expected_doc is not None else "not_requested",
        }

    # -- what the portal reads, and the callback -------------------------------------------------

    @staticmethod
    def view(handoff: Handoff) -> dict[str, Any]:
        """The API's answer (and the callback's body): no personal data beyond the signed result's."""
        body: dict[str, Any] = {
            "id": handoff.id,
            "state": str(handoff.state),
            "purpose": str(handoff.purpose),
            "short_code": handoff.short_code,
            "expires_at": handoff.expires_at.isoformat(timespec="seconds"),
        }
        if handoff.state is HandoffState.DONE:
            body["result"] = handoff.result_jws
            body["method"] = None if handoff.method is None else str(handoff.method)
        if handoff.state is HandoffState.FAILED:
            body["reason"] = handoff.failure
        return body

    def _schedule_callback(self, handoff: Handoff) -> None:
        if not handoff.callback_url:
            return
        task = asyncio.create_task(self._deliver(handoff))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, handoff: Handoff) -> None:
        assert handoff.callback_url is not None
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        body = self.view(handoff)
        tries = self._settings.handoff_callback_tries
        status = "failed"
        for attempt in range(tries):
            try:
                async with self._session.post(handoff.callback_url, json=body) as response:
                    if 200 <= response.status < 300:
                        status = "delivered"
                        break
                    log.warning("handoff callback answered %s (try %d)", response.status, attempt + 1)
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("handoff callback failed: %s (try %d)", type(exc).__name__, attempt + 1)
            if attempt + 1 < tries:
                await asyncio.sleep(0.5 * 2**attempt)
        async with self._db.transaction():
            await self.repo.set_callback_status(handoff.id, status)
            await self._audit.write(
                None,
                "handoff.callback",
                SUBJECT,
                handoff.id,
                None,
                {"status": status, "state": body["state"]},
            )

    async def wait_callbacks(self) -> None:
        """For tests and the shutdown: let callbacks under way finish."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None
