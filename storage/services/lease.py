"""Leases (租约): which process runs the scheduled jobs (issue 17 point 3).

One row per lease name (``scheduler_lease``). A process holds the lease until
``expires_at`` and renews it while alive; when it dies without releasing, the
lease runs out and another process takes it. Each call is one short write
transaction (``write_tx``), the same on SQLite and PostgreSQL:

- ``acquire`` renews the lease for its holder or takes it over once expired,
  in one ``UPDATE … WHERE name = :name AND (holder = :holder OR expires_at <
  :now)``; a missing row is inserted with ``INSERT … ON CONFLICT DO NOTHING``.
  Of two processes racing, one wins: on PostgreSQL the second UPDATE waits for
  the first's row lock and re-checks its condition on the new row (the lease
  is then fresh and someone else's), and the second INSERT meets the primary
  key; on SQLite writers take turns (BEGIN IMMEDIATE).
- ``renew`` extends the lease only for the process still holding it.
- ``release`` gives it up at once (a graceful stop): the next process to ask
  takes it without waiting for it to run out.

Times come from the caller's clock and are stored in UTC; the processes'
clocks must agree to well within the lease's length (the scheduler renews a
60-second lease every 20 seconds).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import utc, write_tx
from storage.models import SchedulerLease

_TABLE: Any = SchedulerLease.__table__
HOLDER_MAX = 80  # the column's length


def _insert(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(_TABLE)
    if dialect == "sqlite":
        return sqlite.insert(_TABLE)
    raise NotImplementedError(f"no ON CONFLICT for {dialect}")


async def acquire(
    session: AsyncSession, name: str, holder: str, now: datetime, ttl: timedelta
) -> bool:
    """Hold the lease ``name`` until ``now + ttl``: True when ``holder`` has it
    now (renewed, taken over from an expired holder, or new), False while
    another holder's lease runs."""
    at, holder = utc(now), holder[:HOLDER_MAX]
    c = _TABLE.c
    async with write_tx(session):
        taken = await session.execute(
            update(_TABLE)
            .where(c.name == name, or_(c.holder == holder, c.expires_at < at))
            .values(
                holder=holder,
                # The start of this holder's tenure: kept while it renews.
                acquired_at=case((c.holder == holder, c.acquired_at), else_=at),
                expires_at=at + ttl,
            )
            .returning(c.name)
        )
        if taken.scalar() is not None:
            return True
        inserted = await session.execute(
            _insert(session)
            .values(name=name, holder=holder, acquired_at=at, expires_at=at + ttl)
            .on_conflict_do_nothing()
            .returning(c.name)
        )
        return inserted.scalar() is not None


async def renew(
    session: AsyncSession, name: str, holder: str, now: datetime, ttl: timedelta
) -> bool:
    """Extend the lease to ``now + ttl`` if ``holder`` still holds it (even
    run out, as long as nobody took it since); False otherwise."""
    at, holder = utc(now), holder[:HOLDER_MAX]
    c = _TABLE.c
    async with write_tx(session):
        renewed = await session.execute(
            update(_TABLE)
            .where(c.name == name, c.holder == holder)
            .values(expires_at=at + ttl)
            .returning(c.name)
        )
        return renewed.scalar() is not None


async def release(session: AsyncSession, name: str, holder: str) -> bool:
    """Give the lease up (a graceful stop); True when ``holder`` held it."""
    c = _TABLE.c
    async with write_tx(session):
        released = await session.execute(
            delete(_TABLE).where(c.name == name, c.holder == holder[:HOLDER_MAX]).returning(c.name)
        )
        return released.scalar() is not None


async def holder(session: AsyncSession, name: str, now: datetime) -> str | None:
    """Who holds the lease at ``now``; None when nobody does (never taken,
    released, or run out)."""
    c = _TABLE.c
    value = await session.scalar(select(c.holder).where(c.name == name, c.expires_at >= utc(now)))
    return value if isinstance(value, str) else None
