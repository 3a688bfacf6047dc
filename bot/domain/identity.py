"""A person as an identity authority knows them: the registry staff load in the sandbox, the answer of a
real authority's adapter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.verification.ids import DocumentType

__all__ = ["IdentityRecord"]


@dataclass(frozen=True)
class IdentityRecord:
    doc_type: DocumentType
    number: str
    name: str
    birth_date: date | None = None
    photo: bytes | None = None  # the authority's photo of the person (JPEG/PNG)
