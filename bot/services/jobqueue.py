"""What the bot and the verification workers (`python -m bot.worker`) agree on: the arq queue's
function names, job ids and the sealed job encoding.

Jobs and results carry card photos, selfie videos, recognised ID fields and face encodings, so
everything arq writes to Redis is pickled *and* sealed with :class:`FieldCipher` (AES-GCM). The seal
also authenticates: a value planted in Redis by someone without the key is refused before pickle
ever sees it (unpickling is code execution).
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from arq.connections import RedisSettings

from bot.storage.crypto import FieldCipher

READ_CARD_SIDE = "read_card_side"
ENCODE_FACE = "encode_face"
VERIFY_VIDEO = "verify_video"
_CONTEXT = "verification-job"


@dataclass(frozen=True)
class JobInput:
    """A job's one argument. arq logs every job's arguments by ``repr``; this one shows only sizes,
    never the photo, the video or the face encodings it carries."""

    payload: bytes
    params: tuple[Any, ...]

    def __repr__(self) -> str:
        return f"JobInput(<{len(self.payload)} bytes>, <{len(self.params)} params>)"


def redis_settings(url: str) -> RedisSettings:
    return RedisSettings.from_dsn(url)


def job_codec(
    cipher: FieldCipher,
) -> tuple[Callable[[dict[str, Any]], bytes], Callable[[bytes], dict[str, Any]]]:
    """arq's ``job_serializer`` / ``job_deserializer`` pair (used for jobs and results alike)."""

    def serialize(obj: dict[str, Any]) -> bytes:
        return cipher.encrypt_bytes(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL), context=_CONTEXT)

    def deserialize(blob: bytes) -> dict[str, Any]:
        loaded = pickle.loads(cipher.decrypt_bytes(blob, context=_CONTEXT))  # authenticated by the seal first
        if not isinstance(loaded, dict):
            raise ValueError("a job or result that is not a dict")
        return loaded

    return serialize, deserialize


def job_id(kind: str, payload: bytes, params: object) -> str:
    """The same upload with the same parameters is the same job, on every replica: a redelivered
    update or a double tap joins the job already queued (arq refuses a second job with the id)
    instead of running it twice. ``params`` is hashed by ``repr`` (plain data: stable across
    processes and Python versions, unlike a pickle)."""
    digest = hashlib.sha256()
    for part in (kind.encode(), payload, repr(params).encode("utf-8")):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return f"{kind}:{digest.hexdigest()}"
