"""The Services holder: everything built once at start from settings and shared by all updates."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from bot.i18n import Catalog
from bot.storage.crypto import FieldCipher
from bot.storage.db import Database


@dataclass
class Services:
    settings: Settings
    catalog: Catalog
    db: Database
    cipher: FieldCipher

    @classmethod
    async def build(cls, settings: Settings) -> Services:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        catalog = Catalog.load(settings.locales_dir, settings.default_locale)
        masters, current, index_master = settings.encryption_keys()
        cipher = FieldCipher.from_masters(masters, current=current, index_master=index_master)
        db = await Database.open(settings.db_path)
        return cls(settings=settings, catalog=catalog, db=db, cipher=cipher)

    async def close(self) -> None:
        await self.db.close()
