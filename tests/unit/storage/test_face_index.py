"""The per-process live-face index: decrypts each stored encoding once, follows what other processes
save or replace, and gives the answers of a full scan (on both record backends)."""

from __future__ import annotations

import random

from bot.domain.models import LivePhoto
from bot.storage.crypto import FieldCipher
from bot.storage.face_index import FaceIndex
from bot.storage.repositories import Repositories
from bot.storage.repositories.persons import pack_encoding
from bot.storage.sql import Database

from .test_persons import ENC_A, ENC_B, record

SECOND = record("110105194912310029", user_id=2, phone="13900139000", encoding=ENC_B)


class CountingCipher(FieldCipher):
    decrypted = 0

    def decrypt_bytes(self, value: bytes, *, context: str) -> bytes:
        CountingCipher.decrypted += 1
        return super().decrypt_bytes(value, context=context)


def _counting(cipher: FieldCipher) -> CountingCipher:
    counting = CountingCipher.__new__(CountingCipher)
    counting.__dict__.update(cipher.__dict__)
    CountingCipher.decrypted = 0
    return counting


async def test_each_encoding_is_decrypted_once(db: Database, cipher: FieldCipher) -> None:
    index = FaceIndex(_counting(cipher))
    repo = Repositories(db, cipher, faces=index)
    a = await repo.persons.save_collected(record())
    for _ in range(3):
        match = await repo.persons.nearest_face(ENC_A, 0.6)
        assert match is not None and match.person_id == a.id
    assert CountingCipher.decrypted == 1
    b = await repo.persons.save_collected(SECOND)
    match = await repo.persons.nearest_face(ENC_B, 0.6)
    assert match is not None and match.person_id == b.id
    assert CountingCipher.decrypted == 2  # only the new face


async def test_another_process_saving_or_replacing_is_seen(db: Database, cipher: FieldCipher) -> None:
    """Two indexes over one database stand for two replicas: the other one's writes count at once."""
    mine = Repositories(db, cipher, faces=FaceIndex(cipher))
    theirs = Repositories(db, cipher, faces=FaceIndex(cipher))
    assert await mine.persons.nearest_face(ENC_A, 0.6) is None
    person = await theirs.persons.save_collected(record())
    match = await mine.persons.nearest_face(ENC_A, 0.6)
    assert match is not None and match.person_id == person.id
    await theirs.persons.replace_live_photo(person.id, LivePhoto("live-" + "c" * 32, ENC_B), actor_user_id=1)
    assert await mine.persons.nearest_face(ENC_A, 0.01) is None  # the replaced face is gone
    match = await mine.persons.nearest_face(ENC_B, 0.01)
    assert match is not None and match.person_id == person.id


async def test_same_answers_as_a_fresh_scan(db: Database, cipher: FieldCipher) -> None:
    shared = Repositories(db, cipher, faces=FaceIndex(cipher))
    fresh = Repositories(db, cipher)  # no shared index: decrypts everything each call
    a = await shared.persons.save_collected(record())
    await shared.persons.save_collected(SECOND)
    for probe, threshold, exclude in (
        (tuple(x + 0.01 for x in ENC_A), 0.6, None),
        (tuple(x + 0.01 for x in ENC_A), 0.05, None),
        (tuple(x + 0.01 for x in ENC_A), 100.0, a.id),
        ((0.0,) * 3, 10.0, None),
    ):
        assert await shared.persons.nearest_face(probe, threshold, exclude_person_id=exclude) == (
            await fresh.persons.nearest_face(probe, threshold, exclude_person_id=exclude)
        )


def _vector(i: int) -> tuple[float, ...]:
    rng = random.Random(i)
    return tuple(rng.uniform(-0.3, 0.3) for _ in range(128))


async def test_thousands_of_faces_in_chunks(db: Database, cipher: FieldCipher) -> None:
    """More rows than one IN (...) list takes: every one is loaded and the right one is found."""
    async with db.transaction() as conn:
        for pid in range(1, 1201):
            await conn.execute(
                "INSERT INTO persons (id, doc_type, doc_index, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (pid, "resident_id", f"ix{pid}", "x", "x"),
            )
            blob = cipher.encrypt_bytes(pack_encoding(_vector(pid)), context="live_photos.encoding")
            await conn.execute(
                "INSERT INTO live_photos (person_id, media_id, encoding_enc, model, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (pid, f"live-{pid}", blob, "m", "x"),
            )
    index = FaceIndex(_counting(cipher))
    for pid in (1, 600, 1200):
        match = await index.nearest(db, _vector(pid), 0.01)
        assert match is not None and match.person_id == pid
    assert CountingCipher.decrypted == 1200
