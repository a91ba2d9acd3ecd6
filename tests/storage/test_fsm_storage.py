"""FSM storage: conversations survive restarts.

The same contract runs against aiogram's ``MemoryStorage`` (the reference
behaviour) and our ``SqlStorage`` on SQLite and PostgreSQL, as aiogram tests
its own backends; then the things only a database storage promises: state
survives a restart, concurrent updates lose nothing, data is JSON or refused.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date
from typing import Literal

import pytest
from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import BaseStorage, KeyBuilder, StorageKey
from aiogram.fsm.storage.memory import MemoryStorage
from sqlalchemy import func, select

from storage.db import create_engine, make_sessionmaker
from storage.fsm import SqlStorage
from storage.models import Base, FsmRecord
from tests.conftest import both_backends


class AddMember(StatesGroup):
    name = State()
    gender = State()


KEY = StorageKey(bot_id=42, chat_id=-100_123, user_id=7)


class OneRowKeyBuilder(KeyBuilder):
    """Maps every StorageKey to one row (to see that a custom builder is used)."""

    def build(self, key: StorageKey, part: Literal["data", "state", "lock"] | None = None) -> str:
        return "one-row"


@pytest.fixture
def storage(request: pytest.FixtureRequest, db_url: str) -> BaseStorage:
    if request.param == "memory":
        return MemoryStorage()
    # The database exists only for the Sql cases; db_url is parametrized with it.
    return SqlStorage(request.getfixturevalue("sessionmaker"))


async def rows(storage: BaseStorage) -> int | None:
    """Rows in fsm_record for a SqlStorage; None for MemoryStorage."""
    if not isinstance(storage, SqlStorage):
        return None
    async with storage.sessionmaker() as s:
        return await s.scalar(select(func.count()).select_from(FsmRecord))


@pytest.mark.parametrize(
    ("storage", "db_url"),
    [
        pytest.param("memory", "sqlite", id="memory"),
        pytest.param("sql", "sqlite", id="sql-sqlite"),
        pytest.param("sql", "postgres", id="sql-postgres"),
    ],
    indirect=True,
)
class TestStorageContract:
    async def test_state_as_state_object_and_as_str(self, storage: BaseStorage):
        assert await storage.get_state(KEY) is None

        await storage.set_state(KEY, AddMember.name)
        assert await storage.get_state(KEY) == "AddMember:name"

        await storage.set_state(KEY, "AddMember:gender")
        assert await storage.get_state(KEY) == AddMember.gender.state

        await storage.set_state(KEY, None)
        assert await storage.get_state(KEY) is None

    async def test_set_data_replaces(self, storage: BaseStorage):
        assert await storage.get_data(KEY) == {}

        await storage.set_data(KEY, {"name": "张三", "step": 1})
        assert await storage.get_data(KEY) == {"name": "张三", "step": 1}

        await storage.set_data(KEY, {"step": 2})
        assert await storage.get_data(KEY) == {"step": 2}
        assert await storage.get_value(KEY, "step") == 2
        assert await storage.get_value(KEY, "name", "—") == "—"

    async def test_set_data_refuses_non_dict(self, storage: BaseStorage):
        with pytest.raises(DataNotDictLikeError):
            await storage.set_data(KEY, [("name", "张三")])  # type: ignore[arg-type]

    async def test_update_data_merges(self, storage: BaseStorage):
        assert await storage.update_data(KEY, {"foo": "bar"}) == {"foo": "bar"}
        assert await storage.update_data(KEY, {}) == {"foo": "bar"}
        assert await storage.update_data(KEY, {"baz": "spam"}) == {"foo": "bar", "baz": "spam"}
        assert await storage.update_data(KEY, {"baz": "test"}) == {"foo": "bar", "baz": "test"}
        assert await storage.get_data(KEY) == {"foo": "bar", "baz": "test"}

    async def test_update_data_keeps_the_state(self, storage: BaseStorage):
        await storage.set_state(KEY, AddMember.name)
        await storage.update_data(KEY, {"name": "李四"})
        assert await storage.get_state(KEY) == "AddMember:name"
        assert await storage.get_data(KEY) == {"name": "李四"}

    async def test_returned_data_is_a_copy(self, storage: BaseStorage):
        await storage.set_data(KEY, {"a": 1})
        (await storage.get_data(KEY))["b"] = 2
        (await storage.update_data(KEY, {"c": 3}))["d"] = 4
        assert await storage.get_data(KEY) == {"a": 1, "c": 3}

    async def test_clearing_state_and_data_deletes_the_record(self, storage: BaseStorage):
        await storage.set_state(KEY, AddMember.name)
        await storage.set_data(KEY, {"name": "王五"})
        assert await rows(storage) in (None, 1)

        await storage.set_state(KEY, None)  # data still there: the record stays
        assert await storage.get_data(KEY) == {"name": "王五"}
        assert await rows(storage) in (None, 1)

        await storage.set_data(KEY, {})
        assert await storage.get_state(KEY) is None
        assert await storage.get_data(KEY) == {}
        assert await rows(storage) in (None, 0)

        # What FSMContext.clear() does, from a conversation that has both.
        await storage.set_state(KEY, "AddMember:gender")
        await storage.update_data(KEY, {"gender": "女"})
        await FSMContext(storage, KEY).clear()
        assert await storage.get_state(KEY) is None
        assert await storage.get_data(KEY) == {}
        assert await rows(storage) in (None, 0)

    async def test_different_keys_are_isolated(self, storage: BaseStorage):
        keys = [
            KEY,
            replace(KEY, chat_id=-100_999),
            replace(KEY, user_id=8),
            replace(KEY, thread_id=5),
            replace(KEY, destiny="reminder"),
            replace(KEY, bot_id=43),
            replace(KEY, chat_id=7),  # private chat: chat id == user id
        ]
        for i, key in enumerate(keys):
            await storage.set_state(key, f"S:{i}")
            await storage.update_data(key, {"i": i})
        for i, key in enumerate(keys):
            assert await storage.get_state(key) == f"S:{i}"
            assert await storage.get_data(key) == {"i": i}
        assert await rows(storage) in (None, len(keys))

        await storage.set_state(keys[3], None)
        await storage.set_data(keys[3], {})
        assert await storage.get_state(KEY) == "S:0"
        assert await storage.get_data(keys[4]) == {"i": 4}
        assert await rows(storage) in (None, len(keys) - 1)

    async def test_unicode_data_round_trips(self, storage: BaseStorage):
        data = {
            "姓名": "欧阳娜娜",
            "民族": "维吾尔族",
            "备注": "组织关系转入 ✓ «quoted» \"double\" 'single' \\ 😀",
            "nested": {"列表": ["一", 2, 3.5, True, None]},
        }
        await storage.set_data(KEY, data)
        await storage.set_state(KEY, "添加党员:姓名")
        assert await storage.get_data(KEY) == data
        assert await storage.get_state(KEY) == "添加党员:姓名"


# -- SqlStorage only ----------------------------------------------------------


@both_backends
async def test_conversation_survives_a_restart(db_url: str):
    """Conversations survive restarts: a secretary half-way through /add
    continues after the bot (engine, storage) is stopped and started again."""
    engine = create_engine(db_url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    before = FSMContext(SqlStorage(make_sessionmaker(engine)), KEY)
    await before.set_state(AddMember.gender)
    await before.update_data(name="张三", branch_id=3)
    await before.storage.close()
    await engine.dispose()

    engine = create_engine(db_url)
    try:
        after = FSMContext(SqlStorage(make_sessionmaker(engine)), KEY)
        assert await after.get_state() == AddMember.gender.state
        assert await after.get_data() == {"name": "张三", "branch_id": 3}
    finally:
        await engine.dispose()


@both_backends
async def test_100_concurrent_update_data_lose_nothing(sessionmaker):
    """update_data is one read-modify-write transaction: no lost update."""
    storage = SqlStorage(sessionmaker)
    await storage.set_state(KEY, AddMember.name)

    results = await asyncio.gather(
        *(storage.update_data(KEY, {f"item{i}": i}) for i in range(100)),
        return_exceptions=True,
    )

    assert [r for r in results if isinstance(r, BaseException)] == []
    assert await storage.get_data(KEY) == {f"item{i}": i for i in range(100)}
    assert await storage.get_state(KEY) == "AddMember:name"
    # Each call saw every earlier one: the returned sizes are exactly 1..100.
    assert sorted(len(r) for r in results) == list(range(1, 101))


@both_backends
async def test_concurrent_first_writes_and_clears_of_one_key(sessionmaker):
    """Racing inserts of a new key, and clears racing updates, never fail."""
    storage = SqlStorage(sessionmaker)

    async def one(i: int) -> None:
        if i % 3 == 0:
            await storage.set_data(KEY, {})
        else:
            await storage.update_data(KEY, {f"item{i}": i})

    results = await asyncio.gather(*(one(i) for i in range(60)), return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert await rows(storage) in (0, 1)


async def test_unserialisable_data_is_refused(sessionmaker):
    storage = SqlStorage(sessionmaker)
    await storage.set_data(KEY, {"name": "张三"})

    with pytest.raises(TypeError, match="JSON-serialisable"):
        await storage.set_data(KEY, {"name": "张三", "joined": date(2016, 3, 18)})
    with pytest.raises(TypeError, match="JSON-serialisable"):
        await storage.update_data(KEY, {"member": object()})
    with pytest.raises(TypeError, match="JSON-serialisable"):
        await storage.update_data(replace(KEY, user_id=8), {"ids": {1, 2}})

    assert await storage.get_data(KEY) == {"name": "张三"}
    assert await rows(storage) == 1


async def test_default_key_has_bot_and_destiny_and_a_custom_builder_is_used(sessionmaker):
    storage = SqlStorage(sessionmaker)
    await storage.set_state(replace(KEY, destiny="reminder"), "S")
    async with sessionmaker() as s:
        assert await s.scalar(select(FsmRecord.key)) == "fsm:42:-100123:7:reminder"

    custom = SqlStorage(sessionmaker, key_builder=OneRowKeyBuilder())
    await custom.set_state(KEY, "T")
    assert await custom.get_state(replace(KEY, user_id=999)) == "T"
