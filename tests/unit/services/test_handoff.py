"""The portal handoff use case: tokens, states, expiry, the signed result (verified independently, with
``cryptography`` alone and with PyJWT), per-portal references, audit rows; both record backends."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bot.config import Settings
from bot.domain.clock import FixedClock
from bot.domain.handoff import HandoffMethod, HandoffPurpose, HandoffState
from bot.domain.masking import mask_id_number, mask_name
from bot.domain.models import Person
from bot.services.handoff import HandoffKeys, HandoffRefused, HandoffRequestError, HandoffService
from bot.services.jws import JwsError, Signer, verify
from bot.storage.crypto import FieldCipher
from bot.storage.repositories import Repositories
from bot.storage.sql import Database
from tests.helpers.factory import make_settings
from tests.helpers.register import collected_person
from tests.unit.storage.conftest import database_url, db

__all__ = ["database_url", "db"]

NUMBER = "11010519491231002X"
T0 = datetime(2031, 3, 4, 2, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)  # sandbox mode: the demo portal "etax-demo" exists


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def service(db: Database, settings: Settings, clock: FixedClock) -> HandoffService:
    keys = HandoffKeys(token=b"t" * 32, reference=b"r" * 32, signing_seed=b"s" * 32)
    return HandoffService(db, settings, keys, clock)


@pytest_asyncio.fixture
async def person(db: Database) -> Person:
    return await collected_person(
        Repositories(db, FieldCipher.from_master(b"m" * 32, key_id="k")), 501, NUMBER
    )


def public_key(service: HandoffService) -> Ed25519PublicKey:
    jwk = service.signer.jwks()["keys"][0]
    raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    return Ed25519PublicKey.from_public_bytes(raw)


def independent_verify(token: str, key: Ed25519PublicKey) -> dict[str, object]:
    """RFC 7515 compact serialisation checked by hand: no code of the bot involved."""
    head, payload, signature = token.split(".")

    def dec(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    assert json.loads(dec(head))["alg"] == "EdDSA"
    key.verify(dec(signature), f"{head}.{payload}".encode())  # raises InvalidSignature
    claims: dict[str, object] = json.loads(dec(payload))
    return claims


async def test_token_is_random_long_and_a_valid_start_parameter(
    service: HandoffService, db: Database
) -> None:
    created = [await service.create("etax-demo", HandoffPurpose.COLLECTION) for _ in range(5)]
    tokens = {c.token for c in created}
    assert len(tokens) == 5
    for c in created:
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", c.token)
        assert len(base64.urlsafe_b64decode(c.token + "=" * (-len(c.token) % 4))) * 8 >= 128
        assert c.deep_link("shiming_bot") == f"https://t.me/shiming_bot?start={c.token}"
        assert c.handoff.state is HandoffState.WAITING
        assert re.fullmatch(r"[A-Z0-9]{4}", c.handoff.short_code)
    async with db.read() as conn:
        rows = list(await (await conn.execute("SELECT token_hash FROM handoffs")).fetchall())
    stored = {r[0] for r in rows}
    assert not stored & tokens  # only hashes are stored
    assert stored == {service.token_hash(t) for t in tokens}
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in stored)


async def test_default_expiry_is_five_minutes_of_the_injected_clock(
    service: HandoffService, clock: FixedClock
) -> None:
    created = await service.create("etax-demo", HandoffPurpose.COLLECTION)
    assert (created.handoff.expires_at - T0).total_seconds() == 300
    clock.advance(minutes=4, seconds=59)
    assert (await service.status("etax-demo", created.handoff.id)).state is HandoffState.WAITING  # type: ignore[union-attr]
    clock.advance(seconds=1)
    assert (await service.status("etax-demo", created.handoff.id)).state is HandoffState.EXPIRED  # type: ignore[union-attr]
    assert (await service.open(created.token, 1)).refused is HandoffRefused.EXPIRED


async def test_expired_token_cannot_be_opened(service: HandoffService, clock: FixedClock) -> None:
    created = await service.create("etax-demo", HandoffPurpose.COLLECTION)
    clock.advance(minutes=6)
    result = await service.open(created.token, 1)
    assert result.refused is HandoffRefused.EXPIRED


async def test_token_works_once_for_one_account(service: HandoffService) -> None:
    created = await service.create("etax-demo", HandoffPurpose.COLLECTION)
    first = await service.open(created.token, 1)
    assert first.refused is None and first.handoff is not None
    assert first.handoff.state is HandoffState.OPENED and first.handoff.user_id == 1
    assert (await service.open(created.token, 1)).refused is HandoffRefused.USED
    assert (await service.open(created.token, 2)).refused is HandoffRefused.OTHER_ACCOUNT
    assert (await service.open("not-a-token", 2)).refused is HandoffRefused.UNKNOWN
    assert (await service.open("bad token!", 2)).refused is HandoffRefused.UNKNOWN
    assert (await service.open("x" * 65, 2)).refused is HandoffRefused.UNKNOWN
    # Another account cannot move it on either.
    assert await service.begin(created.handoff.id, 2) is None


async def test_states_to_done_with_a_signed_result(
    service: HandoffService, person: Person, clock: FixedClock, db: Database
) -> None:
    created = await service.create("etax-demo", HandoffPurpose.COLLECTION, expected_number=NUMBER.lower())
    hid = created.handoff.id
    await service.open(created.token, 501)
    started = await service.begin(hid, 501)
    assert started is not None and started.state is HandoffState.IN_PROGRESS
    assert await service.begin(hid, 501) is None  # once
    clock.advance(minutes=3)
    done = await service.complete(hid, 501, person, HandoffMethod.COLLECTION)
    assert done is not None and done.state is HandoffState.DONE and done.result_jws
    view = service.view(done)
    assert view["state"] == "done" and view["result"] == done.result_jws

    claims = independent_verify(done.result_jws, public_key(service))
    assert claims == verify(done.result_jws, public_key(service))
    jwk = service.signer.jwks()["keys"][0]
    via_pyjwt = jwt.decode(
        done.result_jws,
        jwt.PyJWK(jwk).key,
        algorithms=["EdDSA"],
        audience="etax-demo",
        issuer="shiming-bot",
        options={"verify_iat": False},  # the pinned clock is not today (the suite runs under faketime)
    )
    assert via_pyjwt == claims
    assert claims["aud"] == "etax-demo" and claims["handoff_id"] == hid
    assert claims["method"] == "collection" and claims["document_type"] == "resident_id"
    assert claims["person"] == {"name": mask_name("王小明"), "document_number": mask_id_number(NUMBER)}
    assert NUMBER not in json.dumps(claims) and "王小明" not in json.dumps(claims, ensure_ascii=False)
    assert claims["completed_at"] == "2031-03-04T02:03:00+00:00"
    assert claims["expected_document"] == "matched"
    assert claims["person_ref"] == service.person_reference("etax-demo", person)

    # A final state does not move again, and a later read does not expire it.
    clock.advance(hours=2)
    assert (await service.status("etax-demo", hid)).state is HandoffState.DONE  # type: ignore[union-attr]
    assert await service.fail(hid, 501, "cancelled") is None

    async with db.read() as conn:
        actions = [
            r[0]
            for r in await (
                await conn.execute(
                    "SELECT action FROM audit_log WHERE subject_type = 'handoff' AND subject_id = ?"
                    " ORDER BY id",
                    (hid,),
                )
            ).fetchall()
        ]
    assert actions == ["handoff.created", "handoff.opened", "handoff.started", "handoff.done"]


async def test_a_forged_or_altered_result_does_not_verify(service: HandoffService, person: Person) -> None:
    created = await service.create("etax-demo", HandoffPurpose.COLLECTION)
    await service.open(created.token, 501)
    await service.begin(created.handoff.id, 501)
    done = await service.complete(created.handoff.id, 501, person, HandoffMethod.COLLECTION)
    assert done is not None and done.result_jws
    head, payload, sig = done.result_jws.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["person_ref"] = "p_someone_else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(JwsError):
        verify(f"{head}.{forged}.{sig}", public_key(service))
    none_header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    with pytest.raises(JwsError):
        verify(f"{none_header}.{payload}.", public_key(service))
    with pytest.raises(JwsError):  # another deployment's key
        verify(done.result_jws, Signer.from_seed(b"o" * 32).public_key)


async def test_expected_document_mismatch_fails(service: HandoffService, person: Person) -> None:
    created = await service.create(
        "etax-demo", HandoffPurpose.FACE_STEPUP, expected_number="110105194912310037"
    )
    await service.open(created.token, 501)
    await service.begin(created.handoff.id, 501)
    result = await service.complete(created.handoff.id, 501, person, HandoffMethod.FACE_STEPUP)
    assert (
        result is not None and result.state is HandoffState.FAILED and result.failure == "document_mismatch"
    )
    assert result.result_jws is None


async def test_session_deadline_expires_an_opened_handoff(
    service: HandoffService, person: Person, clock: FixedClock
) -> None:
    created = await service.create("etax-demo", HandoffPurpose.COLLECTION)
    await service.open(created.token, 501)
    await service.begin(created.handoff.id, 501)
    clock.advance(minutes=31)
    assert await service.complete(created.handoff.id, 501, person, HandoffMethod.COLLECTION) is None
    assert (await service.status("etax-demo", created.handoff.id)).state is HandoffState.EXPIRED  # type: ignore[union-attr]


async def test_portals_and_requests(service: HandoffService, person: Person) -> None:
    assert service.authenticate("sandbox-portal-key") == "etax-demo"
    assert service.authenticate("wrong") is None and service.authenticate(None) is None
    created = await service.create("etax-demo", HandoffPurpose.COLLECTION)
    assert await service.status("other-portal", created.handoff.id) is None  # another portal's: not found
    with pytest.raises(HandoffRequestError, match="unknown_portal"):
        await service.create("nope", HandoffPurpose.COLLECTION)
    with pytest.raises(HandoffRequestError, match="callback_url_not_allowed"):
        await service.create("etax-demo", HandoffPurpose.COLLECTION, callback_url="https://evil.example/x")
    with pytest.raises(HandoffRequestError, match="expected_document_invalid"):
        await service.create("etax-demo", HandoffPurpose.COLLECTION, expected_number="<script>")
    # The person reference is stable for one portal and different for another.
    ref = service.person_reference("etax-demo", person)
    assert ref == service.person_reference("etax-demo", person)
    assert ref != service.person_reference("desktop", person)
    assert NUMBER not in ref
