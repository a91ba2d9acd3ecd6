"""Each update handled once (issue 17 point 4): the processed-update ledger.

Telegram may deliver an update again: a webhook retried after a timeout, a
polling process restarted before it confirmed its offset, two workers given
the same update. The update's id is inserted into ``processed_update`` in the
same transaction as its effect, so a second delivery changes nothing twice.

How: the bot opens every update's session as an ``UpdateSession`` and names
the update in it (``expect``). Its first write transaction, the first
``write_tx`` of the update's handling, begins by inserting the id
(``INSERT … ON CONFLICT DO NOTHING``: on PostgreSQL a second worker's insert
waits for the first's transaction and then finds the row; on SQLite writers
take turns). When the id is there already, the insert adds nothing and
``DuplicateUpdate`` is raised before any effect is written; the bot treats it
as "already done" and says nothing. Reads record nothing (a read-only update
handled twice answers twice and changes nothing), nor do writes made
before the handler (``see_user``: idempotent). An update whose handling
writes in several transactions (the roster import, an export's audit row) is
recorded with the first.

A conversation step that changes only the conversation state (a number typed
into a form: it goes into the FSM data, the database sees it at 保存) is
recorded too, by the FSM storage's write (``pending`` / ``record_on``): the
bot names the update for its whole handling (``handling``), so whichever
writes first, the session or the conversation, records it, and a second
delivery stops at that write instead of taking "30" as the answer to the next
question as well. On ``SqlStorage`` the id goes into the conversation's own
write transaction; on Redis (``storage.redis_fsm``) it is committed just
before the conversation is written, so a crash between the two loses that
step (the user types it again) rather than applying it twice.

``seen`` is the cheap check before handling: an update recorded already is
skipped without a word. ``prune`` forgets ids older than ``KEEP`` (the
scheduler's leader calls it); Telegram redelivers for 24 hours at most.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import bindparam, delete, event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, CursorResult, Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from storage.db import _BEGIN_OPTION, read_alone, utc, write_tx
from storage.models import ProcessedUpdate

KEEP = timedelta(days=7)

_TABLE: Any = ProcessedUpdate.__table__
_EXPECTED = "paicha_update"  # session.info: the update's Expected
_RECORDING = "paicha_update_tx"  # session.info: the open transaction records it
_RECORD: dict[str, Any] = {}  # dialect → the insert (_record_statement)
_SEEN = select(_TABLE.c.update_id).where(_TABLE.c.update_id == bindparam("update_id"))


class DuplicateUpdate(Exception):
    """This update's effect is committed already (a redelivery)."""

    def __init__(self, update_id: int) -> None:
        super().__init__(f"update {update_id} was handled already")
        self.update_id = update_id


class UpdateSession(Session):
    """The session class of an update's handling (``sync_session_class``):
    its first write transaction records the update named by ``expect``."""


@dataclass(slots=True)
class Expected:
    """The update being handled, and whether its id is committed yet."""

    update_id: int
    at: datetime
    recorded: bool = False


# The update whose handling runs in this task (``handling``): what the FSM
# storage records when a conversation step writes before the session does.
_CURRENT: ContextVar[Expected | None] = ContextVar("paicha_update", default=None)


def expect(session: AsyncSession, update_id: int, now: datetime) -> Expected:
    """Record ``update_id`` in the session's next write transaction."""
    mark = session.info[_EXPECTED] = Expected(update_id, utc(now))
    return mark


@contextmanager
def handling(session: AsyncSession, update_id: int, now: datetime) -> Iterator[Expected]:
    """``expect``, and the same update named for the conversation storage's
    writes in this task until the block ends."""
    mark = expect(session, update_id, now)
    token = _CURRENT.set(mark)
    try:
        yield mark
    finally:
        _CURRENT.reset(token)


def pending() -> Expected | None:
    """The update being handled in this task, if its id is not committed yet."""
    mark = _CURRENT.get()
    return mark if mark is not None and not mark.recorded else None


def record_on(connection: Connection, mark: Expected) -> None:
    """Inside a write transaction on ``connection``: insert the update's id, or
    raise DuplicateUpdate when a delivery before this one committed it. The
    caller sets ``mark.recorded`` once its transaction commits."""
    inserted = connection.execute(
        _record_statement(connection.dialect.name),
        {"update_id": mark.update_id, "handled_at": mark.at},
    ).first()
    if inserted is None:
        raise DuplicateUpdate(mark.update_id)


def recorded(session: AsyncSession) -> bool:
    """True once the expected update's id is committed (or none was expected)."""
    mark = session.info.get(_EXPECTED)
    return mark is None or mark.recorded


def _record_statement(dialect: str) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING RETURNING update_id``, built once per
    dialect (this runs in every update's first write)."""
    statement = _RECORD.get(dialect)
    if statement is None:
        if dialect == "postgresql":
            insert: Any = postgresql.insert(_TABLE)
        elif dialect == "sqlite":
            insert = sqlite.insert(_TABLE)
        else:
            raise NotImplementedError(f"no ON CONFLICT for {dialect}")
        statement = _RECORD[dialect] = insert.on_conflict_do_nothing().returning(_TABLE.c.update_id)
    return statement


@event.listens_for(UpdateSession, "after_begin")
def _record(session: Session, _transaction: SessionTransaction, connection: Connection) -> None:
    mark: Expected | None = session.info.get(_EXPECTED)
    if mark is None or mark.recorded:
        return
    # write_tx begins its transactions with this option (BEGIN IMMEDIATE on
    # SQLite, and the same option on PostgreSQL): only a write unit records.
    session.info[_RECORDING] = False
    if connection.get_execution_options().get(_BEGIN_OPTION) != "IMMEDIATE":
        return
    record_on(connection, mark)  # DuplicateUpdate leaves _RECORDING False
    session.info[_RECORDING] = True


@event.listens_for(UpdateSession, "after_commit")
def _committed(session: Session) -> None:
    if session.info.pop(_RECORDING, False):
        session.info[_EXPECTED].recorded = True


@event.listens_for(UpdateSession, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_RECORDING, None)


async def seen(session: AsyncSession, update_id: int) -> bool:
    """Is this update's effect committed already? One read on its own."""
    params = {"update_id": update_id}
    bind = cast(Engine, session.get_bind())
    found = await read_alone(bind, lambda c: c.execute(_SEEN, params).first())
    return found is not None


async def prune(session: AsyncSession, before: datetime) -> int:
    """Forget the updates handled before ``before``; how many went."""
    async with write_tx(session):
        gone = await session.execute(delete(_TABLE).where(_TABLE.c.handled_at < utc(before)))
        return int(cast(CursorResult[Any], gone).rowcount)
