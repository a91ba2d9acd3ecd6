"""What running SQLite statements on the event loop's thread (issue 3) must
not change: a write still waits for a lock another process holds instead of
failing, a long read still returns every row, and the reads that run outside
a transaction (the user on every update, the FSM state) leave none open and
see what is committed, on both engines."""

from __future__ import annotations

import sqlite3

import pytest
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

import storage.db as db
from storage.db import write_tx
from storage.fsm import SqlStorage
from storage.models import Organisation, User
from storage.services.users import see_user
from tests.conftest import both_backends

KEY = StorageKey(bot_id=42, chat_id=7, user_id=7)


@pytest.fixture
def handed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """One entry per call given to a connection's own thread."""
    calls: list[str] = []
    original = db._Connection._submit

    def spy(self, fn):  # type: ignore[no-untyped-def]
        calls.append("worker")
        return original(self, fn)

    monkeypatch.setattr(db._Connection, "_submit", spy)
    return calls


async def test_a_write_waits_for_another_process_lock_instead_of_failing(
    db_url, sessionmaker, monkeypatch
):
    other = sqlite3.connect(make_url(db_url).database, check_same_thread=False)
    other.isolation_level = None
    other.execute("BEGIN IMMEDIATE")  # another process writing
    original = db._Connection._submit
    waited: list[str] = []

    def release_then_wait(self, fn):  # type: ignore[no-untyped-def]
        if other.in_transaction:
            waited.append("worker")
            other.execute("COMMIT")  # the other process finishes while we wait
        return original(self, fn)

    monkeypatch.setattr(db._Connection, "_submit", release_then_wait)
    try:
        async with sessionmaker() as s, write_tx(s):
            s.add(Organisation(name="第一支部", kind="branch"))
    finally:
        other.close()

    assert waited == ["worker"]
    async with sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Organisation)) == 1


async def test_a_long_read_moves_to_the_thread_and_returns_every_row(engine, handed):
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE numbers (n INTEGER)"))
        await conn.execute(
            text(
                "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 50000)"
                " INSERT INTO numbers SELECT n FROM r"
            )
        )
    handed.clear()

    async with engine.connect() as conn:
        short = (await conn.execute(text("SELECT 1"))).scalar()
        assert handed == []
        rows = (await conn.execute(text("SELECT n FROM numbers WHERE n % 2 = 0"))).all()

    assert short == 1
    assert handed == ["worker"]
    assert len(rows) == 25_000 and rows[-1].n == 50_000


async def test_reads_in_place_still_see_committed_rows_while_another_process_writes(
    db_url, sessionmaker
):
    async with sessionmaker() as s, write_tx(s):
        s.add(User(id=7, full_name="张三"))
    other = sqlite3.connect(make_url(db_url).database)
    other.isolation_level = None
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE user_account SET full_name = '李四' WHERE id = 7")
    try:
        async with sessionmaker() as s:
            actor = await see_user(s, 7, "张三", None, "zh")
            assert not s.in_transaction()
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert actor.user_id == 7


@both_backends
async def test_the_actor_and_the_state_are_read_without_a_transaction_left_open(sessionmaker):
    async with sessionmaker() as s, write_tx(s):
        s.add(User(id=7, full_name="张三"))
    storage = SqlStorage(sessionmaker)
    await storage.set_state(KEY, "SearchLog:channel")

    async with sessionmaker() as s:
        actor = await see_user(s, 7, "张三", None, "zh")
        assert not s.in_transaction()
        renamed = await see_user(s, 7, "张三丰", None, "zh")  # a rename still writes

    assert (actor.user_id, renamed.user_id) == (7, 7)
    assert await storage.get_state(KEY) == "SearchLog:channel"
    async with sessionmaker() as s:
        assert await s.scalar(select(User.full_name).where(User.id == 7)) == "张三丰"
