"""The retention job: raw photos and videos are deleted once they are no longer necessary (PIPL
art. 19: kept no longer than the purpose needs), the record the law requires is kept.

Deleted after ``RETENTION_RAW_MEDIA_DAYS``:
- the raw photos of ID cards (front and back) of stored documents: the recognised fields, the
  cropped ID portrait and the on-site (live) photo are the real-name record and stay;
- the media of decided review cases (selfie frames, card photos of rejected collections);
- orphans: files no record and no open review case points to (an abandoned dialog whose own
  cleanup failed, a crash between upload and save). Selfie videos are never stored; frames are.

Kept: documents' fields, portraits, live photos and their face encodings, consents with their
versions, the audit log. Open review cases keep everything until decided.

Runs every ``RETENTION_INTERVAL_MINUTES`` from the dispatcher's startup; one run is also a plain
coroutine (``run_once``) for tests and for an operator's shell.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.domain.clock import FixedClock
from bot.services import Services
from bot.storage.repositories import Repositories

__all__ = ["RetentionJob", "RetentionResult"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionResult:
    card_photos: int = 0
    review_media: int = 0
    orphans: int = 0

    @property
    def total(self) -> int:
        return self.card_photos + self.review_media + self.orphans


class RetentionJob:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._task: asyncio.Task[None] | None = None

    async def run_once(self, now: datetime | None = None) -> RetentionResult:
        services = self._services
        settings = services.settings
        # One run has one "now": its cut-off and its audit row are the same moment.
        now = now or services.clock()
        cutoff = now - timedelta(days=settings.retention_raw_media_days)
        repo = services.repositories(FixedClock(now))

        card_photos = 0
        documents = await repo.staff.raw_document_media_before(cutoff)
        for _doc_id, front, back in documents:
            for media_id in (front, back):
                if media_id and await services.media.delete(media_id):
                    card_photos += 1
        # The columns are cleared even when a file was already gone, so the record never points
        # at a file that is not there.
        await repo.staff.clear_raw_document_media(d[0] for d in documents)

        review_media = 0
        cases = await repo.staff.decided_review_media_before(cutoff)
        # A decided case's portrait and live photo became the person's record on approval; an open
        # case still needs all of its media.
        protected = await repo.staff.referenced_media(decided_cases=False)
        for _case_id, media_ids in cases:
            for media_id in media_ids:
                if media_id not in protected and await services.media.delete(media_id):
                    review_media += 1
        await repo.staff.clear_review_media(c[0] for c in cases)

        orphans = await self._sweep_orphans(repo, cutoff)
        # Fingerprints of submitted selfies guard against replays for as long as raw media is kept.
        await repo.media.prune_fingerprints(cutoff)
        result = RetentionResult(card_photos, review_media, orphans)
        if result.total:
            await repo.audit.write(
                None,
                "retention.run",
                "media",
                None,
                None,
                {"card_photos": card_photos, "review_media": review_media, "orphans": orphans},
            )
            log.info("retention deleted %s media files", result.total)
        return result

    async def _sweep_orphans(self, repo: Repositories, cutoff: datetime) -> int:
        referenced = await repo.staff.referenced_media(decided_cases=True)
        root = self._services.settings.media_dir
        candidates = await asyncio.to_thread(_old_files, root, cutoff)
        deleted = 0
        for media_id in candidates:
            if media_id in referenced:
                continue
            try:
                if await self._services.media.delete(media_id):
                    deleted += 1
            except ValueError:  # not a media id (a stray file): not ours to delete
                continue
        return deleted

    # -- the periodic task ------------------------------------------------------------------------

    async def start(self) -> None:
        if not self._services.settings.retention_enabled or self._task is not None:
            return
        self._task = asyncio.create_task(self._loop(), name="retention")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        interval = self._services.settings.retention_interval_minutes * 60
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # one failed run must not end the job; the next run retries
                log.exception("retention run failed")
            await asyncio.sleep(interval)


def _old_files(root: Path, cutoff: datetime) -> list[str]:
    """Media ids of files last written before ``cutoff`` (layout ``<root>/<kind>/<xx>/<id>``;
    temporary ``.tmp-`` files of an interrupted write are left to the store)."""
    if not root.is_dir():
        return []
    limit = cutoff.astimezone(UTC).timestamp()
    found: list[str] = []
    for path in root.glob("*/*/*"):
        if path.is_file() and not path.name.startswith(".") and path.stat().st_mtime < limit:
            found.append(path.name)
    return found
