"""What the /log speed-up (issue 3) must not change: one FSM write per tap
still stores state and data together and loses nothing under concurrency;
SQLite writers taking turns in-process still all succeed, and a nested
write_tx still works; the one-trip driver commits, rolls back and bulk-inserts
like aiosqlite."""

from __future__ import annotations

import asyncio

import pytest
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage
from sqlalchemy import func, select

from storage.db import create_engine, make_sessionmaker, write_tx
from storage.fsm import SqlStorage, advance, replace
from storage.models import Base, FsmRecord, Organisation
from tests.conftest import both_backends


class Log(StatesGroup):
    channel = State()
    result = State()


KEY = StorageKey(bot_id=42, chat_id=7, user_id=7)


async def _rows(storage: SqlStorage) -> int | None:
    async with storage.sessionmaker() as s:
        return await s.scalar(select(func.count()).select_from(FsmRecord))


@both_backends
async def test_replace_sets_state_and_data_and_clearing_deletes_the_row(sessionmaker):
    storage = SqlStorage(sessionmaker)
    context = FSMContext(storage, KEY)
    await context.update_data(old="gone")

    await replace(context, Log.channel, {"member_id": 5})
    assert await context.get_state() == Log.channel.state
    assert await context.get_data() == {"member_id": 5}

    await replace(context, None, {})
    assert (await context.get_state(), await context.get_data()) == (None, {})
    assert await _rows(storage) == 0


@both_backends
async def test_advance_merges_data_and_moves_state(sessionmaker):
    context = FSMContext(SqlStorage(sessionmaker), KEY)
    await replace(context, Log.channel, {"member_id": 5})

    merged = await advance(context, Log.result, channel="phone")

    assert merged == {"member_id": 5, "channel": "phone"}
    assert await context.get_state() == Log.result.state
    assert await context.get_data() == merged


async def test_replace_and_advance_fall_back_on_other_storages():
    context = FSMContext(MemoryStorage(), KEY)
    await replace(context, Log.channel, {"member_id": 5})
    assert await advance(context, Log.result, channel="phone") == {
        "member_id": 5,
        "channel": "phone",
    }
    assert await context.get_state() == Log.result.state


@both_backends
async def test_concurrent_update_record_and_set_state_lose_nothing(sessionmaker):
    storage = SqlStorage(sessionmaker)

    async def one(i: int) -> None:
        if i % 2:
            await storage.update_record(KEY, Log.result, {f"item{i}": i})
        else:
            await storage.set_state(KEY, Log.channel)

    results = await asyncio.gather(*(one(i) for i in range(60)), return_exceptions=True)

    assert [r for r in results if isinstance(r, BaseException)] == []
    assert await storage.get_data(KEY) == {f"item{i}": i for i in range(1, 60, 2)}


async def test_a_nested_write_on_the_same_session_still_works(sessionmaker):
    async with sessionmaker() as s, write_tx(s):
        s.add(Organisation(name="外层支部", kind="branch"))
        async with write_tx(s):  # commits the outer unit first, as before
            s.add(Organisation(name="内层支部", kind="branch"))
    async with sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Organisation)) == 2


async def test_writers_from_two_engines_on_one_file_all_succeed(db_url):
    """The bot's main and FSM engines share one SQLite file and one writer turn."""
    engines = [create_engine(db_url), create_engine(db_url)]
    try:
        async with engines[0].begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        makers = [make_sessionmaker(e) for e in engines]

        async def one(i: int) -> None:
            async with makers[i % 2]() as s, write_tx(s):
                s.add(Organisation(name=f"第{i}支部", kind="branch"))

        await asyncio.gather(*(one(i) for i in range(100)))
        async with makers[0]() as s:
            assert await s.scalar(select(func.count()).select_from(Organisation)) == 100
    finally:
        for engine in engines:
            await engine.dispose()


@both_backends
async def test_bulk_insert_rollback_and_read_after_commit(sessionmaker):
    async with sessionmaker() as s, write_tx(s):
        s.add_all(Organisation(name=f"支部{i}", kind="branch") for i in range(50))
    with pytest.raises(RuntimeError):
        async with sessionmaker() as s, write_tx(s):
            s.add(Organisation(name="回滚", kind="branch"))
            await s.flush()
            raise RuntimeError
    async with sessionmaker() as s:
        names = set(await s.scalars(select(Organisation.name)))
    assert len(names) == 50 and "回滚" not in names
