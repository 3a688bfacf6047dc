from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.domain.errors import DuplicatePerson
from bot.domain.models import (
    CollectedRecord,
    Consent,
    ConsentDocument,
    DocumentType,
    IdentityDocument,
    LivePhoto,
    PhoneNumber,
)
from bot.storage.crypto import FieldCipher
from bot.storage.db import SqliteDatabase as Database
from bot.storage.repositories import Repositories

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
ENC_A = tuple(0.01 * i for i in range(128))
ENC_B = tuple(0.5 - 0.01 * i for i in range(128))


def record(
    number: str = "11010519491231002X",
    *,
    user_id: int = 100,
    phone: str = "13800138000",
    encoding: tuple[float, ...] = ENC_A,
    name: str = "张三",
) -> CollectedRecord:
    return CollectedRecord(
        telegram_user_id=user_id,
        document=IdentityDocument(
            doc_type=DocumentType.RESIDENT_ID,
            number=number,
            name=name,
            sex="女",
            ethnicity="汉",
            birth_date=date(1949, 12, 31),
            address="北京市朝阳区某某路1号",
            authority="北京市公安局朝阳分局",
            valid_from=date(2010, 1, 1),
            long_term=True,
            front_media_id="idfront-" + "a" * 32,
        ),
        consents=(
            Consent(ConsentDocument.PERSONAL_INFO, "2024.1", "h1", NOW),
            Consent(ConsentDocument.FACE_RECOGNITION, "2024.1", "h2", NOW),
        ),
        phone=PhoneNumber(phone, verified_at=NOW),
        live_photo=LivePhoto(media_id="live-" + "b" * 32, encoding=encoding),
    )


async def test_save_and_find_in_every_way(repo: Repositories) -> None:
    saved = await repo.persons.save_collected(record())
    assert saved.document.number == "11010519491231002X" and saved.name == "张三"
    assert saved.document.long_term and saved.document.valid_to is None
    assert saved.phone == PhoneNumber("13800138000", NOW)
    assert saved.live_photo is not None and saved.live_photo.encoding == pytest.approx(ENC_A)
    assert [c.document for c in saved.consents] == [
        ConsentDocument.PERSONAL_INFO,
        ConsentDocument.FACE_RECOGNITION,
    ]

    by_doc = await repo.persons.find_by_document(DocumentType.RESIDENT_ID, "11010519491231002x")
    assert by_doc == saved
    assert (
        await repo.persons.find_by_document(DocumentType.HMT_RESIDENCE_PERMIT, "11010519491231002X") is None
    )
    assert await repo.persons.find_by_telegram(100) == saved
    assert await repo.persons.find_by_telegram(101) is None
    assert await repo.persons.find_by_phone("+86 138-0013-8000") == [saved]
    user = await repo.users.get_link(100)
    assert user is not None and user.person_id == saved.id

    trail = await repo.audit.for_subject("person", saved.id)
    assert [e.action for e in trail] == ["person.collect"]
    assert trail[0].after is not None and trail[0].after["document"]["number"] == "110***********002X"


async def test_duplicate_document_is_refused_and_nothing_is_written(repo: Repositories) -> None:
    first = await repo.persons.save_collected(record())
    with pytest.raises(DuplicatePerson) as info:
        await repo.persons.save_collected(record(" 110105 19491231002x", user_id=200, phone="13900139000"))
    assert info.value.person_id == first.id
    assert await repo.persons.find_by_telegram(200) is None
    assert await repo.persons.find_by_phone("13900139000") == []


async def test_failure_half_way_leaves_nothing(repo: Repositories, db: Database) -> None:
    bad = replace(record(), live_photo=LivePhoto(media_id=None, encoding=ENC_A))  # type: ignore[arg-type]
    with pytest.raises(Exception, match=r"(?i)not[ -]null"):
        await repo.persons.save_collected(bad)
    async with db.read() as conn:
        for table in ("persons", "documents", "consents", "phones", "telegram_links", "audit_log"):
            assert (await (await conn.execute(f"SELECT count(*) FROM {table}")).fetchone())[0] == 0, table


async def test_unverified_phone_is_refused(repo: Repositories) -> None:
    with pytest.raises(ValueError):
        await repo.persons.save_collected(replace(record(), phone=PhoneNumber("13800138000")))


async def test_nothing_sensitive_is_stored_in_plaintext(tmp_path: Path, cipher: FieldCipher) -> None:
    path = tmp_path / "p.sqlite3"
    db = await Database.open(path)
    await Repositories(db, cipher).persons.save_collected(record())
    await db.close()
    raw = path.read_bytes()
    for secret in ("11010519491231002X", "13800138000", "张三", "北京市朝阳区", "1949-12-31", "汉"):
        assert secret.encode() not in raw, secret


async def test_nearest_face(repo: Repositories) -> None:
    assert await repo.persons.nearest_face(ENC_A, 0.6) is None
    a = await repo.persons.save_collected(record())
    b = await repo.persons.save_collected(
        record("110105194912310029", user_id=2, phone="13900139000", encoding=ENC_B)
    )
    close_to_a = tuple(x + 0.01 for x in ENC_A)
    match = await repo.persons.nearest_face(close_to_a, 0.6)
    assert match is not None and match.person_id == a.id and match.distance == pytest.approx(0.01 * 128**0.5)
    assert await repo.persons.nearest_face(close_to_a, 0.05) is None
    other = await repo.persons.nearest_face(close_to_a, 100.0, exclude_person_id=a.id)
    assert other is not None and other.person_id == b.id
    assert await repo.persons.nearest_face((0.0,) * 3, 10.0) is None  # other model size


async def test_changes_keep_history_and_audit(repo: Repositories) -> None:
    person = await repo.persons.save_collected(record())
    renewed = replace(
        person.document, valid_from=date(2026, 1, 1), valid_to=date(2046, 1, 1), long_term=False, id=None
    )
    person = await repo.persons.replace_document(person.id, renewed, actor_user_id=100)
    assert person.document.valid_to == date(2046, 1, 1) and not person.document.long_term
    with pytest.raises(ValueError):
        await repo.persons.replace_document(
            person.id, replace(renewed, number="110105194912310029"), actor_user_id=100
        )
    person = await repo.persons.replace_phone(person.id, PhoneNumber("13700137000", NOW), actor_user_id=100)
    assert person.phone is not None and person.phone.number == "13700137000"
    assert await repo.persons.find_by_phone("13800138000") == []
    assert [p.id for p in await repo.persons.find_by_phone("13700137000")] == [person.id]
    person = await repo.persons.replace_live_photo(
        person.id, LivePhoto("live-" + "c" * 32, ENC_B), actor_user_id=100
    )
    assert person.live_photo is not None and person.live_photo.media_id == "live-" + "c" * 32
    person = await repo.persons.set_residence(person.id, "辽宁省沈阳市和平区某路2号", actor_user_id=100)
    assert person.residence == "辽宁省沈阳市和平区某路2号"
    actions = [e.action for e in await repo.audit.for_subject("person", person.id)]
    assert actions == [
        "person.residence.change",
        "person.live_photo.replace",
        "person.phone.replace",
        "person.document.replace",
        "person.collect",
    ]
    with pytest.raises(LookupError):
        await repo.persons.set_residence(999, None, actor_user_id=1)


async def test_relink_and_unlink(repo: Repositories) -> None:
    a = await repo.persons.save_collected(record())
    b = await repo.persons.save_collected(record("110105194912310029", user_id=2, phone="13900139000"))
    await repo.users.link_person(100, b.id, actor_user_id=100)
    assert (await repo.persons.find_by_telegram(100)) == b
    await repo.users.touch(100)
    user = await repo.users.get(100)
    assert user is not None and user.person_id == b.id
    assert await repo.users.unlink(100, actor_user_id=100) is True
    assert await repo.users.unlink(100, actor_user_id=100) is False
    assert await repo.persons.find_by_telegram(100) is None
    assert await repo.persons.get(a.id) is not None
    actions = [e.action for e in await repo.audit.for_subject("telegram_user", 100)]
    assert actions == ["telegram.unlink", "telegram.link", "telegram.link"]


async def test_erase_removes_everything_and_returns_media(repo: Repositories, db: Database) -> None:
    person = await repo.persons.save_collected(record())
    media = await repo.persons.erase(person.id, actor_user_id=1)
    assert sorted(media) == sorted(["idfront-" + "a" * 32, "live-" + "b" * 32])
    assert await repo.persons.get(person.id) is None
    assert await repo.persons.find_by_telegram(100) is None
    async with db.read() as conn:
        for table in ("persons", "documents", "consents", "phones", "live_photos", "telegram_links"):
            assert (await (await conn.execute(f"SELECT count(*) FROM {table}")).fetchone())[0] == 0, table
    assert [e.action for e in await repo.audit.for_subject("person", person.id)] == [
        "person.erase",
        "person.collect",
    ]
    with pytest.raises(LookupError):
        await repo.persons.erase(person.id, actor_user_id=1)


async def test_a_name_with_cjk_extension_characters_is_stored_whole(repo: Repositories) -> None:
    name = "\U00020bb7\u4dae"  # 𠮷 (Extension B, beyond the BMP) and 䶮 (Extension A), typed by the user
    saved = await repo.persons.save_collected(record(name=name))
    again = await repo.persons.find_by_document(DocumentType.RESIDENT_ID, "11010519491231002X")
    assert again is not None and again.name == name == saved.name
    trail = await repo.audit.for_subject("person", saved.id)
    assert trail[0].after is not None and trail[0].after["document"]["name"] == "\U00020bb7*"
