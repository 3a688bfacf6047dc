from __future__ import annotations

import pytest

from bot.domain.masking import (
    REDACTED,
    mask_address,
    mask_free_text,
    mask_id_number,
    mask_name,
    mask_phone,
    mask_record,
)


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("513701199001016346", "513***********6346"),
        ("11010519491231002X", "110***********002X"),
        ("H12345678", "H******78"),
        ("M1234567890", "M12****7890"),
        ("12345678", "1*****78"),
        ("1234", "****"),
        ("", ""),
        ("513***********6346", "513***********6346"),
    ],
)
def test_mask_id_number(number: str, masked: str) -> None:
    assert mask_id_number(number) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812341234", "138****1234"),
        ("+86 138-1234-1234", "138****1234"),
        ("8613812341234", "138****1234"),
        ("02412345678", "138****5678".replace("138", "024")),
        ("123", "***"),
        ("138****1234", "138****1234"),
    ],
)
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("张小明", "张**"),
        ("欧阳娜娜", "欧阳**"),
        ("欧阳", "欧*"),
        ("王", "*"),
        ("阿依古丽·买买提", "阿***·***"),
        ("John Smith", "J*** S****"),
        ("CHAN Tai-man", "C*** T**-m**"),
        ("张*", "张*"),
        ("", ""),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("辽宁省沈阳市和平区南京北街1号", "辽宁省沈阳市和平区****"),
        ("北京市朝阳区建国路88号", "北京市朝阳区****"),
        ("内蒙古自治区呼和浩特市新城区", "内蒙古自治区呼和浩特市****"),
        ("some street 5", "som****"),
        ("区", "****"),
    ],
)
def test_mask_address(address: str, masked: str) -> None:
    assert mask_address(address) == masked


def test_mask_free_text_finds_numbers_in_prose() -> None:
    text = "号码11010519491231002X，手机+86 138 0013 8000，通行证H12345678，订单123"
    masked = mask_free_text(text)
    assert "11010519491231002X" not in masked and "110***********002X" in masked
    assert "0013" not in masked and "138****8000" in masked
    assert "H******78" in masked and "订单123" in masked


def test_mask_record_masks_by_key_and_recursively() -> None:
    record = {
        "name": "张三",
        "phone": 13800138000,
        "document": {"number": "11010519491231002X", "doc_type": "resident_id"},
        "birth_date": "1949-12-31",
        "encoding": [0.1, 0.2],
        "photo": b"\xff\xd8",
        "note": "changed from 13900139000",
        "list": [{"address": "北京市朝阳区建国路88号"}],
        "count": 3,
        "ok": True,
    }
    assert mask_record(record) == {
        "name": "张*",
        "phone": "138****8000",
        "document": {"number": "110***********002X", "doc_type": "resident_id"},
        "birth_date": "****-**-**",
        "encoding": REDACTED,
        "photo": REDACTED,
        "note": "changed from 139****9000",
        "list": [{"address": "北京市朝阳区****"}],
        "count": 3,
        "ok": True,
    }
    assert mask_record(mask_record(record)) == mask_record(record)
