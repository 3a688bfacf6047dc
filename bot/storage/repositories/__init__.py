"""Repositories over the database, returning domain objects; ``Repositories`` holds them all."""

from bot.storage.repositories.holder import Repositories

__all__ = ["Repositories"]
