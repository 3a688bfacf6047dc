from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.storage.crypto import FieldCipher
from bot.storage.db import Database
from bot.storage.repositories import Repositories


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher.from_master(b"m" * 32, key_id="k1")


@pytest_asyncio.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "bot.sqlite3")
    yield database
    await database.close()


@pytest_asyncio.fixture
async def repo(db: Database, cipher: FieldCipher) -> Repositories:
    return Repositories(db, cipher)
