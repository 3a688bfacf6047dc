"""Use cases: staff lift face pauses (``/person``'s 【解除人脸识别暂停】): all of a person's, or the one
pause of a document or account with no record. Each is one transaction with its audit row: on the
person (``person.face_pause.lift``: what was paused, how many failures counted), or, with no record to
hang it on, on the pause key (``face_pause.lift``)."""

from __future__ import annotations

from bot.domain.models import Person
from bot.storage.repositories import Repositories

__all__ = ["lift_key_pause", "lift_person_pauses", "person_pause_keys"]


async def person_pause_keys(repo: Repositories, person: Person) -> tuple[list[str], str]:
    """The pause keys of ``person``: their document's blind index and their linked accounts; and the
    document key alone."""
    pauses = repo.face_pauses
    doc_key = pauses.document_key(person.document.doc_type, person.document.number)
    accounts = await repo.staff.telegram_users_of(person.id)
    return [doc_key, *(pauses.user_key(a) for a in accounts)], doc_key


async def lift_person_pauses(repo: Repositories, staff_id: int, person: Person) -> int:
    """Lift every pause of ``person``; returns how many rows were lifted."""
    keys, doc_key = await person_pause_keys(repo, person)
    async with repo.db.transaction():
        before = await repo.face_pauses.of_person(keys, doc_key)
        now = repo.clock()
        lifted = await repo.face_pauses.lift(keys, doc_key, staff_id)
        await repo.audit.write(
            staff_id,
            "person.face_pause.lift",
            "person",
            person.id,
            {
                "paused": [p.kind for p in before if p.active(now)],
                "failures": sum(p.failures for p in before if p.kind != "face"),
            },
            {"lifted": len(lifted)},
        )
    return len(lifted)


async def lift_key_pause(repo: Repositories, staff_id: int, key: str, doc_key: str | None) -> int:
    """Lift the pause of one key (an account's, or a document's: then ``doc_key`` is that key)."""
    async with repo.db.transaction():
        lifted = await repo.face_pauses.lift([key], doc_key, staff_id)
        # No record to hang the row on: the subject is the pause key (an id or a blind index).
        await repo.audit.write(staff_id, "face_pause.lift", "face_pause", key, None, {"lifted": len(lifted)})
    return len(lifted)
