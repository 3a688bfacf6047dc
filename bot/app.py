"""The one factory: the bot and the dispatcher for `__main__`, the local sandbox and the tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.dispatcher.event.handler import CallbackType, FilterObject
from aiogram.enums import ParseMode
from aiogram.fsm.strategy import FSMStrategy
from aiogram.types import BotCommand, BotCommandScopeDefault

from bot.config import Settings
from bot.dialogs import create_dialogs_router
from bot.handlers import common, errors, fallback, help, language, menu, mydata, staff
from bot.i18n import LANGUAGES
from bot.middlewares import (
    I18nMiddleware,
    IdempotencyMiddleware,
    RepositoriesMiddleware,
    SandboxAck,
    SandboxAckMiddleware,
    ThrottlingMiddleware,
)
from bot.services import Services
from bot.services.fsm import create_event_isolation, create_fsm_storage
from bot.services.retention import RetentionJob
from bot.session import RetryingSession
from bot.storage.fsm import DatabaseStorage

COMMANDS = ("start", "help", "cancel", "language", "mydata")


def create_bot(settings: Settings, api_base: str | None = None) -> Bot:
    """`api_base` overrides the settings: the sandbox passes its own address. Every call goes through
    the one retry policy (`bot.session`): flood control and transient failures."""
    base = api_base or settings.bot_api_base
    session = RetryingSession(api=TelegramAPIServer.from_base(base)) if base else RetryingSession()
    return Bot(settings.token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


def create_dispatcher(settings: Settings, services: Services) -> Dispatcher:
    storage = create_fsm_storage(settings, services)
    # One update at a time per user: two quick taps must not race on the same dialog state.
    dp = Dispatcher(
        storage=storage,
        fsm_strategy=FSMStrategy.USER_IN_CHAT,
        events_isolation=create_event_isolation(storage),
    )
    dp["services"] = services
    dp["settings"] = settings
    dp["catalog"] = services.catalog

    if settings.mode == "sandbox" or settings.bot_api_sandbox:
        dp.update.outer_middleware(SandboxAckMiddleware())
        dp.startup.register(declare_sandbox_acks)
    # A redelivered update changes nothing; with the FSM in the records database the claim rides in
    # the update's first write transaction (one commit per plain update instead of two).
    dp.update.outer_middleware(
        IdempotencyMiddleware(
            services.db,
            timedelta(hours=settings.update_claim_hours),
            services.clock,
            fsm=storage if isinstance(storage, DatabaseStorage) else None,
        )
    )
    dp.update.outer_middleware(
        RepositoriesMiddleware(services.repositories)
    )
    dp.update.outer_middleware(I18nMiddleware(services.catalog))
    dp.update.outer_middleware(ThrottlingMiddleware(settings))

    # Order matters: /cancel before the dialogs' state handlers, the fallback after everything.
    dp.include_routers(
        errors.create_router(),
        common.create_router(),
        menu.create_router(),
        help.create_router(),
        language.create_router(),
        mydata.create_router(),
        # Staff commands before the dialogs, so a staff member mid-dialog can still use them.
        staff.create_router(),
        create_dialogs_router(),
        fallback.create_router(),
    )
    filters_on_the_loop(dp)
    dp.startup.register(publish_commands)
    dp.startup.register(remove_stale_temp_files)
    retention = RetentionJob(services)
    dp.startup.register(retention.start)
    dp.shutdown.register(retention.stop)
    return dp


def _awaitable(check: Callable[..., Any]) -> CallbackType:
    async def on_the_loop(*args: Any, **kwargs: Any) -> Any:
        return check(*args, **kwargs)

    return on_the_loop


def filters_on_the_loop(dp: Dispatcher) -> int:
    """Make every synchronous filter of the dispatcher's routers a coroutine; returns how many.

    aiogram runs a filter that is not a coroutine function in a thread (``asyncio.to_thread`` in
    ``CallableObject.call``), so that a blocking one cannot stall the loop. Ours are a state compared
    with a string (a bare ``State`` passed to ``@router.message(state)``: 114 of the 128) and magic
    filters (``F.text.in_(...)``): microseconds of work each, and an update that walks the routers
    evaluates dozens of them. Each evaluation cost a hop to the default executor and back (a future,
    a thread wake-up, a self-pipe write, a loop iteration): the aiogram and asyncio layers of the load
    profile (bench/RESULTS-load.md). Called once the routers are built; a filter added later keeps
    aiogram's behaviour."""
    changed = 0
    for router in dp.chain_tail:
        for observer in router.observers.values():
            filters: list[FilterObject] = list(observer._handler.filters or [])
            for handler in observer.handlers:
                filters += handler.filters or []
            for event_filter in filters:
                if not event_filter.awaitable:
                    event_filter.callback = _awaitable(event_filter.callback)
                    event_filter.awaitable = True
                    changed += 1
    return changed


async def declare_sandbox_acks(bot: Bot) -> None:
    """Tell the sandbox this bot acknowledges each update, so it waits for the ack even on the first one."""
    await bot(SandboxAck())


async def remove_stale_temp_files(services: Services) -> None:
    """Half-written media files of a process killed mid-write (never renamed into place): garbage."""
    await services.media.remove_stale_temp_files(services.clock())


async def publish_commands(bot: Bot, services: Services) -> None:
    catalog = services.catalog
    for lang in LANGUAGES:
        commands = [
            BotCommand(command=c, description=catalog.render(lang, f"commands.{c}")) for c in COMMANDS
        ]
        code = catalog.translator(lang).telegram_code
        await bot.set_my_commands(commands, scope=BotCommandScopeDefault(), language_code=code[:2])
        if lang == catalog.default:
            await bot.set_my_commands(commands, scope=BotCommandScopeDefault())
