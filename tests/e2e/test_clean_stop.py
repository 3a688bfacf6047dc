"""Ctrl-C on `make run` (`python -m bot --sandbox`): the bot stops without an ERROR, a WARNING or a
traceback (the aborted getUpdates used to log both) and exits 0. The signal goes to the whole process
group, as a terminal's Ctrl-C does, so the verification workers get it too."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATA_DIR": str(tmp_path / "data"),
        "SANDBOX_PORT": str(_free_port()),
        "HANDOFF_PORT": str(_free_port()),
        "VERIFICATION_WORKERS": "1",
        "LOG_LEVEL": "INFO",
    }
    env.pop("BOT_TOKEN", None)
    stderr = tmp_path / "stderr.txt"
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "--sandbox"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,  # its own process group, like a terminal's foreground job
        )
    return proc, stderr


def _wait_for(stderr: Path, needle: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in stderr.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            pytest.fail(f"the bot exited early ({proc.returncode}):\n{stderr.read_text()[-3000:]}")
        time.sleep(0.2)
    pytest.fail(f"no {needle!r} within {timeout} s:\n{stderr.read_text()[-3000:]}")


def _interrupt(proc: subprocess.Popen[bytes]) -> int:
    os.killpg(proc.pid, signal.SIGINT)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail("the bot did not stop within 30 s of SIGINT")


@pytest.mark.timeout(240)
def test_ctrl_c_while_polling_stops_cleanly(tmp_path: Path) -> None:
    proc, stderr = _start(tmp_path)
    _wait_for(stderr, "Run polling", proc, timeout=180)
    time.sleep(1.5)  # a long poll is in flight
    assert _interrupt(proc) == 0
    log = stderr.read_text(errors="replace")
    assert "Polling stopped" in log and "INFO bot: stopped" in log
    for bad in (" ERROR ", " WARNING ", "Traceback", "KeyboardInterrupt", "network error"):
        assert bad not in log, log[-3000:]
