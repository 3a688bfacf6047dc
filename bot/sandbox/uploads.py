"""Turn uploaded bytes (from the bot or from a simulated user) into stored files and Telegram objects."""

from __future__ import annotations

import asyncio
import mimetypes
import os
from typing import Any

from . import media
from .errors import bad_request
from .params import Upload
from .state import SandboxState, StoredFile

_IMAGE_EXT = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp", "TIFF": ".tif"}
_TYPE_NAMES = {"photo": "Photo", "document": "Document", "video": "Video", "video_note": "VideoNote"}


def _photo_size(stored: StoredFile, width: int, height: int) -> dict[str, Any]:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "width": width,
        "height": height,
        "file_size": stored.size,
    }


def guess_mime(upload: Upload, default: str) -> str:
    guessed = mimetypes.guess_type(upload.filename or "")[0]
    if guessed:
        return guessed
    ctype = (upload.content_type or "").split(";")[0].strip()
    if ctype and ctype != "application/octet-stream":
        return ctype
    return default


def _suffix(upload: Upload, default: str) -> str:
    ext = os.path.splitext(upload.filename or "")[1].lower()
    return ext if 1 < len(ext) <= 8 else default


async def photo_sizes(state: SandboxState, data: bytes, *, strict: bool) -> list[dict[str, Any]]:
    """PhotoSize list, smallest first. ``strict`` refuses non-images like Telegram does for bots;
    a simulated user's bytes are kept whatever they are (tests send junk on purpose)."""
    info = await asyncio.to_thread(media.probe_image, data)
    sizes: list[dict[str, Any]] = []
    files: list[StoredFile] = []
    if info is None:
        if strict:
            raise bad_request("IMAGE_PROCESS_FAILED")
        original = state.add_file("photo", data, ext=".jpg", mime_type="image/jpeg")
        files.append(original)
        sizes.append(_photo_size(original, 0, 0))
    elif state.config.recompress_photos:
        return await _telegram_sizes(state, data, info)
    else:
        thumb = await asyncio.to_thread(media.make_thumbnail, data)
        if thumb is not None:
            small = state.add_file("photo", thumb.data, ext=".jpg", mime_type="image/jpeg")
            files.append(small)
            sizes.append(_photo_size(small, thumb.width, thumb.height))
        ext = _IMAGE_EXT.get(info.format or "", ".jpg")
        mime = mimetypes.guess_type("x" + ext)[0] or "image/jpeg"
        original = state.add_file("photo", data, ext=ext, mime_type=mime)
        files.append(original)
        sizes.append(_photo_size(original, info.width, info.height))
    for stored in files:
        stored.meta = sizes
    return sizes


# Telegram's size types: s 90, m 320, x 800, y 1280 px (the longest side).
_SIZE_STEPS = (90, 320, 800)


async def _telegram_sizes(state: SandboxState, data: bytes, info: media.ImageInfo) -> list[dict[str, Any]]:
    """The sizes array Telegram delivers: recompressed JPEGs, thumbnails first, the largest at most
    ``photo_max_side`` (the original bytes are not kept: the bot cannot get them on Telegram)."""
    config = state.config
    longest = max(info.width, info.height)
    sides = [s for s in _SIZE_STEPS if s < min(longest, config.photo_max_side)]
    sides.append(min(longest, config.photo_max_side))
    sizes: list[dict[str, Any]] = []
    files: list[StoredFile] = []
    for side in sides:
        made = await asyncio.to_thread(media.recompress, data, side, config.photo_quality)
        if made is None:
            raise bad_request("IMAGE_PROCESS_FAILED")
        stored = state.add_file("photo", made.data, ext=".jpg", mime_type="image/jpeg")
        files.append(stored)
        sizes.append(_photo_size(stored, made.width, made.height))
    for stored in files:
        stored.meta = sizes
    return sizes


def check_photo_limits(state: SandboxState, data: bytes) -> None:
    """Telegram refuses a photo from a bot over 10 MB, or with width + height over 10,000 or a side
    ratio over 20 (a bot must send such an image as a document)."""
    config = state.config
    if not config.photo_limits:
        return
    if len(data) > config.max_photo_bytes:
        raise bad_request("PHOTO_SAVE_FILE_INVALID")
    info = media.probe_image(data)
    if info is None or info.width <= 0 or info.height <= 0:
        return  # IMAGE_PROCESS_FAILED is raised by the caller
    if info.width + info.height > 10_000 or max(info.width, info.height) / min(info.width, info.height) > 20:
        raise bad_request("PHOTO_INVALID_DIMENSIONS")


async def video_object(
    state: SandboxState,
    upload: Upload,
    kind: str,
    *,
    width: int | None = None,
    height: int | None = None,
    duration: int | None = None,
    length: int | None = None,
    from_user: bool = False,
) -> dict[str, Any]:
    """A Video or VideoNote object. A video note from a simulated user is made what a Telegram client
    records (square, <= 640 px, <= 60 s; ``SandboxConfig.telegram_video_notes``)."""
    suffix = _suffix(upload, ".mp4")
    data = upload.data
    made = None
    if kind == "video_note" and from_user and state.config.telegram_video_notes:
        config = state.config
        made = await asyncio.to_thread(
            media.telegram_video_note,
            data,
            suffix,
            max_side=config.video_note_max_side,
            max_seconds=config.video_note_max_seconds,
        )
    if made is not None:
        data, info = made
        suffix, mime = ".mp4", "video/mp4"
        length = duration = None  # what the client recorded, not what the sender claimed
    else:
        info = await asyncio.to_thread(media.probe_video, data, suffix)
        mime = guess_mime(upload, "video/mp4")
    stored = state.add_file(kind, data, ext=suffix, mime_type=mime, file_name=upload.filename)
    obj: dict[str, Any] = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
    if kind == "video_note":
        obj["length"] = length or min(info.width, info.height) or info.width
        obj["duration"] = duration if duration is not None else info.duration
    else:
        obj["width"] = width if width is not None else info.width
        obj["height"] = height if height is not None else info.height
        obj["duration"] = duration if duration is not None else info.duration
        if upload.filename:
            obj["file_name"] = upload.filename
        obj["mime_type"] = mime
    obj["file_size"] = stored.size
    stored.meta = obj
    return obj


def document_object(state: SandboxState, upload: Upload) -> dict[str, Any]:
    mime = guess_mime(upload, "application/octet-stream")
    ext = _suffix(upload, mimetypes.guess_extension(mime) or ".bin")
    name = upload.filename or f"document{ext}"
    stored = state.add_file("document", upload.data, ext=ext, mime_type=mime, file_name=name)
    obj = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_name": name,
        "mime_type": mime,
        "file_size": stored.size,
    }
    stored.meta = obj
    return obj


def existing_file(state: SandboxState, value: str, kind: str) -> Any:
    """The Telegram object to re-send for a file_id (URLs cannot be fetched: the sandbox is offline)."""
    stored = state.files.get(value)
    if stored is None:
        if value.startswith(("http://", "https://")):
            raise bad_request("failed to get HTTP URL content")
        raise bad_request("wrong file identifier/HTTP URL specified")
    if stored.kind != kind or stored.meta is None:
        have, want = _TYPE_NAMES.get(stored.kind, stored.kind), _TYPE_NAMES.get(kind, kind)
        raise bad_request(f"can't use file of type {have} as {want}")
    return stored.meta


async def media_object(
    state: SandboxState,
    kind: str,
    source: Upload | str,
    *,
    strict: bool,
    extra: dict[str, int | None] | None = None,
) -> Any:
    """The value of the message field ``kind`` (photo, video, video_note, document) for a file."""
    if isinstance(source, str):
        return existing_file(state, source, kind)
    if kind == "photo":
        if strict:
            await asyncio.to_thread(check_photo_limits, state, source.data)
        return await photo_sizes(state, source.data, strict=strict)
    if kind in {"video", "video_note"}:
        return await video_object(state, source, kind, **(extra or {}), from_user=not strict)
    return document_object(state, source)
