"""Shared fixtures: where the public test data lives, settings for an isolated bot."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import state_graph
from tests.helpers.postgres import postgres_server, postgres_template
from tests.helpers.state_graph import _state_graph_holds

__all__ = ["_state_graph_holds", "database_url", "postgres_server", "postgres_template", "testdata"]

REPO_ROOT = Path(__file__).resolve().parents[1]


def testdata_root() -> Path | None:
    """`../shared/testdata` beside the repository (or `SHIMING_TESTDATA`); None in a user's fresh clone."""
    configured = os.environ.get("SHIMING_TESTDATA")
    root = Path(configured) if configured else REPO_ROOT.parent / "shared" / "testdata"
    return root if root.is_dir() else None


@pytest.fixture(scope="session")
def testdata() -> Path:
    root = testdata_root()
    if root is None:
        pytest.skip("public test data (../shared/testdata) is not available")
    return root


@pytest.fixture
def database_url() -> str | None:
    """The records backend: the SQLite file by default; the repository and dialog suites override
    this with both backends (tests/helpers/postgres.py)."""
    return None


def pytest_configure(config: pytest.Config) -> None:
    state_graph.install()  # every dialog step a test takes is checked against bot/dialogs/graph.py


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state_graph.write_record()
