"""Telegram accounts: language, first/last seen, and the link to a person (``telegram_links``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.clock import Clock, system_clock
from bot.domain.models import TelegramLink
from bot.storage.repositories.audit import AuditRepo
from bot.storage.sql import Database
from bot.storage.timeutil import from_db, to_db

__all__ = ["User", "UserRepo"]


@dataclass(frozen=True)
class User:
    id: int
    language: str | None
    first_seen: datetime
    last_seen: datetime
    person_id: int | None  # the linked person: the user counts as "logged in"
    # The language_code Telegram last sent (raw IETF tag): the fallback for messages sent outside
    # the user's own update, when they never chose a language.
    telegram_language: str | None = None


_SELECT = (
    "SELECT u.id, u.language, u.first_seen, u.last_seen, l.person_id, u.telegram_language"
    " FROM users u LEFT JOIN telegram_links l ON l.user_id = u.id"
)


class UserRepo:
    def __init__(self, db: Database, audit: AuditRepo, clock: Clock = system_clock) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock

    async def touch(self, user_id: int, telegram_language: str | None = None) -> None:
        """Record that the user was seen now (creating the row on first contact), and the
        language_code their client sent (kept when an update carries none)."""
        now = to_db(self._clock())
        code = telegram_language[:35] if telegram_language else None  # an IETF tag; bounded anyway
        # A single upsert on every update: no deployment-wide ordering needed (serial=False).
        async with self._db.transaction(serial=False) as conn:
            await conn.execute(
                "INSERT INTO users (id, first_seen, last_seen, telegram_language) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen,"
                " telegram_language = COALESCE(excluded.telegram_language, users.telegram_language)",
                (user_id, now, now, code),
            )

    async def get(self, user_id: int) -> User | None:
        async with self._db.read(snapshot=False) as conn:
            row = await (await conn.execute(f"{_SELECT} WHERE u.id = ?", (user_id,))).fetchone()
        if row is None:
            return None
        return User(row[0], row[1], from_db(row[2]), from_db(row[3]), row[4], row[5])

    async def set_language(self, user_id: int, language: str | None) -> None:
        now = to_db(self._clock())
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO users (id, language, first_seen, last_seen) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET language = excluded.language",
                (user_id, language, now, now),
            )

    async def get_link(self, user_id: int) -> TelegramLink | None:
        async with self._db.read() as conn:
            row = await (
                await conn.execute(
                    "SELECT user_id, person_id, linked_at FROM telegram_links WHERE user_id = ?", (user_id,)
                )
            ).fetchone()
        return None if row is None else TelegramLink(row[0], row[1], from_db(row[2]))

    async def link_person(self, user_id: int, person_id: int, *, actor_user_id: int | None) -> TelegramLink:
        """Link the account to a person, replacing any earlier link (re-linking after 实名信息变更)."""
        now = self._clock()
        async with self._db.transaction() as conn:
            old = await (
                await conn.execute("SELECT person_id FROM telegram_links WHERE user_id = ?", (user_id,))
            ).fetchone()
            await conn.execute(
                "INSERT INTO telegram_links (user_id, person_id, linked_at) VALUES (?, ?, ?)"
                " ON CONFLICT (user_id) DO UPDATE"
                " SET person_id = excluded.person_id, linked_at = excluded.linked_at",
                (user_id, person_id, to_db(now)),
            )
            await self._audit.write(
                actor_user_id,
                "telegram.link",
                "telegram_user",
                user_id,
                None if old is None else {"person_id": old[0]},
                {"person_id": person_id},
            )
        return TelegramLink(user_id, person_id, now)

    async def unlink(self, user_id: int, *, actor_user_id: int | None) -> bool:
        async with self._db.transaction() as conn:
            old = await (
                await conn.execute("SELECT person_id FROM telegram_links WHERE user_id = ?", (user_id,))
            ).fetchone()
            if old is None:
                return False
            await conn.execute("DELETE FROM telegram_links WHERE user_id = ?", (user_id,))
            await self._audit.write(
                actor_user_id, "telegram.unlink", "telegram_user", user_id, {"person_id": old[0]}, None
            )
        return True
