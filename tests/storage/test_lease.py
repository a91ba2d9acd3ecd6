"""The scheduler lease (issue 17 point 3) on SQLite and PostgreSQL: one holder
at a time; the holder renews; an expired lease is taken over; a released one
is free at once; of many processes asking at the same moment exactly one wins,
whether the row is missing, held, or run out. Time is a parameter."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from storage.db import create_engine, make_sessionmaker
from storage.models import SchedulerLease
from storage.services import lease
from tests.conftest import both_backends

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
TTL = timedelta(seconds=60)
NAME = "scheduler"


async def _acquire(sessionmaker, holder: str, now: datetime = T0) -> bool:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        return await lease.acquire(s, NAME, holder, now, TTL)


async def _row(sessionmaker) -> SchedulerLease | None:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        return await s.scalar(select(SchedulerLease))


@both_backends
async def test_one_holder_until_the_lease_runs_out_then_another_takes_it(sessionmaker):
    assert await _acquire(sessionmaker, "a")
    assert not await _acquire(sessionmaker, "b")
    assert not await _acquire(sessionmaker, "b", T0 + TTL)  # expires_at itself still holds
    assert await _acquire(sessionmaker, "b", T0 + TTL + timedelta(seconds=1))
    assert not await _acquire(sessionmaker, "a", T0 + TTL + timedelta(seconds=2))
    row = await _row(sessionmaker)
    assert row is not None and row.holder == "b"
    async with sessionmaker() as s:
        assert await lease.holder(s, NAME, T0 + TTL + timedelta(seconds=2)) == "b"
        assert await lease.holder(s, NAME, T0 + 3 * TTL) is None  # run out


@both_backends
async def test_the_holder_renews_and_keeps_its_start(sessionmaker):
    assert await _acquire(sessionmaker, "a")
    later = T0 + timedelta(seconds=40)
    assert await _acquire(sessionmaker, "a", later)  # acquire renews for the holder
    async with sessionmaker() as s:
        assert await lease.renew(s, NAME, "a", later + timedelta(seconds=20), TTL)
        assert not await lease.renew(s, NAME, "b", later, TTL)
    row = await _row(sessionmaker)
    assert row is not None
    assert (row.acquired_at.replace(tzinfo=UTC), row.expires_at.replace(tzinfo=UTC)) == (
        T0,
        later + timedelta(seconds=20) + TTL,
    )
    # Renewed at T0+60 s: another process still waits at T0+100 s.
    assert not await _acquire(sessionmaker, "b", T0 + timedelta(seconds=100))


@both_backends
async def test_a_renewal_fails_once_another_holder_took_over(sessionmaker):
    assert await _acquire(sessionmaker, "a")
    assert await _acquire(sessionmaker, "b", T0 + 2 * TTL)
    async with sessionmaker() as s:
        assert not await lease.renew(s, NAME, "a", T0 + 2 * TTL, TTL)
        assert await lease.holder(s, NAME, T0 + 2 * TTL) == "b"


@both_backends
async def test_a_released_lease_is_free_at_once(sessionmaker):
    assert await _acquire(sessionmaker, "a")
    async with sessionmaker() as s:
        assert not await lease.release(s, NAME, "b")  # not b's to give up
        assert await lease.holder(s, NAME, T0) == "a"
        assert await lease.release(s, NAME, "a")
        assert await lease.holder(s, NAME, T0) is None
    assert await _acquire(sessionmaker, "b")
    row = await _row(sessionmaker)
    assert row is not None and (row.holder, row.acquired_at.replace(tzinfo=UTC)) == ("b", T0)


async def _race(db_url: str, engine, now: datetime) -> list[str]:  # type: ignore[no-untyped-def]
    """Eight holders from two processes (two engines) ask at the same moment."""
    other = create_engine(db_url)
    try:
        makers = [make_sessionmaker(engine), make_sessionmaker(other)]
        holders = [f"p{i}" for i in range(8)]
        won = await asyncio.gather(
            *(_acquire(makers[i % 2], h, now) for i, h in enumerate(holders))
        )
    finally:
        await other.dispose()
    return [h for h, w in zip(holders, won, strict=True) if w]


@both_backends
async def test_of_many_asking_for_a_missing_lease_exactly_one_wins(db_url, engine, sessionmaker):
    winners = await _race(db_url, engine, T0)
    assert len(winners) == 1
    row = await _row(sessionmaker)
    assert row is not None and row.holder == winners[0]


@both_backends
async def test_of_many_asking_for_a_run_out_lease_exactly_one_wins(db_url, engine, sessionmaker):
    assert await _acquire(sessionmaker, "dead")
    assert await _race(db_url, engine, T0 + TTL / 2) == []  # still the dead one's
    winners = await _race(db_url, engine, T0 + 2 * TTL)
    assert len(winners) == 1
    row = await _row(sessionmaker)
    assert row is not None and row.holder == winners[0]
