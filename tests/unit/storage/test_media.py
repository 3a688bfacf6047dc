from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain.errors import MediaNotFound
from bot.storage.crypto import DecryptionError, FieldCipher
from bot.storage.media import MediaStore


def find(root: Path, name: str = "*") -> list[Path]:
    return sorted(p for p in root.rglob(name) if p.is_file())


async def test_put_get_delete(tmp_path: Path, cipher: FieldCipher) -> None:
    store = MediaStore(tmp_path / "media", cipher)
    media_id = await store.put(b"\xff\xd8JPEGDATA", "idfront")
    assert media_id.startswith("idfront-")
    assert await store.get(media_id) == b"\xff\xd8JPEGDATA"
    assert await store.exists(media_id)
    [path] = find(tmp_path / "media")
    assert b"JPEGDATA" not in path.read_bytes()
    assert await store.delete(media_id) is True
    assert await store.delete(media_id) is False
    with pytest.raises(MediaNotFound):
        await store.get(media_id)


@pytest.mark.parametrize(
    "bad", ["../etc/passwd", "idfront-../../x", "idfront-" + "g" * 32, "A-" + "0" * 32, ""]
)
async def test_malformed_ids_never_become_paths(tmp_path: Path, cipher: FieldCipher, bad: str) -> None:
    store = MediaStore(tmp_path, cipher)
    with pytest.raises(ValueError):
        await store.get(bad)


async def test_bad_kind_refused(tmp_path: Path, cipher: FieldCipher) -> None:
    with pytest.raises(ValueError):
        await MediaStore(tmp_path, cipher).put(b"x", "../x")


async def test_file_swapped_to_another_id_does_not_decrypt(tmp_path: Path, cipher: FieldCipher) -> None:
    store = MediaStore(tmp_path, cipher)
    a, b = await store.put(b"a", "live"), await store.put(b"b", "live")
    path_a = find(tmp_path, a)[0]
    path_b = find(tmp_path, b)[0]
    path_b.write_bytes(path_a.read_bytes())
    with pytest.raises(DecryptionError):
        await store.get(b)


async def test_no_temp_files_left_and_stale_ones_removed(tmp_path: Path, cipher: FieldCipher) -> None:
    store = MediaStore(tmp_path, cipher)
    media_id = await store.put(b"data", "video")
    assert [p.name for p in find(tmp_path)] == [media_id]
    crash_leftover = find(tmp_path, media_id)[0].with_name(".tmp-deadbeef")
    crash_leftover.write_bytes(b"half")
    old = time.time() - 3600
    os.utime(crash_leftover, (old, old))
    assert await store.remove_stale_temp_files(datetime.now(UTC) - timedelta(minutes=5)) == 1
    assert not crash_leftover.exists()
    assert await store.get(media_id) == b"data"


async def test_rotation_and_retention_listing(tmp_path: Path) -> None:
    k1, k2 = os.urandom(32), os.urandom(32)
    old_cipher = FieldCipher({"k1": k1}, "k1", b"i" * 32)
    new_cipher = FieldCipher({"k1": k1, "k2": k2}, "k2", b"i" * 32)
    media_id = await MediaStore(tmp_path, old_cipher).put(b"photo", "live")
    store = MediaStore(tmp_path, new_cipher)
    assert await store.rotate(media_id) is True
    assert await store.rotate(media_id) is False
    assert await MediaStore(tmp_path, FieldCipher({"k2": k2}, "k2", b"i" * 32)).get(media_id) == b"photo"
    other = await store.put(b"x", "idfront")
    # Both ages are set from the one clock the cutoff reads: a fresh file's mtime comes from the
    # kernel, which a moved process clock (faketime) does not move.
    now = time.time()
    past = now - 86400 * 40
    os.utime(find(tmp_path, media_id)[0], (past, past))
    os.utime(find(tmp_path, other)[0], (now, now))
    cutoff = datetime.now(UTC) - timedelta(days=30)
    assert await store.older_than(cutoff) == [media_id]
    assert await store.older_than(cutoff, "idfront") == []
    assert other not in await store.older_than(cutoff)
