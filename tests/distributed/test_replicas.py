"""Two bot replicas as separate processes in webhook mode, behind a round-robin proxy, one database.

The sandbox's webhook points at the proxy; the proxy alternates between the replicas, so the steps of
one dialog are handled by different processes: the walk only works if no dialog state lives in a
replica's memory. Then one replica is killed (SIGKILL, as a crash) and the dialog goes on; the other is
stopped with SIGTERM and must drain and exit cleanly. Variants: the embedded SQLite FSM; the Redis FSM;
the Redis FSM with the records in PostgreSQL.
"""

from __future__ import annotations

import itertools
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.postgres import PostgresServer, fresh_database
from tests.helpers.sandbox_user import SandboxUser, texts

from .cluster import RoundRobinProxy, webhook_cluster

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
EN = {
    "collect": "Real-name collection",
    "start": "Start",
    "id_card": "ID card",
    "front": "portrait side",
}


@pytest.fixture(params=["sqlite", "redis", "redis+postgresql"])
def fsm_backend(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Extra environment for where state lives: nothing (dialogs and records in the shared SQLite
    file), the FSM in the session's Redis, or the FSM in Redis and the records in PostgreSQL (a fresh
    database of the session's throwaway server). Each variant gets its own Redis database."""
    env: dict[str, str] = {}
    if "redis" in request.param:
        base = request.getfixturevalue("redis_url").rsplit("/", 1)[0]
        env["REDIS_URL"] = f"{base}/{1 + request.param_index}"
    if "postgresql" not in request.param:
        yield env
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    with fresh_database(server, request.getfixturevalue("postgres_template")) as url:
        yield {**env, "DATABASE_URL": url}


async def test_dialog_steps_on_different_replicas(tmp_path: Path, fsm_backend: dict[str, str]) -> None:
    async with webhook_cluster(tmp_path, fsm_backend) as cluster:
        replicas, proxy, sandbox = cluster.replicas, cluster.proxy, cluster.sandbox
        assert sandbox.state.webhook is not None  # registered by replica a only
        assert sandbox.state.webhook.url == f"http://127.0.0.1:{cluster.proxy_port}/webhook"

        await walk(cluster.user(9101, "en"), proxy)

        # Crash one replica: the same user's dialog goes on through the survivor.
        await replicas[1].stop(signal.SIGKILL)
        replies = await cluster.user(9101, "en").send("still here")
        assert EN["front"] in texts(replies), texts(replies)
        assert proxy.failovers >= 1 or proxy.served[-1] == 0
        await walk(cluster.user(9102, "en"), proxy, expect_both=False)

        # Graceful stop: SIGTERM drains and exits 0.
        assert await replicas[0].stop(signal.SIGTERM) == 0, cluster.log_tail()


async def walk(user: SandboxUser, proxy: RoundRobinProxy, *, expect_both: bool = True) -> None:
    """Menu → collection → ID card → the front-photo prompt → a wrong input there (text, not a photo)."""
    start = len(proxy.served)
    home = await user.send("/start")
    tip = await user.press_label(home, EN["collect"])
    choose = await user.press_label(tip, EN["start"])
    prompt = await user.press_label(choose, EN["id_card"])
    assert EN["front"] in texts(prompt), texts(prompt)
    replies = await user.send("this is not a photo")
    assert EN["front"] in texts(replies), texts(replies)  # asked again, still at the same step
    served: list[Any] = proxy.served[start:]
    assert len(served) == 5, served
    if expect_both:
        # Round robin over two: every step landed on the other replica than the step before it.
        assert all(a != b for a, b in itertools.pairwise(served)), served
