"""The engine's promises: WAL and foreign keys on SQLite, writes that never
fail with "database is locked", and migrations that match the models."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from storage.db import create_engine, make_sessionmaker, write_tx
from storage.migrate import upgrade_async
from storage.models import Base, Member, Organisation
from tests.conftest import both_backends
from tests.factories import member_values


async def test_sqlite_runs_in_wal_with_foreign_keys(session, db_url):
    assert (await session.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
    assert (await session.execute(text("PRAGMA foreign_keys"))).scalar() == 1


@both_backends
async def test_200_concurrent_read_then_write_transactions_all_succeed(sessionmaker):
    """The SQLite trap of issue 2: read, then write, 200 at once, 0 failures."""

    async def one(i: int) -> None:
        async with sessionmaker() as s:
            await s.scalar(select(func.count()).select_from(Organisation))
            async with write_tx(s):
                s.add(Organisation(name=f"第{i}党支部", kind="branch"))

    results = await asyncio.gather(*(one(i) for i in range(200)), return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []
    async with sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Organisation)) == 200


@both_backends
async def test_foreign_keys_are_enforced(sessionmaker):
    with pytest.raises(IntegrityError):
        async with sessionmaker() as s, write_tx(s):
            s.add(Member(branch_id=999, **member_values(1)))


@both_backends
async def test_migrations_match_the_models(db_url):
    await upgrade_async(db_url)
    engine = create_engine(db_url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
        )
    await engine.dispose()
    assert diff == []


async def test_write_tx_rolls_back_on_error(sessionmaker):
    with pytest.raises(RuntimeError):
        async with sessionmaker() as s, write_tx(s):
            s.add(Organisation(name="回滚支部", kind="branch"))
            raise RuntimeError
    async with sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Organisation)) == 0


def test_make_sessionmaker_keeps_objects_after_commit(engine):
    assert make_sessionmaker(engine).kw["expire_on_commit"] is False
