"""Every name: characters the OCR cannot read are typed, and then accepted, stored, masked and indexed
as one character each (CJK Extension A 䶮 U+4DAE, Extension B 𠮷 U+20BB7, beyond the BMP)."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest

from bot.dialogs.card_data import CorrectionError, apply_correction
from bot.domain.hanzi import clusters, gb18030_encodable, is_han, nfc
from bot.domain.masking import mask_address, mask_name, mask_record
from bot.storage.crypto import FieldCipher, normalize_for_index
from bot.verification.idcard import BackFields, FrontFields, validate_front

EXT_A = "\u4dae"  # 䶮
EXT_B = "\U00020bb7"  # 𠮷
CIPHER = FieldCipher.from_master(b"m" * 32, key_id="k1")


def test_extension_characters_are_han_and_gb18030() -> None:
    for ch in (EXT_A, EXT_B, "赟", "〇", "\U00031350"):
        assert is_han(ch) and gb18030_encodable(ch)
    assert not is_han("A") and not is_han("·")
    assert not gb18030_encodable("\ud842")  # a lone surrogate is no text


@pytest.mark.parametrize("name", [f"刘{EXT_A}", f"{EXT_B}大", f"{EXT_B}{EXT_A}{EXT_B}", "买买提·艾" + EXT_B])
def test_typed_name_with_extension_characters_is_accepted(name: str) -> None:
    front, back = FrontFields(), BackFields()
    apply_correction("name", f"  {name}\u200b ", front, back)
    assert front.name == name
    front.sex, front.ethnicity, front.birth_date = "男", "汉", date(1990, 1, 1)
    assert "idcard_name_invalid" not in validate_front(front)


def test_typed_name_is_nfc_normalised() -> None:
    front, back = FrontFields(), BackFields()
    apply_correction("name", "\uf900王", front, back)  # compatibility ideograph 豈 → U+8C48
    assert front.name == "\u8c48王"
    with pytest.raises(CorrectionError):
        apply_correction("name", "张三<b>", front, back)


def test_name_with_a_variation_selector_is_one_character() -> None:
    name = "葛\U000e0100亮"
    assert clusters(name) == ["葛\U000e0100", "亮"]
    assert mask_name(name) == "葛\U000e0100*"
    front, back = FrontFields(), BackFields()
    apply_correction("name", name, front, back)
    assert front.name == name


def test_masking_never_splits_an_astral_character() -> None:
    assert mask_name(f"{EXT_B}{EXT_A}") == f"{EXT_B}*"
    assert mask_name(f"{EXT_A}{EXT_B}{EXT_B}") == f"{EXT_A}**"
    assert mask_name(EXT_B) == "*"
    masked = mask_record({"name": f"{EXT_B}大"})["name"]
    assert masked == f"{EXT_B}*" and masked.encode("utf-8").decode("utf-8") == masked
    # The address prefix is counted in characters too.
    assert mask_address(f"{EXT_B}{EXT_B}省{EXT_B}市某路1号") == f"{EXT_B}{EXT_B}省{EXT_B}市****"


def test_masking_normalises_first() -> None:
    decomposed = "Jose\u0301 Garci\u0301a"
    assert mask_name(decomposed) == "J*** G*****"
    assert mask_name(unicodedata.normalize("NFC", decomposed)) == "J*** G*****"


def test_blind_index_is_nfc_normalised_and_keeps_extension_characters() -> None:
    assert normalize_for_index(f" {EXT_B} {EXT_A} ") == f"{EXT_B}{EXT_A}"
    assert CIPHER.blind_index("name", f"{EXT_B}大") == CIPHER.blind_index("name", f"{EXT_B} 大")
    assert CIPHER.blind_index("name", f"{EXT_B}大") != CIPHER.blind_index("name", "吉大")
    assert CIPHER.blind_index("name", "\uf900") == CIPHER.blind_index("name", "\u8c48")
    assert CIPHER.blind_index("name", "e\u0301") == CIPHER.blind_index("name", "\u00e9")
    with pytest.raises(ValueError):
        CIPHER.blind_index("name", "\ud842")


def test_encrypted_name_round_trips() -> None:
    name = f"{EXT_B}{EXT_A}·艾"
    token = CIPHER.encrypt_text(name, context="person.name")
    assert CIPHER.decrypt_text(token, context="person.name") == name
    assert nfc(name) == name
