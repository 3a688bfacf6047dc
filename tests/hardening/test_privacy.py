"""Privacy (issue 8 §4): after complete dialog runs, neither the logs nor the database (the SQLite files,
or every row of every PostgreSQL table) hold an ID number, phone or name in plain text; photos and
videos on disk are encrypted; `python -m bot rotate-keys` re-encrypts everything under a new key and
the data stays readable and findable. On both record backends."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram import Dispatcher

from bot.app import create_dispatcher
from bot.config import Settings
from bot.services import Services
from bot.storage.crypto import FieldCipher
from bot.storage.factory import open_database
from bot.storage.media import MediaStore
from bot.storage.repositories import Repositories
from bot.storage.rotation import ENCRYPTED_COLUMNS
from bot.verification.ids import DocumentType
from tests.conftest import REPO_ROOT
from tests.hardening.harness import (
    DecodingVerifier,
    HostileClient,
    Identity,
    Walk,
    load_permit,
    script,
    text,
    walk_until,
)
from tests.helpers.factory import make_settings
from tests.helpers.fakes import FakeSms, front
from tests.helpers.mocked_bot import MockedBot
from tests.helpers.postgres import database_url
from tests.helpers.schema import columns

__all__ = ["database_url"]

pytestmark = pytest.mark.slow

OLD_KEY = base64.b64encode(hashlib.sha256(b"old test key").digest()).decode()
NEW_KEY = base64.b64encode(hashlib.sha256(b"new test key").digest()).decode()


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return make_settings(
        tmp_path, encryption_key=f"old:{OLD_KEY}", log_level="DEBUG", database_url=database_url
    )


@pytest.fixture
async def collected(
    settings: Settings, tmp_path: Path, verifier: DecodingVerifier, sms: FakeSms
) -> AsyncIterator[tuple[Settings, list[Identity], Path]]:
    """Both collection paths run to the end with every logger at DEBUG, written to a file."""
    log_file = tmp_path / "bot.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    services = await Services.build(settings, verifier=verifier, sms=sms)
    try:
        dp: Dispatcher = create_dispatcher(settings, services)
        bot = MockedBot()
        people = [Identity(1, "id"), Identity(2, "other")]
        for i, ident in enumerate(people):
            script(verifier, ident)
            await load_permit(services, ident)
            client = HostileClient(dp, bot, user_id=4400 + i)
            walk = Walk(client)
            await walk_until(walk, dp, ident, sms, "CollectSG:document", {})
            end = await walk_until(walk, dp, ident, sms, None, {})
            assert "采集成功" in text(end), text(end)
            await client.send("/mydata")
        repo = services.repositories()
        assert await repo.persons.find_by_document(DocumentType.RESIDENT_ID, people[0].number)
    finally:
        await services.close()
        root.removeHandler(handler)
        handler.close()
        root.setLevel(old_level)
    yield settings, people, log_file


def secrets_of(people: list[Identity]) -> dict[str, str]:
    card = front()
    found: dict[str, str] = {}
    for ident in people:
        found[f"id number {ident.n}"] = ident.number
        found[f"permit {ident.n}"] = ident.permit
        found[f"phone {ident.n}"] = ident.phone
    found["name on the card"] = card.name or ""
    found["name on the permit"] = "陈大文"
    found["address"] = card.address or ""
    return found


async def _stored(settings: Settings) -> dict[str, bytes]:
    """What the database holds: the SQLite files as bytes, or every value of every PostgreSQL row."""
    if settings.db_url is None:
        base = settings.db_path
        files = [p for p in (base, Path(f"{base}-wal"), Path(f"{base}-shm")) if p.exists()]
        return {p.name: p.read_bytes() for p in files}
    db = await open_database(settings.db_path, url=settings.db_url)
    dumped: dict[str, bytes] = {}
    try:
        async with db.read() as conn:
            for table in await columns(db):
                rows = await (await conn.execute(f"SELECT * FROM {table}")).fetchall()
                parts = [v if isinstance(v, bytes) else str(v).encode() for row in rows for v in row]
                dumped[f"table {table}"] = b"\x00".join(parts)
    finally:
        await db.close()
    return dumped


async def test_no_plaintext_personal_data_in_logs_or_database(
    collected: tuple[Settings, list[Identity], Path],
) -> None:
    settings, people, log_file = collected
    log_text = log_file.read_text(encoding="utf-8")
    assert log_text.strip(), "nothing was logged: the scan would prove nothing"
    blobs = await _stored(settings)
    # A scan of almost nothing would prove nothing: the files carry pages, the rows only values.
    assert sum(len(b) for b in blobs.values()) > (10_000 if settings.db_url is None else 4_000)
    if settings.db_url is not None:
        assert all(blobs[f"table {t}"] for t in ("persons", "documents", "phones", "consents", "audit_log"))
    leaks = []
    for what, value in secrets_of(people).items():
        if value in log_text:
            leaks.append(f"{what} in the log")
        for name, blob in blobs.items():
            if value.encode("utf-8") in blob:
                leaks.append(f"{what} in {name}")
    assert not leaks, leaks


async def test_media_on_disk_is_encrypted(collected: tuple[Settings, list[Identity], Path]) -> None:
    settings, people, _ = collected
    files = [p for p in settings.media_dir.rglob("*") if p.is_file()]
    assert files, "no media was kept"
    masters, current, index = settings.encryption_keys()
    store = MediaStore(
        settings.media_dir, FieldCipher.from_masters(masters, current=current, index_master=index)
    )
    for path in files:
        blob = path.read_bytes()
        assert not blob.startswith(b"\xff\xd8"), path.name  # no JPEG in the clear
        for ident in people:
            for what in ("front", "back", "selfie"):
                assert ident.upload(what) not in blob
        assert await store.get(path.name)  # and it decrypts with the key


async def test_rotate_keys_command(collected: tuple[Settings, list[Identity], Path]) -> None:
    settings, people, _ = collected
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "ENCRYPTION_KEY", "DATABASE_URL"}},
        **({"DATABASE_URL": settings.db_url} if settings.db_url else {}),
        "DATA_DIR": str(settings.data_dir),
        "ENCRYPTION_KEY": f"new:{NEW_KEY},old:{OLD_KEY}",
        "PYTHONPATH": str(REPO_ROOT),
    }
    run = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "rotate-keys"],
        cwd=settings.data_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "re-encrypted" in run.stdout
    for value in secrets_of(people).values():
        assert value not in run.stdout + run.stderr

    rotated = make_settings(
        settings.data_dir, encryption_key=f"new:{NEW_KEY},old:{OLD_KEY}", database_url=settings.db_url
    )
    masters, current, index = rotated.encryption_keys()
    cipher = FieldCipher.from_masters(masters, current=current, index_master=index)
    assert current == "new"
    db = await open_database(rotated.db_path, url=rotated.db_url)
    try:
        async with db.read() as conn:
            for column in ENCRYPTED_COLUMNS:
                cursor = await conn.execute(
                    f"SELECT {column.column} FROM {column.table} WHERE {column.column} IS NOT NULL"
                )
                for (value,) in await cursor.fetchall():
                    assert cipher.key_id_of(value) == "new", column
        repo = Repositories(db, cipher)
        # The blind index survives: the person is found by number and decrypts under the new key.
        person = await repo.persons.find_by_document(DocumentType.RESIDENT_ID, people[0].number)
        assert person is not None and person.document.number == people[0].number
    finally:
        await db.close()
    for path in (p for p in rotated.media_dir.rglob("*") if p.is_file()):
        assert cipher.key_id_of(path.read_bytes()) == "new"
    # Running it again is harmless and finds nothing left to do.
    again = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot.cli", "rotate-keys"],
        cwd=settings.data_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0 and "database: 0 values re-encrypted; media: 0 files" in again.stdout
