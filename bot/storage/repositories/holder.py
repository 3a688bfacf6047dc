"""The repositories a handler gets per update as ``repo`` (built by the lead's middleware)."""

from __future__ import annotations

from bot.domain.clock import Clock, system_clock
from bot.storage.crypto import FieldCipher
from bot.storage.face_index import FaceIndex
from bot.storage.repositories.audit import AuditRepo
from bot.storage.repositories.enterprises import EnterpriseRepo
from bot.storage.repositories.events import EventRepo
from bot.storage.repositories.face_pauses import FacePauseRepo
from bot.storage.repositories.guards import GuardRepo
from bot.storage.repositories.identity_registry import IdentityRegistryRepo
from bot.storage.repositories.media_hashes import MediaHashRepo
from bot.storage.repositories.persons import PersonRepo
from bot.storage.repositories.review import ReviewRepo
from bot.storage.repositories.staff import StaffRepo
from bot.storage.repositories.updates import UpdateRepo
from bot.storage.repositories.users import UserRepo
from bot.storage.sql import Database

__all__ = ["Repositories"]


class Repositories:
    """Cheap to build (no I/O): plain objects over the shared :class:`Database`. Calls of several
    repositories inside ``async with repo.db.transaction():`` commit or roll back together."""

    def __init__(
        self,
        db: Database,
        cipher: FieldCipher,
        *,
        clock: Clock = system_clock,
        faces: FaceIndex | None = None,
    ) -> None:
        self.db = db
        # The update's clock, for the callers' own decisions (a pause still running, a code's age).
        self.clock = clock
        self.audit = AuditRepo(db, clock)
        self.users = UserRepo(db, self.audit, clock)
        self.updates = UpdateRepo(db, clock)
        self.persons = PersonRepo(db, cipher, self.audit, self.users, clock, faces)
        self.media = MediaHashRepo(db, cipher, clock)
        self.review = ReviewRepo(db, cipher, self.audit, clock)
        self.events = EventRepo(db, clock)
        self.identity_registry = IdentityRegistryRepo(db, cipher, clock)
        self.enterprises = EnterpriseRepo(db, cipher, self.audit, clock)
        self.guards = GuardRepo(db, cipher, clock)
        self.face_pauses = FacePauseRepo(db, cipher, clock)
        self.staff = StaffRepo(db, cipher, self.audit, clock)
