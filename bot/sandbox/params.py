"""Request parameters the way Telegram accepts them: query string, urlencoded, JSON or multipart."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

from aiohttp import BodyPartReader, web
from aiohttp.hdrs import CONTENT_TYPE

from .errors import BotApiError, bad_request


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str | None
    content_type: str | None
    data: bytes


class TooLarge(Exception):
    pass


class MalformedBody(Exception):
    pass


@dataclass(slots=True)
class Params:
    values: dict[str, Any] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.values or name in self.uploads

    def get_str(self, name: str, *, required: bool = False) -> str | None:
        value = self.values.get(name)
        if value is None:
            if required:
                raise bad_request(f"{name} is empty")
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        return json.dumps(value, ensure_ascii=False)

    def get_int(self, name: str, *, required: bool = False) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(f"{name} is empty")
            return None
        if isinstance(value, bool):
            raise bad_request(f"invalid {name} specified")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value).strip())
        except ValueError:
            raise bad_request(f"invalid {name} specified") from None

    def get_float(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def get_bool(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, bool):
            return value
        if value is None:
            return False
        return str(value).strip().lower() in {"true", "1", "yes", "on"}

    def get_json(self, name: str) -> Any:
        """A JSON-serialized parameter (reply_markup, media, ...), parsed; objects from a JSON body pass."""
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {name} JSON object") from None

    def get_file(self, name: str) -> Upload | str | None:
        """An uploaded file (direct field or ``attach://``), or a file_id / URL string."""
        if name in self.uploads:
            return self.uploads[name]
        value = self.values.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise bad_request(f"wrong type of the {name} parameter")
        return self.resolve_file(value)

    def resolve_file(self, value: str) -> Upload | str:
        if value.startswith("attach://"):
            key = value[len("attach://") :]
            upload = self.uploads.get(key)
            if upload is None:
                raise bad_request(f"file attached as {value} was not found in the request")
            return upload
        return value


async def read_params(request: web.Request, *, max_file_bytes: int, max_text_bytes: int) -> Params:
    """Gather every parameter of a request. Raises TooLarge or MalformedBody."""
    params = Params(values=dict(request.query))
    ctype = request.content_type
    if request.method not in {"POST", "PUT"} or not request.can_read_body:
        return params
    if ctype.startswith("multipart/"):
        await _read_multipart(request, params, max_file_bytes=max_file_bytes, max_text_bytes=max_text_bytes)
        return params
    raw = await _read_limited(request, max_text_bytes)
    # `curl -d '{"text": "/start"}'` sends JSON labelled as a form: accept JSON whatever the label.
    if ctype == "application/json" or raw.lstrip().startswith(b"{"):
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError as exc:
                raise MalformedBody("request body is not valid JSON") from exc
            if not isinstance(body, dict):
                raise MalformedBody("request body must be a JSON object")
            params.values.update(body)
    elif raw.strip():
        params.values.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    return params


async def _read_limited(request: web.Request, limit: int) -> bytes:
    data = bytearray()
    while chunk := await request.content.read(65536):
        data += chunk
        if len(data) > limit:
            raise TooLarge()
    return bytes(data)


async def _read_multipart(
    request: web.Request, params: Params, *, max_file_bytes: int, max_text_bytes: int
) -> None:
    try:
        reader = await request.multipart()
    except (AssertionError, ValueError) as exc:
        raise MalformedBody("malformed multipart body") from exc
    text_total = 0
    while True:
        try:
            part = await reader.next()
        except ValueError as exc:
            raise MalformedBody("malformed multipart body") from exc
        if part is None:
            break
        if not isinstance(part, BodyPartReader):
            raise MalformedBody("nested multipart bodies are not supported")
        name = part.name
        if not name:
            await part.release()
            continue
        if part.filename is not None:
            data = bytearray()
            while chunk := await part.read_chunk(65536):
                data += chunk
                if len(data) > max_file_bytes:
                    raise TooLarge()
            # aiohttp's FormData percent-encodes non-ASCII file names unless told not to; browsers
            # and aiogram send them raw. A literal "%xx" in a real file name is rare enough.
            filename = unquote(part.filename) if "%" in part.filename else part.filename
            params.uploads[name] = Upload(
                filename=filename, content_type=part.headers.get(CONTENT_TYPE), data=bytes(data)
            )
        else:
            raw = bytearray()
            while chunk := await part.read_chunk(65536):
                raw += chunk
                text_total += len(chunk)
                if text_total > max_text_bytes:
                    raise TooLarge()
            params.values[name] = bytes(raw).decode(part.get_charset("utf-8"), "replace")


def file_too_large() -> BotApiError:
    return BotApiError(413, "Request Entity Too Large")
