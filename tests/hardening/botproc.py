"""The bot as its own process, polling a sandbox that lives elsewhere, for the SIGKILL test.

`python -m tests.hardening.botproc <sandbox url> <data dir>`: the real factory (`create_bot`,
`create_dispatcher`, `Services.build`), the sandbox's SMS gateway and identity registry, and engines
scripted by the uploaded bytes (so a restart costs no model loading): `front:<id number>`, `back:*`,
`selfie:<n>`. Prints "ready" once polling.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from bot.app import create_bot, create_dispatcher
from bot.services import Services
from bot.services.verifier import ProgressReporter
from bot.verification.face import Action, FaceVerdict
from bot.verification.idcard import SideReading
from tests.hardening.harness import DecodingVerifier, jpeg
from tests.helpers.factory import make_settings
from tests.helpers.fakes import EveryResidentKnown, back_reading, front_reading, verdict

PORTRAIT_JPEG = jpeg(90, 120)


class ContentVerifier(DecodingVerifier):
    async def read_card_side(
        self, data: bytes, today: date, *, progress: ProgressReporter | None = None
    ) -> SideReading:
        if data.startswith(b"front:"):
            # A real JPEG portrait: the bot sends it back and the sandbox refuses non-images.
            reading = front_reading(data.split(b":", 1)[1].decode())
            return SideReading(side="front", front=reading.front, portrait_jpeg=PORTRAIT_JPEG)
        if data.startswith(b"back:"):
            return back_reading()
        return await super().read_card_side(data, today, progress=progress)

    async def verify_video(
        self,
        video: bytes,
        challenge: Sequence[Action],
        references: Sequence[Sequence[float]],
        *,
        seen_before: bool,
        progress: ProgressReporter | None = None,
    ) -> FaceVerdict:
        if video.startswith(b"selfie:") and not seen_before:
            n = int(video.split(b":")[1])
            encoding = tuple(((n * 7919 + i * 104729) % 1000) / 1000 for i in range(128))
            return verdict("pass", encoding=encoding)
        return await super().verify_video(
            video, challenge, references, seen_before=seen_before, progress=progress
        )


async def main(url: str, data_dir: Path) -> None:
    settings = make_settings(data_dir, log_level="INFO")
    services = await Services.build(settings, sandbox_url=url, verifier=ContentVerifier())
    # This process tests durability, not identity: the authority knows the test's resident (no photo).
    services.identity = EveryResidentKnown(services.db, services.cipher)  # type: ignore[assignment]
    bot = create_bot(settings, api_base=url)
    dp = create_dispatcher(settings, services)

    async def ready() -> None:
        print("ready", flush=True)

    dp.startup.register(ready)
    try:
        await dp.start_polling(bot, handle_signals=False, close_bot_session=True, polling_timeout=1)
    finally:
        await services.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
