"""The real-name identity authority that checks HK/Macau/Taiwan documents (SPEC §1, 8').

A non-match is an answer (``IdentityCheck.matched`` False, with a reason code); an authority that
cannot answer (timeout, 5xx, bad configuration, garbage) raises :class:`IdentityUnavailable`, so the
dialog says "try again later" instead of "身份验证失败".
"""

from __future__ import annotations

import base64
import binascii
import csv
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import aiohttp

from bot.domain.identity import IdentityRecord
from bot.integrations.http import HttpFailure, JsonClient
from bot.storage.crypto import FieldCipher
from bot.storage.repositories.identity_registry import IdentityRegistryRepo
from bot.storage.sql import Database
from bot.verification.ids import DocumentType

__all__ = [
    "HttpIdentityAuthority",
    "IdentityAuthority",
    "IdentityCheck",
    "IdentityReason",
    "IdentityUnavailable",
    "SandboxIdentityAuthority",
]

_MAX_PHOTO_BYTES = 5 * 1024 * 1024


class IdentityReason(StrEnum):
    NOT_FOUND = "permit_identity_not_found"
    NAME_MISMATCH = "permit_identity_name_mismatch"
    BIRTH_DATE_MISMATCH = "permit_identity_birth_date_mismatch"
    REJECTED = "permit_identity_rejected"  # the authority said no without a reason we know


class IdentityUnavailable(Exception):
    """The authority could not be asked or did not answer sensibly."""


@dataclass(frozen=True)
class IdentityCheck:
    matched: bool
    photo: bytes | None = None  # the authority's photo, for the face comparison
    reason: IdentityReason | None = None


@runtime_checkable
class IdentityAuthority(Protocol):
    async def verify(
        self, doc_type: DocumentType, number: str, name: str, birth_date: date | None = None
    ) -> IdentityCheck: ...

    async def close(self) -> None: ...


def _same_name(a: str, b: str) -> bool:
    def norm(value: str) -> str:
        text = unicodedata.normalize("NFKC", value).casefold()
        return "".join(ch for ch in text if not ch.isspace() and ch not in "·•・.-'")

    return norm(a) == norm(b)


DEMO_IDENTITIES = Path(__file__).with_name("sandbox_identities.csv")
# Beside the CSV: the authority's photo of each demo person, ``<number>.jpg`` (the portrait drawn on
# the committed fictitious card, by ``python -m tools.cardgen demo-photos``: ours, so it ships).
DEMO_PHOTOS = DEMO_IDENTITIES.with_suffix(".zip")


def _demo_photos() -> dict[str, bytes]:
    if not DEMO_PHOTOS.exists():
        return {}
    with zipfile.ZipFile(DEMO_PHOTOS) as archive:
        return {
            info.filename.removesuffix(".jpg"): archive.read(info)
            for info in archive.infolist()
            if info.filename.endswith(".jpg") and info.file_size <= _MAX_PHOTO_BYTES
        }


def demo_identities() -> list[IdentityRecord]:
    photos = _demo_photos()
    with DEMO_IDENTITIES.open(encoding="utf-8", newline="") as fh:
        return [
            IdentityRecord(
                DocumentType(row["doc_type"]),
                row["number"],
                row["name"],
                date.fromisoformat(row["birth_date"]) if row.get("birth_date") else None,
                photos.get(row["number"]),
            )
            for row in csv.DictReader(fh)
        ]


class SandboxIdentityAuthority:
    """Answers from the local ``identity_registry`` table that staff load (tests load fixtures)."""

    def __init__(self, db: Database, cipher: FieldCipher) -> None:
        self._registry = IdentityRegistryRepo(db, cipher)

    async def verify(
        self, doc_type: DocumentType, number: str, name: str, birth_date: date | None = None
    ) -> IdentityCheck:
        record = await self._registry.get(doc_type, number)
        if record is None:
            return IdentityCheck(False, reason=IdentityReason.NOT_FOUND)
        if not _same_name(record.name, name):
            return IdentityCheck(False, reason=IdentityReason.NAME_MISMATCH)
        if birth_date is not None and record.birth_date is not None and record.birth_date != birth_date:
            return IdentityCheck(False, reason=IdentityReason.BIRTH_DATE_MISMATCH)
        return IdentityCheck(True, photo=record.photo)

    async def seed_demo(self) -> int:
        """The sandbox's demo identities (``sandbox_identities.csv``: the people printed on the
        committed fictitious card photos, with the authority's photo of each from the ZIP beside
        it), loaded where the registry does not list them yet, so that `make run` walks a
        collection end to end; staff loads replace them."""
        records = [r for r in demo_identities() if await self._registry.get(r.doc_type, r.number) is None]
        return await self._registry.load(records, loaded_by=None) if records else 0

    async def close(self) -> None:
        """The database belongs to the bot."""


class HttpIdentityAuthority:
    """A real authority behind a small JSON contract (an adapter maps it to the authority's API):

    ``POST {url}`` with ``Authorization: Bearer {api_key}`` and body ``{"doc_type": "hk_macau_permit",
    "number": "H12345678", "name": "...", "birth_date": "1990-05-01" | null}``; answer 200
    ``{"matched": true|false, "photo": "<base64 JPEG>" | null, "reason": "<reason code>" | null}``.
    Timeouts, 408/425/429 and 5xx are retried; anything else that is not such an answer raises
    :class:`IdentityUnavailable`.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.5,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._url = url
        self._client = JsonClient(
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            headers={"Authorization": f"Bearer {api_key}"},
            session=session,
        )

    async def verify(
        self, doc_type: DocumentType, number: str, name: str, birth_date: date | None = None
    ) -> IdentityCheck:
        payload = {
            "doc_type": str(doc_type),
            "number": number,
            "name": name,
            "birth_date": None if birth_date is None else birth_date.isoformat(),
        }
        try:
            answer = await self._client.post(self._url, payload)
        except HttpFailure as failure:
            raise IdentityUnavailable(f"identity authority failed: {failure}") from None
        return self._parse(answer)

    @staticmethod
    def _parse(answer: Any) -> IdentityCheck:
        if not isinstance(answer, dict) or not isinstance(answer.get("matched"), bool):
            raise IdentityUnavailable("identity authority answered without a boolean 'matched'")
        photo_b64 = answer.get("photo")
        photo: bytes | None = None
        if photo_b64 is not None:
            if not isinstance(photo_b64, str) or len(photo_b64) > _MAX_PHOTO_BYTES * 4 // 3 + 4:
                raise IdentityUnavailable("identity authority sent a bad photo")
            try:
                photo = base64.b64decode(photo_b64, validate=True)
            except (binascii.Error, ValueError):
                raise IdentityUnavailable("identity authority sent a bad photo") from None
        if answer["matched"]:
            return IdentityCheck(True, photo=photo)
        reason = answer.get("reason")
        known = {r.value for r in IdentityReason}
        return IdentityCheck(
            False, reason=IdentityReason(reason) if reason in known else IdentityReason.REJECTED
        )

    async def close(self) -> None:
        await self._client.close()
