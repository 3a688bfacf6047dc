"""Plain-step throughput of the multi-machine deployment (webhook replicas, FSM in Redis) beside the
embedded one (polling, SQLite) and a bare echo bot, in one run on one sandbox.

    .venv/bin/python bench/bench_distributed.py [--users 300] [--replicas 1,2]
                                                [--database-url postgresql://user:pw@host/db
                                                 | --postgres throwaway]
                                                [--records sqlite,postgresql]
                                                [--media-users 8] [--workers 2]
                                                [--markdown bench/RESULTS-distributed.md]

The simulated users and their walk are `bench_load.py`'s "plain" phase (menus and the first steps of
实名信息采集, 18 updates a user, closed loop, no think time), against the sandbox in its own process.
Rows, each with the same number of users (distinct user ids) after a one-user warm-up:

1. **echo**: a bare aiogram bot polling (`bench_load.py --serve-echo`), the ceiling of the sandbox;
2. **embedded**: the bot as `make run` runs it, polling, FSM and records in SQLite, the engine pool
   loaded (`bench_load.py --serve-bot`);
3. **replicas**: N × `python -m bot` in webhook mode (`BOT_API_SANDBOX=1`), FSM and per-user event
   lock in a throwaway `redis-server`, `VERIFICATION_MODE=queue` (the engines are workers elsewhere;
   plain steps never reach them), records in one SQLite file shared by the replicas; behind the
   round-robin proxy of the distributed tests (`python -m tests.distributed.proxy`, a process of its
   own, as nginx would be), and for one replica also without the proxy;
4. with `--database-url`: the replica rows again with records in PostgreSQL (`DATABASE_URL`), each row
   on a fresh database `<name>_<row>` created beside the given one (asyncpg) and dropped after.

`--postgres throwaway` starts a PostgreSQL cluster of the tests' kind (initdb on a free port, fsync off)
for the run instead of a `--database-url`.

With `--media-users N` (default 8) each bot row is measured twice: the plain walk alone, then the plain
walk of `users - N` users while N users keep sending ID-card photos (real OCR) for the whole measurement:
in the embedded row through its engine pool, in the replica rows through `--workers` (default 2)
`python -m bot.worker` processes on the replicas' Redis queue, started once for all replica rows. The
second table gives plain-step p50/p99 while those verifications run, and the verifications' own.

Printed per row: updates/s, the ratio to the echo and to the embedded row, p50/p99 reply latency,
errors (non-200, timeout, silence, apology or throttle notice; must be 0), how busy the machine's CPUs
were, and the CPU seconds each part used (sandbox, proxy, bot processes, Redis, PostgreSQL, the users),
with the load average at each row's start.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import bench_load as load  # the users, their walk and the process helpers

REPO = load.REPO
PLAIN_STEPS = 18  # the length of load.walk_menus
TOKEN = "300000:DISTRIBUTED-bench"
SECRET = "bench-distributed_secret"
KEY = base64.b64encode(b"bench-distributed-key-0123456789").decode()
TICK = os.sysconf("SC_CLK_TCK")


# --- CPU accounting (Linux /proc) ---------------------------------------------------------------------


def cpu_of(pids: list[int]) -> float:
    """User + system CPU seconds of these processes and their descendants so far."""
    total = 0
    for pid in {p for root in pids for p in load.process_tree(root)}:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / TICK


def postmaster(data_dir: str) -> int:
    """The process id of the PostgreSQL server with this data directory (its first pid-file line)."""
    return int(Path(data_dir, "postmaster.pid").read_text().split()[0])


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


@dataclass
class Parts:
    """The processes of a row, by part, for the CPU split."""

    sandbox: int
    bots: list[int] = field(default_factory=list)
    proxy: int | None = None
    redis: int | None = None
    postgres: int | None = None  # the server's postmaster: its children are the sessions

    def cpu(self) -> dict[str, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        seconds = {
            "sandbox": cpu_of([self.sandbox]),
            "bot": cpu_of(self.bots),
            "proxy": cpu_of([self.proxy]) if self.proxy else 0.0,
            "redis": cpu_of([self.redis]) if self.redis else 0.0,
            "users": usage.ru_utime + usage.ru_stime,
        }
        if self.postgres:
            seconds["postgres"] = cpu_of([self.postgres])
        return seconds


Script = Callable[[load.User], Awaitable[None]]


def echo_walk(user: load.User) -> Awaitable[None]:
    return load.echo_walk(user, PLAIN_STEPS)


async def measure(
    name: str,
    sandbox_url: str,
    uid_base: int,
    users: int,
    parts: Parts,
    script: Script = load.walk_menus,
    media: Media | None = None,
) -> dict[str, Any]:
    """One warm-up walk, then `users` users walking at once; the figures of the latter."""
    await load.run_phase(sandbox_url, [(uid_base - 1, script)], load.Stats())
    loadavg = os.getloadavg()[0]
    stats = load.Stats()
    before, busy0 = parts.cpu(), machine_busy()
    seconds = await load.run_phase(sandbox_url, [(uid_base + u, script) for u in range(users)], stats)
    after, busy1 = parts.cpu(), machine_busy()
    row = load.summary(name, stats, seconds)
    row["load"] = loadavg
    row["busy"] = (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1])
    row["cpu"] = {part: after[part] - before[part] for part in after}
    # what the machine's CPUs did meanwhile that none of our parts did: other people's jobs, the kernel
    row["cpu"]["others"] = (busy1[0] - busy0[0]) / TICK - sum(row["cpu"].values())
    if media is not None and media.users:
        row["mixed"] = await measure_mixed(sandbox_url, uid_base + 500_000, users, media)
    print(row, flush=True)
    return row


@dataclass
class Media:
    """Users who send ID-card photos (real OCR) for the whole mixed measurement of a row."""

    users: int
    photos: list[bytes]


async def measure_mixed(sandbox_url: str, uid_base: int, users: int, media: Media) -> dict[str, Any]:
    """`users - media.users` users walking the plain walk while `media.users` users keep sending card
    photos (`bench_load.py`'s mixed phase without the videos): plain-step latency while verifications
    run, and the verifications' own."""
    walked = asyncio.Event()
    walkers = users - media.users
    left = [walkers]

    async def walker(user: load.User) -> None:
        await load.walk_menus(user)
        left[0] -= 1
        if left[0] <= 0:
            walked.set()

    scripts: list[tuple[int, Script]] = [(uid_base + u, walker) for u in range(walkers)]
    scripts += [
        (uid_base + 100_000 + u, lambda usr: load.photo_user(usr, media.photos, walked))
        for u in range(media.users)
    ]
    stats = load.Stats()
    seconds = await load.run_phase(sandbox_url, scripts, stats)
    return load.summary("mixed", stats, seconds)


# --- processes -----------------------------------------------------------------------------------------


async def until(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError, OSError):
            if await check():
                return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{what} did not come up")


@contextlib.asynccontextmanager
async def process(*args: str, **kwargs: Any) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await load.spawn(*args, **kwargs)
    try:
        yield proc
    finally:
        await load.stop(proc)


@contextlib.asynccontextmanager
async def redis_server(tmp: Path) -> AsyncIterator[tuple[str, int]]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("needs the redis-server binary (Debian package redis-server)")
    port = load.free_port()
    proc = await asyncio.create_subprocess_exec(
        binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp), "--save", "",
        "--appendonly", "no", stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:

        async def pong() -> bool:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"PING\r\n")
            answer = await reader.read(16)
            writer.close()
            return answer.startswith(b"+PONG")

        await until(pong, "redis-server", 10)
        yield f"redis://127.0.0.1:{port}/0", proc.pid
    finally:
        await load.stop(proc)


@contextlib.contextmanager
def throwaway_postgres() -> Any:
    """A PostgreSQL cluster of the tests' kind (tests/helpers/postgres.py: initdb on a free port, fsync
    off) for the run, stopped after; its URL."""
    sys.path.insert(0, str(REPO))
    from tests.helpers.postgres import _start_cluster

    server = _start_cluster(Path(tempfile.gettempdir()))
    if server is None:
        sys.exit("--postgres throwaway needs initdb/pg_ctl (and the postgres user when run as root)")
    try:
        yield server.url
    finally:
        if server.stop is not None:
            server.stop()


@contextlib.asynccontextmanager
async def fresh_database(url: str | None, tag: str) -> AsyncIterator[tuple[str, int | None] | None]:
    """A new, empty PostgreSQL database beside the one of `url`, dropped afterwards, and the server's
    process id when it runs on this machine and we may read its data directory (None: SQLite)."""
    if url is None:
        yield None
        return
    try:
        import asyncpg
    except ImportError:
        sys.exit("--database-url needs asyncpg in the venv")
    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'postgres'}_{tag}"
    admin = await asyncpg.connect(url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        server = None
        with contextlib.suppress(Exception):  # not a superuser, another machine: no CPU figure
            data_dir = await admin.fetchval("SELECT setting FROM pg_settings WHERE name = 'data_directory'")
            server = postmaster(data_dir)
        try:
            yield urlunsplit(parts._replace(path=f"/{name}")), server
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def log_text(path: Path) -> str:
    return path.read_text(errors="replace")


@contextlib.asynccontextmanager
async def verification_workers(count: int, redis_url: str, tmp: Path) -> AsyncIterator[list[int]]:
    """`count` × `python -m bot.worker` on the replicas' queue, each ready (models loaded)."""
    env = replica_env(
        REDIS_URL=redis_url, ENCRYPTION_KEY=KEY, LOG_LEVEL="INFO", OMP_NUM_THREADS="1"
    )  # fmt: skip
    async with contextlib.AsyncExitStack() as stack:
        pids = []
        for index in range(count):
            log_path = tmp / f"worker-{index}.log"
            out = stack.enter_context(log_path.open("wb"))
            proc = await stack.enter_async_context(
                process("-m", "bot.worker", env=env, cwd=tmp, stdout=out, stderr=subprocess.STDOUT)
            )
            pids.append(proc.pid)

            async def ready(proc: asyncio.subprocess.Process = proc, path: Path = log_path) -> bool:
                if proc.returncode is not None:
                    raise RuntimeError("worker exited: " + log_text(path)[-2000:])
                return "verification worker ready" in log_text(path)

            await until(ready, "a verification worker", 300)
        yield pids


def replica_env(**settings: str) -> dict[str, str]:
    """Our environment minus anything that configures the bot, plus `settings`."""
    prefixes = ("BOT_", "WEBHOOK_", "DATABASE_", "REDIS_", "VERIFICATION_", "DATA_DIR", "ENCRYPTION_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return {**env, **settings}


async def run_replicas(
    http: aiohttp.ClientSession,
    sandbox: tuple[str, int],
    count: int,
    redis: tuple[str, int],
    database: tuple[str, int | None] | None,
    proxied: bool,
    run: Callable[[Parts], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """Start `count` webhook replicas (the first registers the webhook), behind the proxy or not,
    run `run` with their processes, stop them (SIGINT: drain and close)."""
    ports = [load.free_port() for _ in range(count)]
    front = load.free_port() if proxied else ports[0]
    async with contextlib.AsyncExitStack() as stack:
        data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-distributed-")))
        proxy = None
        if proxied:
            backends = [f"http://127.0.0.1:{p}" for p in ports]
            proxy = await stack.enter_async_context(
                process("-m", "tests.distributed.proxy", str(front), *backends)
            )
        common = {
            "BOT_TOKEN": TOKEN,
            "BOT_API_BASE": sandbox[0],
            "BOT_API_SANDBOX": "1",
            "WEBHOOK_URL": f"http://127.0.0.1:{front}",
            "WEBHOOK_SECRET": SECRET,
            "WEBHOOK_HOST": "127.0.0.1",
            "WEBHOOK_DRAIN_SECONDS": "5",
            "ENCRYPTION_KEY": KEY,
            "DATA_DIR": str(data),  # one SQLite file shared by the replicas (when no DATABASE_URL)
            "REDIS_URL": redis[0],
            "VERIFICATION_MODE": "queue",
            "LOG_LEVEL": "WARNING",
        }
        if database:
            common["DATABASE_URL"] = database[0]
        bots = []
        for index, port in enumerate(ports):
            env = replica_env(**common, WEBHOOK_PORT=str(port), WEBHOOK_REGISTER=str(int(index == 0)))
            # cwd: the data directory, so that a developer's .env is not read; one at a time, so that
            # the first applies the migrations alone (as the README's deployment says).
            bot = await stack.enter_async_context(process("-m", "bot", env=env, cwd=data))
            bots.append(bot)

            async def ready(port: int = port, bot: asyncio.subprocess.Process = bot) -> bool:
                if bot.returncode is not None:
                    raise RuntimeError(f"replica on port {port} exited with {bot.returncode}")
                async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
                    return resp.status == 200

            await until(ready, f"replica on port {port}")
        parts = Parts(
            sandbox=sandbox[1],
            bots=[b.pid for b in bots],
            proxy=proxy.pid if proxy else None,
            redis=redis[1],
            postgres=database[1] if database else None,
        )
        return await run(parts)
    raise AssertionError("unreachable")  # for type checkers: the stack does not swallow exceptions


# --- the run ------------------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace) -> list[dict[str, Any]]:
    port = load.free_port()
    url = f"http://127.0.0.1:{port}"
    users = args.users
    rows: list[dict[str, Any]] = []
    media = None
    if args.media_users:
        root = load.testdata()
        media = Media(args.media_users, [(root / p).read_bytes() for p in load.CARD_PHOTOS])

    def labelled(row: dict[str, Any], **extra: Any) -> dict[str, Any]:
        row.update(extra)
        rows.append(row)
        return row

    async with (
        # Capacity, not Telegram's limits (30 messages a second per bot would be all it measured).
        process(
            "-m", "bot.sandbox", "--port", str(port), "--send-timeout", "300", "--no-flood-control"
        ) as sandbox,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
    ):

        async def health() -> bool:
            async with http.get(f"{url}/sandbox/api/health") as resp:
                return resp.status == 200

        await until(health, "the sandbox")
        # 1. echo, 2. embedded: both polling, before any webhook is set
        async with process(str(REPO / "bench" / "bench_load.py"), "--serve-echo", url) as echo:
            await load.wait_polling(http, url)
            labelled(
                await measure("echo", url, 1_000_000, users, Parts(sandbox.pid, [echo.pid]), echo_walk),
                kind="bare aiogram echo bot", processes="1", fsm="—", records="—", transport="polling",
            )  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="bench-distributed-embedded-") as data:
            async with process(str(REPO / "bench" / "bench_load.py"), "--serve-bot", url, data) as bot:
                await load.wait_polling(http, url)
                await asyncio.sleep(args.warmup)  # the engine pool loads its models at start
                labelled(
                    await measure(
                        "embedded", url, 2_000_000, users, Parts(sandbox.pid, [bot.pid]), media=media
                    ),
                    kind="embedded (`make run`)", processes="1 (+ engine pool)", fsm="SQLite",
                    records="SQLite", transport="polling",
                )  # fmt: skip
        # 3./4. replicas
        with tempfile.TemporaryDirectory(prefix="bench-distributed-redis-") as tmp:
            async with (
                redis_server(Path(tmp)) as redis,
                verification_workers(args.workers if media else 0, redis[0], Path(tmp)),
            ):
                layouts = [(n, True) for n in args.counts]
                if 1 in args.counts:
                    layouts.insert(0, (1, False))
                stores = [args.database_url if r == "postgresql" else None for r in args.records]
                base = 3_000_000
                for store in stores:
                    for count, proxied in layouts:
                        base += 1_000_000
                        tag = f"{'pg' if store else 'sqlite'}_{count}{'p' if proxied else 'd'}"
                        async with fresh_database(store, tag) as database:

                            async def run(parts: Parts, base: int = base, tag: str = tag) -> dict[str, Any]:
                                return await measure(tag, url, base, users, parts, media=media)

                            row = await run_replicas(
                                http, (url, sandbox.pid), count, redis, database, proxied, run
                            )
                        labelled(
                            row, kind="webhook replicas" + ("" if proxied else ", no proxy"),
                            processes=str(count), fsm="Redis",
                            records="PostgreSQL" if store else "SQLite (one file)",
                            transport="webhook via proxy" if proxied else "webhook",
                        )  # fmt: skip
    return rows


OURS = ("sandbox", "proxy", "bot", "redis", "postgres", "users")


def per_update(row: dict[str, Any], *parts: str) -> float:
    """CPU milliseconds per update spent by these parts."""
    return 1000 * sum(row["cpu"].get(p, 0.0) for p in parts) / max(1, row["updates"])


def report(rows: list[dict[str, Any]], args: argparse.Namespace, loads: tuple[float, float]) -> str:
    echo = next(r for r in rows if r["phase"] == "echo")
    embedded = next(r for r in rows if r["phase"] == "embedded")
    lines = [
        f"# Distributed deployment: plain-step throughput ({date.today().isoformat()})",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"{args.users} simulated users at once per row, {PLAIN_STEPS} plain updates each "
        f"(`bench_load.py`'s plain walk); load average (1 min) {loads[0]:.2f} at start, "
        f"{loads[1]:.2f} at end.",
        "",
        "| deployment | bot processes | transport | FSM | records | updates/s | × echo | × embedded "
        "| p50 ms | p99 ms | errors | bot CPU ms/update | ours CPU ms/update | CPU busy | load at start |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['kind']} | {r['processes']} | {r['transport']} | {r['fsm']} | {r['records']} "
            f"| {r['ups']:.0f} | {r['ups'] / echo['ups']:.2f} | {r['ups'] / embedded['ups']:.2f} "
            f"| {r['plain_p50']:.0f} | {r['plain_p99']:.0f} | {r['errors']} "
            f"| {per_update(r, 'bot'):.1f} | {per_update(r, *OURS):.1f} | {r['busy']:.0%} | {r['load']:.2f} |"
        )
    mixed = [r for r in rows if "mixed" in r]
    if mixed:
        lines += [
            "",
            f"The same rows while {args.media_users} users keep sending ID-card photos (real OCR: the "
            f"embedded bot's engine pool, or {args.workers} `python -m bot.worker` processes on the "
            f"replicas' queue) and the other {args.users - args.media_users} walk the plain walk:",
            "",
            "| deployment | processes | records | updates/s | × echo | plain p50 ms | plain p99 ms "
            "| verifications | verif. p50 ms | verif. p99 ms | errors |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in mixed:
            m = r["mixed"]
            lines.append(
                f"| {r['kind']} | {r['processes']} | {r['records']} | {m['ups']:.0f} "
                f"| {m['ups'] / echo['ups']:.2f} | {m['plain_p50']:.0f} | {m['plain_p99']:.0f} "
                f"| {m['verif_n']} | {m['verif_p50']:.0f} | {m['verif_p99']:.0f} | {m['errors']} |"
            )
    parts = [*OURS, "others"]
    lines += [
        "",
        f"CPU seconds used during each row, by part ({os.cpu_count()} CPUs × the row's seconds are "
        "available; `postgres` is the server of `--database-url` with all its sessions; `others` the rest "
        "of the machine's busy time: other people's jobs, the kernel):",
        "",
        "| row | s | " + " | ".join(parts) + " |",
        "|---|---|" + "---|" * len(parts),
    ]
    for r in rows:
        cpu = r["cpu"]
        cells = " | ".join(f"{cpu[p]:.1f}" if p in cpu and (cpu[p] or p != "proxy") else "—" for p in parts)
        lines.append(f"| {r['phase']} | {r['seconds']:.1f} | {cells} |")
    kinds = {f"{r['phase']}: {k}": v for r in rows for k, v in r["error_kinds"].items()}
    kinds |= {f"{r['phase']} mixed: {k}": v for r in mixed for k, v in r["mixed"]["error_kinds"].items()}
    if kinds:
        lines += ["", f"Errors by kind: {kinds}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--replicas", default="1,2", help="replica counts behind the proxy")
    parser.add_argument("--database-url", help="postgresql://…: replica rows also with records there")
    parser.add_argument(
        "--records", help="which replica rows: sqlite,postgresql (default: sqlite, and postgresql with a URL)"
    )
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds for the embedded engines to load")
    parser.add_argument("--markdown", type=Path)
    parser.add_argument(
        "--media-users", type=int, default=8, help="per row, also a mixed measurement with these photo users"
    )
    parser.add_argument("--workers", type=int, default=2, help="verification workers for the replica rows")
    parser.add_argument(
        "--postgres", choices=["throwaway"], help="start a PostgreSQL cluster for the run (instead of a URL)"
    )
    args = parser.parse_args()
    args.counts = [int(c) for c in args.replicas.split(",")]
    args.records = (args.records or ("sqlite,postgresql" if args.database_url else "sqlite")).split(",")
    if not set(args.records) <= {"sqlite", "postgresql"}:
        parser.error("--records: sqlite and/or postgresql")
    if "postgresql" in args.records and not args.database_url:
        parser.error("--records postgresql needs --database-url")
    with contextlib.ExitStack() as stack:
        if args.postgres and not args.database_url:
            args.database_url = stack.enter_context(throwaway_postgres())
            if "postgresql" not in args.records:
                args.records.append("postgresql")
        load_start = os.getloadavg()[0]
        rows = asyncio.run(bench(args))
    checked = rows + [r["mixed"] for r in rows if "mixed" in r]  # errors in any measurement: exit 1
    load.publish(report(rows, args, (load_start, os.getloadavg()[0])), args.markdown, checked)


if __name__ == "__main__":
    main()
