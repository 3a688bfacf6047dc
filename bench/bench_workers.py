"""Verification throughput: arq worker processes (`python -m bot.worker`) vs the embedded pool.

    .venv/bin/python bench/bench_workers.py [--jobs 30] [--workers 1,2,4]
                                            [--markdown bench/RESULTS-workers.md]

For each worker count: the same burst of ID-card reads (the repository's fixture cards, each made a
distinct upload so no job is shared by the queue's de-duplication) is submitted at once, through the
dialogs' interface (``read_card_side``), once to the embedded ``VerificationPool`` and once to
``QueuedVerifier`` + N worker processes over a private ``redis-server`` on loopback. Printed: jobs/s
over the burst and p50/p99 latency per job (submit → result, queueing included). Model loading is
outside the timings (pool warm-up, workers' "ready"). Needs the `redis-server` binary.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pydantic import SecretStr  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.services.queued_verifier import QueuedVerifier  # noqa: E402
from bot.services.verifier import Verifier  # noqa: E402
from bot.storage.crypto import FieldCipher  # noqa: E402
from bot.verification.face import FaceConfig  # noqa: E402
from bot.verification.face import warmup as warm_face  # noqa: E402
from bot.verification.idcard import warm_up as warm_ocr  # noqa: E402
from bot.verification.pool import VerificationPool  # noqa: E402

CARDS = REPO / "tests" / "fixtures" / "idcards"
TODAY = date(2026, 11, 1)
KEY = base64.b64encode(b"bench-workers-key-0123456789abcd").decode()


def uploads(n: int, run: str) -> list[bytes]:
    """Distinct uploads: a fixture card plus a tag after the JPEG's end (decoders ignore it; the
    content hash, hence the job id, differs, also from run to run: arq's result keys are global, so
    a later run would otherwise get the earlier run's kept results)."""
    photos = sorted(CARDS.glob("*.jpg"))
    return [photos[i % len(photos)].read_bytes() + f"bench-{run}-{i}".encode() for i in range(n)]


async def burst(read: Callable[[bytes], Awaitable[Any]], data: list[bytes]) -> tuple[float, list[float]]:
    async def one(d: bytes) -> float:
        t = time.perf_counter()
        await read(d)
        return time.perf_counter() - t

    t0 = time.perf_counter()
    latencies = await asyncio.gather(*(one(d) for d in data))
    return time.perf_counter() - t0, list(latencies)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run_pool(workers: int, data: list[bytes]) -> tuple[float, list[float]]:
    pool = VerificationPool(workers=workers, timeout=300, warmup=(warm_ocr, warm_face))
    await pool.start()
    try:
        verifier = Verifier(pool, FaceConfig())
        return await burst(lambda d: verifier.read_card_side(d, TODAY), data)
    finally:
        await pool.close()


def spawn(cmd: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """Started from the event loop's thread on purpose: Popen returns at once, the children are ours."""
    return subprocess.Popen(cmd, **kwargs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run_queue(redis_url: str, workers: int, data: list[bytes], tmp: Path) -> tuple[float, list[float]]:
    queue = f"bench:{workers}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    env.update(REDIS_URL=redis_url, VERIFICATION_QUEUE_NAME=queue, ENCRYPTION_KEY=KEY, PYTHONPATH=str(REPO))
    logs = [tmp / f"w{workers}-{i}.log" for i in range(workers)]
    procs = [
        spawn(
            [sys.executable, "-m", "bot.worker"],
            cwd=tmp,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        for log in logs
    ]
    try:
        deadline = time.monotonic() + 300
        while not all("verification worker ready" in log.read_text(errors="replace") for log in logs):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError("workers did not start: " + logs[0].read_text(errors="replace")[-2000:])
            await asyncio.sleep(0.2)
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            redis_url=SecretStr(redis_url),
            verification_mode="queue",
            verification_queue_name=queue,
            encryption_key=SecretStr(KEY),
            verification_queue_wait=600,
        )
        masters, current, index_master = settings.encryption_keys()
        cipher = FieldCipher.from_masters(masters, current=current, index_master=index_master)
        verifier = await QueuedVerifier.connect(settings, cipher)
        try:
            return await burst(lambda d: verifier.read_card_side(d, TODAY), data)
        finally:
            await verifier.close()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)


async def main_async(args: argparse.Namespace) -> list[tuple[str, int, float, float, float]]:
    counts = [int(c) for c in args.workers.split(",")]
    rows: list[tuple[str, int, float, float, float]] = []

    def record(kind: str, n: int, wall: float, lat: list[float]) -> None:
        row = (kind, n, len(lat) / wall, pct(lat, 0.5), pct(lat, 0.99))
        rows.append(row)
        print(
            f"{kind:<18} workers={n}  {row[2]:6.2f} jobs/s  p50 {row[3]:6.2f} s  p99 {row[4]:6.2f} s",
            flush=True,
        )

    for n in counts:
        record("embedded pool", n, *await run_pool(n, uploads(args.jobs, f"pool{n}")))

    binary = shutil.which("redis-server")
    if binary is None:
        print("redis-server not installed: queue figures skipped")
        return rows
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        port = free_port()
        redis = spawn(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                tmpdir,
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            await asyncio.sleep(0.5)
            for n in counts:
                url = f"redis://127.0.0.1:{port}/0"
                record("arq workers", n, *await run_queue(url, n, uploads(args.jobs, f"arq{n}"), tmp))
        finally:
            redis.terminate()
            redis.wait(10)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=30)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--markdown", type=Path)
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    rows = asyncio.run(main_async(args))
    if args.markdown:
        lines = [
            f"# Verification workers benchmark ({date.today().isoformat()})",
            "",
            f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
            f"{args.jobs} ID-card reads (fixture cards, distinct uploads) submitted at once per row; "
            f"load average at start {load_before:.1f}.",
            "",
            "| engine | worker processes | jobs/s | p50 s | p99 s |",
            "|---|---|---|---|---|",
            *(f"| {k} | {n} | {tp:.2f} | {p50:.2f} | {p99:.2f} |" for k, n, tp, p50, p99 in rows),
            "",
        ]
        args.markdown.write_text("\n".join(lines), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
