from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey

from bot.storage.crypto import FieldCipher
from bot.storage.factory import open_database
from bot.storage.fsm import DatabaseStorage
from bot.storage.sql import Database


class Collect(StatesGroup):
    front = State()
    back = State()


KEY = StorageKey(bot_id=1, chat_id=42, user_id=42)


async def test_dialog_survives_closing_and_reopening_the_database(
    tmp_path: Path, cipher: FieldCipher, database_url: str | None
) -> None:
    path = tmp_path / "fsm.sqlite3"
    db = await open_database(path, url=database_url)
    storage = DatabaseStorage(db, cipher)
    await storage.set_state(KEY, Collect.back)
    await storage.set_data(KEY, {"id_number": "11010519491231002X", "name": "张三", "tries": 2})
    await storage.close()  # must not close the shared database
    async with db.read():
        pass
    await db.close()

    db = await open_database(path, url=database_url)
    try:
        storage = DatabaseStorage(db, cipher)
        assert await storage.get_state(KEY) == Collect.back.state
        assert await storage.get_data(KEY) == {"id_number": "11010519491231002X", "name": "张三", "tries": 2}
    finally:
        await db.close()
    if database_url is not None:
        return  # the rows of PostgreSQL are scanned by tests/hardening/test_privacy.py
    wal = path.with_name(path.name + "-wal")
    raw = path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert b"11010519491231002X" not in raw and "张三".encode() not in raw


async def test_keys_are_separate(db: Database, cipher: FieldCipher) -> None:
    storage = DatabaseStorage(db, cipher)
    other = [
        StorageKey(1, 42, 43),
        StorageKey(1, 42, 42, thread_id=5),
        StorageKey(1, 42, 42, business_connection_id="bc"),
        StorageKey(1, 42, 42, destiny="other"),
        StorageKey(2, 42, 42),
    ]
    await storage.set_state(KEY, "a")
    await storage.set_data(KEY, {"x": 1})
    for i, key in enumerate(other):
        await storage.set_state(key, f"s{i}")
        await storage.set_data(key, {"i": i})
    assert await storage.get_state(KEY) == "a"
    assert await storage.get_data(KEY) == {"x": 1}
    for i, key in enumerate(other):
        assert await storage.get_state(key) == f"s{i}"
        assert await storage.get_data(key) == {"i": i}


async def test_missing_key_defaults(db: Database, cipher: FieldCipher) -> None:
    storage = DatabaseStorage(db, cipher)
    assert await storage.get_state(KEY) is None
    assert await storage.get_data(KEY) == {}
    assert await storage.get_value(KEY, "x", 5) == 5


async def test_update_data_merges(db: Database, cipher: FieldCipher) -> None:
    storage = DatabaseStorage(db, cipher)
    await storage.set_data(KEY, {"a": 1, "b": 2})
    assert await storage.update_data(KEY, {"b": 3, "c": [1, "二"]}) == {"a": 1, "b": 3, "c": [1, "二"]}
    assert await storage.get_data(KEY) == {"a": 1, "b": 3, "c": [1, "二"]}


async def test_clearing_state_and_data_deletes_the_row(db: Database, cipher: FieldCipher) -> None:
    storage = DatabaseStorage(db, cipher)
    await storage.set_state(KEY, "s")
    await storage.set_data(KEY, {"a": 1})
    await storage.set_state(KEY, None)
    assert await storage.get_data(KEY) == {"a": 1}
    await storage.set_data(KEY, {})
    async with db.read() as conn:
        assert (await (await conn.execute("SELECT count(*) FROM fsm_state")).fetchone())[0] == 0


async def test_non_dict_data_is_refused(db: Database, cipher: FieldCipher) -> None:
    with pytest.raises(DataNotDictLikeError):
        await DatabaseStorage(db, cipher).set_data(KEY, [1, 2])  # type: ignore[arg-type]


async def test_data_copied_to_another_row_does_not_decrypt(db: Database, cipher: FieldCipher) -> None:
    storage = DatabaseStorage(db, cipher)
    await storage.set_data(KEY, {"secret": 1})
    await storage.set_state(StorageKey(1, 7, 7), "s")
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE fsm_state SET data_enc = (SELECT data_enc FROM fsm_state WHERE user_id = 42)"
            " WHERE user_id = 7"
        )
    with pytest.raises(ValueError):
        await storage.get_data(StorageKey(1, 7, 7))


async def test_stale_dialogs_counted_and_deleted(db: Database, cipher: FieldCipher) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    clock = [now - timedelta(hours=5)]
    storage = DatabaseStorage(db, cipher, clock=lambda: clock[0])
    await storage.set_state(StorageKey(1, 1, 1), Collect.front)
    await storage.set_state(StorageKey(1, 2, 2), Collect.front)
    clock[0] = now
    await storage.set_state(StorageKey(1, 3, 3), Collect.back)
    cutoff = now - timedelta(hours=1)
    assert await storage.stale_states(cutoff) == {Collect.front.state: 2}
    assert await storage.delete_stale(cutoff) == 2
    assert await storage.get_state(StorageKey(1, 1, 1)) is None
    assert await storage.get_state(StorageKey(1, 3, 3)) == Collect.back.state


class _Reads:
    n = 0


def _count_reads(db: Database, monkeypatch: pytest.MonkeyPatch) -> _Reads:
    """Counts the SELECTs the storage sends from now on."""
    counted = _Reads()
    real_read = db.read

    def counting_read(*args: object, **kwargs: object) -> object:
        counted.n += 1
        return real_read(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(db, "read", counting_read)
    return counted


async def test_an_update_reads_its_row_once_and_sees_its_own_writes(
    db: Database, cipher: FieldCipher, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = DatabaseStorage(db, cipher)
    await storage.set_state(KEY, Collect.front)
    await storage.set_data(KEY, {"side": "front"})
    reads = _count_reads(db, monkeypatch)
    async with storage.buffered():
        # A step's filters read the state, its handler the data: one SELECT answers both.
        assert await storage.get_state(KEY) == Collect.front.state
        assert await storage.get_data(KEY) == {"side": "front"}
        assert await storage.get_state(KEY) == Collect.front.state
        assert reads.n == 1
        # What the update wrote is what it reads back; the stored row is untouched until it ends.
        await storage.update_data(KEY, {"seen": True})
        await storage.set_state(KEY, Collect.back)
        assert await storage.get_data(KEY) == {"side": "front", "seen": True}
        assert await storage.get_state(KEY) == Collect.back.state
        assert reads.n == 1
    assert await storage.get_state(KEY) == Collect.back.state
    assert await storage.get_data(KEY) == {"side": "front", "seen": True}
    # A key nobody stored reads as empty, once.
    other = StorageKey(bot_id=1, chat_id=7, user_id=7)
    reads.n = 0
    async with storage.buffered():
        assert await storage.get_state(other) is None
        assert await storage.get_data(other) == {}
        assert reads.n == 1


async def test_the_state_read_before_the_buffer_also_answers_the_data(
    db: Database, cipher: FieldCipher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiogram reads the state (under the user's lock) before the middleware opens the update's
    buffer; that one SELECT carries the data too, for this update's own key only."""
    storage = DatabaseStorage(db, cipher)
    await storage.set_state(KEY, Collect.front)
    await storage.set_data(KEY, {"side": "front"})
    reads = _count_reads(db, monkeypatch)
    assert await storage.get_state(KEY) == Collect.front.state  # FSMContextMiddleware's read
    async with storage.buffered(KEY):
        assert await storage.get_data(KEY) == {"side": "front"}
        assert await storage.get_state(KEY) == Collect.front.state
        await storage.update_data(KEY, {"seen": True})
    assert reads.n == 1
    assert await storage.get_data(KEY) == {"side": "front", "seen": True}

    # The read is used once, by the buffer of the key it was for: a buffer of another key (or of
    # no key) reads the row itself, and sees what was written since.
    writer = DatabaseStorage(db, cipher)
    for buffer_key in (StorageKey(bot_id=1, chat_id=7, user_id=7), None):
        await storage.get_state(KEY)
        await writer.set_data(KEY, {"side": "back", "for": str(buffer_key)})
        reads.n = 0
        async with storage.buffered(buffer_key):
            assert await storage.get_data(KEY) == {"side": "back", "for": str(buffer_key)}
        assert reads.n == 1
    # Nor does a later buffer of the same key pick up a read that an earlier buffer did not use.
    await storage.get_state(KEY)
    async with storage.buffered(None):
        pass
    await writer.set_data(KEY, {"side": "later"})
    async with storage.buffered(KEY):
        assert await storage.get_data(KEY) == {"side": "later"}
