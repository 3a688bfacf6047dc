"""Wiring only: settings → mode (Telegram polling | webhook | local sandbox) → run."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from bot.app import create_bot, create_dispatcher
from bot.config import SANDBOX_PORTAL_ID, Settings, SettingsError, config_error_text
from bot.handoff_api import serve_portal_api
from bot.runtime import tune_gc
from bot.services import Services
from bot.webhook import run_webhook

log = logging.getLogger("bot")


async def run_polling(settings: Settings, api_base: str | None = None) -> None:
    services = await Services.build(settings, sandbox_url=api_base if settings.mode == "sandbox" else None)
    bot = create_bot(settings, api_base)
    dp = create_dispatcher(settings, services)
    tune_gc()  # models, catalogues and handlers are loaded: freeze them (bot/runtime.py)
    try:
        async with serve_portal_api(services, bot):
            await bot.delete_webhook(drop_pending_updates=False)
            await dp.start_polling(bot, handle_signals=False, close_bot_session=True)
    finally:
        await services.close()


async def run_sandbox(settings: Settings) -> None:
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
        await run_polling(settings, api_base=sandbox.url)


async def main(*, sandbox: bool = False) -> int:
    try:
        # --sandbox (what `make run` passes) asks for the local sandbox as SANDBOX=1 does.
        settings = Settings(sandbox=True) if sandbox else Settings()
        settings.require_token()
    except (SettingsError, ValueError) as exc:
        print(f"configuration error: {config_error_text(exc)}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    runner = {"sandbox": run_sandbox, "polling": run_polling, "webhook": run_webhook}[settings.mode]
    task = asyncio.ensure_future(runner(settings))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
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
