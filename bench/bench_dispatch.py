"""CPU per plain update inside the bot's process, without the network: the load benchmark's walk fed
straight into the real dispatcher.

    .venv/bin/python bench/bench_dispatch.py [--users 200] [--repeat 3] [--profile out.pstats]

`bench/bench_load.py` measures throughput against a bare echo bot with the sandbox, the users and the
bot sharing the machine's cores, so a change of a few per cent drowns in its noise (±30 % with load).
This one measures what a change in the bot's own code does to its CPU: the real factory
(`bot.app.create_dispatcher`, SQLite in a temporary directory, the FSM in the database, the update
claim), updates parsed from JSON with the bot in context as polling does, and a session that builds
each call's JSON body (`RetryingSession.json_body`) and validates an answer shaped like Telegram's
(`check_response`): only aiohttp and the socket are left out. Users walk concurrently (`--users` at
once), so event isolation and the FSM locks work as under load. Printed: process CPU ms per update,
the median over `--repeat` passes (each pass a fresh set of users), and the Bot API calls per update.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, cast

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aiogram import Bot  # noqa: E402
from aiogram.client.default import DefaultBotProperties  # noqa: E402
from aiogram.enums import ParseMode  # noqa: E402
from aiogram.methods import TelegramMethod  # noqa: E402
from aiogram.methods.base import TelegramType  # noqa: E402
from aiogram.types import Update  # noqa: E402

from bot.app import create_dispatcher  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.runtime import tune_gc  # noqa: E402
from bot.services import Services  # noqa: E402
from bot.session import RetryingSession  # noqa: E402
from tests.helpers.fakes import FakeVerifier  # noqa: E402

BOT_ID = 42


class LoopbackSession(RetryingSession):
    """Answers each call in the process: the JSON body is built as for the wire, the answer is JSON
    text validated by aiogram's ``check_response``, as the real session's would be."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()
        self.last: dict[int, dict[str, Any]] = {}  # user id -> the last message with buttons
        self._ids = itertools.count(10_000)

    async def _send(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None  # noqa: ASYNC109
    ) -> TelegramType:
        name = method.__api_method__
        self.calls[name] += 1
        body = self.json_body(bot, method)
        sent: dict[str, Any] = json.loads(body) if body else {}
        result: Any = True
        if name in ("sendMessage", "editMessageText"):
            chat_id = int(sent.get("chat_id") or 0)
            message_id = int(sent.get("message_id") or next(self._ids))
            result = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "first_name": "user"},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "bot"},
                "text": sent.get("text", ""),
            }
            markup = sent.get("reply_markup")
            if isinstance(markup, dict) and "inline_keyboard" in markup:
                result["reply_markup"] = markup
                self.last[chat_id] = result
        raw = json.dumps({"ok": True, "result": result})
        response = self.check_response(bot=bot, method=method, status_code=200, content=raw)
        return cast(TelegramType, response.result)


class Walker:
    update_ids = itertools.count(1)

    def __init__(self, uid: int, session: LoopbackSession, feed: Any) -> None:
        self.uid, self.session, self.feed = uid, session, feed
        self.message_ids = itertools.count(1)
        self.errors = 0

    def _user(self) -> dict[str, Any]:
        return {"id": self.uid, "is_bot": False, "first_name": "用户", "language_code": "zh-hans"}

    async def send(self, text: str) -> None:
        message: dict[str, Any] = {
            "message_id": next(self.message_ids),
            "date": int(time.time()),
            "chat": {"id": self.uid, "type": "private", "first_name": "用户"},
            "from": self._user(),
            "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        await self.feed({"update_id": next(self.update_ids), "message": message})

    async def press(self, label: str) -> None:
        shown = self.session.last.get(self.uid)
        for row in (shown or {}).get("reply_markup", {}).get("inline_keyboard", []):
            for b in row:
                if label in b["text"]:
                    query = {
                        "id": str(next(self.update_ids)),
                        "from": self._user(),
                        "chat_instance": "ci",
                        "data": b["callback_data"],
                        "message": shown,
                    }
                    await self.feed({"update_id": next(self.update_ids), "callback_query": query})
                    return
        self.errors += 1


async def walk(user: Walker) -> None:
    """bench_load.walk_menus, step for step (18 updates)."""
    await user.send("/start")
    for label in ("办税", "实名信息", "实名采集信息补录", "返回"):
        await user.press(label)
    await user.send("/start")
    for label in ("我的", "企业办税人解绑"):
        await user.press(label)
    await user.send("/start")
    for label in ("实名信息采集", "开始", "其他证件", "港澳居民来往内地通行证"):
        await user.press(label)
    await user.send("陈大文")
    await user.send(f"H{user.uid:08d}")
    await user.send("1990-03-07")
    await user.press("返回")
    await user.send("/cancel")


STEPS = 18


async def bench(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, bot_token=None, sandbox=True, data_dir=Path(tmp), log_level="WARNING"
        )
        # Plain steps never verify: the scripted verifier of the tests spares loading the engines.
        services = await Services.build(settings, sandbox_url="http://127.0.0.1:9", verifier=FakeVerifier())
        session = LoopbackSession()
        bot = Bot("42:TEST", session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
        dp = create_dispatcher(settings, services)
        tune_gc()

        async def feed(raw: dict[str, Any]) -> None:
            update = Update.model_validate(raw, context={"bot": bot})
            await dp.feed_update(bot, update)

        cpu: list[float] = []
        profiler = cProfile.Profile() if args.profile else None
        errors = 0
        try:
            for rep in range(args.repeat + 1):  # pass 0 warms up (templates, first statements)
                users = [Walker(1_000_000 * (rep + 1) + u, session, feed) for u in range(args.users)]
                session.calls.clear()
                gc.collect()
                if profiler is not None and rep == 1:
                    profiler.enable()
                start = time.process_time()
                await asyncio.gather(*(walk(u) for u in users))
                spent = time.process_time() - start
                if profiler is not None and rep == 1:
                    profiler.disable()
                errors += sum(u.errors for u in users) if rep else 0
                if rep:
                    cpu.append(spent * 1000 / (args.users * STEPS))
                    print(f"pass {rep}: {cpu[-1]:.3f} ms CPU per update", flush=True)
        finally:
            await services.close()
        calls = {k: round(v / (args.users * STEPS), 2) for k, v in sorted(session.calls.items())}
        print(f"median {statistics.median(cpu):.3f} ms CPU per update over {args.repeat} passes of "
              f"{args.users} users x {STEPS} updates; Bot API calls per update {calls}; "
              f"missing buttons {errors}")
        if profiler is not None:
            profiler.dump_stats(args.profile)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", type=Path, help="cProfile the first measured pass into this file")
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
