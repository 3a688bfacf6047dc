from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.domain.models import DocumentType, IdentityDocument, Person, PhoneNumber
from bot.domain.phone import InvalidPhoneNumber

DOC = IdentityDocument(DocumentType.RESIDENT_ID, "11010519491231002X", "张三", valid_to=date(2030, 1, 1))


def test_expiry() -> None:
    assert not DOC.is_expired(date(2030, 1, 1))
    assert DOC.is_expired(date(2030, 1, 2))
    long_term = IdentityDocument(DocumentType.RESIDENT_ID, "x", "y", long_term=True)
    assert not long_term.is_expired(date(2100, 1, 1))


def test_phone_is_normalised_and_validated() -> None:
    assert PhoneNumber("+86 138 0013 8000").number == "13800138000"
    with pytest.raises(InvalidPhoneNumber):
        PhoneNumber("123")


def test_person_masked_view_has_no_plain_personal_data() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    person = Person(
        1, DOC, PhoneNumber("13800138000"), None, (), now, now, residence="北京市朝阳区建国路88号"
    )
    view = repr(person.masked())
    for secret in ("11010519491231002X", "13800138000", "张三", "建国路"):
        assert secret not in view
    assert person.missing_live_photo
