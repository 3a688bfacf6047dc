"""The aiohttp application and a context manager that serves it (tests, the bot's ``__main__``)."""

from __future__ import annotations

import logging
from types import TracebackType

from aiohttp import web

from .botapi import BotApi
from .config import SandboxConfig
from .control import ControlApi
from .portal import register_portal_demo
from .state import SandboxState
from .webchat import register_web_chat

SANDBOX_STATE_KEY = web.AppKey("sandbox_state", SandboxState)
log = logging.getLogger(__name__)


def create_sandbox_app(config: SandboxConfig | None = None) -> web.Application:
    """The Bot API (``/bot{token}/{method}``, ``/file/bot{token}/{path}``), the control API
    (``/sandbox/api/...``) and the web chat page (``/``) on one application; its state is
    ``app[SANDBOX_STATE_KEY]``."""
    state = SandboxState(config or SandboxConfig())
    # Uploads are streamed with their own caps; this limit covers JSON and urlencoded bodies.
    app = web.Application(client_max_size=state.config.max_request_text_bytes)
    app[SANDBOX_STATE_KEY] = state
    botapi = BotApi(state)
    app.router.add_route("*", "/bot{token}/{method}", botapi.handle)
    app.router.add_get("/file/bot{token}/{path:.+}", botapi.download)
    ControlApi(state).register(app.router)
    register_web_chat(app.router)  # the web chat page at /
    register_portal_demo(app)  # the demo e-tax website at /portal/ (issue 20)

    async def on_shutdown(_: web.Application) -> None:
        # Long polls and event streams would otherwise hold the shutdown for their whole timeout.
        state.shutdown()
        await botapi.webhooks.close()

    app.on_shutdown.append(on_shutdown)
    return app


class SandboxServer:
    """Serve the sandbox on ``host:port`` (0 = any free port) for the life of an ``async with``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        config: SandboxConfig | None = None,
        *,
        app: web.Application | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.app = app if app is not None else create_sandbox_app(config)
        self._runner: web.AppRunner | None = None

    @property
    def state(self) -> SandboxState:
        return self.app[SANDBOX_STATE_KEY]

    @property
    def url(self) -> str:
        """Base URL of both APIs: give it to ``TelegramAPIServer.from_base``."""
        if self._runner is None:
            raise RuntimeError("the sandbox server is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> SandboxServer:
        if self._runner is not None:
            return self
        runner = web.AppRunner(self.app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        for address in runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                self.port = int(address[1])
                break
        log.info("Telegram sandbox listening on %s", self.url)
        return self

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> SandboxServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
