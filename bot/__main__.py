"""Wiring only: settings → mode (Telegram polling | webhook | local sandbox) → run."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable

from aiogram import Dispatcher

from bot.app import create_bot, create_dispatcher
from bot.config import SANDBOX_PORTAL_ID, Settings, SettingsError, config_error_text
from bot.handoff_api import serve_portal_api
from bot.runtime import tune_gc
from bot.services import Services
from bot.webhook import run_webhook

log = logging.getLogger("bot")


class Shutdown:
    """What SIGINT / SIGTERM do. Once polling runs, aiogram's own stop: the dispatcher cancels the long
    poll in flight and only then closes the session. Cancelling the whole task instead (what a signal
    did before) left aiogram's polling task running while the session closed under it: its aborted
    getUpdates logged an ERROR and a WARNING on every Ctrl-C. Before polling runs (models loading), or
    on a second signal, the task is cancelled."""

    def __init__(self) -> None:
        self.task: asyncio.Future[None] | None = None
        self.dispatcher: Dispatcher | None = None
        self.signals = 0
        self._stopping: asyncio.Task[None] | None = None

    def polling(self, dp: Dispatcher) -> None:
        self.dispatcher = dp

    def __call__(self) -> None:
        self.signals += 1
        if self.dispatcher is not None and self.signals == 1:
            self._stopping = asyncio.ensure_future(self.dispatcher.stop_polling())
        elif self.task is not None:
            self.task.cancel()


async def run_polling(
    settings: Settings,
    api_base: str | None = None,
    *,
    on_polling: Callable[[Dispatcher], None] | None = None,
) -> None:
    """``on_polling`` gets the dispatcher once it polls (its graceful stop is then available)."""
    services = await Services.build(settings, sandbox_url=api_base if settings.mode == "sandbox" else None)
    bot = create_bot(settings, api_base)
    dp = create_dispatcher(settings, services)
    if on_polling is not None:
        dp.startup.register(lambda: on_polling(dp))
    tune_gc()  # models, catalogues and handlers are loaded: freeze them (bot/runtime.py)
    try:
        async with serve_portal_api(services, bot):
            await bot.delete_webhook(drop_pending_updates=False)
            await dp.start_polling(bot, handle_signals=False, close_bot_session=True)
    finally:
        await services.close()


async def run_sandbox(settings: Settings, *, on_polling: Callable[[Dispatcher], None] | None = None) -> None:
    from bot.sandbox import SandboxServer
    from bot.sandbox.portal import connect_portal_demo

    async with SandboxServer(host=settings.sandbox_host, port=settings.sandbox_port) as sandbox:
        print(f"Local Telegram sandbox: {sandbox.url}  (web chat: {sandbox.url}/)", flush=True)
        if settings.handoff_port:
            api = f"http://{settings.handoff_host}:{settings.handoff_port}"
            key = settings.portals()[SANDBOX_PORTAL_ID].key.get_secret_value()
            connect_portal_demo(sandbox.app, api, key)
            print(f"  portal handoff API: {api}  (demo e-tax website: {sandbox.url}/portal/)", flush=True)
        print(
            f"  try: curl -X POST {sandbox.url}/sandbox/api/users/1/send "
            "-H 'Content-Type: application/json' -d '{\"text\":\"/start\"}'",
            flush=True,
        )
        await run_polling(settings, api_base=sandbox.url, on_polling=on_polling)


async def main(*, sandbox: bool = False) -> int:
    try:
        # --sandbox (what `make run` passes) asks for the local sandbox as SANDBOX=1 does.
        settings = Settings(sandbox=True) if sandbox else Settings()
        settings.require_token()
    except (SettingsError, ValueError) as exc:
        print(f"configuration error: {config_error_text(exc)}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    shutdown = Shutdown()
    if settings.mode == "webhook":
        task = asyncio.ensure_future(run_webhook(settings))
    else:
        runner = run_sandbox if settings.mode == "sandbox" else run_polling
        task = asyncio.ensure_future(runner(settings, on_polling=shutdown.polling))
    shutdown.task = task
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, shutdown)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    log.info("stopped")
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    if args == ["--sandbox"]:
        sys.exit(asyncio.run(main(sandbox=True)))
    if args:  # operator commands (`python -m bot rotate-keys`) live in bot/cli.py
        from bot.cli import main as cli_main

        sys.exit(cli_main(args))
    sys.exit(asyncio.run(main()))
