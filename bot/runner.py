"""Starting the bot (启动): migrations, admins, published commands, polling.

Shared by `paicha run`, the sandbox and the end-to-end tests.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from aiogram import Bot, Dispatcher
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import build_bot, build_dispatcher
from bot.sender import Sender
from bot.settings import Settings
from domain.clock import Clock
from handlers.common import publish_default_commands
from reports import pool as report_pool
from scheduler import SchedulerApp, build_scheduler
from storage.db import create_engine, make_sessionmaker
from storage.fsm import SqlStorage
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

    async def close(self) -> None:
        if self.scheduler is not None:
            # First: the message being sent is finished and confirmed.
            await self.scheduler.stop()
        await self.bot.session.close()
        await asyncio.to_thread(report_pool.shutdown)
        await self.engine.dispose()
        await self.fsm_engine.dispose()


def quiet_data_loggers() -> None:
    """Drivers log statements with their parameters at DEBUG: that would put
    member data in the log (R-CONFIDENTIAL), so they never log below WARNING."""
    for name in ("aiosqlite", "asyncpg", "sqlalchemy.engine", "sqlalchemy.pool"):
        logging.getLogger(name).setLevel(logging.WARNING)


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
    it starts with ``poll()`` and stops with ``close()``."""
    quiet_data_loggers()
    if migrate:
        await upgrade_async(settings.database_url)
    pool = settings.max_concurrent_updates
    engine = create_engine(settings.database_url, pool_size=pool, max_overflow=pool)
    # The conversation state has its own small pool: a handler holding a
    # connection of the main pool must never wait for another from the same
    # pool to read or write its FSM state (that deadlocked at 15 updates).
    fsm_engine = create_engine(settings.database_url, pool_size=pool, max_overflow=pool)
    sessionmaker = make_sessionmaker(engine)
    async with sessionmaker() as session:
        await ensure_admins(session, settings.paicha_admin_ids)
    clock = clock or Clock(ZoneInfo(settings.timezone))
    # A 403 records User.blocked_at: bulk messages skip the user until they
    # write again (issue 14 point 6; the middleware forgets it then).
    sender = sender or Sender(on_blocked=blocked_hook(sessionmaker, clock))
    bot = build_bot(settings, sender)
    dp = build_dispatcher(
        settings, sessionmaker, clock, storage=SqlStorage(make_sessionmaker(fsm_engine))
    )
    app = Paicha(settings, engine, sessionmaker, bot, dp, clock, sender, fsm_engine)
    if settings.scheduler_enabled if scheduler is None else scheduler:
        app.scheduler = build_scheduler(settings, bot=bot, sessionmaker=sessionmaker, clock=clock)
    return app
