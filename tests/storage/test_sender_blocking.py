"""403 bookkeeping (issue 14, point 6): a user who blocked the bot is marked,
bulk messages skip them, and their next update clears the mark — without a
query per update for everyone else."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import event, select, update

from storage.db import create_engine, make_sessionmaker, utc, write_tx
from storage.models import User
from storage.services import blocking
from tests.conftest import both_backends

AT = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


async def _users(session, *ids: int) -> None:  # type: ignore[no-untyped-def]
    async with write_tx(session):
        session.add_all(User(id=i, full_name="测试") for i in ids)


async def _blocked_at(session, user_id: int):  # type: ignore[no-untyped-def]
    session.expire_all()
    return await session.scalar(select(User.blocked_at).where(User.id == user_id))


@both_backends
async def test_a_403_marks_the_user_and_their_next_update_clears_it(session):
    await _users(session, 1, 2)
    await blocking.mark_blocked(session, 1, AT)
    await blocking.mark_blocked(session, 1, datetime(2026, 12, 1, tzinfo=UTC))  # keeps the first
    assert utc(await _blocked_at(session, 1)) == AT
    assert not await blocking.writes_again(session, 2)
    assert await blocking.writes_again(session, 1)
    assert await _blocked_at(session, 1) is None
    assert not await blocking.writes_again(session, 1)


@both_backends
async def test_updates_of_users_who_never_blocked_cost_no_query(session, engine):
    await _users(session, 3)
    clock = Clock()
    await blocking.writes_again(session, 3, now=clock)  # reads the list once
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    for _ in range(50):
        assert not await blocking.writes_again(session, 3, now=clock)
    assert statements == []


@both_backends
async def test_a_mark_by_another_process_is_seen_within_the_refresh(session, db_url):
    """The scheduler may run as its own process (`paicha scheduler`)."""
    await _users(session, 4)
    clock = Clock()
    assert not await blocking.writes_again(session, 4, now=clock)
    other = create_engine(db_url)
    try:
        async with make_sessionmaker(other)() as s, write_tx(s):
            await s.execute(update(User).where(User.id == 4).values(blocked_at=AT))
    finally:
        await other.dispose()
    clock.t += blocking.REFRESH
    assert await blocking.writes_again(session, 4, now=clock)
    assert await _blocked_at(session, 4) is None


async def test_the_hook_ignores_groups_and_marks_users(sessionmaker):
    from domain.clock import FixedClock

    async with sessionmaker() as s:
        await _users(s, 5)
    hook = blocking.blocked_hook(sessionmaker, FixedClock(UTC, at=AT))
    await hook(-100123)
    await hook(5)
    async with sessionmaker() as s:
        assert utc(await _blocked_at(s, 5)) == AT
