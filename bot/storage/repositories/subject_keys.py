"""The keys that name who a guard or a pause is about, shared by every repository that keys rows so.

One rule for both: the document key is the same blind index as ``persons.doc_index``, so a key names
the person without revealing them, and a pause and a guard for the same person use the same key.
"""

from __future__ import annotations

from bot.storage.crypto import FieldCipher
from bot.verification.ids import DocumentType, normalize_number

__all__ = ["SubjectKeys"]


class SubjectKeys:
    _cipher: FieldCipher

    def document_key(self, doc_type: DocumentType, number: str) -> str:
        return "doc:" + self._cipher.blind_index(str(doc_type), normalize_number(number))

    @staticmethod
    def user_key(user_id: int) -> str:
        return f"user:{user_id}"
