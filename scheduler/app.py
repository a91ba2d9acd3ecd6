"""The scheduler (issue 14 point 1): APScheduler's AsyncIOScheduler wakes a
``tick`` every minute (and once at start); the tick reads the injected Clock
and the ledger and decides what is due now.

Why a tick and not one cron job per message time: a tick after a restart or
downtime catches up at once (the day's digest yes; reminders only while still
useful), the same code answers the sandbox's ``/clock +7d``, and tests drive
``tick()`` with a movable clock instead of sleeping. What went out is in our
own table (``notification``), so APScheduler keeps no state: its one job is
defined in code with a fixed id, ``replace_existing=True``, in the memory
store (its SQLAlchemy store is synchronous and not shareable across
processes, its FAQ says), with coalescing and a generous misfire grace.

Stopping is graceful: no new message is started, the one being sent is
finished and confirmed, so a restart never sends anything twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.utils.i18n import I18n
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import build_i18n
from bot.settings import Settings
from domain.clock import Clock
from domain.quiet_hours import SendHours
from scheduler.delivery import Delivery, Report
from scheduler.jobs import Job, default_jobs

log = logging.getLogger(__name__)

TICK_ID = "tick"
TICK_SECONDS = 60
MISFIRE_GRACE = 3600  # seconds; a tick late by less still runs (coalesced to one)
STOP_TIMEOUT = 30.0  # seconds a stop waits for the message being sent


@dataclass
class TickReport:
    """What one tick did: the local time it saw, the jobs it ran, the counts."""

    at: datetime
    ran: list[str] = field(default_factory=list)
    report: Report = field(default_factory=Report)

    @property
    def sent(self) -> int:
        return self.report.sent


def hours_of(settings: Settings) -> SendHours:
    return SendHours(
        digest_at=settings.digest_time,
        remind_at=settings.reminder_time,
        quiet_start=settings.quiet_start,
        quiet_end=settings.quiet_end,
    )


def process_name() -> str:
    """``claimed_by``: which process holds a claim (for the log and the DBA)."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class SchedulerApp:
    """The scheduler of one process.

    - ``await app.tick()``: decide and send what is due now (waits for a tick
      already running, then runs its own); the sandbox's ``/clock`` calls it.
    - ``app.start()`` / ``await app.stop()``: the minute-by-minute ticks.
    """

    def __init__(
        self,
        *,
        bot: Bot,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        settings: Settings,
        jobs: Sequence[Job] | None = None,
        i18n: I18n | None = None,
        name: str | None = None,
    ) -> None:
        self.bot = bot
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.settings = settings
        self.tz = ZoneInfo(settings.timezone)
        self.hours = hours_of(settings)
        self.jobs = list(jobs) if jobs is not None else default_jobs(settings.pocket_days)
        self.name = name or process_name()
        self.delivery = Delivery(
            bot=bot,
            sessionmaker=sessionmaker,
            clock=clock,
            i18n=i18n or build_i18n(settings.default_locale),
            stale=timedelta(minutes=settings.notify_stale_minutes),
            name=self.name,
        )
        self._lock = asyncio.Lock()
        self._rested: dict[str, date] = {}  # daily job → the day it finished
        self._stopping = False
        self._aps: AsyncIOScheduler | None = None
        self._tasks: set[asyncio.Task[TickReport]] = set()

    # ---- one tick -------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now().astimezone(self.tz)

    async def tick(self) -> TickReport:
        """Send what is due at the clock's present instant, exactly once."""
        async with self._lock:
            return await self._tick()

    async def _tick(self) -> TickReport:
        now = self.now()
        due = self.hours.due(now)
        result = TickReport(now)
        for job in self.jobs:
            if self._stopping:
                break
            if not (due.digest if job.gate == "digest" else due.reminders):
                continue
            if job.daily and self._rested.get(job.name) == due.day:
                continue
            try:
                async with self.sessionmaker() as session:
                    items = await job.collect(session, due.day)
                # The session is closed: nothing is held while sending.
                report = await self.delivery.deliver(items, stopping=lambda: self._stopping)
            except Exception as exc:
                # The type only: a database error's text carries the statement's
                # parameters (R-CONFIDENTIAL).
                log.error(
                    "job %s failed (%s); the next tick tries again", job.name, type(exc).__name__
                )
                continue
            result.ran.append(job.name)
            result.report.add(report)
            if job.daily and not report.pending:
                self._rested[job.name] = due.day
        r = result.report
        if r.sent or r.dropped or r.failed:
            log.info(
                "tick %s: sent %d (%s), dropped %d, pending %d",
                now.strftime("%Y-%m-%d %H:%M"),
                r.sent,
                ", ".join(f"{k} {n}" for k, n in sorted(r.by_kind.items())) or "-",
                r.dropped,
                r.pending,
            )
        return result

    def kick(self) -> asyncio.Task[TickReport] | None:
        """Start a tick in the background (the minute's job); None when one is
        running already (the next minute catches up) or the app is stopping."""
        if self._stopping or self._lock.locked():
            return None
        task = asyncio.create_task(self.tick(), name="paicha-scheduler-tick")
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[TickReport]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("tick failed (%s)", type(task.exception()).__name__)

    async def _scheduled(self) -> None:
        self.kick()

    # ---- running --------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._aps is not None

    def start(self) -> None:
        """Tick now and every minute after (needs the running event loop)."""
        if self._aps is not None:
            return
        self._stopping = False
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line a minute otherwise
        aps = AsyncIOScheduler(
            timezone=self.tz,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": MISFIRE_GRACE,
            },
        )
        aps.add_job(
            self._scheduled,
            IntervalTrigger(seconds=TICK_SECONDS, timezone=self.tz),
            id=TICK_ID,
            name="paicha scheduler tick",
            replace_existing=True,
            next_run_time=datetime.now(self.tz),
        )
        aps.start()
        self._aps = aps
        log.info(
            "scheduler started (%s): digest %s, reminders %s, quiet %s–%s",
            self.settings.timezone,
            self.hours.digest_at.strftime("%H:%M"),
            self.hours.remind_at.strftime("%H:%M"),
            self.hours.quiet_start.strftime("%H:%M"),
            self.hours.quiet_end.strftime("%H:%M"),
        )

    async def stop(self, grace: float = STOP_TIMEOUT) -> None:
        """No new message is started; the one being sent is finished and
        confirmed (up to ``grace`` seconds), then the ticks stop."""
        self._stopping = True
        if self._aps is not None:
            if self._aps.running:
                self._aps.shutdown(wait=False)
            self._aps = None
            await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the next loop turn
        tasks = list(self._tasks)
        if tasks:
            _done, late = await asyncio.wait(tasks, timeout=grace)
            for task in late:
                task.cancel()
            for task in late:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        # A tick someone awaits directly (the sandbox's /clock) ends too.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self._lock.acquire()
                self._lock.release()


def build_scheduler(
    settings: Settings,
    *,
    bot: Bot,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    jobs: Sequence[Job] | None = None,
    name: str | None = None,
) -> SchedulerApp:
    """The scheduler with the three jobs (digest, reminders, escalations)."""
    return SchedulerApp(
        bot=bot, sessionmaker=sessionmaker, clock=clock, settings=settings, jobs=jobs, name=name
    )
