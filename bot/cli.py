"""Operator commands: `python -m bot migrate` and `python -m bot rotate-keys` (also via `bot.cli`).

Migration: `python -m bot migrate` brings the database the settings name (DATABASE_URL's PostgreSQL,
else the SQLite file) to this release's schema and prints the version; `--check` only tells whether
migrations are pending (exit 1), for a deployment that starts replicas with DB_MIGRATE_ON_START=false.

Key rotation: put the new key first in ENCRYPTION_KEY (`new:<b64>,old:<b64>`), restart the bot, run
this command, then the old key may be dropped from the list once the command reports nothing left
under it (except the last-listed key, which derives the blind indexes and must stay). The command is
safe to run while the bot serves (short batched transactions, compare-and-set updates) and to run
again (values already under the current key are skipped). It prints counts only, never values.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from bot.config import Settings, SettingsError, config_error_text
from bot.domain.clock import system_clock
from bot.domain.errors import MediaNotFound
from bot.services import open_db
from bot.storage.crypto import DecryptionError, FieldCipher
from bot.storage.media import MediaStore
from bot.storage.migrate import MigrationError, load_migrations
from bot.storage.rotation import rotate_database

log = logging.getLogger("bot.cli")


@dataclass
class RotationReport:
    columns: dict[str, int] = field(default_factory=dict)
    files_rewritten: int = 0
    files_current: int = 0
    files_failed: int = 0

    @property
    def values_rewritten(self) -> int:
        return sum(self.columns.values())


async def rotate_keys(settings: Settings) -> RotationReport:
    """Re-encrypt every encrypted column and every media file under the current key."""
    masters, current, index_master = settings.encryption_keys()
    cipher = FieldCipher.from_masters(masters, current=current, index_master=index_master)
    db = await open_db(settings)
    report = RotationReport()
    try:
        report.columns = await rotate_database(db, cipher)
    finally:
        await db.close()
    media = MediaStore(settings.media_dir, cipher)
    # Every file written up to now; files the running bot writes meanwhile use the current key anyway.
    for media_id in await media.older_than(system_clock() + timedelta(minutes=1)):
        try:
            if await media.rotate(media_id):
                report.files_rewritten += 1
            else:
                report.files_current += 1
        except (MediaNotFound, FileNotFoundError):
            continue  # deleted by the retention job or a dialog meanwhile
        except DecryptionError:
            # A key that is no longer listed: leave the file and say so (it stays unreadable).
            report.files_failed += 1
    return report


async def migrate(settings: Settings, *, check: bool) -> tuple[str, int, int]:
    """(backend, schema version, latest version); with ``check`` nothing is applied and a database
    that needs migrations raises :class:`MigrationError`."""
    db = await open_db(settings, migrate=not check)
    try:
        return db.backend, await db.schema_version(), len(load_migrations(db.backend))
    finally:
        await db.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.cli", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("rotate-keys", help="re-encrypt the database and media files under the current key")
    migrate_parser = sub.add_parser("migrate", help="bring the database to this release's schema")
    migrate_parser.add_argument(
        "--check", action="store_true", help="apply nothing; exit 1 if migrations are pending"
    )
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except (SettingsError, ValueError) as exc:
        print(f"configuration error: {config_error_text(exc)}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "migrate":
        try:
            backend, version, latest = asyncio.run(migrate(settings, check=args.check))
        except MigrationError as exc:
            print(f"{exc}", file=sys.stderr)
            return 1
        print(f"{backend}: schema version {version} of {latest}")
        return 0
    if args.command == "rotate-keys":
        report = asyncio.run(rotate_keys(settings))
        for column, count in sorted(report.columns.items()):
            if count:
                print(f"{column}: {count} re-encrypted")
        print(
            f"database: {report.values_rewritten} values re-encrypted; media: {report.files_rewritten} files "
            f"re-encrypted, {report.files_current} already current, {report.files_failed} unreadable"
        )
        return 1 if report.files_failed else 0
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
