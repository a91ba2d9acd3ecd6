"""403 bookkeeping (issue 14, point 6): a user who blocked the bot is marked,
bulk messages skip them, and their next update clears the mark — with no
extra query for anyone."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import event, select

from storage.db import create_engine, make_sessionmaker, utc, write_tx
from storage.models import User
from storage.services import blocking
from storage.services.users import see_user
from tests.conftest import both_backends

AT = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


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
    await see_user(session, 1, "测试", None, "zh")  # the user writes again
    assert await _blocked_at(session, 1) is None
    assert await _blocked_at(session, 2) is None


@both_backends
async def test_updates_of_users_who_never_blocked_write_nothing(session, engine):
    """The mark rides on the one read every update makes already."""
    await _users(session, 3)
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    for _ in range(5):
        await see_user(session, 3, "测试", None, "zh")
    assert len(statements) == 5 and not any("UPDATE" in s.upper() for s in statements)


@both_backends
async def test_a_mark_by_another_process_is_lifted_by_the_next_update(session, db_url):
    """The scheduler may run as its own process (`paicha scheduler`)."""
    await _users(session, 4)
    other = create_engine(db_url)
    try:
        async with make_sessionmaker(other)() as s:
            await blocking.mark_blocked(s, 4, AT)
    finally:
        await other.dispose()
    await see_user(session, 4, "测试", None, "zh")
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
