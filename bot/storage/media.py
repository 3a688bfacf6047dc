"""Encrypted media files (ID photos, portraits, selfie frames and videos) on disk.

Layout: ``<root>/<kind>/<first 2 hex>/<media id>``. A media id is ``<kind>-<32 hex>``; it is checked
strictly before it becomes a path, so an id from a callback or a database row cannot walk out of
the root. Each file is ``FieldCipher.encrypt_bytes`` with the media id as authenticated context (a
file renamed to another id does not decrypt), written to a temporary file in the same directory,
fsync'ed and renamed over the final name, then the directory is fsync'ed: after a crash a file is
either complete or absent.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
from datetime import datetime
from pathlib import Path

from bot.domain.errors import MediaNotFound
from bot.storage.crypto import FieldCipher

__all__ = ["MediaStore"]

_KIND = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_MEDIA_ID = re.compile(r"^([a-z][a-z0-9_]{0,31})-([0-9a-f]{32})$")
_TMP_PREFIX = ".tmp-"


class MediaStore:
    def __init__(self, root: Path, cipher: FieldCipher) -> None:
        self._root = Path(root)
        self._cipher = cipher

    def _path(self, media_id: str) -> Path:
        match = _MEDIA_ID.match(media_id)
        if match is None:
            raise ValueError("malformed media id")
        kind, token = match.groups()
        return self._root / kind / token[:2] / media_id

    async def put(self, data: bytes, kind: str) -> str:
        if not _KIND.match(kind):
            raise ValueError(f"bad media kind {kind!r}")
        media_id = f"{kind}-{secrets.token_hex(16)}"
        blob = self._cipher.encrypt_bytes(data, context=media_id)
        await asyncio.to_thread(_write_atomically, self._path(media_id), blob)
        return media_id

    async def get(self, media_id: str) -> bytes:
        path = self._path(media_id)
        try:
            blob = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise MediaNotFound(media_id) from None
        return self._cipher.decrypt_bytes(blob, context=media_id)

    async def exists(self, media_id: str) -> bool:
        return await asyncio.to_thread(self._path(media_id).is_file)

    async def delete(self, media_id: str) -> bool:
        """Remove the file; False when it was not there."""
        path = self._path(media_id)
        try:
            await asyncio.to_thread(path.unlink)
        except FileNotFoundError:
            return False
        return True

    async def rotate(self, media_id: str) -> bool:
        """Re-encrypt the file under the current key (key rotation); True if it was rewritten."""
        path = self._path(media_id)
        blob = await asyncio.to_thread(path.read_bytes)
        if not self._cipher.needs_rotation(blob):
            return False
        await asyncio.to_thread(_write_atomically, path, self._cipher.rotate_bytes(blob, context=media_id))
        return True

    async def older_than(self, moment: datetime, kind: str | None = None) -> list[str]:
        """Media ids whose files were written before ``moment`` (for the retention job)."""
        if kind is not None and not _KIND.match(kind):
            raise ValueError(f"bad media kind {kind!r}")
        return await asyncio.to_thread(self._scan_older, moment.timestamp(), kind)

    def _scan_older(self, cutoff: float, kind: str | None) -> list[str]:
        base = self._root / kind if kind else self._root
        if not base.is_dir():
            return []
        found: list[str] = []
        for path in base.rglob("*"):
            if _MEDIA_ID.match(path.name) and path.is_file() and path.stat().st_mtime < cutoff:
                found.append(path.name)
        return sorted(found)

    async def remove_stale_temp_files(self, older_than: datetime) -> int:
        """Temporary files left by a crash mid-write; run at start (``older_than``: the start)."""
        cutoff = older_than.timestamp()
        return await asyncio.to_thread(self._remove_temp, cutoff)

    def _remove_temp(self, cutoff: float) -> int:
        if not self._root.is_dir():
            return 0
        removed = 0
        for path in self._root.rglob(f"{_TMP_PREFIX}*"):
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{_TMP_PREFIX}{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not supported on every platform/filesystem.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
