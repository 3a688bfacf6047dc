"""Use cases that only read: what a staff member or a taxpayer looks at, and the access row each look
writes. Looking at personal information (a person, an enterprise's register entry, the audit trail,
the statistics, one's own data) is processing too (PIPL art. 4): the row is the use case's, written
with the read, never the handler's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from bot.domain.masking import mask_free_text
from bot.domain.models import AuditEntry, Person, ReviewCase
from bot.domain.staff import DeletionRequest
from bot.storage.repositories import Repositories
from bot.verification.ids import DocumentType, normalize_number, validate_document_number

__all__ = [
    "MAX_SHOWN",
    "PHONE_QUERY",
    "TELEGRAM_QUERY",
    "MyData",
    "admin_command_denied",
    "console_viewed",
    "enterprise_viewed",
    "export_audit",
    "find_people",
    "look_up_people",
    "my_data",
    "person_page_viewed",
    "stats_viewed",
]

MAX_SHOWN = 5  # a phone shared by a family may match several people
PHONE_QUERY = re.compile(r"^(?:\+?86)?1[3-9]\d{9}$")
TELEGRAM_QUERY = re.compile(r"^(?:tg:)?(\d{1,15})$", re.IGNORECASE)
# "个人 #N", as /review, /deletions and /enterprise name a person: the record id, never a Telegram id
# (a bare number stays a document, phone or Telegram id, as before).
_RECORD = re.compile(r"^(?:个人)?#(\d{1,15})$")


async def find_people(repo: Repositories, query: str) -> list[Person]:
    """Document number first (the most specific), then phone, then Telegram id."""
    value = re.sub(r"[\s-]", "", query)
    record = _RECORD.match(value)
    if record is not None:
        found = await repo.persons.get(int(record.group(1)))
        return [found] if found else []
    if value.lower().startswith("tg:"):
        match = TELEGRAM_QUERY.match(value)
        person = await repo.persons.find_by_telegram(int(match.group(1))) if match else None
        return [person] if person else []
    number = normalize_number(value)
    for doc_type in DocumentType:
        if not validate_document_number(doc_type, number):
            found = await repo.persons.find_by_document(doc_type, number)
            if found is not None:
                return [found]
    if PHONE_QUERY.match(value):
        return (await repo.persons.find_by_phone(value))[:MAX_SHOWN]
    if value.isdigit() and len(value) <= 15:
        person = await repo.persons.find_by_telegram(int(value))
        return [person] if person else []
    return []


async def look_up_people(repo: Repositories, staff_id: int, query: str) -> list[Person]:
    """/person: who matches ``query``; the query itself is personal data, its row keeps it masked."""
    people = await find_people(repo, query)
    await repo.audit.write(
        staff_id,
        "staff.lookup.person",
        "person",
        people[0].id if len(people) == 1 else None,
        None,
        {"query": mask_free_text(query), "found": [p.id for p in people]},
    )
    return people


async def person_page_viewed(repo: Repositories, staff_id: int, person_id: int, page: int) -> Person | None:
    """A page of a person's audit trail: the person (None when gone, nothing recorded)."""
    person = await repo.persons.get(person_id)
    if person is not None:
        await repo.audit.write(staff_id, "staff.lookup.person", "person", person.id, None, {"page": page})
    return person


async def enterprise_viewed(
    repo: Repositories, staff_id: int, taxpayer_id: str, page: int | None = None
) -> None:
    """/enterprise (``page`` None) or a page of its register entry."""
    details = None if page is None else {"page": page}
    await repo.audit.write(staff_id, "staff.lookup.enterprise", "enterprise", taxpayer_id, None, details)


async def export_audit(
    repo: Repositories, staff_id: int, start: datetime, end: datetime, label: str
) -> list[AuditEntry]:
    """The audit rows of a period; the export's own row is written after the read, so the export
    does not contain it."""
    entries = list(await repo.audit.between(start, end))
    await repo.audit.write(
        staff_id, "staff.audit.export", "report", None, None, {"period": label, "rows": len(entries)}
    )
    return entries


async def stats_viewed(repo: Repositories, staff_id: int, label: str) -> None:
    await repo.audit.write(staff_id, "staff.stats", "report", None, None, {"period": label})


async def console_viewed(repo: Repositories, staff_id: int, page: int | None = None) -> None:
    """/staff (the console: its members listed to an admin), or one of its pages."""
    details = None if page is None else {"page": page}
    await repo.audit.write(staff_id, "staff.help", "telegram_user", staff_id, None, details)


async def admin_command_denied(repo: Repositories, staff_id: int, command: str) -> None:
    """A reviewer tried an admin command: refused, and recorded."""
    await repo.audit.write(staff_id, "staff.denied", "telegram_user", staff_id, None, {"command": command})


@dataclass(frozen=True)
class MyData:
    person: Person | None
    cases: list[ReviewCase]
    pending: list[DeletionRequest]


async def my_data(repo: Repositories, user_id: int) -> MyData:
    """/mydata: the taxpayer's record, their open review cases and deletion requests (the look is
    recorded: the taxpayer saw their own data)."""
    seen = MyData(
        person=await repo.persons.find_by_telegram(user_id),
        cases=list(await repo.review.open_for_user(user_id)),
        pending=list(await repo.staff.open_deletion_requests(user_id=user_id)),
    )
    await repo.audit.write(user_id, "mydata.view", "telegram_user", user_id, None, None)
    return seen
