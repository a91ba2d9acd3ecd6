"""One scheduler leader (issue 17 point 3, R-REMIND): with two processes on
one database (each its own engine, bot and Sender) only the holder of the
lease "scheduler" ticks; every reminder arrives once; a leader killed without
releasing is replaced once its 60-second lease runs out, and one that stops
gracefully hands over at once. Messages are counted in the emulator; time
moves on a movable clock, except in the one test of the running schedulers."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.app import build_bot
from domain.clock import ShiftedClock
from emulator import BotApiEmulator
from scheduler import SchedulerApp
from storage.db import create_engine, make_sessionmaker
from storage.models import Notification, SchedulerLease
from tests.conftest import both_backends
from tests.e2e.conftest import World, bot_settings, running
from tests.e2e.test_scheduler import SH, USERS, Fake, clock_at, received, started


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[World]:
    async with BotApiEmulator() as emulator:
        # The bot's own scheduler is off: each test runs its own schedulers.
        settings = bot_settings(emulator, database_url=db_url)
        async with running(World(emulator, settings)) as w:
            yield w


class Pair:
    """Two scheduler processes on the world's database: ``a`` on the bot's own
    engine and bot, ``b`` on an engine and a bot of its own. Each has its own
    Fake job (same users, same ledger keys), so ``fakes[x].rendered`` tells
    which process sent."""

    def __init__(self, world: World, clock: ShiftedClock, users: list[int]) -> None:
        assert world.app is not None
        self.world = world
        self.engine = create_engine(world.settings.database_url)
        self.bot = build_bot(world.settings)
        self.fakes = {"a": Fake(users), "b": Fake(users)}
        self.a = SchedulerApp(
            bot=world.app.bot,
            sessionmaker=world.app.sessionmaker,
            clock=clock,
            settings=world.settings,
            jobs=[self.fakes["a"].job()],
            name="worker-a",
        )
        self.b = SchedulerApp(
            bot=self.bot,
            sessionmaker=make_sessionmaker(self.engine),
            clock=clock,
            settings=world.settings,
            jobs=[self.fakes["b"].job()],
            name="worker-b",
        )

    async def close(self) -> None:
        for app in (self.a, self.b):
            await app.stop(release=False)
        await self.bot.session.close()
        await self.engine.dispose()


@pytest.fixture
async def pair_at_nine(world: World) -> AsyncIterator[tuple[Pair, ShiftedClock]]:
    await started(world, USERS)
    clock = clock_at(2026, 11, 25, 9, 0)
    pair = Pair(world, clock, USERS[:5])
    try:
        yield pair, clock
    finally:
        await pair.close()


async def _lease_holder(world: World) -> str | None:
    assert world.app is not None
    async with world.app.sessionmaker() as s:
        row = await s.scalar(select(SchedulerLease))
    return row.holder if row else None


@both_backends
async def test_two_processes_only_the_leader_sends_and_each_reminder_arrives_once_R_REMIND(
    world, pair_at_nine
):
    pair, clock = pair_at_nine
    leaders = []
    for _ in range(6):  # two minutes of ticks, both processes at the same moments
        ticks = await asyncio.gather(pair.a.tick(), pair.b.tick())
        assert sum(t.leader for t in ticks) == 1
        leaders.append("a" if ticks[0].leader else "b")
        clock.shift(timedelta(seconds=20))
    assert len(set(leaders)) == 1  # the leader renews at each tick and stays
    follower = "b" if leaders[0] == "a" else "a"
    assert pair.fakes[follower].rendered == []  # the follower never even collected
    assert len(pair.fakes[leaders[0]].rendered) == 15
    assert received(world) == Counter({u: 3 for u in USERS[:5]})
    assert await _lease_holder(world) == f"worker-{leaders[0]}"


@both_backends
async def test_a_killed_leader_is_replaced_once_its_lease_runs_out_R_REMIND(
    world, pair_at_nine, caplog
):
    pair, clock = pair_at_nine
    caplog.set_level(logging.INFO, logger="scheduler.app")
    assert (await pair.a.tick()).sent == 15
    assert not (await pair.b.tick()).leader
    await pair.a.stop(release=False)  # killed: no release
    for fake in pair.fakes.values():
        fake.users.extend(USERS[5:])  # new reminders due meanwhile

    clock.shift(timedelta(seconds=59))
    assert await pair.b.keep_lease() is None and not pair.b.leading
    assert not (await pair.b.tick()).leader
    assert sum(received(world).values()) == 15

    clock.shift(timedelta(seconds=2))  # 61 s after a's last renewal: its lease ran out
    took_over = await pair.b.keep_lease()
    assert took_over is not None and pair.b.leading  # the renewal job ticks at once
    assert (await took_over).sent == 15
    assert received(world) == Counter({u: 3 for u in USERS})
    assert await _lease_holder(world) == "worker-b"
    assert "scheduler leader: worker-b (this process)" in caplog.text
    assert "scheduler leader: worker-a" in caplog.text  # what b saw before
    async with world.app.sessionmaker() as s:
        rows = (await s.scalars(select(Notification))).all()
    assert len(rows) == 30 and all(r.tries == 1 and r.sent_at is not None for r in rows)


async def test_a_graceful_stop_releases_the_lease_and_the_other_leads_at_once_R_REMIND(
    world, pair_at_nine
):
    pair, clock = pair_at_nine
    assert (await pair.a.tick()).sent == 15
    await pair.a.stop()  # graceful: releases
    assert await _lease_holder(world) is None
    for fake in pair.fakes.values():
        fake.users.extend(USERS[5:])
    clock.shift(timedelta(seconds=1))  # well within the lease a would have had
    took_over = await pair.b.keep_lease()
    assert took_over is not None
    assert (await took_over).sent == 15
    assert received(world) == Counter({u: 3 for u in USERS})


async def _until(condition, within: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def test_running_schedulers_elect_one_leader_and_the_other_takes_over_by_itself_R_REMIND(
    world,
):
    """The minute's ticks and the renewals as `paicha run` starts them, in
    real time, with a 3-second lease renewed every 0.5 s."""
    await started(world, USERS)
    clock = ShiftedClock(SH)
    clock.set(datetime.combine(clock.now().date(), datetime.min.time()).replace(hour=9))
    pair = Pair(world, clock, USERS[:5])
    try:
        for app in (pair.a, pair.b):
            app.lease_ttl, app.renew_every = timedelta(seconds=3), 0.5
        pair.a.start()
        pair.b.start()
        assert await _until(lambda: sum(received(world).values()) == 15)
        assert await _until(lambda: pair.a.leader is not None and pair.b.leader is not None)
        assert pair.a.leading != pair.b.leading
        leader, follower = (pair.a, pair.b) if pair.a.leading else (pair.b, pair.a)
        for fake in pair.fakes.values():
            fake.users.extend(USERS[5:])
        await leader.stop(release=False)  # killed
        started_at = asyncio.get_running_loop().time()
        assert await _until(lambda: sum(received(world).values()) == 30)
        took = asyncio.get_running_loop().time() - started_at
        assert follower.leading and took < 10  # the lease (3 s), a renewal, the tick
        assert received(world) == Counter({u: 3 for u in USERS})
    finally:
        await pair.close()


def test_the_lease_length_is_a_setting_renewed_every_third_of_it():
    def app(seconds: int) -> SchedulerApp:
        settings = bot_settings(scheduler_lease_seconds=seconds)
        return SchedulerApp(bot=None, sessionmaker=None, clock=ShiftedClock(SH), settings=settings)  # type: ignore[arg-type]

    assert (app(60).lease_ttl, app(60).renew_every) == (timedelta(seconds=60), 20)
    assert (app(30).lease_ttl, app(30).renew_every) == (timedelta(seconds=30), 10)
    assert app(0).lease_ttl == timedelta(seconds=3)  # never shorter than a few seconds
