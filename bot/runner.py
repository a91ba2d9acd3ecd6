"""Starting the bot (启动): migrations, admins, published commands, then
polling (`paicha run`) or a webhook server (`paicha run --webhook`).

Shared by `paicha run`, the sandbox and the end-to-end tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from aiogram import Bot, Dispatcher
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import build_bot, build_dispatcher, build_fsm_storage
from bot.crypto_cli import start as crypto_start
from bot.logging_setup import install_record_factory
from bot.sender import Sender
from bot.settings import Settings
from domain.clock import Clock
from handlers.common import publish_default_commands
from reports import pool as report_pool
from scheduler import SchedulerApp, build_scheduler
from storage.db import create_engine, make_sessionmaker
from storage.migrate import upgrade_async
from storage.services.blocking import blocked_hook
from storage.services.users import ensure_admins

log = logging.getLogger(__name__)


@dataclass
class Paicha:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    bot: Bot
    dp: Dispatcher
    clock: Clock
    sender: Sender
    fsm_engine: AsyncEngine
    # Reminders and the daily digest (issue 14): None when this process does
    # not send them (SCHEDULER_ENABLED=false; `paicha scheduler` elsewhere).
    scheduler: SchedulerApp | None = None

    async def poll(self) -> None:
        await self.bot.delete_webhook(drop_pending_updates=False)
        await publish_default_commands(self.bot)
        if self.scheduler is not None:
            self.scheduler.start()
        await self.dp.start_polling(
            self.bot,
            handle_signals=False,
            close_bot_session=False,
            # Fewer updates in flight than database connections: an update
            # never waits for a connection that another waiting update holds.
            tasks_concurrency_limit=self.settings.max_concurrent_updates,
        )

    async def serve_webhook(
        self, *, handle_signals: bool = False, started: asyncio.Event | None = None
    ) -> None:
        """Webhook mode (bot/webhook.py): listen on WEBHOOK_HOST:WEBHOOK_PORT,
        register WEBHOOK_URL + WEBHOOK_PATH with the secret, start the
        scheduler as ``poll()`` does, and serve until cancelled (or, with
        ``handle_signals``, until SIGINT or SIGTERM). ``started`` is set once
        the webhook is registered.

        Stopping closes the listener, lets the updates being handled finish,
        stops the scheduler and closes the server. The webhook is left
        registered on purpose: other workers behind the same address may
        still serve it, and updates sent meanwhile wait at Telegram."""
        from bot.webhook import (
            WebhookConfigError,
            build_webhook_app,
            webhook_endpoint,
            webhook_problem,
            webhook_secret,
        )

        problem = webhook_problem(self.settings)
        if problem:
            raise WebhookConfigError(problem)
        secret = webhook_secret(self.settings)
        runner = web.AppRunner(build_webhook_app(self, secret), access_log=None)
        await runner.setup()  # the dispatcher's startup
        try:
            host, port = self.settings.webhook_host, self.settings.webhook_port
            await web.TCPSite(runner, host, port).start()
            await publish_default_commands(self.bot)
            url = webhook_endpoint(self.settings)
            # Listening before registering: Telegram may send at once.
            await self.bot.set_webhook(
                url,
                secret_token=secret,
                max_connections=self.settings.webhook_max_connections,
                allowed_updates=self.dp.resolve_used_update_types(),
                drop_pending_updates=False,
            )
            log.info("Webhook %s registered; listening on %s:%s", url, host, port)
            if self.scheduler is not None:
                self.scheduler.start()
            if started is not None:
                started.set()
            await _until_stopped(handle_signals)
        finally:
            await runner.cleanup()

    async def close(self) -> None:
        if self.scheduler is not None:
            # First: the message being sent is finished and confirmed.
            await self.scheduler.stop()
        await self.bot.session.close()
        # The conversation storage (Redis connections with REDIS_URL); the
        # dispatcher's shutdown closes it too when it ran, twice is harmless.
        await self.dp.storage.close()
        await asyncio.to_thread(report_pool.shutdown)
        await self.engine.dispose()
        await self.fsm_engine.dispose()


async def _until_stopped(handle_signals: bool) -> None:
    """Wait until cancelled, or SIGINT/SIGTERM when ``handle_signals``."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    if handle_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
                handled.append(sig)
    try:
        await stop.wait()
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


def freeze_startup_heap() -> None:
    """What start-up built (modules, routers, the ORM's mappings, message
    catalogues) lives as long as the process: take it out of the garbage
    collector's full passes (``gc.freeze``). A full pass walks every tracked
    object with the event loop stopped; during a 100,000-row roster import
    the four passes walked the ~270,000 start-up objects too and each
    stalled the loop 190–235 ms; frozen, each takes 27–52 ms
    (``bench/log_attempts.py --import-lag``). For a process's entry point
    only: an object frozen here is never collected as part of a cycle."""
    gc.collect()  # garbage is not frozen
    gc.freeze()


def quiet_data_loggers() -> None:
    """Drivers log statements with their parameters at DEBUG: that would put
    member data in the log (R-CONFIDENTIAL), so they never log below WARNING."""
    for name in ("aiosqlite", "asyncpg", "sqlalchemy.engine", "sqlalchemy.pool"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # And whatever else logs: ID numbers, phones and Chinese text masked in
    # every record, whichever handler takes it (bot/logging_setup.py).
    install_record_factory()


async def assemble(
    settings: Settings,
    clock: Clock | None = None,
    *,
    migrate: bool = True,
    sender: Sender | None = None,
    scheduler: bool | None = None,
) -> Paicha:
    """Upgrade the schema, grant the configured admins, build bot and dispatcher,
    and the scheduler unless ``scheduler`` (default: SCHEDULER_ENABLED) is false;
    it starts with ``poll()`` or ``serve_webhook()`` and stops with ``close()``."""
    quiet_data_loggers()
    if migrate:
        await upgrade_async(settings.database_url)
    pool = settings.max_concurrent_updates
    engine = create_engine(settings.database_url, pool_size=pool, max_overflow=pool)
    # The conversation state has its own small pool: a handler holding a
    # connection of the main pool must never wait for another from the same
    # pool to read or write its FSM state (that deadlocked at 15 updates).
    fsm_engine = create_engine(settings.database_url, pool_size=pool, max_overflow=pool)
    # The data key (or KeyProblem: no key, or the wrong one, for an encrypted
    # database), then rows still in plaintext encrypted (bot/crypto_cli.py).
    try:
        await crypto_start(settings, engine)
    except BaseException:
        await engine.dispose()
        await fsm_engine.dispose()
        raise
    sessionmaker = make_sessionmaker(engine)
    async with sessionmaker() as session:
        await ensure_admins(session, settings.paicha_admin_ids)
    clock = clock or Clock(ZoneInfo(settings.timezone))
    # A 403 records User.blocked_at: bulk messages skip the user until they
    # write again (issue 14 point 6; the middleware forgets it then).
    sender = sender or Sender(on_blocked=blocked_hook(sessionmaker, clock))
    bot = build_bot(settings, sender)
    # REDIS_URL: conversations in Redis, shared by every worker; else in the
    # database on the FSM pool (bot/app.py build_fsm_storage).
    storage, isolation = build_fsm_storage(settings, make_sessionmaker(fsm_engine))
    dp = build_dispatcher(
        settings, sessionmaker, clock, storage=storage, events_isolation=isolation
    )
    app = Paicha(settings, engine, sessionmaker, bot, dp, clock, sender, fsm_engine)
    if settings.scheduler_enabled if scheduler is None else scheduler:
        app.scheduler = build_scheduler(settings, bot=bot, sessionmaker=sessionmaker, clock=clock)
    return app
