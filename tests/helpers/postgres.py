"""A PostgreSQL server for the tests that run on both record backends (issue 10).

``TEST_DATABASE_URL`` (a role that may create databases) names a server to use; otherwise the session
starts a throwaway cluster from Debian's binaries (``initdb`` / ``pg_ctl`` of the ``postgresql``
package) on a free loopback port, with fsync off (test data is disposable), as the user ``postgres``
when run as root (PostgreSQL refuses to run as root). Without either, the PostgreSQL variants skip,
unless ``REQUIRE_POSTGRES=1`` (set by `.ci/run`), which turns that skip into a failure so CI cannot
pass without them.

Each test gets its own database, copied from a template migrated once per session, and dropped
afterwards: tests never see each other's rows and pay ~0.1 s instead of a migration each.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from tests.helpers.servers import real_clock_env, unavailable

T = TypeVar("T")
_counter = itertools.count(1)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from a synchronous fixture, whatever loop the test session has running."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    url: str  # an admin URL (database "postgres")
    stop: Any = None

    def admin(self, *statements: str) -> None:
        async def go() -> None:
            conn = await asyncpg.connect(self.url)
            try:
                for statement in statements:
                    await conn.execute(statement)
            finally:
                await conn.close()

        run_sync(go())


def _start_cluster(base: Path) -> PostgresServer | None:
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        return None
    prefix: list[str] = []
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return None
        if runuser is None:
            return None
        prefix = [runuser, "-u", "postgres", "--"]
    # Outside the pytest tmp tree: the postgres user must be able to reach it through every parent.
    data = Path(tempfile.mkdtemp(prefix="shiming-pg-", dir="/tmp"))
    if prefix:
        shutil.chown(data, "postgres", "postgres")
    port = _free_port()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "check": True, "env": real_clock_env()}
    subprocess.run(
        [*prefix, initdb, "-D", str(data / "db"), "-A", "trust", "-U", "shiming", "-E", "UTF8", "--no-sync"],
        **quiet,  # type: ignore[call-overload]
    )
    options = (
        f"-p {port} -c listen_addresses=127.0.0.1 -k {data} -c fsync=off -c synchronous_commit=off"
        " -c full_page_writes=off -c max_connections=200"
    )
    subprocess.run(
        [*prefix, pg_ctl, "-D", str(data / "db"), "-o", options, "-l", str(data / "log"), "-w", "start"],
        **quiet,  # type: ignore[call-overload]
    )

    def stop() -> None:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data / "db"), "-m", "immediate", "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
            env=real_clock_env(),
        )
        shutil.rmtree(data, ignore_errors=True)

    return PostgresServer(f"postgresql://shiming@127.0.0.1:{port}/postgres", stop)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        yield PostgresServer(configured)
        return
    try:
        server = _start_cluster(tmp_path_factory.getbasetemp())
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = (getattr(exc, "stderr", b"") or b"").decode(errors="replace")[-300:]
        unavailable("REQUIRE_POSTGRES", f"could not start a PostgreSQL cluster: {exc} {detail}")
    if server is None:
        unavailable("REQUIRE_POSTGRES", "no PostgreSQL binaries (initdb, pg_ctl), no TEST_DATABASE_URL")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> Iterator[str]:
    """A database migrated to the current schema, copied for every test."""
    from bot.storage.pg import PostgresDatabase

    name = f"shiming_tmpl_{os.getpid()}"
    postgres_server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}")

    async def migrate() -> None:
        db = await PostgresDatabase.open(with_database(postgres_server.url, name), max_size=1)
        await db.close()

    run_sync(migrate())
    try:
        yield name
    finally:
        postgres_server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def fresh_database(server: PostgresServer, template: str) -> Iterator[str]:
    name = f"shiming_t{os.getpid()}_{next(_counter)}_{int(time.time() * 1000) % 100000}"
    server.admin(f"CREATE DATABASE {name} TEMPLATE {template}")
    try:
        yield with_database(server.url, name)
    finally:
        server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for the SQLite file of the test's data directory, else a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    template: str = request.getfixturevalue("postgres_template")
    with fresh_database(server, template) as url:
        yield url
