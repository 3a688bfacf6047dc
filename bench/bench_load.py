"""Load benchmark: simulated users driving the local sandbox at once, against the real bot.

    .venv/bin/python bench/bench_load.py [--users 1000] [--media-users 20] [--video-users 5]
                                         [--markdown bench/RESULTS-load.md]

Three processes, like production: the sandbox (`python -m bot.sandbox`, standing in for Telegram),
the bot (this file with `--serve-bot`: `bot.__main__.run_polling`, i.e. the real factory, SQLite, the
real OCR and face engines in their process pool) and the users (this process, over HTTP).

Phases, in one run on one sandbox:
1. **echo**: a bare aiogram bot that echoes text (plus the sandbox's ack, so the sandbox does not wait
   for its quiet period) gets the same number of plain updates as phase 2, from the same users.
2. **plain**: every user walks the menus and the first steps of 实名信息采集 (other documents: type,
   name, number, birth date, back); the ratio of updates/s to phase 1 is printed.
3. **mixed**: the same walk for most users, while `--media-users` send ID-card photos (real OCR) and
   `--video-users` go through the other-document path to the face step and send a selfie video (real
   liveness check; identity registry preloaded, phone codes read from the sandbox's SMS).

Printed: updates/s, p50/p99 reply latency of plain steps and of verification steps (photo/video
upload → the bot's answer, queue wait included), errors (any non-200, timeout, silence, apology or
throttle notice; must be 0), and peak memory (RSS of the bot process plus its engine workers).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

APOLOGIES = ("抱歉，系统", "过于频繁", "系统繁忙")  # common.error, errors.*, throttle.*
SELFIE = "videos/live_open_mouth_varun.webm"  # mouth, then a blink: the challenge is pinned to it
CARD_PHOTOS = ("idcards/synthetic_zhangsan_color_front_back.jpg", "idcards/blank_template_front_back.jpg")


def testdata() -> Path:
    root = Path(os.environ.get("SHIMING_TESTDATA") or REPO.parent / "shared" / "testdata")
    if not root.is_dir():
        sys.exit("needs ../shared/testdata (or SHIMING_TESTDATA) for the photos and the selfie video")
    return root


# --- the bots under test (child processes) -----------------------------------------------------------


STATS_FILE = "bench-bot-stats.json"  # in the bot's data directory, written by its watcher
HEAP_FILE = "bench-bot-heap.json"  # written on SIGUSR1 with --stalls: the tracked objects by type


async def watch_bot(path: Path, profile: bool, stalls: Any = None) -> None:
    """In the bot's process: how late the event loop wakes (the longest stall per half second), the
    SQLite counters, and with ``profile`` a sampled split of the main thread's time by layer; written
    to ``path`` twice a second for the benchmark to read at each phase's start and end."""
    import json
    import threading

    try:
        from bot.storage.db import COUNTERS

        counters: Callable[[], dict[str, float]] = COUNTERS.snapshot
    except ImportError:  # a checkout before the counters (a "before" run)
        counters = dict
    windows: list[tuple[float, float]] = []  # (wall-clock end of a half second, its longest stall)
    layers: dict[str, int] = {}
    stop = threading.Event()
    if profile:
        main = threading.main_thread().ident
        threading.Thread(target=sample_layers, args=(main, layers, stop), daemon=True).start()
    tick = 0.005
    try:
        while True:
            longest, window_end = 0.0, time.perf_counter() + 0.5
            while time.perf_counter() < window_end:
                before = time.perf_counter()
                await asyncio.sleep(tick)
                longest = max(longest, time.perf_counter() - before - tick)
            windows.append((time.time(), longest))
            state = {"windows": windows, "sqlite": counters(), "layers": layers}
            if stalls is not None:
                state["stalls"] = stalls.snapshot()
            await asyncio.to_thread(path.write_text, json.dumps(state))
    finally:
        stop.set()


# First match from the innermost frame outwards names the layer a sample is charged to.
LAYERS = (
    ("idle (waiting for I/O)", ("selectors.py",)),
    ("SQLite (bot.storage.db, sqlite3)", ("bot/storage/db.py", "sqlite3")),
    ("pydantic (models, validation)", ("pydantic",)),
    ("Jinja2 (texts)", ("jinja2",)),
    ("HTTP + JSON (aiohttp, json, Bot API session)", ("aiohttp", "json/", "aiogram/client/")),
    ("logging", ("logging/",)),
    ("GC", ("<gc>",)),
    ("crypto (AES-GCM, HMAC)", ("cryptography", "bot/storage/crypto.py")),
    ("project (middlewares, dialogs, repositories, i18n)", ("/bot/",)),
    ("aiogram (dispatch, filters, FSM)", ("aiogram/",)),
    ("asyncio (event loop, tasks)", ("asyncio/",)),
)


def sample_layers(thread_id: int | None, layers: dict[str, int], stop: Any) -> None:
    """A sampling profiler of the main thread, 200 samples a second (py-spy is not installed)."""
    while not stop.wait(0.005):
        frame = sys._current_frames().get(thread_id or 0)
        name = "other"
        while frame is not None:
            path = frame.f_code.co_filename
            found = next((layer for layer, marks in LAYERS if any(m in path for m in marks)), None)
            if found is not None:
                name = found
                break
            frame = frame.f_back
        layers[name] = layers.get(name, 0) + 1


def py_spy_layers(raw: Path) -> dict[str, int]:
    """py-spy's raw (collapsed) stacks of the bot's main thread, charged to LAYERS as the in-process
    sampler does. py-spy reads the process from outside, so it is not biased towards the moments the
    main thread releases the GIL (SQLite calls, I/O), as a sampler thread inside the process is."""
    layers: dict[str, int] = {}
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if not any("run_forever" in f for f in frames):
            continue  # other threads (the SQLite checkpointer, the stall watcher, py-spy's own view)
        name = "other"
        for frame in reversed(frames):
            found = next((layer for layer, marks in LAYERS if any(m in frame for m in marks)), None)
            if found is None and "bot/" in frame and "site-packages" not in frame:
                found = "project (middlewares, dialogs, repositories, i18n)"
            if found is not None:
                name = found
                break
        layers[name] = layers.get(name, 0) + int(count)
    return layers


async def start_py_spy(pid: int, out: Path) -> asyncio.subprocess.Process | None:
    exe = shutil.which("py-spy")
    if exe is None:
        return None
    return await asyncio.create_subprocess_exec(
        exe, "record", "--pid", str(pid), "--rate", "200", "--format", "raw", "--nonblocking",
        "--output", str(out), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )


async def stop_py_spy(proc: asyncio.subprocess.Process | None, out: Path) -> dict[str, int]:
    if proc is None:
        return {}
    proc.send_signal(signal.SIGINT)  # py-spy writes its file when interrupted
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), 30)
    try:
        return py_spy_layers(out)
    except OSError:  # py-spy could not attach (ptrace not permitted): no split
        return {}


def serve_bot(
    url: str, data_dir: str, profile: bool = False, stalls: bool = False, gen0: int | None = None
) -> None:
    import bot.runtime
    from bot.__main__ import run_polling

    if gen0 is not None:  # read by tune_gc() when run_polling calls it
        bot.runtime.GC_GEN0_THRESHOLD = gen0
    from bot.config import Settings

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        sandbox=True,
        data_dir=Path(data_dir),
        liveness_challenge="open_mouth,blink",  # type: ignore[arg-type]
        log_level="WARNING",
    )

    probe = None
    if stalls or gen0 is not None:
        from stallprobe import StallProbe

        probe = StallProbe()
        probe.install(callbacks=stalls)  # collections always timed in a --gc-sweep

    async def main() -> None:
        if probe is not None and stalls:
            heap = str(Path(data_dir) / HEAP_FILE)
            asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, probe.dump_heap, heap)
        watcher = asyncio.create_task(watch_bot(Path(data_dir) / STATS_FILE, profile, probe))
        try:
            await run_polling(settings, api_base=url)
        finally:
            watcher.cancel()

    with contextlib.suppress(KeyboardInterrupt):  # the benchmark stops it with SIGINT
        asyncio.run(main())


def serve_echo(url: str) -> None:
    from aiogram import Bot, Dispatcher
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.types import CallbackQuery, Message

    from bot.middlewares import SandboxAck, SandboxAckMiddleware

    async def main() -> None:
        bot = Bot("200000:ECHO-bench", session=AiohttpSession(api=TelegramAPIServer.from_base(url)))
        dp = Dispatcher()
        dp.update.outer_middleware(SandboxAckMiddleware())

        @dp.message()
        async def echo(message: Message) -> None:
            await message.answer(message.text or "?")

        @dp.callback_query()
        async def pressed(query: CallbackQuery) -> None:
            await query.answer()

        async def declare(bot: Bot) -> None:
            await bot(SandboxAck())

        dp.startup.register(declare)
        await dp.start_polling(bot, handle_signals=False, polling_timeout=1)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


# --- measuring ---------------------------------------------------------------------------------------------


@dataclass
class Stats:
    plain: list[float] = field(default_factory=list)
    verification: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    updates: int = 0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class User:
    def __init__(self, http: aiohttp.ClientSession, url: str, uid: int, stats: Stats) -> None:
        self.http, self.url, self.uid, self.stats = http, url, uid, stats
        self.last: list[dict[str, Any]] = []

    async def _post(self, kind: str, check: bool = True, **kwargs: Any) -> list[dict[str, Any]]:
        started = time.perf_counter()
        try:
            async with self.http.post(
                f"{self.url}/sandbox/api/users/{self.uid}/send", params={"timeout": "300"}, **kwargs
            ) as resp:
                body = await resp.json()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.stats.error(type(exc).__name__)
            return []
        elapsed = time.perf_counter() - started
        self.stats.updates += 1
        (self.stats.verification if kind == "verification" else self.stats.plain).append(elapsed)
        if status != 200:
            self.stats.error(f"http {status}")
            return []
        replies = list(body.get("replies") or [])
        answer = body.get("callback_answer") or {}
        shown = " ".join([r.get("text") or "" for r in replies] + [answer.get("text") or ""])
        if check and not replies and not answer:
            self.stats.error("silence")
        if any(a in shown for a in APOLOGIES):
            self.stats.error("apology or throttle")
        if replies:
            self.last = replies
        return replies

    async def send(self, text: str, check: bool = True) -> list[dict[str, Any]]:
        return await self._post("plain", check, json={"text": text})

    async def press(self, label: str) -> list[dict[str, Any]]:
        for message in reversed(self.last):
            for row in message.get("buttons") or []:
                for b in row:
                    if label in b["text"]:
                        return await self._post(
                            "plain",
                            json={"callback_data": b["callback_data"], "message_id": message["message_id"]},
                        )
        self.stats.error(f"no button {label}")
        return []

    async def upload(self, kind: str, data: bytes, name: str) -> list[dict[str, Any]]:
        form = aiohttp.FormData()
        form.add_field(kind, data, filename=name)
        return await self._post("verification", data=form)

    async def sms_code(self, phone: str) -> str:
        async with self.http.get(f"{self.url}/sandbox/api/sms", params={"phone": phone}) as resp:
            messages = (await resp.json())["messages"]
        return "".join(ch for ch in messages[-1]["text"] if ch.isdigit())[:6] if messages else "000000"


def permit(uid: int) -> str:
    return f"H{uid:08d}"


async def walk_menus(user: User) -> None:
    """Menus and the first steps of a collection by other documents: plain steps only."""
    await user.send("/start")
    await user.press("办税")
    await user.press("实名信息")
    await user.press("实名采集信息补录")
    await user.press("返回")
    await user.send("/start")
    await user.press("我的")
    await user.press("企业办税人解绑")
    await user.send("/start")
    await user.press("实名信息采集")
    await user.press("开始")
    await user.press("其他证件")
    await user.press("港澳居民来往内地通行证")
    await user.send("陈大文")
    await user.send(permit(user.uid))
    await user.send("1990-03-07")
    await user.press("返回")
    await user.send("/cancel")


async def echo_walk(user: User, steps: int) -> None:
    for i in range(steps):
        await user.send(f"echo {i}")


async def photo_user(user: User, photos: list[bytes], until: asyncio.Event | None = None) -> None:
    """Card photos, one after another (real OCR), until ``until`` is set (once without it): so that
    ``--media-users`` verifications are under way for the whole of the mixed phase."""
    while True:
        await user.send("/start")
        await user.press("实名信息采集")
        await user.press("开始")
        await user.press("身份证采集")
        for i, photo in enumerate(photos):
            await user.upload("photo", photo, f"card{i}.jpg")
        await user.send("/cancel")
        if until is None or until.is_set():
            return


async def video_user(user: User, video: bytes) -> None:
    await user.send("/start")
    await user.press("实名信息采集")
    await user.press("开始")
    await user.press("其他证件")
    await user.press("港澳居民来往内地通行证")
    await user.send("陈大文")
    await user.send(permit(user.uid))
    await user.send("1990-03-07")
    await user.press("保存实名")
    await user.press("我已阅读并同意")  # consent, then the (sandbox) identity authority
    phone = f"137{user.uid:08d}"
    await user.send(phone)
    await user.send(await user.sms_code(phone))
    await user.press("我已阅读并同意")  # the face-recognition agreement
    replies = await user.upload("video_note", video, "selfie.mp4")
    if not any("采集成功" in (r.get("text") or "") or "人脸识别" in (r.get("text") or "") for r in replies):
        user.stats.error("no face verdict")


async def run_phase(
    url: str, users: list[tuple[int, Callable[[User], Awaitable[None]]]], stats: Stats
) -> float:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as http:
        rng = random.Random(7)

        async def one(uid: int, script: Callable[[User], Awaitable[None]]) -> None:
            await asyncio.sleep(rng.uniform(0, 1.0))  # users do not all press at the same millisecond
            await script(User(http, url, uid, stats))

        started = time.perf_counter()
        await asyncio.gather(*(one(uid, script) for uid, script in users))
        return time.perf_counter() - started


# --- processes ----------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def spawn(
    *args: str, env: dict[str, str] | None = None, cwd: Path = REPO, **kwargs: Any
) -> asyncio.subprocess.Process:
    """A Python child: this interpreter, this checkout first on its path; ``env`` replaces ours."""
    env = {**(os.environ if env is None else env), "PYTHONPATH": str(REPO)}
    return await asyncio.create_subprocess_exec(sys.executable, *args, cwd=cwd, env=env, **kwargs)


async def wait_polling(http: aiohttp.ClientSession, url: str, patience: float = 300) -> None:
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(f"{url}/sandbox/api/health") as resp:
                if (await resp.json()).get("bot_polling"):
                    return
        await asyncio.sleep(0.3)
    raise TimeoutError("the bot did not start polling")


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children.get(current, []))
    return found


def tree_rss(pid: int, children: bool = True) -> int:
    """Resident bytes of a process and (unless ``children`` is false) all its descendants."""
    total = 0
    for current in process_tree(pid) if children else [pid]:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def bot_stats(data_dir: Path) -> dict[str, Any]:
    import json

    with contextlib.suppress(OSError, ValueError):
        return dict(json.loads((data_dir / STATS_FILE).read_text()))
    return {"windows": [], "sqlite": {}, "layers": {}}


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of a process's threads by kind: its main thread, SQLite threads, the rest."""
    out = {"main": 0.0, "sqlite": 0.0, "other threads": 0.0}
    tick = os.sysconf("SC_CLK_TCK")
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
                name = stat[stat.index("(") + 1 : stat.rindex(")")]
                fields = stat.rsplit(")", 1)[1].split()
                seconds = (int(fields[11]) + int(fields[12])) / tick
                kind = (
                    "main" if int(tid) == pid else "sqlite" if name.startswith("sqlite") else "other threads"
                )
                out[kind] += seconds
    return out


@dataclass
class BotProbe:
    """What the bot process did during a phase: SQLite counters, loop stalls, CPU by thread, layers."""

    pid: int
    data_dir: Path
    started: float = 0.0
    before: dict[str, Any] = field(default_factory=dict)
    cpu_before: dict[str, float] = field(default_factory=dict)

    async def start(self) -> None:
        await asyncio.sleep(0.6)  # a fresh half-second window of the watcher
        self.started = time.time()
        self.before = bot_stats(self.data_dir)
        self.cpu_before = thread_cpu(self.pid)

    async def finish(self, row: dict[str, Any]) -> None:
        ended = time.time()
        cpu = thread_cpu(self.pid)
        await asyncio.sleep(0.6)
        after = bot_stats(self.data_dir)
        updates = max(1, row["updates"])
        stalls = [lag for t, lag in after["windows"] if self.started < t <= ended + 0.5]
        row["loop_stall_max_ms"] = max(stalls, default=float("nan")) * 1000
        ordered = sorted(stalls)
        row["loop_stall_p99_ms"] = (
            ordered[int(0.99 * (len(ordered) - 1))] if ordered else float("nan")
        ) * 1000
        sql0, sql1 = self.before.get("sqlite", {}), after.get("sqlite", {})
        row["sql_per_update"] = {
            k: (v - sql0.get(k, 0)) / updates for k, v in sql1.items() if isinstance(v, (int, float))
        }
        h0, h1 = sql0.get("hops_by_text", {}), sql1.get("hops_by_text", {})
        row["hops_by_text"] = {k: v - h0.get(k, 0) for k, v in h1.items() if v > h0.get(k, 0)}
        row["cpu_ms_per_update"] = {k: (cpu[k] - self.cpu_before.get(k, 0.0)) * 1000 / updates for k in cpu}
        row["main_busy"] = (cpu["main"] - self.cpu_before.get("main", 0.0)) / max(1e-9, ended - self.started)
        if "stalls" in after:
            row["stalls"] = stall_delta(self.before.get("stalls", {}), after["stalls"])
            for generation, d in row["stalls"]["gc"].items():  # the phase's longest, not the run's
                inside = [e for e in after["stalls"].get("gc_events", []) if self.started < e[0] <= ended]
                mine = [e for e in inside if str(e[1]) == generation]
                d["max_ms"] = max((e[2] for e in mine), default=0.0)
                d["max_cpu_ms"] = max((e[3] for e in mine), default=0.0)
            if after["stalls"].get("callbacks"):  # --stalls: what a full collection walks, by type
                import json

                os.kill(self.pid, signal.SIGUSR1)
                await asyncio.sleep(3)
                with contextlib.suppress(OSError, ValueError):
                    row["heap"] = json.loads((self.data_dir / HEAP_FILE).read_text())
        l0, l1 = self.before.get("layers", {}), after.get("layers", {})
        row["layers"] = {k: l1[k] - l0.get(k, 0) for k in l1}


def stall_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The stall probe's counts during a phase (its longest-N lists are for the whole run)."""
    out = dict(after)
    out.pop("gc_events", None)  # used for the phase's longest collections, in BotProbe.finish
    for key in ("callbacks", "callback_wall_s", "callback_cpu_s", "iterations", "gc_collected"):
        out[key] = after.get(key, 0) - before.get(key, 0)
    for key in ("callback_hist_ms", "iteration_hist_ms"):
        b = before.get(key, {})
        out[key] = {k: v - b.get(k, 0) for k, v in after.get(key, {}).items()}
    gb = before.get("gc", {})
    out["gc"] = {
        g: {
            "n": d["n"] - gb.get(g, {}).get("n", 0),
            "total_ms": d["total_ms"] - gb.get(g, {}).get("total_ms", 0.0),
            "cpu_ms": d["cpu_ms"] - gb.get(g, {}).get("cpu_ms", 0.0),
            "max_ms": d["max_ms"],
            "max_cpu_ms": d["max_cpu_ms"],
        }
        for g, d in after.get("gc", {}).items()
    }
    ab = before.get("api_calls", {})
    out["api_calls"] = {k: v - ab.get(k, 0) for k, v in after.get("api_calls", {}).items()}
    sb = before.get("stacks", {})
    stacks = {k: v - sb.get(k, 0) for k, v in after.get("stacks", {}).items()}
    out["stacks"] = sorted(((k, v) for k, v in stacks.items() if v > 0), key=lambda kv: -kv[1])
    return out


def stall_report(row: dict[str, Any]) -> list[str]:
    s = row.get("stalls")
    if not s or not s.get("callbacks"):
        return []
    n = max(1, row["updates"])
    lines = [
        "",
        f"Stall probe, {row['phase']}: {s['callbacks'] / n:.1f} loop callbacks per update, "
        f"{s['callback_wall_s'] * 1000 / n:.2f} ms wall / {s['callback_cpu_s'] * 1000 / n:.2f} ms CPU "
        f"in callbacks per update; {s['iterations'] / n:.2f} loop iterations per update.",
        "",
        "| ≥ ms | callbacks | iterations (time running callbacks) |",
        "|---|---|---|",
    ]
    for edge, count in s["callback_hist_ms"].items():
        lines.append(f"| {edge} | {count} | {s['iteration_hist_ms'].get(edge, 0)} |")
    lines += [
        "",
        "| GC generation | collections | per 1,000 updates | wall / CPU ms | CPU ms per update "
        "| longest in the phase, wall / CPU ms |",
        "|---|---|---|---|---|---|",
    ]
    for g, d in s["gc"].items():
        lines.append(
            f"| {g} | {d['n']} | {d['n'] * 1000 / n:.1f} | {d['total_ms']:.0f} / {d['cpu_ms']:.0f} "
            f"| {d['cpu_ms'] / n:.3f} | {d['max_ms']:.1f} / {d['max_cpu_ms']:.1f} |"
        )
    lines += ["", "Longest callbacks of the run (wall ms, CPU ms, what):", ""]
    lines += [f"- {w:.1f} / {c:.1f}: {what}" for w, c, what in s["longest_callbacks"][:10]]
    lines += ["", "Longest iterations (ms running callbacks, callbacks): " + ", ".join(
        f"{b:.0f} ({k})" for b, k in s["longest_iterations"]
    )]
    calls = s.get("api_calls") or {}
    if calls:
        lines += ["", "Bot API calls per update: " + ", ".join(
            f"{k} {v / n:.2f}" for k, v in sorted(calls.items(), key=lambda kv: -kv[1])
        ) + "."]
    heap = row.get("heap")
    if heap:
        lines += [
            "",
            f"Objects the collector tracks after the phase: {heap['tracked']:,} (generations "
            f"{' / '.join(f'{g:,}' for g in heap['generations'])}; {heap['frozen']:,} frozen, not walked). "
            "By type: " + ", ".join(f"{t} {c:,}" for t, c in heap["types"][:15]) + ". By module: "
            + ", ".join(f"{m} {c:,}" for m, c in heap["modules"][:10]) + ".",
        ]
    if s.get("stacks"):
        lines += ["", "Stacks inside callbacks longer than 20 ms (2 ms samples):", ""]
        lines += [f"- {count} × {where}" for where, count in s["stacks"][:12]]
    return lines


def summary(name: str, stats: Stats, seconds: float) -> dict[str, Any]:
    return {
        "phase": name,
        "updates": stats.updates,
        "seconds": seconds,
        "ups": stats.updates / seconds if seconds else 0.0,
        "plain_p50": pct(stats.plain, 0.50) * 1000,
        "plain_p99": pct(stats.plain, 0.99) * 1000,
        "verif_n": len(stats.verification),
        "verif_p50": pct(stats.verification, 0.50) * 1000,
        "verif_p99": pct(stats.verification, 0.99) * 1000,
        "errors": sum(stats.errors.values()),
        "error_kinds": dict(stats.errors),
    }


async def preload_registry(data_dir: Path, uids: list[int]) -> None:
    from bot.config import Settings
    from bot.domain.identity import IdentityRecord
    from bot.services import Services
    from bot.storage.repositories import Repositories
    from bot.verification.ids import DocumentType

    settings = Settings(_env_file=None, sandbox=True, data_dir=data_dir)  # type: ignore[call-arg]
    services = await Services.build(settings, sandbox_url="http://127.0.0.1:9", verifier=object())
    try:
        records = [
            IdentityRecord(DocumentType.HK_MACAU_PERMIT, permit(u), "陈大文", date(1990, 3, 7)) for u in uids
        ]
        await Repositories(services.db, services.cipher).identity_registry.load(records, loaded_by=None)
    finally:
        await services.close()


async def bot_phases(
    args: argparse.Namespace,
    url: str,
    http: aiohttp.ClientSession,
    gen0: int | None,
    photos: list[bytes],
    video: bytes,
    echo_round: Callable[[int], Awaitable[dict[str, Any]]] | None = None,
) -> list[dict[str, Any]]:
    """A fresh bot (fresh data directory): its plain phase and, unless skipped, its mixed phase.

    With ``echo_round`` (``--rounds``), each of the ``args.rounds`` plain phases follows an echo phase
    measured by it, both bots polling the same sandbox all along: the pairs see the same machine, so
    their ratios can be compared when the machine's speed drifts between runs."""
    results: list[dict[str, Any]] = []
    n = args.users
    suffix = "" if gen0 is None else f", gen-0 threshold {gen0}"
    with tempfile.TemporaryDirectory(prefix="bench-load-") as data:
        video_uids = [300_000 + u for u in range(args.video_users)]
        await preload_registry(Path(data), video_uids)
        # --profile: py-spy from outside when it is installed, else the bot's own sampler thread.
        inside = args.profile and shutil.which("py-spy") is None
        flags = (["--profile"] if inside else []) + (["--stalls"] if args.stalls else [])
        flags += [] if gen0 is None else ["--gc-gen0", str(gen0)]
        bot = await spawn(__file__, "--serve-bot", url, data, *flags)
        probe = BotProbe(bot.pid, Path(data))
        peak = peak_main = 0
        sampling = True

        async def sample() -> None:
            nonlocal peak, peak_main
            while sampling:
                peak = max(peak, tree_rss(bot.pid))
                peak_main = max(peak_main, tree_rss(bot.pid, children=False))
                await asyncio.sleep(0.25)

        sampler = asyncio.create_task(sample())
        try:
            await wait_polling(http, url)
            # Warm-up, not measured: the engine workers load their models at start.
            await run_phase(url, [(199_999, walk_menus)], Stats())
            await asyncio.sleep(args.warmup)
            # 2. plain: the same number of users and plain updates as the echo phase
            rounds = args.rounds if echo_round is not None else 1
            for r in range(rounds):
                if echo_round is not None:
                    results.append(await echo_round(r))
                    print(results[-1], flush=True)
                stats = Stats()
                spy_out = Path(data) / f"py-spy-{r}.txt"
                spy = await start_py_spy(bot.pid, spy_out) if args.profile else None
                await probe.start()
                secs = await run_phase(url, [(200_000 + r * n + u, walk_menus) for u in range(n)], stats)
                results.append(summary("bot, plain steps" + suffix, stats, secs))
                await probe.finish(results[-1])
                if spy is not None:
                    results[-1]["layers"] = await stop_py_spy(spy, spy_out)
                    results[-1]["layers_by"] = "py-spy"
                results[-1]["gen0"] = gen0
                results[-1]["round"] = r + 1
                print(results[-1], flush=True)
            # 3. mixed
            if not args.skip_mixed and not args.gc_sweep:
                stats = Stats()
                media = args.media_users
                users: list[tuple[int, Callable[[User], Awaitable[None]]]] = []
                users += [(uid, lambda usr: video_user(usr, video)) for uid in video_uids]
                users += [(310_000 + u, lambda usr: photo_user(usr, photos, walked)) for u in range(media)]
                walkers = n - media - len(video_uids)
                walked = asyncio.Event()
                left = [walkers]

                async def walker(usr: User) -> None:
                    await walk_menus(usr)
                    left[0] -= 1
                    if left[0] <= 0:
                        walked.set()

                users += [(400_000 + u, walker) for u in range(walkers)]
                await probe.start()
                secs = await run_phase(url, users, stats)
                results.append(summary("bot, mixed (menus + photos + videos)", stats, secs))
                await probe.finish(results[-1])
                print(results[-1], flush=True)
        finally:
            sampling = False
            await sampler
            await stop(bot)
        for row in results:
            if not row["phase"].startswith("echo"):  # the echo rows of --rounds: another process
                row["peak_rss_mb"] = peak / 2**20
                row["peak_main_rss_mb"] = peak_main / 2**20
    return results


async def bench(args: argparse.Namespace) -> list[dict[str, Any]]:
    root = testdata()
    photos = [(root / p).read_bytes() for p in CARD_PHOTOS]
    video = (root / SELFIE).read_bytes()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # Capacity, not Telegram's limits: its 30 messages a second per bot would be the only figure measured.
    sandbox = await spawn(
        "-m", "bot.sandbox", "--port", str(port), "--send-timeout", "300", "--no-flood-control"
    )
    results: list[dict[str, Any]] = []
    plain_steps = 18  # the length of walk_menus
    n = args.users
    try:
        async with aiohttp.ClientSession() as http:
            await asyncio.sleep(1.5)
            # 1. echo. With --rounds it polls a sandbox of its own, kept (idle) while the bot's phases run:
            # a sandbox hands each update to whichever bot polls, so two bots cannot share one.
            alternate = args.rounds > 1 and not args.gc_sweep
            echo_url = url
            if alternate:
                echo_port = free_port()
                echo_url = f"http://127.0.0.1:{echo_port}"
                echo_sandbox = await spawn(
                    "-m", "bot.sandbox", "--port", str(echo_port), "--send-timeout", "300",
                    "--no-flood-control",
                )
                await asyncio.sleep(1.5)
            echo = await spawn(__file__, "--serve-echo", echo_url)

            async def echo_round(r: int) -> dict[str, Any]:
                stats = Stats()
                users: list[tuple[int, Callable[[User], Awaitable[None]]]] = [
                    (100_000 + r * n + u, lambda usr: echo_walk(usr, plain_steps)) for u in range(n)
                ]
                secs = await run_phase(echo_url, users, stats)
                row = summary("echo (bare aiogram)", stats, secs)
                row["round"] = r + 1
                return row

            try:
                await wait_polling(http, echo_url)
                await run_phase(echo_url, [(99_999, lambda usr: echo_walk(usr, 3))], Stats())
                if alternate:
                    # Echo and bot phases alternate, each bot idle on its own sandbox meanwhile.
                    return results + await bot_phases(args, url, http, None, photos, video, echo_round)
                results.append(await echo_round(0))
            finally:
                await stop(echo)
                if alternate:
                    await stop(echo_sandbox)
            print(results[-1], flush=True)
            # One bot per young-generation threshold with --gc-sweep (the plain phase only), else one.
            for gen0 in args.gc_sweep or [None]:
                results += await bot_phases(args, url, http, gen0, photos, video)
    finally:
        await stop(sandbox)
    return results


# --- --baseline-tree: this checkout's bot against another's, in one run ----------------------------------


async def wait_while(path: Path | None) -> float:
    """Seconds waited while ``path`` exists (someone else is measuring on this machine)."""
    waited = 0.0
    while path is not None and await asyncio.to_thread(path.exists):
        await asyncio.sleep(5)
        waited += 5
    return waited


async def baseline_bench(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The plain phase of the bot of ``--baseline-tree`` (another checkout, e.g. a detached worktree of
    an earlier commit) and of this checkout's bot, ``--rounds`` times, alternating which goes first
    (baseline first in odd rounds): each bot polls a sandbox of its own (this checkout's), fresh data
    directory, idle while the other is measured, so both see the same machine."""
    trees = {"baseline": args.baseline_tree, "current": REPO}
    bots: dict[str, tuple[str, BotProbe]] = {}
    results: list[dict[str, Any]] = []
    n = args.users
    async with aiohttp.ClientSession() as http, contextlib.AsyncExitStack() as stack:
        for name, tree in trees.items():
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            sandbox = await spawn(
                "-m", "bot.sandbox", "--port", str(port), "--send-timeout", "300", "--no-flood-control"
            )
            stack.push_async_callback(stop, sandbox)
            data = stack.enter_context(tempfile.TemporaryDirectory(prefix=f"bench-load-{name}-"))
            await asyncio.sleep(1.5)
            # Two bots at once: neither serves the portal API (one port; the plain walk does not use it).
            env = {**os.environ, "HANDOFF_PORT": "0"}
            proc = await spawn(__file__, "--serve-bot", url, data, "--bot-tree", str(tree), env=env)
            stack.push_async_callback(stop, proc)
            bots[name] = (url, BotProbe(proc.pid, Path(data)))
        for url, _ in bots.values():
            await wait_polling(http, url)
            # Warm-up, not measured: the engine workers load their models at start.
            await run_phase(url, [(199_999, walk_menus)], Stats())
        await asyncio.sleep(args.warmup)
        for r in range(args.rounds):
            order = list(bots) if r % 2 == 0 else list(reversed(bots))
            for name in order:
                url, probe = bots[name]
                paused = await wait_while(args.pause_while)
                stats = Stats()
                await probe.start()
                users = [(200_000 + r * n + u, walk_menus) for u in range(n)]
                secs = await run_phase(url, users, stats)
                row = summary(f"{name}, plain steps", stats, secs)
                await probe.finish(row)
                row.update(round=r + 1, tree=str(trees[name]), load1=os.getloadavg()[0], paused_s=paused)
                results.append(row)
                print(row, flush=True)
    return results


def baseline_report(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    """Both bots' throughput and CPU per update by round, their medians, and current / baseline."""
    lines = [
        f"# Load benchmark, baseline against current ({date.today().isoformat()})",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"{args.users} simulated users at once, plain steps only (walk_menus), {args.rounds} rounds "
        "alternating which bot goes first; each bot on a sandbox of its own.",
        f"Baseline: {args.baseline_tree}. Current: {REPO}.",
        "",
        "| round | bot | updates | s | updates/s | plain p50 ms | plain p99 ms | CPU ms/update (main "
        "thread) | CPU ms/update (all threads) | errors | load avg (1 min) after |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    by: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        name = r["phase"].split(",")[0]
        by.setdefault(name, []).append(r)
        c = r.get("cpu_ms_per_update", {})
        lines.append(
            f"| {r['round']} | {name} | {r['updates']} | {r['seconds']:.1f} | {r['ups']:.0f} "
            f"| {r['plain_p50']:.0f} | {r['plain_p99']:.0f} | {c.get('main', 0):.2f} "
            f"| {sum(c.values()):.2f} | {r['errors']} | {r['load1']:.2f} |"
        )
    base, cur = by.get("baseline", []), by.get("current", [])
    ratios = [c["ups"] / b["ups"] for b, c in zip(base, cur, strict=False) if b["ups"]]

    def med(rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], float]) -> float:
        return statistics.median(key(r) for r in rows) if rows else float("nan")

    lines += ["", "| bot | median updates/s | median CPU ms/update (main) | median CPU ms/update (all) |"]
    lines += ["|---|---|---|---|"]
    for name, rows in (("baseline", base), ("current", cur)):
        lines.append(
            f"| {name} | {med(rows, lambda r: r['ups']):.0f} "
            f"| {med(rows, lambda r: r.get('cpu_ms_per_update', {}).get('main', 0.0)):.2f} "
            f"| {med(rows, lambda r: sum(r.get('cpu_ms_per_update', {}).values())):.2f} |"
        )
    each = " / ".join(f"{x:.2f}" for x in ratios)
    ratio = statistics.median(ratios) if ratios else float("nan")
    lines += [
        "",
        f"Throughput current / baseline, per round: {each}; median **{ratio:.2f}**.",
        "",
        f"Load average (1 min) at the start: {args.load_before:.2f}; at the end: {os.getloadavg()[0]:.2f}.",
        "",
    ]
    kinds = {k: v for r in results for k, v in r["error_kinds"].items()}
    if kinds:
        lines.append(f"Errors by kind: {kinds}")
    return "\n".join(lines) + "\n"


def round_ratios(results: list[dict[str, Any]]) -> list[float]:
    """Bot / echo throughput of each (echo, plain) pair of rows, in order."""
    ratios, echo = [], None
    for r in results:
        if r["phase"].startswith("echo"):
            echo = r
        elif r["phase"].startswith("bot, plain") and echo is not None and echo["ups"]:
            ratios.append(r["ups"] / echo["ups"])
            echo = None
    return ratios


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    echo, plain = results[0], results[1]
    lines = [
        f"# Load benchmark ({date.today().isoformat()})",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"{args.users} simulated users at once, {args.media_users} sending ID-card photos (real OCR), "
        f"{args.video_users} going to the face step with a selfie video (real liveness). "
        "Sandbox, bot (+ engine workers) and users in three processes on the same machine.",
        "",
        "| phase | updates | s | updates/s | plain p50 ms | plain p99 ms | verif. n | verif. p50 ms "
        "| verif. p99 ms | errors | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['phase']} | {r['updates']} | {r['seconds']:.1f} | {r['ups']:.0f} | {r['plain_p50']:.0f} "
            f"| {r['plain_p99']:.0f} | {r['verif_n']} | {r['verif_p50']:.0f} | {r['verif_p99']:.0f} "
            f"| {r['errors']} | {r.get('peak_rss_mb', float('nan')):.0f} |"
        )
    ratio = plain["ups"] / echo["ups"] if echo["ups"] else float("nan")
    ratios = round_ratios(results)
    if len(ratios) > 1:
        ratio = statistics.median(ratios)
        each = " / ".join(f"{x:.2f}" for x in ratios)
        lines += ["", f"Plain-step throughput, bot / bare echo bot, per round: {each}; "
                  f"median **{ratio:.2f}**", ""]
    else:
        lines += ["", f"Plain-step throughput, bot / bare echo bot: **{ratio:.2f}**", ""]
    lines += [
        f"Load average (1 min) at the start: {args.load_before:.2f}; at the end: {os.getloadavg()[0]:.2f}.",
        "",
        "| bot phase | longest loop stall ms | p99 of half-second stall maxima ms | main thread busy "
        "| CPU ms/update main / SQLite threads / other threads |",
        "|---|---|---|---|---|",
    ]
    for r in results[1:]:
        if r["phase"].startswith("echo"):
            continue
        c = r.get("cpu_ms_per_update", {})
        lines.append(
            f"| {r['phase']} | {r.get('loop_stall_max_ms', float('nan')):.1f} "
            f"| {r.get('loop_stall_p99_ms', float('nan')):.1f} | {r.get('main_busy', float('nan')):.0%} "
            f"| {c.get('main', 0):.2f} / {c.get('sqlite', 0):.2f} / {c.get('other threads', 0):.2f} |"
        )
    q = plain.get("sql_per_update", {})
    if q:
        lines += [
            "",
            "Per plain update (SQLite, bot process): "
            f"{q.get('statements', 0):.2f} statements, {q.get('on_loop', 0):.2f} on the event loop, "
            f"{q.get('thread_hops', 0):.2f} thread hops, {q.get('commits', 0):.2f} commits, "
            f"{q.get('busy_retries', 0):.3f} busy retries, "
            f"{q.get('budget_retries', 0):.3f} over-budget retries; "
            f"statements held the loop {q.get('loop_seconds', 0) * 1000:.3f} ms per update.",
        ]
        hops = plain.get("hops_by_text") or {}
        if hops:
            lines += ["", "Thread hops of the plain phase, by statement: " + "; ".join(
                f"{count} × {text}" for text, count in sorted(hops.items(), key=lambda kv: -kv[1])
            )]
    sweep = [r for r in results[1:] if r.get("gen0") is not None]
    if sweep:
        lines += [
            "",
            "Young-generation (gen-0) threshold, one fresh bot each, plain phase:",
            "",
            "| gen-0 threshold | updates/s | × echo | main thread CPU ms/update | collections per 1,000 "
            "updates (gen 0 / 1 / 2) | GC CPU ms/update | longest collection wall / CPU ms "
            "| longest loop stall ms | plain p50 / p99 ms | bot process peak RSS MB |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in sweep:
            g = r.get("stalls", {}).get("gc", {})
            per = " / ".join(f"{g.get(k, {}).get('n', 0) * 1000 / max(1, r['updates']):.1f}" for k in "012")
            gc_cpu = sum(d.get("cpu_ms", 0.0) for d in g.values()) / max(1, r["updates"])
            longest = max(g.values(), key=lambda d: d.get("max_ms", 0.0), default={})
            lines.append(
                f"| {r['gen0']} | {r['ups']:.0f} | {r['ups'] / echo['ups']:.2f} "
                f"| {r.get('cpu_ms_per_update', {}).get('main', 0.0):.2f} | {per} | {gc_cpu:.3f} "
                f"| {longest.get('max_ms', 0.0):.1f} / {longest.get('max_cpu_ms', 0.0):.1f} "
                f"| {r.get('loop_stall_max_ms', float('nan')):.0f} "
                f"| {r['plain_p50']:.0f} / {r['plain_p99']:.0f} "
                f"| {r.get('peak_main_rss_mb', float('nan')):.0f} |"
            )
    for r in results[1:]:
        lines += stall_report(r)
    layers = plain.get("layers") or {}
    total = sum(layers.values())
    if total:
        busy = total - layers.get("idle (waiting for I/O)", 0)
        by = plain.get("layers_by") or "a thread in the bot (biased to SQLite and I/O: see py_spy_layers)"
        lines += ["", f"Main thread of the bot, plain phase, sampled by {by} ({total} samples, {busy} busy):"]
        lines += [""]
        lines += ["| layer | share of busy samples |", "|---|---|"]
        for name, count in sorted(layers.items(), key=lambda kv: -kv[1]):
            if name != "idle (waiting for I/O)":
                lines.append(f"| {name} | {count / max(1, busy):.0%} |")
    lines.append("")
    kinds = {k: v for r in results for k, v in r["error_kinds"].items()}
    if kinds:
        lines.append(f"Errors by kind: {kinds}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument(
        "--media-users", type=int, default=8, help="users sending card photos for the whole mixed phase"
    )
    parser.add_argument("--video-users", type=int, default=2)
    parser.add_argument(
        "--profile", action="store_true", help="sample the bot's main thread by layer (py-spy when on PATH)"
    )
    parser.add_argument(
        "--stalls", action="store_true", help="time the bot's loop callbacks, iterations and collections"
    )
    parser.add_argument(
        "--gc-sweep",
        type=lambda text: [int(x) for x in text.split(",")],
        help="a fresh bot per young-generation threshold, e.g. 700,5000,20000 (plain phase only)",
    )
    parser.add_argument("--gc-gen0", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds for the engines to load")
    parser.add_argument(
        "--rounds", type=int, default=1, help="echo and plain phases alternated this many times (median)"
    )
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--serve-bot", nargs=2, metavar=("URL", "DATA_DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--skip-mixed", action="store_true", help="echo and plain phases only")
    parser.add_argument("--serve-echo", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        help="another checkout whose bot runs the plain phase against this one's, alternating --rounds "
        "(e.g. a detached `git worktree` of an earlier commit); prints both and the ratio",
    )
    parser.add_argument("--pause-while", type=Path, help="with --baseline-tree: wait while this file exists")
    parser.add_argument("--bot-tree", type=Path, help=argparse.SUPPRESS)  # --serve-bot: whose bot
    args = parser.parse_args()
    if args.bot_tree is not None:
        sys.path.insert(0, str(args.bot_tree))  # before `bot` is first imported (serve_bot)
    if args.serve_bot:
        serve_bot(*args.serve_bot, profile=args.profile, stalls=args.stalls, gen0=args.gc_gen0)
        return
    if args.serve_echo:
        serve_echo(args.serve_echo)
        return
    args.load_before = os.getloadavg()[0]
    if args.baseline_tree is not None:
        args.baseline_tree = args.baseline_tree.resolve()
        results = asyncio.run(baseline_bench(args))
        publish(baseline_report(results, args), args.markdown, results)
        return
    results = asyncio.run(bench(args))
    publish(report(results, args), args.markdown, results)


def publish(text: str, markdown: Path | None, results: list[dict[str, Any]]) -> None:
    """Print the report, write it to `markdown` when given; exit 1 when any row had errors."""
    print(text)
    if markdown:
        markdown.write_text(text, encoding="utf-8")
    if any(r["errors"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
