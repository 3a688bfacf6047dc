"""Compact JWS (RFC 7515) signed with Ed25519 (RFC 8037, ``alg: EdDSA``) and its public key as a JWKS.

The portal verifies the handoff's result with any JOSE library, or with a few lines of its own over
``cryptography`` (the README shows both): nothing home-made about the format, only the few lines that
put the standard pieces together.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = ["JwsError", "Signer", "b64url", "b64url_decode", "verify"]


class JwsError(ValueError):
    """A token that is malformed, for another key or algorithm, or whose signature does not verify."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


@dataclass(frozen=True)
class Signer:
    private_key: Ed25519PrivateKey

    @classmethod
    def from_seed(cls, seed: bytes) -> Signer:
        if len(seed) != 32:
            raise ValueError("an Ed25519 private key is a 32-byte seed")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def public_bytes(self) -> bytes:
        return self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def kid(self) -> str:
        # Derived from the key itself, so a rotated key gets a new id without any bookkeeping.
        return b64url(hashlib.sha256(self.public_bytes).digest()[:12])

    def jwk(self) -> dict[str, str]:
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64url(self.public_bytes),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        }

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [self.jwk()]}

    def sign(self, payload: dict[str, Any]) -> str:
        header = {"alg": "EdDSA", "typ": "JWT", "kid": self.kid}
        signing_input = b64url(_json(header)) + "." + b64url(_json(payload))
        signature = self.private_key.sign(signing_input.encode("ascii"))
        return signing_input + "." + b64url(signature)


def verify(token: str, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """The payload of ``token`` when its EdDSA signature verifies under ``public_key``."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JwsError("not a compact JWS")
    try:
        header = json.loads(b64url_decode(parts[0]))
        payload = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, UnicodeDecodeError) as exc:
        raise JwsError("malformed JWS") from exc
    # The algorithm is fixed by the key, never taken from the header (no "alg": "none" games).
    if not isinstance(header, dict) or header.get("alg") != "EdDSA":
        raise JwsError("unexpected algorithm")
    try:
        public_key.verify(signature, (parts[0] + "." + parts[1]).encode("ascii"))
    except InvalidSignature as exc:
        raise JwsError("bad signature") from exc
    if not isinstance(payload, dict):
        raise JwsError("payload is not an object")
    return payload
