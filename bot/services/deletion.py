"""Use case: carry out a taxpayer's PIPL deletion request (staff console, /deletions).

The person (document, phone, consents, live photo, Telegram link, bindings: the database cascades) and
the payloads of their review cases are erased in one transaction with closing the request; the files
go from the media store after the commit. The audit log stays: it is masked, and the record that
personal information was processed and deleted is what the law asks to keep.
"""

from __future__ import annotations

import logging

from bot.domain.staff import DeletionRequest, DeletionStatus
from bot.services.closing import close_and
from bot.storage.media import MediaStore
from bot.storage.repositories import Repositories

__all__ = ["carry_out_deletion", "open_requests", "refuse_deletion"]

log = logging.getLogger(__name__)


async def carry_out_deletion(
    request: DeletionRequest, staff_id: int, repo: Repositories, media_store: MediaStore
) -> bool:
    """Erase and close; False when the request was no longer open (nothing was erased)."""

    async def close() -> DeletionRequest | None:
        return await repo.staff.close_deletion_request(request.id, DeletionStatus.DONE, decided_by=staff_id)

    async def erase(_: DeletionRequest) -> list[str]:
        media: list[str] = []
        if request.person_id is not None and await repo.persons.get(request.person_id) is not None:
            media += await repo.persons.erase(request.person_id, actor_user_id=staff_id)
        media += await repo.staff.forget_review_cases(request.user_id, actor_user_id=staff_id)
        return media

    done = await close_and(repo, close, erase)
    if done is None:
        return False
    _, media = done
    for media_id in media:
        try:
            await media_store.delete(media_id)
        except Exception:  # the retention job's orphan sweep takes what is left
            log.warning("could not delete a media file of an erased person", exc_info=True)
    return True


async def refuse_deletion(
    repo: Repositories, request_id: int, staff_id: int, reason: str
) -> DeletionRequest | None:
    """Close the request as refused for ``reason`` (its audit row is the repository's); None when it
    was no longer open."""
    return await repo.staff.close_deletion_request(
        request_id, DeletionStatus.REFUSED, decided_by=staff_id, note=reason
    )


async def open_requests(repo: Repositories, staff_id: int) -> list[DeletionRequest]:
    """The open requests, as an admin lists them (the listing is audited: it shows who asked)."""
    requests = await repo.staff.open_deletion_requests()
    await repo.audit.write(staff_id, "staff.deletion.list", "report", None, None, {"open": len(requests)})
    return requests
