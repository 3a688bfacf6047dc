from __future__ import annotations

import pytest

from bot.domain.phone import InvalidPhoneNumber, is_mainland_mobile, normalize_mainland_mobile, same_phone


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        " 138 0013 8000 ",
        "138-0013-8000",
        "+86 138 0013 8000",
        "+8613800138000",
        "008613800138000",
        "8613800138000",
        "(+86) 138.0013.8000",
        "１３８００１３８０００",
    ],
)
def test_accepted_spellings(raw: str) -> None:
    assert normalize_mainland_mobile(raw) == "13800138000"


@pytest.mark.parametrize(
    "raw",
    ["", "12800138000", "1380013800", "138001380000", "+1 138 0013 8000", "02412345678", "1380013800a", "٣"],
)
def test_refused(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber):
        normalize_mainland_mobile(raw)
    assert not is_mainland_mobile(raw)


def test_same_phone() -> None:
    assert same_phone("8613800138000", "138 0013 8000")
    assert not same_phone("13800138000", "13900139000")
    assert not same_phone("bad", "bad")
