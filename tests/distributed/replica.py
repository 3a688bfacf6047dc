"""One bot replica for the distributed tests: ``python -m tests.distributed.replica``.

Exactly ``python -m bot`` in webhook mode (settings from the environment), except two test knobs:
* without ``VERIFICATION_MODE=queue`` the engines are a scripted verifier: walks that stop before any
  photo is read need no models, and loading them in every replica would only cost the shared CPUs;
  with it, the replica sends its jobs to real ``python -m bot.worker`` processes, as deployed;
* ``TEST_LIVENESS_CHALLENGE`` pins the liveness actions to what a recorded test clip shows. The
  settings refuse ``LIVENESS_CHALLENGE`` whenever a token is set (a replica always has one, even
  against the sandbox), so the pin is applied here, past that check, and only by this test entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal

from bot.config import Settings
from bot.services import Services
from bot.webhook import run_webhook
from tests.helpers.fakes import EveryResidentKnown, FakeVerifier


async def main() -> None:
    # The walks' authority keeps no photo (EveryResidentKnown below): where the bureau accepts the
    # card portrait, as the dialog tests run (tests/helpers/factory.py).
    settings = Settings().model_copy(update={"identity_photo_required": False})
    pinned = os.environ.get("TEST_LIVENESS_CHALLENGE")
    if pinned:
        settings = settings.model_copy(update={"liveness_challenge": pinned.split(",")})
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    verifier = None if settings.verification_mode == "queue" else FakeVerifier()

    def knows_every_resident(services: Services) -> None:
        # The walks collect a fictitious composed card: the authority knows it (no photo on file).
        services.identity = EveryResidentKnown(services.db, services.cipher)  # type: ignore[assignment]

    task = asyncio.ensure_future(run_webhook(settings, verifier=verifier, customize=knows_every_resident))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


if __name__ == "__main__":
    asyncio.run(main())
