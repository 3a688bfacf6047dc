"""Headless Chromium (Debian's package) driven by Playwright, and screenshots as test artifacts.

Skips cleanly when Playwright or Chromium is missing; `.ci/run` installs both, so CI runs these tests.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.async_api import ConsoleMessage, Page

REPO_ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "webchat"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A synthetic camera that needs no permission prompt: the video note recorder can be tested.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
UI_TIMEOUT_MS = 15_000
Screenshot = Callable[[str], Awaitable[None]]
FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


def chromium_path() -> str | None:
    configured = os.environ.get("SHIMING_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture
async def page(request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    """A fresh browser page (1280×900); fails the test if the page logs an error or throws, and leaves
    a screenshot of the page when the test fails."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("Playwright is not installed (pip install playwright)")
    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page = await context.new_page()
            page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
            page.on("console", lambda msg: _console(errors, msg))
            page.set_default_timeout(UI_TIMEOUT_MS)
            yield page
            if request.node.stash.get(FAILED, False):
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(ARTIFACTS / f"{_prefix(request)}-failure.png"))
            await context.close()
        finally:
            await browser.close()
    assert not errors, errors


def _console(errors: list[str], message: ConsoleMessage) -> None:
    if message.type == "error":
        errors.append(f"console: {message.text}")


def _prefix(request: pytest.FixtureRequest) -> str:
    name: str = request.node.name
    return name.removeprefix("test_")[:40]


@pytest.fixture
def shot(page: Page, request: pytest.FixtureRequest) -> Screenshot:
    """`await shot("step")` saves test-artifacts/webchat/<test>-NN-step.png (old ones of the test go)."""
    prefix = _prefix(request)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob(f"{prefix}-*.png"):
        old.unlink()
    count = 0

    async def take(name: str) -> None:
        nonlocal count
        count += 1
        path = ARTIFACTS / f"{prefix}-{count:02d}-{name}.png"
        await page.screenshot(path=str(path), animations="disabled")

    return take
