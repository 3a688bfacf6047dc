"""The tables and columns a database holds, read the same way from either backend."""

from __future__ import annotations

from bot.storage.sql import Database


async def columns(db: Database) -> dict[str, dict[str, bool]]:
    """table → column → nullable (the schema_version table included)."""
    found: dict[str, dict[str, bool]] = {}
    async with db.read() as conn:
        if db.backend == "postgresql":
            rows = await (
                await conn.execute(
                    "SELECT table_name, column_name, is_nullable FROM information_schema.columns"
                    " WHERE table_schema = current_schema()"
                )
            ).fetchall()
            for table, column, nullable in rows:
                found.setdefault(table, {})[column] = nullable == "YES"
            return found
        tables = await (
            await conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ).fetchall()
        for (table,) in tables:
            for info in await (await conn.execute(f"PRAGMA table_info({table})")).fetchall():
                # notnull, and SQLite's INTEGER PRIMARY KEY / composite keys are NOT NULL in practice
                found.setdefault(table, {})[info[1]] = not (info[3] or info[5])
    return found
