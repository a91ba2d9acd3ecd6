"""What the scheduler sends (issue 14): each job asks the same services the
handlers use and renders with the handlers' own renderers, one message per
ledger key.

- ``digest_job``: the daily digest (R-LOST-6M, R-MOBILE-6M, R-POCKET,
  R-PROBATION) from ``digest_time``: what crossed since the recipient's last
  digest that went out (so downtime is caught up), one per recipient and
  organisation; key (digest, subject, recipient, today, 0).
- ``reminder_job`` / ``escalation_job`` (R-REMIND) from ``reminder_time``:
  what ``submissions.due_reminders`` / ``due_escalations`` say is owed today;
  they return only reminders still useful (none for a deadline that passed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.delivery import Outgoing
from storage.services import notifications as ledger

Collect = Callable[[AsyncSession, date], Awaitable[list[Outgoing]]]

# The longest gap a digest catches up on: a recipient whose last digest is
# older (or who never had one) gets what crossed since the last digest anybody
# got, at most this far back.
DIGEST_CATCH_UP_DAYS = 31


@dataclass(frozen=True)
class Job:
    """``gate``: which of the day's times opens it ("digest" or "reminder").
    ``daily``: once a pass leaves nothing pending, the job rests until the next
    day (the digest's scan is the heavy one); otherwise it runs every tick, so
    a campaign created at 10:00 still gets today's reminder."""

    name: str
    gate: Literal["digest", "reminder"]
    collect: Collect
    daily: bool = False


async def digest_since(session: AsyncSession, today: date) -> tuple[dict[int, date], date]:
    """(since by recipient, default since) for ``digests_for_day``: each
    recipient's last digest that went out before today; for the others, the
    last day anybody got one (after downtime: the day before it began), or
    yesterday."""
    floor = today - timedelta(days=DIGEST_CATCH_UP_DAYS)
    last = await ledger.last_sent_by_recipient(session, "digest", before=today, since=floor)
    yesterday = today - timedelta(days=1)
    default = min(max(last.values(), default=yesterday), yesterday)
    return last, default


def digest_job(pocket_days: int) -> Job:
    async def collect(session: AsyncSession, today: date) -> list[Outgoing]:
        from handlers.digest import render_digest
        from storage.services.digest import digests_for_day

        since, default = await digest_since(session, today)
        digests = await digests_for_day(
            session,
            today=today,
            since_by_recipient=since,
            default_since=default,
            pocket_days=pocket_days,
        )
        return [
            Outgoing(
                "digest", d.subject, d.recipient, today, 0, d.locale, partial(render_digest, d)
            )
            for d in digests
        ]

    return Job("digest", "digest", collect, daily=True)


def reminder_job() -> Job:
    async def collect(session: AsyncSession, today: date) -> list[Outgoing]:
        from handlers.deadlines import render_reminder
        from storage.services.submissions import due_reminders

        return [
            Outgoing(
                "reminder",
                r.subject,
                r.recipient,
                r.due,
                r.offset_days,
                r.locale,
                partial(render_reminder, r),
            )
            for r in await due_reminders(session, today=today)
        ]

    return Job("reminders", "reminder", collect)


def escalation_job() -> Job:
    async def collect(session: AsyncSession, today: date) -> list[Outgoing]:
        from handlers.deadlines import render_escalation
        from storage.services.submissions import due_escalations

        return [
            Outgoing(
                "escalation",
                e.subject,
                e.recipient,
                e.due,
                e.offset_days,
                e.locale,
                partial(render_escalation, e),
            )
            for e in await due_escalations(session, today=today)
        ]

    return Job("escalations", "reminder", collect)


def default_jobs(pocket_days: int) -> list[Job]:
    return [digest_job(pocket_days), reminder_job(), escalation_job()]
