from __future__ import annotations

import os
from datetime import UTC, datetime

from aiogram.fsm.storage.base import StorageKey

from bot.domain.identity import IdentityRecord
from bot.domain.models import ReviewKind
from bot.storage.crypto import FieldCipher
from bot.storage.fsm import DatabaseStorage
from bot.storage.repositories import Repositories
from bot.storage.rotation import ENCRYPTED_COLUMNS, rotate_database
from bot.storage.sql import Database
from bot.verification.ids import DocumentType
from tests.helpers import schema

from .test_persons import record

INDEX_KEY = b"i" * 32


async def test_every_encrypted_column_is_listed(db: Database) -> None:
    found = {
        (table, column)
        for table, cols in (await schema.columns(db)).items()
        for column in cols
        if column.endswith("_enc")
    }
    listed = {(c.table, c.column) for c in ENCRYPTED_COLUMNS} | {("fsm_state", "data_enc")}
    assert found == listed


async def test_rotation_moves_everything_to_the_new_key(db: Database) -> None:
    k1, k2 = os.urandom(32), os.urandom(32)
    old = FieldCipher({"k1": k1}, "k1", INDEX_KEY)
    both = FieldCipher({"k1": k1, "k2": k2}, "k2", INDEX_KEY)
    only_new = FieldCipher({"k2": k2}, "k2", INDEX_KEY)

    repo = Repositories(db, old)
    rec = record()
    person = await repo.persons.save_collected(rec)
    await repo.persons.set_residence(person.id, "北京市朝阳区建国路88号", actor_user_id=1)
    await repo.review.open_case(ReviewKind.UNREADABLE_CARD, 1, reasons=[], media_ids=[], payload={"a": 1})
    await repo.identity_registry.load(
        [
            IdentityRecord(
                DocumentType.HK_MACAU_PERMIT,
                "H12345678",
                "陈大文",
                datetime(1990, 1, 1, tzinfo=UTC).date(),
                b"p",
            )
        ],
        loaded_by=None,
    )
    for user in range(5):
        await DatabaseStorage(db, old).set_data(StorageKey(1, user, user), {"n": user})

    counts = await rotate_database(db, both, batch=2)
    assert counts["fsm_state.data_enc"] == 5 and counts["documents.number_enc"] == 1
    assert counts["live_photos.encoding_enc"] == 1 and counts["persons.residence_enc"] == 1
    assert set((await rotate_database(db, both)).values()) == {0}  # idempotent

    new_repo = Repositories(db, only_new)
    again = await new_repo.persons.find_by_document(DocumentType.RESIDENT_ID, rec.document.number)
    assert again is not None and again.residence == "北京市朝阳区建国路88号" and again.document.name == "张三"
    assert (await new_repo.review.next_open()) is not None
    got = await new_repo.identity_registry.get(DocumentType.HK_MACAU_PERMIT, "H12345678")
    assert got is not None and got.photo == b"p"
    for user in range(5):
        assert await DatabaseStorage(db, only_new).get_data(StorageKey(1, user, user)) == {"n": user}
