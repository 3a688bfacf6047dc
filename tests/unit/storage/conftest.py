from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.storage.crypto import FieldCipher
from bot.storage.factory import open_database
from bot.storage.repositories import Repositories
from bot.storage.sql import Database
from tests.helpers.postgres import database_url

__all__ = ["cipher", "database_url", "db", "repo"]


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher.from_master(b"m" * 32, key_id="k1")


@pytest_asyncio.fixture
async def db(tmp_path: Path, database_url: str | None) -> AsyncIterator[Database]:
    """Each repository test runs on both backends (``database_url`` is parametrised)."""
    database = await open_database(tmp_path / "bot.sqlite3", url=database_url)
    yield database
    await database.close()


@pytest_asyncio.fixture
async def repo(db: Database, cipher: FieldCipher) -> Repositories:
    return Repositories(db, cipher)
