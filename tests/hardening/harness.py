"""Shared pieces of the hardening tests: a client that can send anything Telegram can deliver, a
scripted verifier that runs the real image decoder on bytes it was not scripted for, hostile inputs,
and a driver that walks any dialog the happy way from whatever state it is in."""

from __future__ import annotations

import importlib
import io
import itertools
import pkgutil
import struct
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from aiogram import Dispatcher
from aiogram.enums import MessageOriginType
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    Contact,
    Document,
    Message,
    MessageOriginUser,
    PhotoSize,
    Sticker,
    User,
    Video,
)
from PIL import Image

import bot.dialogs
from bot.dialogs.collect import CollectData
from bot.domain.identity import IdentityRecord
from bot.services import Services
from bot.services.verifier import ProgressReporter
from bot.ui import Function, Go
from bot.verification.face import Action, FaceVerdict
from bot.verification.idcard import SideReading
from bot.verification.ids import DocumentType
from bot.verification.images import ImageRejected, decode_image
from tests.helpers.client import BotClient, Reply
from tests.helpers.fakes import FakeSms, FakeVerifier, back_reading, front_reading, valid_number, verdict
from tests.helpers.mocked_bot import MockedBot

_ids = itertools.count(10_000_000)

FRONT, BACK, SELFIE = b"front", b"back", b"selfie"
PHONE = "13800138000"


# --- every state of every dialog ----------------------------------------------------------------------


def dialog_state_groups() -> list[type[StatesGroup]]:
    """Every StatesGroup defined in a module of `bot/dialogs`: dialogs added later are covered too."""
    groups: list[type[StatesGroup]] = []
    for info in pkgutil.iter_modules(bot.dialogs.__path__):
        module = importlib.import_module(f"bot.dialogs.{info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, StatesGroup)
                and value is not StatesGroup
                and value.__module__ == module.__name__
            ):
                groups.append(value)
    return sorted(groups, key=lambda g: g.__full_group_name__)


def all_dialog_states() -> list[State]:
    return [s for g in dialog_state_groups() for s in g.__all_states__]


# --- a client that sends everything -------------------------------------------------------------------


class HostileClient(BotClient):
    """BotClient plus the kinds of messages a dialog is not built for."""

    def msg(self, **fields: Any) -> Message:
        return self._message(**fields)

    async def feed_message(self, **fields: Any) -> list[Reply]:
        return await self._feed(message=self._message(**fields))

    async def send_sticker(self) -> list[Reply]:
        sticker = Sticker(
            file_id="sticker1",
            file_unique_id="sticker1",
            type="regular",
            width=512,
            height=512,
            is_animated=False,
            is_video=False,
        )
        return await self.feed_message(sticker=sticker)

    async def send_photo_declared(self, data: bytes, declared_size: int | None) -> list[Reply]:
        file_id = f"photo{next(_ids)}"
        self.bot.recorder.files[file_id] = data
        photo = [
            PhotoSize(file_id=file_id, file_unique_id=file_id, width=800, height=500, file_size=declared_size)
        ]
        return await self.feed_message(photo=photo)

    async def send_video_as(
        self, data: bytes, *, duration: int = 5, forwarded: bool = False, mime: str = "video/mp4"
    ) -> list[Reply]:
        file_id = f"video{next(_ids)}"
        self.bot.recorder.files[file_id] = data
        video = Video(
            file_id=file_id,
            file_unique_id=file_id,
            width=480,
            height=480,
            duration=duration,
            file_size=len(data),
            mime_type=mime,
        )
        extra: dict[str, Any] = {}
        if forwarded:
            sender = User(id=777, is_bot=False, first_name="x")
            extra["forward_origin"] = MessageOriginUser(
                type=MessageOriginType.USER, date=datetime.now(UTC), sender_user=sender
            )
        return await self.feed_message(video=video, **extra)

    async def send_file(self, data: bytes, name: str, mime: str) -> list[Reply]:
        file_id = f"doc{next(_ids)}"
        self.bot.recorder.files[file_id] = data
        document = Document(
            file_id=file_id, file_unique_id=file_id, file_name=name, mime_type=mime, file_size=len(data)
        )
        return await self.feed_message(document=document)

    async def share_other_contact(self, phone: str) -> list[Reply]:
        contact = Contact(phone_number=phone, first_name="别人", user_id=self.user.id + 1)
        return await self.feed_message(contact=contact)

    async def press_on(self, data: str, message_id: int) -> list[Reply]:
        return await self.press(data, message_id=message_id)


# --- hostile payloads ------------------------------------------------------------------------------------


def jpeg(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (120, 80, 40)).save(out, "JPEG", quality=80)
    return out.getvalue()


def png_bomb(side: int = 40_000) -> bytes:
    """A valid PNG header declaring side×side pixels with a tiny compressed body: a decompression bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit greyscale
    row = b"\0" + b"\0" * side
    body = zlib.compress(row * 64, 9)  # only a few rows: the header alone is the weapon
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


TEXT_4096 = ("测" * 2000 + "x" * 2096)[:4096]
EMOJI = "🙂👍🏽🇨🇳👨‍👩‍👧‍👦" * 20
CONTROL = "\u0001\u0002\u0007\u001b[31m\u200b\u200e\u202eevil\u2066\ufeff\u0085"
SQL = "'; DROP TABLE persons; -- 1' OR '1'='1"
HTML = '<b>x</b><script>alert(1)</script><a href="javascript:1">&amp;</a>{{ 7*7 }}{% raw %}'


class DecodingVerifier(FakeVerifier):
    """Scripted by bytes like FakeVerifier; anything else goes through the real safe image decoder
    (and a cheap stand-in for the video engine), so corrupt, truncated and bomb images get the real
    reason codes without loading the OCR and face models."""

    async def read_card_side(
        self, data: bytes, today: date, *, progress: ProgressReporter | None = None
    ) -> SideReading:
        if data in self.readings or self.unavailable:
            return await super().read_card_side(data, today, progress=progress)
        self.calls.append(("read", data))
        try:
            decode_image(data)
        except ImageRejected as exc:
            return SideReading(side=None, problems=[str(exc.code)])
        return SideReading(side=None, problems=["idcard_not_found"])

    async def verify_video(
        self,
        video: bytes,
        challenge: Sequence[Action],
        references: Sequence[Sequence[float]],
        *,
        seen_before: bool,
        progress: ProgressReporter | None = None,
    ) -> FaceVerdict:
        if video in self.verdicts or self.unavailable or seen_before:
            return await super().verify_video(
                video, challenge, references, seen_before=seen_before, progress=progress
            )
        self.calls.append(("video", (video, list(challenge), len(references), seen_before)))
        return verdict("fail", ["video_undecodable"])


def scripted(verifier: FakeVerifier) -> FakeVerifier:
    verifier.readings[FRONT] = front_reading()
    verifier.readings[BACK] = back_reading()
    verifier.verdicts[SELFIE] = verdict("pass")
    return verifier


# --- reading replies ---------------------------------------------------------------------------------------


def text(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies)


@dataclass
class Walk:
    """Where a user is: the replies that carried buttons, newest last (buttons stay pressable while
    the state they belong to is current, as in a real chat)."""

    client: HostileClient
    seen: list[Reply] = field(default_factory=list)

    def note(self, replies: list[Reply]) -> list[Reply]:
        self.seen.extend(r for r in replies if r.buttons)
        return replies

    def button(self, label: str) -> str:
        for reply in reversed(self.seen):
            for row in reply.buttons:
                for caption, data in row:
                    if label in caption:
                        return data
        raise AssertionError(f"no button {label!r} seen")

    async def press(self, label: str) -> list[Reply]:
        return self.note(await self.client.press(self.button(label)))


HappyStep = Callable[[Walk, dict[str, Any]], Awaitable[list[Reply]]]


# --- the happy walk, one action per state -------------------------------------------------------------


@dataclass
class Identity:
    """A fresh identity per run: numbers, phones, uploads and selfies are unique, so one run's record
    (or its "video already submitted" hash) never changes the next run's path."""

    n: int
    path: str  # "id" | "other"

    @property
    def number(self) -> str:
        # Born 1990-03-07 and male, as the scripted card says; region and sequence make it unique.
        region = ("110101", "110102", "110105", "110106", "110107", "110108")[self.n // 500 % 6]
        return valid_number(f"{region}19900307{(self.n % 500) * 2 + 1:03d}")

    @property
    def permit(self) -> str:
        return f"H{10_000_000 + self.n:08d}"

    @property
    def phone(self) -> str:
        return f"139{self.n:08d}"

    def upload(self, what: str) -> bytes:
        return f"{what}-{self.n}".encode()


async def happy(walk: Walk, state: str, ident: Identity, sms: FakeSms, data: dict[str, Any]) -> list[Reply]:
    c = walk.client
    match state:
        case "CollectSG:document":
            return await walk.press("身份证采集" if ident.path == "id" else "其他证件")
        case "CardSG:front":
            return walk.note(await c.send_photo(ident.upload("front")))
        case "CardSG:portrait":
            return await walk.press("确定")
        case "CardSG:back":
            return walk.note(await c.send_photo(ident.upload("back")))
        case "CardSG:verify":
            if not data.get("_edited") or (data.get("card") or {}).get("problems"):
                # Through the correction state once, and again when a bad input left the address wrong.
                data["_edited"] = True
                # The address: a self-service field (a changed name would make it a review case).
                return await walk.press("修改住址")
            return await walk.press("下一步")
        case "CardSG:edit":
            return walk.note(await c.send("北京市东城区景山前街4号"))
        case "CollectSG:consent" | "FaceSG:agreement":
            return await walk.press("我已阅读并同意")
        case "CollectSG:other_type":
            return await walk.press("港澳居民来往内地通行证")
        case "CollectSG:other_field":
            value = {"name": "陈大文", "number": ident.permit, "birth_date": "1990-03-07"}[
                data["other_field"]
            ]
            return walk.note(await c.send(value))
        case "CollectSG:other_confirm":
            return await walk.press("保存实名")
        case "PhoneSG:number":
            return walk.note(await c.send(ident.phone))
        case "PhoneSG:code":
            return walk.note(await c.send(sms.code_for(ident.phone)))
        case "FaceSG:video":
            return walk.note(await c.send_video(ident.upload("selfie")))
    raise AssertionError(f"no happy action for {state}")


async def current(dp: Dispatcher, bot: MockedBot, user_id: int) -> tuple[str | None, dict[str, Any]]:
    ctx = dp.fsm.get_context(bot, chat_id=user_id, user_id=user_id)
    data = await ctx.get_data()
    # 采集's own values (`other`, `other_field`) under their keys, as calls.view flattens them.
    return await ctx.get_state(), {**data, **CollectData.of(data).flat()}


async def walk_until(
    walk: Walk, dp: Dispatcher, ident: Identity, sms: FakeSms, target: str | None, scratch: dict[str, Any]
) -> list[Reply]:
    """Happy actions from wherever the user is, until `target` is current (None: until the end)."""
    c = walk.client
    replies = walk.note(await c.press(Go(func=Function.COLLECT).pack())) if target is not None else []
    for _ in range(40):
        state, data = await current(dp, c.bot, c.user.id)
        if state == target:
            return replies
        if state is None:
            raise AssertionError(f"dialog ended before {target}: {text(replies)}")
        replies = await happy(walk, state, ident, sms, _merge(data, scratch))
    raise AssertionError(f"never reached {target}")


def _merge(data: dict[str, Any], scratch: dict[str, Any]) -> dict[str, Any]:
    # `scratch` is the test's own memory (e.g. "already corrected once"); writes go to it.
    class View(dict[str, Any]):
        def __setitem__(self, key: str, value: Any) -> None:
            scratch[key] = value
            super().__setitem__(key, value)

    return View({**data, **scratch})


def script(verifier: FakeVerifier, ident: Identity) -> None:
    verifier.readings[ident.upload("front")] = front_reading(ident.number)
    verifier.readings[ident.upload("back")] = back_reading()
    verifier.verdicts[ident.upload("selfie")] = verdict(
        "pass", encoding=tuple(((ident.n * 7919 + i * 104729) % 1000) / 1000.0 for i in range(128))
    )


async def load_permit(services: Services, ident: Identity) -> None:
    # With the authority's photo of the person: a permit's typed fields are verified by that face.
    record = IdentityRecord(
        DocumentType.HK_MACAU_PERMIT, ident.permit, "陈大文", date(1990, 3, 7), b"\xff\xd8authority-photo"
    )
    # The scripted card's person too (number and name; no photo: the card portrait is the reference).
    resident = IdentityRecord(DocumentType.RESIDENT_ID, ident.number, "王小明", date(1990, 3, 7))
    await services.repositories().identity_registry.load([record, resident], loaded_by=None)
