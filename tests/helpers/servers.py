"""Tests that need a server (PostgreSQL, Redis) skip where it cannot be had (a user's fresh clone)
but fail where it must be there: `.ci/run` sets REQUIRE_POSTGRES=1 and REQUIRE_REDIS=1."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(flag: str, reason: str) -> NoReturn:
    if os.environ.get(flag) == "1":
        pytest.fail(f"{flag}=1 but {reason}")
    pytest.skip(reason)


def real_clock_env() -> dict[str, str]:
    """The environment for a server the tests start (PostgreSQL, Redis), without libfaketime.

    Under `faketime` (the moved-clock run of `.ci/run`) only the code under test should see the moved
    clock: a database server is another machine's program in production, with its own clock, and
    PostgreSQL under the preloaded library stalls on its timers. The bot never asks the server for
    the time (timestamps are written by the bot, from its injected clock), so nothing is lost.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAKETIME")}
    preload = [p for p in env.get("LD_PRELOAD", "").split(":") if p and "faketime" not in p]
    if preload:
        env["LD_PRELOAD"] = ":".join(preload)
    else:
        env.pop("LD_PRELOAD", None)
    return env
