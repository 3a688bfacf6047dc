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
