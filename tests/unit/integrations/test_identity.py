from __future__ import annotations

import base64
from datetime import date

import pytest

from bot.domain.identity import IdentityRecord
from bot.integrations.identity import (
    HttpIdentityAuthority,
    IdentityAuthority,
    IdentityReason,
    IdentityUnavailable,
    SandboxIdentityAuthority,
)
from bot.storage.crypto import FieldCipher
from bot.storage.repositories.identity_registry import IdentityRegistryRepo
from bot.storage.sql import Database
from bot.verification.ids import DocumentType

from .conftest import Recorder, status

HK = DocumentType.HK_MACAU_PERMIT


async def no_sleep(_delay: float) -> None:
    return None


async def test_sandbox_authority(db: Database, cipher: FieldCipher) -> None:
    await IdentityRegistryRepo(db, cipher).load(
        [
            IdentityRecord(HK, "H12345678", "陈大文", date(1990, 5, 1), b"photo"),
            IdentityRecord(HK, "M87654321", "Li Ming"),
        ],
        loaded_by=None,
    )
    authority = SandboxIdentityAuthority(db, cipher)
    assert isinstance(authority, IdentityAuthority)
    ok = await authority.verify(HK, "h12345678", "陈大文", date(1990, 5, 1))
    assert ok.matched and ok.photo == b"photo" and ok.reason is None
    assert (await authority.verify(HK, "H12345678", "陈大文")).matched  # birth date optional
    assert (await authority.verify(HK, "M87654321", "li  ming")).matched  # spacing and case
    assert (await authority.verify(HK, "H00000000", "陈大文")).reason is IdentityReason.NOT_FOUND
    assert (await authority.verify(HK, "H12345678", "陈小文")).reason is IdentityReason.NAME_MISMATCH
    wrong_birth = await authority.verify(HK, "H12345678", "陈大文", date(1990, 5, 2))
    assert not wrong_birth.matched and wrong_birth.reason is IdentityReason.BIRTH_DATE_MISMATCH
    await authority.close()


async def test_sandbox_demo_identities_are_seeded_with_their_photos(
    db: Database, cipher: FieldCipher
) -> None:
    """`make run`: the people of the committed fictitious cards, each with the portrait drawn on
    their card as the authority's photo (bot/integrations/sandbox_identities.zip); a second seeding
    adds nothing."""
    from bot.integrations.identity import demo_identities

    authority = SandboxIdentityAuthority(db, cipher)
    people = demo_identities()
    assert await authority.seed_demo() == len(people) and await authority.seed_demo() == 0
    for person in people:
        answer = await authority.verify(person.doc_type, person.number, person.name, person.birth_date)
        assert answer.matched and answer.photo == person.photo and answer.photo is not None


async def test_http_authority_match_with_photo(http: Recorder) -> None:
    http.answers = [status(200, {"matched": True, "photo": base64.b64encode(b"\xff\xd8jpeg").decode()})]
    authority = HttpIdentityAuthority(http.url("/verify"), "key", timeout=2, retries=0)
    check = await authority.verify(HK, "H12345678", "陈大文", date(1990, 5, 1))
    await authority.close()
    assert check.matched and check.photo == b"\xff\xd8jpeg"
    [(_, headers, body)] = http.requests
    assert headers["Authorization"] == "Bearer key"
    assert body == {
        "doc_type": "hk_macau_permit",
        "number": "H12345678",
        "name": "陈大文",
        "birth_date": "1990-05-01",
    }


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("permit_identity_name_mismatch", IdentityReason.NAME_MISMATCH),
        ("weird", IdentityReason.REJECTED),
        (None, IdentityReason.REJECTED),
    ],
)
async def test_http_authority_non_match(http: Recorder, reason: str | None, expected: IdentityReason) -> None:
    http.answers = [status(200, {"matched": False, "photo": None, "reason": reason})]
    authority = HttpIdentityAuthority(http.url("/verify"), "key", timeout=2, retries=0)
    check = await authority.verify(HK, "H12345678", "x")
    await authority.close()
    assert not check.matched and check.reason is expected


async def test_http_authority_retries_then_answers(http: Recorder) -> None:
    http.answers = [status(503), status(200, {"matched": True})]
    authority = HttpIdentityAuthority(http.url("/verify"), "key", timeout=2, retries=2)
    authority._client._sleep = no_sleep
    assert (await authority.verify(HK, "H12345678", "x")).matched
    await authority.close()
    assert len(http.requests) == 2


@pytest.mark.parametrize(
    "answer",
    [
        status(500),
        status(401),
        status(200, {"ok": True}),
        status(200, ["matched"]),
        status(200, {"matched": True, "photo": "***"}),
        status(200),
    ],
)
async def test_http_authority_unavailable_is_not_a_non_match(http: Recorder, answer: object) -> None:
    http.answers = [answer]  # type: ignore[list-item]
    authority = HttpIdentityAuthority(http.url("/verify"), "key", timeout=2, retries=1)
    authority._client._sleep = no_sleep
    with pytest.raises(IdentityUnavailable):
        await authority.verify(HK, "H12345678", "x")
    await authority.close()
