"""Engine and sessions (数据库连接).

SQLite traps (issue 2): WAL alone does not stop "database is locked" when a
read transaction later writes, because SQLite cannot upgrade the lock while
another writer holds it. So we take over BEGIN from the driver: reads begin
DEFERRED, and every write unit of work begins IMMEDIATE (``write_tx``), which
waits on busy_timeout instead of failing. Foreign keys are off by default in
SQLite; we turn them on for every connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

BUSY_TIMEOUT_MS = 30_000
_BEGIN_OPTION = "paicha_begin"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, **kwargs: object) -> AsyncEngine:
    if not is_sqlite(url):
        return create_async_engine(url, pool_pre_ping=True, **kwargs)
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}, **kwargs)
    _install_sqlite_hooks(engine)
    return engine


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Stop the driver from issuing its own BEGIN; _on_begin issues ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: handlers render objects after the service commits.
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def write_tx(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """One write unit of work: BEGIN IMMEDIATE on SQLite, commit on success.

    Any read transaction still open is ended first, so the write never has to
    upgrade a shared lock (the SQLite trap above).
    """
    if session.in_transaction():
        await session.commit()
    await session.connection(execution_options={_BEGIN_OPTION: "IMMEDIATE"})
    try:
        yield session
        await session.commit()
    except BaseException:
        await session.rollback()
        raise


def utc(value: datetime) -> datetime:
    """Timestamps are stored in UTC. SQLite hands them back naive, so a naive
    value read from the database is taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
