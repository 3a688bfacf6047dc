"""Field and file encryption (AES-256-GCM with key ids) and blind indexes.

Every ciphertext names the key that made it, so keys can be rotated: a cipher knows several keys,
decrypts with whichever one a ciphertext names and encrypts with the current one; ``needs_rotation`` /
``rotate_*`` re-encrypt old values for a rotation command.

Formats (stable: they are on disk):

- text: ``"<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>"`` (no padding), associated data
  ``b"t\\0" + key id + b"\\0" + context``;
- bytes: ``0x01 ‖ len(key id) ‖ key id ‖ nonce ‖ ciphertext ‖ tag``, associated data the header plus
  ``context``.

``context`` (a column or media id) is authenticated, so a ciphertext copied into another column or
row does not decrypt.

A **blind index** is an HMAC-SHA256 of a normalised value under a separate key: equal values give equal
indexes (unique constraints and look-ups on encrypted document numbers and phones) without revealing
them. The index key cannot be rotated without recomputing every index, so it is kept apart from the
encryption keys and stays the same when they rotate.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import unicodedata
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.domain.hanzi import gb18030_encodable

__all__ = ["DecryptionError", "FieldCipher", "derive_key", "normalize_for_index"]

_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_BYTES_VERSION = 1
_NONCE = 12
_KEY_LEN = 32
_MIN_MASTER = 32
# Fixed, public salt: HKDF's security rests on the master secret; the salt only separates this
# application's derivations from any other use of the same secret.
_HKDF_SALT = b"shiming-bot/v1"


class DecryptionError(ValueError):
    """A ciphertext is malformed, names an unknown key, or fails authentication."""


def derive_key(master: bytes, purpose: str, length: int = _KEY_LEN) -> bytes:
    """An independent key for ``purpose`` from one master secret (HKDF-SHA256)."""
    if len(master) < _MIN_MASTER:
        raise ValueError(f"master secret must have at least {_MIN_MASTER} bytes")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=_HKDF_SALT, info=purpose.encode())
    return hkdf.derive(master)


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise DecryptionError("malformed ciphertext") from exc


def normalize_for_index(value: str) -> str:
    """NFC, then NFKC (full-width → half-width), no whitespace, upper case: how people vary a number
    or a name. NFC first so that canonically equal text (a compatibility ideograph, a decomposed
    accent) indexes equally; any GB 18030 character, CJK Extension B included, is kept as it is.
    Lone surrogates are no text: rejected rather than hashed as something else."""
    if not gb18030_encodable(value):
        raise ValueError("value holds an unpaired surrogate")
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFC", value))
    return "".join(text.split()).upper()


class FieldCipher:
    def __init__(self, keys: Mapping[str, bytes], current: str, index_key: bytes) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        for key_id, key in keys.items():
            if not _KEY_ID.match(key_id):
                raise ValueError(f"bad key id {key_id!r}: 1-32 of A-Z a-z 0-9 _ -")
            if len(key) != _KEY_LEN:
                raise ValueError(f"key {key_id!r} must be {_KEY_LEN} bytes (AES-256)")
        if current not in keys:
            raise ValueError(f"current key {current!r} is not among the keys")
        if len(index_key) < _KEY_LEN:
            raise ValueError(f"index key must have at least {_KEY_LEN} bytes")
        self._aead = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._current = current
        self._index_key = bytes(index_key)

    @classmethod
    def from_master(cls, master: bytes, key_id: str = "k1") -> FieldCipher:
        """The simple one-secret configuration: encryption and index keys derived with HKDF."""
        return cls.from_masters({key_id: master}, current=key_id, index_master=key_id)

    @classmethod
    def from_masters(cls, masters: Mapping[str, bytes], current: str, index_master: str) -> FieldCipher:
        """Several master secrets by key id (rotation); the index key comes from ``index_master``
        (normally the first one ever used) so indexes survive the rotation."""
        if index_master not in masters:
            raise ValueError(f"index master {index_master!r} is not among the masters")
        keys = {key_id: derive_key(secret, "field-encryption") for key_id, secret in masters.items()}
        return cls(keys, current, derive_key(masters[index_master], "blind-index"))

    @property
    def current_key_id(self) -> str:
        return self._current

    def _aead_for(self, key_id: str) -> AESGCM:
        try:
            return self._aead[key_id]
        except KeyError:
            raise DecryptionError(f"unknown key id {key_id!r}") from None

    # -- text ------------------------------------------------------------------------------------

    def encrypt_text(self, text: str, *, context: str = "") -> str:
        kid = self._current
        nonce = os.urandom(_NONCE)
        sealed = self._aead[kid].encrypt(nonce, text.encode("utf-8"), self._text_aad(kid, context))
        return f"{kid}:{_b64e(nonce + sealed)}"

    def decrypt_text(self, token: str, *, context: str = "") -> str:
        kid, sep, body = token.partition(":")
        if not sep:
            raise DecryptionError("malformed ciphertext")
        raw = _b64d(body)
        if len(raw) < _NONCE + 16:
            raise DecryptionError("malformed ciphertext")
        try:
            plain = self._aead_for(kid).decrypt(raw[:_NONCE], raw[_NONCE:], self._text_aad(kid, context))
        except InvalidTag:
            raise DecryptionError("ciphertext failed authentication") from None
        return plain.decode("utf-8")

    @staticmethod
    def _text_aad(kid: str, context: str) -> bytes:
        return b"t\0" + kid.encode() + b"\0" + context.encode("utf-8")

    # -- bytes -----------------------------------------------------------------------------------

    def encrypt_bytes(self, data: bytes, *, context: str = "") -> bytes:
        kid = self._current.encode()
        header = bytes((_BYTES_VERSION, len(kid))) + kid
        nonce = os.urandom(_NONCE)
        return header + nonce + self._aead[self._current].encrypt(nonce, data, header + context.encode())

    def decrypt_bytes(self, blob: bytes, *, context: str = "") -> bytes:
        kid, header_len = self._bytes_header(blob)
        header = blob[:header_len]
        nonce = blob[header_len : header_len + _NONCE]
        try:
            return self._aead_for(kid).decrypt(nonce, blob[header_len + _NONCE :], header + context.encode())
        except InvalidTag:
            raise DecryptionError("ciphertext failed authentication") from None

    @staticmethod
    def _bytes_header(blob: bytes) -> tuple[str, int]:
        if len(blob) < 2 or blob[0] != _BYTES_VERSION:
            raise DecryptionError("malformed ciphertext")
        header_len = 2 + blob[1]
        if len(blob) < header_len + _NONCE + 16:
            raise DecryptionError("malformed ciphertext")
        try:
            return blob[2:header_len].decode("ascii"), header_len
        except UnicodeDecodeError:
            raise DecryptionError("malformed ciphertext") from None

    # -- rotation --------------------------------------------------------------------------------

    def key_id_of(self, ciphertext: str | bytes) -> str:
        if isinstance(ciphertext, str):
            kid, sep, _ = ciphertext.partition(":")
            if not sep:
                raise DecryptionError("malformed ciphertext")
            return kid
        return self._bytes_header(ciphertext)[0]

    def needs_rotation(self, ciphertext: str | bytes) -> bool:
        return self.key_id_of(ciphertext) != self._current

    def rotate_text(self, token: str, *, context: str = "") -> str:
        """The same plaintext under the current key (unchanged when already current)."""
        if not self.needs_rotation(token):
            return token
        return self.encrypt_text(self.decrypt_text(token, context=context), context=context)

    def rotate_bytes(self, blob: bytes, *, context: str = "") -> bytes:
        if not self.needs_rotation(blob):
            return blob
        return self.encrypt_bytes(self.decrypt_bytes(blob, context=context), context=context)

    # -- blind index -----------------------------------------------------------------------------

    def blind_index(self, kind: str, value: str) -> str:
        """Hex HMAC-SHA256 of ``kind`` and the normalised ``value``. ``kind`` (e.g. a document type,
        ``"phone"``) keeps equal strings of different kinds apart."""
        if not _KIND.match(kind):
            raise ValueError(f"bad index kind {kind!r}")
        message = kind.encode() + b"\0" + normalize_for_index(value).encode("utf-8")
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()
