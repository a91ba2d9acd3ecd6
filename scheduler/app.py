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

One leader (issue 17 point 3): every process may run a scheduler (`paicha
run` on several workers, `paicha scheduler`), but a tick does its jobs only
while its process holds the lease "scheduler" (``storage.services.lease``,
SCHEDULER_LEASE_SECONDS = 60, renewed at each tick and every 20 seconds
between them, released on a graceful stop). When the leader dies without releasing, another process
takes the lease within a minute and ticks at once. The ledger's claims still
make every message exactly once if two ever overlap. The leader also prunes
the processed-update ledger (``storage.services.processed``).
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
from storage.services import lease, processed

log = logging.getLogger(__name__)

TICK_ID = "tick"
TICK_SECONDS = 60
MISFIRE_GRACE = 3600  # seconds; a tick late by less still runs (coalesced to one)
STOP_TIMEOUT = 30.0  # seconds a stop waits for the message being sent
LEASE = "scheduler"
MIN_LEASE_SECONDS = 3
RENEW_ID = "lease"
PRUNE_EVERY = timedelta(hours=1)


@dataclass
class TickReport:
    """What one tick did: the local time it saw, the jobs it ran, the counts."""

    at: datetime
    ran: list[str] = field(default_factory=list)
    report: Report = field(default_factory=Report)
    leader: bool = True  # False: another process holds the lease; nothing ran

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
        # SCHEDULER_LEASE_SECONDS (60): a dead leader is replaced within it
        # and one renewal; renewed every third of it (start()).
        lease_seconds = max(MIN_LEASE_SECONDS, settings.scheduler_lease_seconds)
        self.lease_ttl = timedelta(seconds=lease_seconds)
        self.renew_every = lease_seconds / 3
        self.leading = False  # this process held the lease at the last look
        self.leader: str | None = None  # who held it then (for the log)
        self._pruned_at: datetime | None = None
        self._lease_lock = asyncio.Lock()  # a release waits for a renewal in flight

    # ---- the lease ------------------------------------------------------

    async def hold_lease(self) -> bool:
        """Take or renew the lease "scheduler": True while this process leads.
        A database error counts as not leading (the lease may run out)."""
        async with self._lease_lock:
            if self._stopping:
                return False
            now = self.clock.now()
            try:
                async with self.sessionmaker() as session:
                    held = await lease.acquire(session, LEASE, self.name, now, self.lease_ttl)
                    leader = self.name if held else await lease.holder(session, LEASE, now)
            except Exception as exc:
                log.error("scheduler lease failed (%s)", type(exc).__name__)
                held, leader = False, None
            self.leading = held
        if leader != self.leader and (held or leader is not None):
            log.info("scheduler leader: %s%s", leader, " (this process)" if held else "")
        self.leader = leader
        return held

    async def keep_lease(self) -> asyncio.Task[TickReport] | None:
        """Every ``renew_every`` seconds between ticks: renew, or take over
        from a dead leader and tick at once (that tick is returned)."""
        if self._stopping:
            return None
        was = self.leading
        if await self.hold_lease() and not was:
            return self.kick()
        return None

    async def _release(self) -> None:
        async with self._lease_lock:
            if not self.leading:
                return
            self.leading = False
            try:
                async with self.sessionmaker() as session:
                    await lease.release(session, LEASE, self.name)
            except Exception as exc:  # it runs out within lease_ttl anyway
                log.error("could not release the scheduler lease (%s)", type(exc).__name__)
                return
        if self.leader == self.name:
            self.leader = None
            log.info("scheduler leader: none (%s stopped)", self.name)

    # ---- one tick -------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now().astimezone(self.tz)

    async def tick(self) -> TickReport:
        """Send what is due at the clock's present instant, exactly once."""
        async with self._lock:
            return await self._tick()

    async def _tick(self) -> TickReport:
        now = self.now()
        result = TickReport(now)
        if self._stopping:
            return result
        if not await self.hold_lease():
            result.leader = False
            return result
        due = self.hours.due(now)
        for job in self.jobs:
            if self._stopping or not self.leading:
                break
            if not (due.digest if job.gate == "digest" else due.reminders):
                continue
            if job.daily and self._rested.get(job.name) == due.day:
                continue
            try:
                async with self.sessionmaker() as session:
                    items = await job.collect(session, due.day)
                # The session is closed: nothing is held while sending.
                report = await self.delivery.deliver(items, stopping=self._yielding)
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
        await self._prune(now)
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

    def _yielding(self) -> bool:
        """Start no new message: stopping, or the lease was lost meanwhile."""
        return self._stopping or not self.leading

    async def _prune(self, now: datetime) -> None:
        """Forget processed updates older than ``processed.KEEP``, hourly."""
        if self._pruned_at is not None and self._pruned_at <= now < self._pruned_at + PRUNE_EVERY:
            return
        try:
            async with self.sessionmaker() as session:
                gone = await processed.prune(session, now - processed.KEEP)
        except Exception as exc:
            log.error("pruning processed updates failed (%s)", type(exc).__name__)
            return
        self._pruned_at = now
        if gone:
            log.info("pruned %d processed updates", gone)

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
        aps.add_job(
            self.keep_lease,
            IntervalTrigger(seconds=self.renew_every, timezone=self.tz),
            id=RENEW_ID,
            name="paicha scheduler lease",
            replace_existing=True,
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

    async def stop(self, grace: float = STOP_TIMEOUT, *, release: bool = True) -> None:
        """No new message is started; the one being sent is finished and
        confirmed (up to ``grace`` seconds), then the ticks stop and the lease
        is released, so another process leads at once (``release=False``:
        as if the process died; the lease runs out by itself)."""
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
        if release:
            await self._release()


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
