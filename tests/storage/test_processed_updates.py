"""Each update handled once (issue 17 point 4), on SQLite and PostgreSQL: the
update's id is written in its first write transaction, with its effect; a
second delivery stops at its first write (DuplicateUpdate) and writes nothing;
reads record nothing; a rolled-back effect records nothing; two deliveries
racing from two processes commit one effect; the leader prunes old ids; a
conversation step that writes only the conversation (SqlStorage, Redis) is
recorded by that write."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StorageKey
from sqlalchemy import func, select

from bot.settings import Settings
from domain.clock import ShiftedClock
from scheduler import SchedulerApp
from storage.db import create_engine, make_sessionmaker, write_tx
from storage.fsm import SqlStorage
from storage.models import Organisation, ProcessedUpdate
from storage.redis_fsm import RecordingRedisStorage
from storage.services import processed
from storage.services.processed import DuplicateUpdate, UpdateSession
from tests.conftest import both_backends, redis_scratch

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def _update_session(sessionmaker, update_id: int, now: datetime = NOW):  # type: ignore[no-untyped-def]
    session = sessionmaker(sync_session_class=UpdateSession)
    processed.expect(session, update_id, now)
    return session


async def _effect(session, name: str) -> None:  # type: ignore[no-untyped-def]
    async with write_tx(session):
        session.add(Organisation(name=name, kind="branch"))


async def _count(sessionmaker, model) -> int:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


@both_backends
async def test_the_id_is_committed_with_the_effect_and_a_redelivery_writes_nothing(sessionmaker):
    async with _update_session(sessionmaker, 7001) as s:
        await s.scalar(select(func.count()).select_from(Organisation))  # a read first
        assert not processed.recorded(s)
        await _effect(s, "第一党支部")
        assert processed.recorded(s)
        await _effect(s, "第二党支部")  # a later write unit of the same update
    async with sessionmaker() as s:
        assert await processed.seen(s, 7001)
        row = await s.get(ProcessedUpdate, 7001)
    assert row is not None and row.handled_at.replace(tzinfo=UTC) == NOW
    async with _update_session(sessionmaker, 7001) as s:
        with pytest.raises(DuplicateUpdate) as caught:
            await _effect(s, "第三党支部")
        assert caught.value.update_id == 7001
        await s.rollback()  # what GuardMiddleware does
        await s.scalar(select(func.count()).select_from(Organisation))  # the session still works
    assert await _count(sessionmaker, Organisation) == 2
    assert await _count(sessionmaker, ProcessedUpdate) == 1


@both_backends
async def test_reads_record_nothing_and_a_rolled_back_effect_leaves_the_update_open(sessionmaker):
    async with _update_session(sessionmaker, 7002) as s:
        await s.scalar(select(Organisation.id))
        await s.commit()
        with pytest.raises(RuntimeError):
            async with write_tx(s):
                s.add(Organisation(name="第一党支部", kind="branch"))
                raise RuntimeError("the effect fails")
        assert not processed.recorded(s)
        assert await _count(sessionmaker, ProcessedUpdate) == 0
        await _effect(s, "第二党支部")  # retried within the same handling
    async with sessionmaker() as s:
        assert await processed.seen(s, 7002)
        assert not await processed.seen(s, 7003)
    assert await _count(sessionmaker, Organisation) == 1


@both_backends
async def test_sessions_that_name_no_update_record_nothing(sessionmaker):
    async with sessionmaker(sync_session_class=UpdateSession) as s:
        await _effect(s, "第一党支部")
    async with sessionmaker() as s:
        await _effect(s, "第二党支部")
    assert await _count(sessionmaker, ProcessedUpdate) == 0


@both_backends
async def test_two_processes_racing_with_one_update_commit_one_effect(db_url, engine):
    """Two workers (two engines) given the same update at the same moment,
    eight times over: each update's effect is written once."""
    other = create_engine(db_url)
    try:
        makers = [make_sessionmaker(engine), make_sessionmaker(other)]

        async def deliver(maker, update_id: int, worker: int) -> bool:  # type: ignore[no-untyped-def]
            async with _update_session(maker, update_id) as s:
                try:
                    await _effect(s, f"支部{update_id}-{worker}")
                except DuplicateUpdate:
                    return False
                return True

        for update_id in range(8000, 8008):
            done = await asyncio.gather(
                deliver(makers[0], update_id, 0), deliver(makers[1], update_id, 1)
            )
            assert sorted(done) == [False, True]
    finally:
        await other.dispose()
    assert await _count(makers[0], Organisation) == 8
    assert await _count(makers[0], ProcessedUpdate) == 8


@both_backends
async def test_prune_forgets_ids_older_than_seven_days(sessionmaker):
    ages = (timedelta(days=8), timedelta(days=7, seconds=1), timedelta(days=6))
    for update_id, age in enumerate(ages, start=1):
        async with _update_session(sessionmaker, update_id, NOW - age) as s:
            await _effect(s, f"支部{update_id}")
    async with sessionmaker() as s:
        assert await processed.prune(s, NOW - processed.KEEP) == 2
        assert await processed.prune(s, NOW - processed.KEEP) == 0
        left = (await s.scalars(select(ProcessedUpdate.update_id))).all()
    assert left == [3]


async def _ids(sessionmaker) -> list[int]:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        return sorted((await s.scalars(select(ProcessedUpdate.update_id))).all())


async def test_the_scheduler_leader_prunes_hourly_and_a_follower_never(sessionmaker):
    clock = ShiftedClock(ZoneInfo("Asia/Shanghai"))
    clock.set(NOW)

    def app(name: str) -> SchedulerApp:
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        return SchedulerApp(
            bot=None,  # type: ignore[arg-type]  # no jobs: nothing is sent
            sessionmaker=sessionmaker,
            clock=clock,
            settings=settings,
            jobs=[],
            name=name,
        )

    async def handled(update_id: int, age: timedelta) -> None:
        async with _update_session(sessionmaker, update_id, clock.now() - age) as s:
            await _effect(s, f"支部{update_id}")

    leader, follower = app("leader"), app("follower")
    await handled(1, timedelta(days=8))
    await handled(2, timedelta(days=1))
    assert (await leader.tick()).leader
    assert await _ids(sessionmaker) == [2]
    await handled(3, timedelta(days=9))
    assert not (await follower.tick()).leader
    clock.shift(timedelta(minutes=59))
    assert (await leader.tick()).leader
    assert await _ids(sessionmaker) == [2, 3]  # pruned at most hourly
    clock.shift(timedelta(minutes=1))
    await leader.tick()
    assert await _ids(sessionmaker) == [2]


# ---- a conversation step that writes only the conversation ------------------------------------

STEP_KEY = StorageKey(bot_id=42, chat_id=101, user_id=101)


@pytest.fixture(params=["sql", "redis"])
async def conversations(request, sessionmaker) -> AsyncIterator[BaseStorage]:  # type: ignore[no-untyped-def]
    """SqlStorage (one process) and the recording RedisStorage (several workers)."""
    if request.param == "sql":
        yield SqlStorage(sessionmaker)
        return
    async with redis_scratch(request.getfixturevalue("redis_url")) as (client, prefix):
        keys = DefaultKeyBuilder(prefix=prefix)
        yield RecordingRedisStorage(client, engine=sessionmaker.kw["bind"], key_builder=keys)


@both_backends
async def test_a_step_that_writes_only_the_conversation_is_recorded_and_moves_on_once(
    sessionmaker, conversations
):
    """Issue 17 point 4: "30" typed as 到会人数 and delivered again is not also
    taken as the answer to the next question: the second delivery stops at
    its conversation write and the conversation stays where the first left it."""
    async with _update_session(sessionmaker, 8001) as s:
        with processed.handling(s, 8001, NOW) as mark:
            await conversations.set_data(STEP_KEY, {"present": 30})
            await conversations.set_state(STEP_KEY, "Resolution:votes_for")
            assert mark.recorded and processed.recorded(s)
            await _effect(s, "第一党支部")  # a later write of the same update: no second record
    assert await _count(sessionmaker, ProcessedUpdate) == 1
    async with _update_session(sessionmaker, 8001) as s:
        with processed.handling(s, 8001, NOW):
            with pytest.raises(DuplicateUpdate):
                await conversations.update_data(STEP_KEY, {"votes_for": 30})
            with pytest.raises(DuplicateUpdate):
                await conversations.set_state(STEP_KEY, "Resolution:votes_against")
    assert await conversations.get_state(STEP_KEY) == "Resolution:votes_for"
    assert await conversations.get_data(STEP_KEY) == {"present": 30}
    assert await _count(sessionmaker, Organisation) == 1


@both_backends
async def test_a_step_that_saves_then_clears_the_conversation_is_recorded_once(
    sessionmaker, conversations
):
    """The session's write records the update; the conversation's write after
    it in the same handling records nothing more and is not refused."""
    await conversations.set_state(STEP_KEY, "AddMember:confirm")  # outside any update
    async with _update_session(sessionmaker, 8002) as s:
        with processed.handling(s, 8002, NOW):
            await _effect(s, "第一党支部")
            await conversations.set_state(STEP_KEY, None)
            await conversations.set_data(STEP_KEY, {})
    assert await conversations.get_state(STEP_KEY) is None
    assert await _count(sessionmaker, ProcessedUpdate) == 1
    assert processed.pending() is None  # the block named the update for its own task only
