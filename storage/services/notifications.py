"""The exactly-once ledger of scheduled messages (发送记录, R-REMIND, issue 14).

A reminder or digest is a row with a unique key (kind, subject, recipient,
due, offset_days). The scheduler **claims** the row before sending and
**confirms** it after, each in its own short write transaction: no
transaction is ever open across a send.

- ``claim`` inserts the row (``INSERT … ON CONFLICT DO NOTHING``, on SQLite
  and PostgreSQL alike) and returns its id; a second scheduler, a restart or a
  retry finds the key taken and gets None.
- A claim left unconfirmed longer than ``stale`` (its process died between
  claim and send) is claimed again by one ``UPDATE … WHERE claimed_at <
  :limit``: of two processes re-claiming at once, one updates the row and the
  other finds it fresh (PostgreSQL re-checks the condition after the row
  lock; SQLite's writers take turns). A confirmed or dropped row is never
  claimed again.

Times come from the caller's clock and are stored in UTC.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import utc, write_tx
from storage.models import Notification

STALE = timedelta(minutes=5)
DROP_REASON_MAX = 200

# (kind, subject, recipient, due, offset_days): the ledger's unique key.
Key = tuple[str, str, int, date, int]

_TABLE: Any = Notification.__table__


@dataclass(frozen=True)
class Entry:
    """A ledger row as the scheduler sees it."""

    id: int
    claimed_at: datetime  # UTC
    tries: int
    sent_at: datetime | None
    dropped: str | None

    @property
    def settled(self) -> bool:
        """Sent or given up on: never claimed again."""
        return self.sent_at is not None or self.dropped is not None

    def in_flight(self, now: datetime, stale: timedelta = STALE) -> bool:
        """Claimed by someone within the stale limit and not yet confirmed."""
        return not self.settled and self.claimed_at >= utc(now) - stale


def _insert(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(_TABLE)
    if dialect == "sqlite":
        return sqlite.insert(_TABLE)
    raise NotImplementedError(f"no ON CONFLICT for {dialect}")


async def claim(
    session: AsyncSession,
    *,
    kind: str,
    subject: str,
    recipient: int,
    due: date,
    offset_days: int = 0,
    now: datetime,
    by: str | None = None,
    stale: timedelta = STALE,
) -> int | None:
    """Claim the message with this key for sending: its row id, or None when
    it is sent, dropped, or claimed by someone within ``stale``."""
    at = utc(now)
    async with write_tx(session):
        inserted = await session.execute(
            _insert(session)
            .values(
                kind=kind,
                subject=subject,
                recipient=recipient,
                due=due,
                offset_days=offset_days,
                claimed_at=at,
                claimed_by=by,
                tries=1,
            )
            .on_conflict_do_nothing()
            .returning(_TABLE.c.id)
        )
        row_id = inserted.scalar()
        if row_id is not None:
            return int(row_id)
        reclaimed = await session.execute(
            update(_TABLE)
            .where(
                _TABLE.c.kind == kind,
                _TABLE.c.subject == subject,
                _TABLE.c.recipient == recipient,
                _TABLE.c.due == due,
                _TABLE.c.offset_days == offset_days,
                _TABLE.c.sent_at.is_(None),
                _TABLE.c.dropped.is_(None),
                _TABLE.c.claimed_at < at - stale,
            )
            .values(claimed_at=at, claimed_by=by, tries=_TABLE.c.tries + 1)
            .returning(_TABLE.c.id)
        )
        row_id = reclaimed.scalar()
        return None if row_id is None else int(row_id)


async def confirm(session: AsyncSession, notification_id: int, now: datetime) -> None:
    """The message went out."""
    async with write_tx(session):
        await session.execute(
            update(_TABLE)
            .where(_TABLE.c.id == notification_id, _TABLE.c.sent_at.is_(None))
            .values(sent_at=utc(now))
        )


async def drop(session: AsyncSession, notification_id: int, reason: str) -> None:
    """Give up on the message for good (the user blocked the bot, Telegram
    refused it): it is never claimed again."""
    async with write_tx(session):
        await session.execute(
            update(_TABLE)
            .where(_TABLE.c.id == notification_id, _TABLE.c.sent_at.is_(None))
            .values(dropped=reason[:DROP_REASON_MAX])
        )


async def last_sent(
    session: AsyncSession, kind: str, recipient: int, subject: str | None = None
) -> date | None:
    """The latest ``due`` of a confirmed message of this kind to the recipient
    (and subject): for a digest, the last day one went out."""
    query = select(func.max(_TABLE.c.due)).where(
        _TABLE.c.kind == kind, _TABLE.c.recipient == recipient, _TABLE.c.sent_at.is_not(None)
    )
    if subject is not None:
        query = query.where(_TABLE.c.subject == subject)
    value = await session.scalar(query)
    return value if isinstance(value, date) else None


async def last_sent_by_recipient(
    session: AsyncSession, kind: str, *, before: date, since: date | None = None
) -> dict[int, date]:
    """recipient → the latest ``due`` of a confirmed message of this kind with
    ``since <= due < before``, in one query."""
    query = (
        select(_TABLE.c.recipient, func.max(_TABLE.c.due))
        .where(_TABLE.c.kind == kind, _TABLE.c.sent_at.is_not(None), _TABLE.c.due < before)
        .group_by(_TABLE.c.recipient)
    )
    if since is not None:
        query = query.where(_TABLE.c.due >= since)
    rows = await session.execute(query)
    return {int(recipient): due for recipient, due in rows}


async def entries(session: AsyncSession, kind: str, dues: Iterable[date]) -> dict[Key, Entry]:
    """The ledger rows of one kind for these due dates, by key: one read that
    tells a tick which messages are settled or in flight before it claims."""
    wanted = sorted(set(dues))
    if not wanted:
        return {}
    c = _TABLE.c
    rows = await session.execute(
        select(
            c.kind,
            c.subject,
            c.recipient,
            c.due,
            c.offset_days,
            c.id,
            c.claimed_at,
            c.tries,
            c.sent_at,
            c.dropped,
        ).where(c.kind == kind, c.due.in_(wanted))
    )
    result: dict[Key, Entry] = {}
    for kind_, subject, recipient, due, offset, row_id, claimed_at, tries, sent_at, dropped in rows:
        result[(kind_, subject, int(recipient), due, int(offset))] = Entry(
            int(row_id),
            utc(claimed_at),
            int(tries),
            utc(sent_at) if sent_at is not None else None,
            dropped,
        )
    return result
