"""Webhook mode: aiogram's aiohttp server behind a load balancer, one of several identical replicas.

Endpoints: ``POST /webhook`` (Telegram, secret token checked), ``GET /healthz`` (the process answers),
``GET /readyz`` (the database answers, the FSM store and the verifier are usable, not shutting down).

Replicas keep no dialog state in memory: the FSM is in SQLite or Redis, duplicate updates are claimed in
the database. What stays per process is listed in the README ("Deployment"): throttling buckets and
the per-user event lock, both safe to lose but only local.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from bot.app import create_bot, create_dispatcher
from bot.config import Settings
from bot.handoff_api import add_portal_routes
from bot.runtime import tune_gc
from bot.services import Services

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/webhook"


class DrainingRequestHandler(SimpleRequestHandler):
    """Answers Telegram at once and handles the update in the background (a verification can take
    longer than Telegram waits), while counting those updates so that a shutdown can wait for them."""

    def __init__(self, dispatcher: Dispatcher, bot: Bot, **kwargs: Any) -> None:
        super().__init__(dispatcher, bot, handle_in_background=True, **kwargs)
        self.accepting = True
        self.active = 0
        self.idle = asyncio.Event()
        self.idle.set()

    async def handle(self, request: web.Request) -> web.Response:
        if not self.accepting:
            # Not 2xx: Telegram keeps the update and redelivers it, the balancer tries another replica.
            return web.json_response({"ok": False, "error": "shutting down"}, status=503)
        return await super().handle(request)

    async def _background_feed_update(self, bot: Bot, update: dict[str, Any]) -> None:
        self.active += 1
        self.idle.clear()
        try:
            await super()._background_feed_update(bot, update)
        finally:
            self.active -= 1
            if self.active == 0:
                self.idle.set()


async def readiness(services: Services, dp: Dispatcher) -> dict[str, str]:
    """Problems that make this replica unfit for traffic, by component (empty = ready)."""
    problems: dict[str, str] = {}
    try:
        async with services.db.read(snapshot=False) as conn:
            await conn.execute("SELECT 1")
    except Exception as exc:  # any failure means "not ready"; the type is enough for an operator
        problems["database"] = type(exc).__name__
    # Duck-typed, so the Redis FSM store and the job queue's connection (VERIFICATION_MODE=queue) are
    # checked without importing them. The embedded engine pool needs no check: Services.build waited
    # for its warmup before this server listened, and it rebuilds itself after a crash.
    for part, owner in (("fsm", dp.storage), ("verification_queue", services.verifier)):
        redis = getattr(owner, "redis", None)
        if redis is None:
            continue
        try:
            await redis.ping()
        except Exception as exc:
            problems[part] = type(exc).__name__
    check = getattr(services.verifier, "ready", None)
    if callable(check):
        try:
            if not await check():
                problems["verifier"] = "not ready"
        except Exception as exc:
            problems["verifier"] = type(exc).__name__
    return problems


def build_app(
    settings: Settings, services: Services, bot: Bot, dp: Dispatcher
) -> tuple[web.Application, DrainingRequestHandler]:
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    app = web.Application()
    handler = DrainingRequestHandler(dp, bot, secret_token=secret)
    handler.register(app, path=WEBHOOK_PATH)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def readyz(_: web.Request) -> web.Response:
        problems = {"shutdown": "draining"} if not handler.accepting else await readiness(services, dp)
        return web.json_response({"ok": not problems, "problems": problems}, status=503 if problems else 200)

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if settings.portals():
        add_portal_routes(app, services, bot)  # the portal handoff API (issue 20), same port
    setup_application(app, dp, bot=bot)  # dispatcher startup/shutdown with the application's
    return app, handler


async def run_webhook(
    settings: Settings, *, verifier: Any = None, customize: Callable[[Services], None] | None = None
) -> None:
    """Serve until cancelled (SIGTERM/SIGINT cancel the task in ``__main__``), then drain and close.

    ``verifier`` is for tests that run replicas without the engines.
    """
    sandbox = settings.bot_api_base if settings.bot_api_sandbox else None
    services = await Services.build(settings, sandbox_url=sandbox, verifier=verifier)
    if customize is not None:  # tests only: e.g. an identity authority that knows their residents
        customize(services)
    bot = create_bot(settings)
    dp = create_dispatcher(settings, services)
    app, handler = build_app(settings, services, bot, dp)
    tune_gc()  # models, catalogues and handlers are loaded: freeze them (bot/runtime.py)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.webhook_host, settings.webhook_port)
    try:
        await site.start()
        if settings.webhook_register:
            url = f"{settings.webhook_url}{WEBHOOK_PATH}"
            await bot.set_webhook(
                url,
                secret_token=handler.secret_token,
                allowed_updates=dp.resolve_used_update_types(),
            )
            log.info("webhook registered")
        log.info("webhook replica listening on %s:%s", settings.webhook_host, settings.webhook_port)
        await asyncio.Event().wait()
    finally:
        # The webhook itself is left registered: the other replicas keep serving it.
        handler.accepting = False
        with contextlib.suppress(Exception):
            await site.stop()  # no new connections; requests on open ones get 503 above
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(handler.idle.wait(), settings.webhook_drain_seconds)
        if handler.active:
            log.warning("%d updates still running after the drain period: abandoned", handler.active)
        await runner.cleanup()  # dispatcher shutdown, bot session closed
        await services.close()
        log.info("webhook replica stopped")
