"""Versioned schema migrations, kept once per database dialect.

``bot/storage/migrations/NNNN_name.sql`` is the SQLite text and ``migrations/postgresql/NNNN_name.sql``
the same migration for PostgreSQL: the same versions and names in both (a test compares the
resulting tables and columns), so a deployment can move between the two. Each backend applies them
in order, each in its own transaction with its ``schema_version`` row; ``python -m bot migrate``
runs them without starting the bot.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources

from bot.storage.sql import Backend

__all__ = ["Migration", "MigrationError", "load_migrations", "pending"]

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_PACKAGES: dict[Backend, str] = {
    "sqlite": "bot.storage.migrations",
    "postgresql": "bot.storage.migrations.postgresql",
}


class MigrationError(RuntimeError):
    """The database cannot be brought to the schema this code expects."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(backend: Backend = "sqlite") -> list[Migration]:
    """The packaged migrations of one dialect, in version order."""
    found: list[Migration] = []
    for entry in resources.files(_PACKAGES[backend]).iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match is None:
            continue
        found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    check_sequence(found)
    return found


def check_sequence(migrations: Sequence[Migration]) -> None:
    for m in migrations:
        if not re.fullmatch(r"[a-z0-9_]+", m.name):
            raise MigrationError(f"bad migration name {m.name!r}")
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError(f"migration versions must be 1..n without gaps, got {versions}")


def pending(applied: Iterable[int], migrations: Sequence[Migration]) -> list[Migration]:
    """What is left to apply; refuses a database that a newer release has migrated further."""
    check_sequence(migrations)
    done = set(applied)
    unknown = done - {m.version for m in migrations}
    if unknown:
        raise MigrationError(
            f"database has schema versions {sorted(unknown)} unknown to this code (a newer release?)"
        )
    return [m for m in migrations if m.version not in done]
