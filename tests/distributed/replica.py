"""One bot replica for the distributed tests: ``python -m tests.distributed.replica``.

Exactly ``python -m bot`` in webhook mode (settings from the environment), except that the engines are
a scripted verifier: the walk stops before any photo is read, and loading the models in every replica
would only cost the shared CPUs time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from bot.config import Settings
from bot.webhook import run_webhook
from tests.helpers.fakes import FakeVerifier


async def main() -> None:
    settings = Settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    task = asyncio.ensure_future(run_webhook(settings, verifier=FakeVerifier()))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


if __name__ == "__main__":
    asyncio.run(main())
