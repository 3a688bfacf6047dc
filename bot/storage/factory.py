"""Opening the records database the settings name. A module of its own so that the interface
(bot.storage.sql) and its two backends (db.py, pg.py), which import the interface, form no import circle."""

from __future__ import annotations

from pathlib import Path

from bot.storage.db import SqliteDatabase
from bot.storage.pg import PostgresDatabase
from bot.storage.sql import Database

__all__ = ["is_postgres_url", "open_database"]


def is_postgres_url(url: str) -> bool:
    return url.split("://", 1)[0] in {"postgres", "postgresql"}


async def open_database(
    path: Path | str, *, url: str | None = None, pool_size: int = 10, migrate: bool = True
) -> Database:
    """The records database the settings name: PostgreSQL at ``url`` when one is given, else the
    SQLite file at ``path``. ``migrate=False`` refuses to start on an out-of-date schema instead of
    migrating it (for replicas when ``python -m bot migrate`` is run by the deployment)."""
    if url:
        if not is_postgres_url(url):
            raise ValueError("DATABASE_URL must be a postgresql:// URL")
        return await PostgresDatabase.open(url, max_size=pool_size, migrate=migrate)
    return await SqliteDatabase.open(path, migrate=migrate)
