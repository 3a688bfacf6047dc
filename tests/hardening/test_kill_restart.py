"""SIGKILL of a real bot process at random points of a dialog, then a restart (issue 8 §2).

The sandbox lives in the test process and outlives the bot, like Telegram does. The bot runs as its
own process (tests/hardening/botproc.py: the real factory, storage and sandbox integrations, engines
scripted by bytes). At a handful of seeded-random steps of 实名信息采集 the user's update is sent and
the bot is killed 0–150 ms later, mid-handling or just after; a new process is started on the same
data directory. After every restart:

- the database passes `PRAGMA integrity_check`, and no record of the person exists half-written
  (either none, or one with document, phone, consents and live photo);
- no temporary media file is left behind;
- the user carries on from the state the database holds (the last completed step) and finishes.
The last kill is always during the final step, whose handler writes the record.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiogram.fsm.storage.base import StorageKey

from bot.config import SANDBOX_TOKEN, Settings
from bot.sandbox import SandboxServer
from bot.storage.crypto import FieldCipher
from bot.storage.db import SqliteDatabase as Database
from bot.storage.fsm import DatabaseStorage
from bot.storage.repositories import Repositories
from bot.verification.ids import DocumentType
from tests.conftest import REPO_ROOT
from tests.helpers.factory import make_settings
from tests.helpers.fakes import valid_number

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

BOT_ID = int(SANDBOX_TOKEN.split(":")[0])
USER = 880_001
PHONE = "13700137000"
NUMBER = valid_number("11010119900307555")


class BotProcess:
    def __init__(self, url: str, data_dir: Path) -> None:
        self.url, self.data_dir = url, data_dir
        self.proc: asyncio.subprocess.Process | None = None
        self.log = data_dir / "bot.log"

    async def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        with self.log.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.hardening.botproc",
                self.url,
                str(self.data_dir),
                cwd=REPO_ROOT,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 120)
        assert line.strip() == b"ready", (line, self.log.read_text(errors="replace")[-3000:])

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                await self.kill()


class Chat:
    """The simulated user over the control API; remembers every bot message with buttons."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url = http, url
        self.seen: list[dict[str, Any]] = []
        self.wait = 60.0  # seconds the sandbox waits for the bot's ack

    async def post(self, **kwargs: Any) -> list[dict[str, Any]]:
        async with self.http.post(
            f"{self.url}/sandbox/api/users/{USER}/send", params={"timeout": str(self.wait)}, **kwargs
        ) as resp:
            body = await resp.json()
        replies = list(body.get("replies") or [])
        self.seen.extend(r for r in replies if r.get("buttons"))
        return replies

    async def refresh(self) -> None:
        """Re-read the bot's messages from the sandbox: a reply that came after a killed step's
        short wait (a slow restart) is in the chat, not in the answer the test was given."""
        async with self.http.get(f"{self.url}/sandbox/api/users/{USER}/messages") as resp:
            messages = (await resp.json())["messages"]
        self.seen = [
            m for m in messages if m.get("from") == "bot" and not m.get("deleted") and m.get("buttons")
        ]

    async def sync(self) -> None:
        """Every bot message of the chat, as the user sees it: after a restart the update the killed
        bot had not finished is delivered again, and its answer comes after our request gave up."""
        async with self.http.get(f"{self.url}/sandbox/api/users/{USER}/messages") as resp:
            messages = (await resp.json())["messages"]
        self.seen = sorted((m for m in messages if m.get("buttons")), key=lambda m: m["message_id"])

    def button(self, label: str) -> tuple[str, int]:
        for message in reversed(self.seen):
            for row in message["buttons"]:
                for b in row:
                    if label in b["text"]:
                        return b["callback_data"], message["message_id"]
        raise AssertionError(f"no button {label!r}")

    async def press(self, label: str) -> Any:
        try:
            data, message_id = self.button(label)
        except AssertionError:  # the message came as an edit, or after a short wait: read the chat
            await self.refresh()
            data, message_id = self.button(label)
        return await self.post(json={"callback_data": data, "message_id": message_id})

    def send(self, text: str) -> Any:
        return self.post(json={"text": text})

    def upload(self, field: str, data: bytes) -> Any:
        form = aiohttp.FormData()
        form.add_field(field, data, filename="f.jpg" if field == "photo" else "v.mp4")
        return self.post(data=form)

    async def last_code(self) -> str:
        async with self.http.get(f"{self.url}/sandbox/api/sms", params={"phone": PHONE}) as resp:
            messages = (await resp.json())["messages"]
        return "".join(ch for ch in messages[-1]["text"] if ch.isdigit())[:6]


async def step_for(state: str | None, chat: Chat, edited: set[str]) -> Any:
    """The happy action for the state the database holds."""
    match state:
        case None:
            await chat.send("/start")
            await chat.press("实名信息采集")
            return chat.press("开始")
        case "CollectSG:document":
            return chat.press("身份证采集")
        case "CardSG:front":
            return chat.upload("photo", f"front:{NUMBER}".encode())
        case "CardSG:portrait":
            return chat.press("确定")
        case "CardSG:back":
            return chat.upload("photo", b"back:1")
        case "CardSG:verify":
            if "name" not in edited:
                edited.add("name")
                return chat.press("修改姓名")
            return chat.press("下一步")
        case "CardSG:edit":
            return chat.send("王小明")
        case "CollectSG:consent" | "FaceSG:agreement":
            return chat.press("我已阅读并同意")
        case "PhoneSG:number":
            return chat.send(PHONE)
        case "PhoneSG:code":
            return chat.send(await chat.last_code())
        case "FaceSG:video":
            # A new recording each time: a killed attempt's video counts as "already submitted".
            edited.add(f"video{len(edited)}")
            return chat.upload("video", f"selfie:{len(edited)}".encode())
    raise AssertionError(f"no action for {state}")


@pytest.fixture
async def sandbox() -> AsyncIterator[str]:
    async with SandboxServer(host="127.0.0.1", port=0) as server:
        yield server.url


async def inspect(settings: Settings) -> tuple[str | None, Any, list[Path]]:
    masters, current, index = settings.encryption_keys()
    cipher = FieldCipher.from_masters(masters, current=current, index_master=index)
    db = await Database.open(settings.db_path)
    try:
        async with db.read() as conn:
            row = await (await conn.execute("PRAGMA integrity_check")).fetchone()
        assert row is not None and row[0] == "ok"
        key = StorageKey(bot_id=BOT_ID, chat_id=USER, user_id=USER)
        state = await DatabaseStorage(db, cipher).get_state(key)
        person = await Repositories(db, cipher).persons.find_by_document(DocumentType.RESIDENT_ID, NUMBER)
    finally:
        await db.close()
    temp = [p for p in settings.media_dir.rglob(".tmp-*")]
    return state, person, temp


async def test_sigkill_at_random_points_then_restart(sandbox: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    rng = random.Random(20261127)
    bot = BotProcess(sandbox, tmp_path)
    await bot.start()
    edited: set[str] = set()
    kills: list[tuple[str | None, float]] = []
    done = False
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=180)) as http:
            chat = Chat(http, sandbox)
            for _ in range(40):
                state, person, temp = await inspect(settings)
                if person is not None:
                    # Never half-written: a record exists only whole.
                    assert person.phone is not None and person.live_photo is not None
                    assert len(person.consents) == 2
                    done = True
                    break
                is_last = state == "FaceSG:video"
                killed_last = any(s == "FaceSG:video" for s, _ in kills)
                kill_here = (is_last and not killed_last) or (
                    not is_last and rng.random() < 0.3 and len(kills) < 4
                )
                if not kill_here:
                    await (await step_for(state, chat, edited))
                    continue
                delay = rng.uniform(0, 0.15)
                kills.append((state, delay))
                # A short wait: an update the killed bot had confirmed is not delivered again.
                chat.wait = 8
                pending = asyncio.ensure_future(await step_for(state, chat, edited))
                await asyncio.sleep(delay)
                await bot.kill()
                await bot.start()
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    await asyncio.wait_for(pending, 90)
                await chat.sync()
                chat.wait = 60
                await chat.refresh()
                _, _, temp = await inspect(settings)
                assert not temp, "a half-written media file survived the restart"
    finally:
        await bot.stop()
    assert done, f"the dialog never finished; kills at {kills}"
    assert len(kills) >= 3, kills
    assert any(s == "FaceSG:video" for s, _ in kills)
    print(f"\nSIGKILL points (state, delay s): {[(s, round(d, 3)) for s, d in kills]}")
