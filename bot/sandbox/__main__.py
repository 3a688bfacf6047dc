"""Run the sandbox alone: ``python -m bot.sandbox --port 8081``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from .config import SandboxConfig
from .server import SandboxServer


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    defaults = SandboxConfig()
    parser.add_argument("--quiet-period", type=float, default=defaults.quiet_period)
    parser.add_argument("--send-timeout", type=float, default=defaults.send_timeout)
    parser.add_argument(
        "--require-ack", action="store_true", help="wait for sandboxAck only (never guess from quiet)"
    )
    parser.add_argument(
        "--original-media",
        action="store_true",
        help="keep photos and video notes as sent (no recompression) and accept any photo a bot sends",
    )
    parser.add_argument(
        "--no-callback-deadline", action="store_true", help="accept callback answers however late"
    )
    parser.add_argument(
        "--no-flood-control", action="store_true", help="never answer 429 (Telegram's rate limits off)"
    )
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    defaults = SandboxConfig()
    config = SandboxConfig(
        quiet_period=args.quiet_period,
        send_timeout=args.send_timeout,
        require_ack=args.require_ack,
        recompress_photos=not args.original_media,
        photo_limits=not args.original_media,
        telegram_video_notes=not args.original_media,
        callback_answer_timeout=None if args.no_callback_deadline else defaults.callback_answer_timeout,
        flood_control=not args.no_flood_control,
    )
    async with SandboxServer(args.host, args.port, config) as server:
        print(f"Telegram sandbox: {server.url}", flush=True)
        print(f"  Bot API:     {server.url}/bot<token>/<method>", flush=True)
        print(f"  control API: {server.url}/sandbox/api/", flush=True)
        print(f"  web chat:    {server.url}/", flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO)
    args = _parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
