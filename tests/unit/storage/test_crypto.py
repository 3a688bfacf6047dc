from __future__ import annotations

import os

import pytest

from bot.storage.crypto import DecryptionError, FieldCipher, derive_key


def make(keys: dict[str, bytes], current: str) -> FieldCipher:
    return FieldCipher(keys, current, b"i" * 32)


def test_text_round_trip_and_key_id_prefix() -> None:
    cipher = make({"k1": os.urandom(32)}, "k1")
    token = cipher.encrypt_text("张三 110105194912310021", context="documents.name")
    assert token.startswith("k1:")
    assert "110105" not in token
    assert cipher.decrypt_text(token, context="documents.name") == "张三 110105194912310021"


def test_encryption_is_randomised() -> None:
    cipher = make({"k1": os.urandom(32)}, "k1")
    assert cipher.encrypt_text("x") != cipher.encrypt_text("x")
    assert cipher.encrypt_bytes(b"x") != cipher.encrypt_bytes(b"x")


def test_bytes_round_trip() -> None:
    cipher = make({"k1": os.urandom(32)}, "k1")
    blob = cipher.encrypt_bytes(b"\x00\xffphoto", context="m1")
    assert cipher.key_id_of(blob) == "k1"
    assert cipher.decrypt_bytes(blob, context="m1") == b"\x00\xffphoto"


def test_context_is_authenticated() -> None:
    cipher = make({"k1": os.urandom(32)}, "k1")
    with pytest.raises(DecryptionError):
        cipher.decrypt_text(cipher.encrypt_text("a", context="one"), context="two")
    with pytest.raises(DecryptionError):
        cipher.decrypt_bytes(cipher.encrypt_bytes(b"a", context="one"), context="two")


@pytest.mark.parametrize("bad", ["", "nokey", "k1:", "k1:!!!", "zz:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"])
def test_malformed_or_unknown_text_raises(bad: str) -> None:
    cipher = make({"k1": os.urandom(32)}, "k1")
    with pytest.raises(DecryptionError):
        cipher.decrypt_text(bad)


def test_tampered_bytes_raise() -> None:
    cipher = make({"k1": os.urandom(32)}, "k1")
    blob = bytearray(cipher.encrypt_bytes(b"data"))
    blob[-1] ^= 1
    with pytest.raises(DecryptionError):
        cipher.decrypt_bytes(bytes(blob))
    with pytest.raises(DecryptionError):
        cipher.decrypt_bytes(b"\x02\x02k1")


def test_rotation_decrypts_old_and_encrypts_with_current() -> None:
    k1, k2 = os.urandom(32), os.urandom(32)
    old = make({"k1": k1}, "k1")
    new = make({"k1": k1, "k2": k2}, "k2")
    token, blob = old.encrypt_text("secret", context="c"), old.encrypt_bytes(b"secret", context="c")
    assert new.decrypt_text(token, context="c") == "secret"
    assert new.needs_rotation(token) and new.needs_rotation(blob)
    rotated, rotated_blob = new.rotate_text(token, context="c"), new.rotate_bytes(blob, context="c")
    assert new.key_id_of(rotated) == "k2" and new.key_id_of(rotated_blob) == "k2"
    assert new.decrypt_text(rotated, context="c") == "secret"
    assert new.decrypt_bytes(rotated_blob, context="c") == b"secret"
    assert new.rotate_text(rotated, context="c") == rotated  # already current
    with pytest.raises(DecryptionError):
        old.decrypt_text(rotated, context="c")


def test_blind_index_is_normalised_keyed_and_kind_separated() -> None:
    a = make({"k1": os.urandom(32)}, "k1")
    b = FieldCipher({"k1": os.urandom(32)}, "k1", b"j" * 32)
    spelled = a.blind_index("resident_id", " 1101051949 1231002X")
    assert a.blind_index("resident_id", "11010519491231002x") == spelled
    assert a.blind_index("resident_id", "１１０") == a.blind_index("resident_id", "110")  # full-width
    assert a.blind_index("resident_id", "110") != a.blind_index("phone", "110")
    assert a.blind_index("phone", "13800138000") != b.blind_index("phone", "13800138000")
    assert len(a.blind_index("phone", "x")) == 64
    with pytest.raises(ValueError):
        a.blind_index("Bad Kind", "x")


def test_from_master_is_deterministic_and_index_survives_rotation() -> None:
    m1, m2 = b"1" * 32, b"2" * 32
    one = FieldCipher.from_master(m1)
    again = FieldCipher.from_master(m1)
    assert again.decrypt_text(one.encrypt_text("x")) == "x"
    rotated = FieldCipher.from_masters({"k1": m1, "k2": m2}, current="k2", index_master="k1")
    assert rotated.decrypt_text(one.encrypt_text("x")) == "x"
    assert rotated.blind_index("phone", "1") == one.blind_index("phone", "1")
    assert derive_key(m1, "a") != derive_key(m1, "b")


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError):
        FieldCipher({}, "k1", b"i" * 32)
    with pytest.raises(ValueError):
        make({"k1": b"short"}, "k1")
    with pytest.raises(ValueError):
        make({"k1": os.urandom(32)}, "k2")
    with pytest.raises(ValueError):
        make({"bad id": os.urandom(32)}, "bad id")
    with pytest.raises(ValueError):
        FieldCipher({"k1": os.urandom(32)}, "k1", b"short")
    with pytest.raises(ValueError):
        FieldCipher.from_master(b"too short")
