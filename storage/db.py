"""Engine and sessions (数据库连接).

SQLite traps (issue 2): WAL alone does not stop "database is locked" when a
read transaction later writes, because SQLite cannot upgrade the lock while
another writer holds it. So we take over BEGIN from the driver: reads begin
DEFERRED, and every write unit of work begins IMMEDIATE (``write_tx``), which
waits on busy_timeout instead of failing. Foreign keys are off by default in
SQLite; we turn them on for every connection.

Speed (issue 3, bench/log_attempts.py): aiosqlite runs every call on the
connection's own thread, and the SQLAlchemy adapter makes four such calls per
statement (cursor, execute, fetchall, close). Each is a hand-off between
threads through the event loop, so ``_OneTripConnection`` does all four in one,
and runs it on the event loop's own thread when it can (see there). Single
reads send no BEGIN at all (``read_alone``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext, suppress
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import greenlet_spawn

BUSY_TIMEOUT_MS = 30_000
_BEGIN_OPTION = "paicha_begin"
_T = TypeVar("_T")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, **kwargs: object) -> AsyncEngine:
    if not is_sqlite(url):
        return create_async_engine(url, pool_pre_ping=True, **kwargs)
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, async_creator=lambda: _connect(engine), **kwargs)
    _install_sqlite_hooks(engine)
    return engine


def _connect(engine: AsyncEngine) -> aiosqlite.Connection:
    args, options = engine.dialect.create_connect_args(engine.url)
    # timeout=0: a statement run on the event loop's thread must never sleep
    # in SQLite's busy handler; the full wait happens on the connection's own
    # thread (``_OneTripConnection``). check_same_thread=False: both threads
    # use the connection, never at the same time.
    options.update(timeout=0, check_same_thread=False)
    connector = partial(sqlite3.connect, *args, **options)
    connection = _OneTripConnection(connector, iter_chunk_size=64)
    # As SQLAlchemy does: never hold up interpreter exit (before aiosqlite
    # 0.22 the connection itself was the thread).
    getattr(connection, "_thread", connection).daemon = True
    return connection


class _OneTripConnection(aiosqlite.Connection):
    """Also carries our BEGIN over to the transaction's first statement, and
    skips COMMIT/ROLLBACK when no transaction is open (SQLAlchemy's pool rolls
    back every connection it gets back, even just after a commit): each saves
    a trip. ``in_tx`` is sqlite3's ``in_transaction`` as of the last call.

    Statements run on the event loop's own thread when they can (issue 3).
    A hand-off to the connection's thread and back costs ~100 µs of the
    loop's time, ten times the statements of a /log tap; worse, the thread
    needs the GIL back after every SQLite call, and while the loop is busy it
    waits up to the interpreter's switch interval (5 ms) for it, so under load
    every trip took milliseconds and the loop sat idle waiting for them. A
    statement is tried in place with SQLite's busy timeout at zero; only if
    the database is locked (another process writing; in this process
    writers take turns, see ``_WriterTurn``) does it go to the thread, which
    waits the full busy timeout as before. Bulk statements (executemany, the
    roster import) always go to the thread, and so do long reads (``_Budget``).
    """

    pending_begin: str | None = None
    in_tx = False
    # Calls given to the thread, and finished there: each written by one
    # thread only. While they differ the connection is the thread's.
    _handed = 0
    _finished = 0

    def cursor(self) -> _OneTripCursor:  # type: ignore[override]
        return _OneTripCursor(self)

    def take_begin(self) -> str | None:
        begin, self.pending_begin = self.pending_begin, None
        return begin

    async def run(
        self, begin: str | None, sql: str, parameters: Any, many: bool
    ) -> tuple[Any, int, int | None, list[Any]]:
        if not many and self._handed == self._finished:
            budget = _Budget() if _reads(sql) else None
            try:
                return _run(self, begin, sql, parameters, many, budget)
            except sqlite3.OperationalError as exc:
                if not (_is_locked(exc) or (budget and budget.spent)):
                    raise
            if self.in_tx:  # BEGIN went through; only the statement moves
                begin = None
        return await self._execute(_run, self, begin, sql, parameters, many)

    async def commit(self) -> None:
        self.pending_begin = None  # nothing ran, so nothing began
        if self.in_tx:
            await self._in_place(self._conn.commit)
            self.in_tx = False

    async def rollback(self) -> None:
        self.pending_begin = None
        if self.in_tx:
            await self._in_place(self._conn.rollback)
            self.in_tx = False

    async def _in_place(self, call: Callable[[], None]) -> None:
        if self._handed == self._finished:
            try:
                return call()
            except sqlite3.OperationalError as exc:
                if not _is_locked(exc):
                    raise
        await self._execute(call)

    async def _execute(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        self._handed += 1
        return await super()._execute(self._waiting, partial(fn, *args, **kwargs))  # type: ignore[no-any-return]

    def _waiting(self, call: Callable[[], _T]) -> _T:
        """On the connection's thread: ``call()`` with SQLite's full busy wait."""
        connection = self._conn
        try:
            connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            return call()
        finally:
            with suppress(sqlite3.Error):  # closed by ``call``
                connection.execute("PRAGMA busy_timeout=0")
            self._finished += 1


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return "locked" in str(exc)
    return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _reads(sql: str) -> bool:
    # Not "WITH": a common table expression may lead an INSERT.
    return sql.lstrip()[:6].upper() == "SELECT"


class _Budget:
    """SQLite's progress handler for a read run in place: a long read (an
    export, a committee's whole register) is stopped after about a
    millisecond's work and run again on the connection's thread, so it does
    not hold up every other chat. Only reads: stopping a write inside a
    transaction would roll the whole transaction back."""

    EVERY = 1_000  # SQLite VM instructions between calls
    CALLS = 100

    def __init__(self) -> None:
        self.calls = 0
        self.spent = False

    def __call__(self) -> bool:
        self.calls += 1
        self.spent = self.calls > self.CALLS
        return self.spent


def _run(
    owner: _OneTripConnection,
    begin: str | None,
    sql: str,
    parameters: Any,
    many: bool,
    budget: _Budget | None = None,
) -> tuple[Any, int, int | None, list[Any]]:
    """(begin,) execute, fetch everything, close."""
    connection = owner._conn
    if budget is not None:
        connection.set_progress_handler(budget, _Budget.EVERY)
    cursor = connection.cursor()
    try:
        if begin is not None:
            cursor.execute(begin)
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()
        if budget is not None:
            connection.set_progress_handler(None, _Budget.EVERY)
        owner.in_tx = connection.in_transaction


class _OneTripCursor:
    """The part of aiosqlite's cursor that SQLAlchemy's adapter uses; rows are
    fetched with the statement, so fetching and closing cost nothing."""

    arraysize = 1

    def __init__(self, connection: _OneTripConnection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def __aenter__(self) -> _OneTripCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def _run(self, sql: str, parameters: Any, *, many: bool) -> _OneTripCursor:
        connection = self._connection
        result = await connection.run(connection.take_begin(), sql, parameters, many)
        self.description, self.rowcount, self.lastrowid, self._rows = result
        return self

    async def execute(self, sql: str, parameters: Any = ()) -> _OneTripCursor:
        return await self._run(sql, () if parameters is None else parameters, many=False)

    async def executemany(self, sql: str, parameters: Any) -> _OneTripCursor:
        return await self._run(sql, parameters, many=True)

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        size = size or self.arraysize
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    async def fetchone(self) -> Sequence[Any] | None:
        return self._rows.pop(0) if self._rows else None

    async def close(self) -> None:
        self._rows = []


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Stop the driver from issuing its own BEGIN; _on_begin issues ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Zero: see _OneTripConnection; calls on its thread wait the full time.
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        if mode is None:  # read_alone: each statement is its own transaction
            return
        driver = conn.connection.driver_connection
        if isinstance(driver, _OneTripConnection):
            driver.pending_begin = f"BEGIN {mode}"
        else:
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
    async with _writer_turn(session.get_bind()):
        await session.connection(execution_options={_BEGIN_OPTION: "IMMEDIATE"})
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def read_alone(bind: Engine, work: Callable[[Connection], _T]) -> _T:
    """``work(connection)`` outside any transaction, on a connection of its own.

    For a single SELECT (the user on every update, the FSM state): on SQLite
    the statement is its own transaction, so there is no BEGIN to send and no
    COMMIT/ROLLBACK trip after it (issue 3). Everything runs in one greenlet,
    which saves the async layer's hand-offs for connect, execute and close.
    On PostgreSQL nothing changes: the driver begins and rolls back as usual.
    ``bind`` is the sync engine (``AsyncSession.get_bind()``,
    ``AsyncEngine.sync_engine``).
    """
    return await greenlet_spawn(_alone, bind, work)


def _alone(bind: Engine, work: Callable[[Connection], _T]) -> _T:
    with bind.connect() as connection:
        connection.execution_options(**{_BEGIN_OPTION: None})
        return work(connection)


async def write_alone(bind: Engine, work: Callable[[Connection], _T]) -> _T:
    """``work(connection)`` as one write unit of work on a connection of its
    own: what ``write_tx`` does for a session (BEGIN IMMEDIATE on SQLite, the
    writer turn, commit on success), in one greenlet."""
    async with _writer_turn(bind):
        return await greenlet_spawn(_in_write_tx, bind, work)


def _in_write_tx(bind: Engine, work: Callable[[Connection], _T]) -> _T:
    with bind.connect() as connection:
        connection.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        with connection.begin():
            return work(connection)


class _WriterTurn:
    """This process's writers to one SQLite file, one at a time, first come
    first served. SQLite's own wait (busy_timeout) polls with sleeps of up to
    100 ms, so under load the lock sat free while waiters slept (bench
    log_attempts: most of the latency). Waiting here wakes the next writer at
    once; other processes still meet busy_timeout. Re-entrant for the task
    that holds it, so a nested write_tx behaves as before."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.owner: asyncio.Task[Any] | None = None

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is not None and task is self.owner:
            yield
            return
        async with asyncio.timeout(BUSY_TIMEOUT_MS / 1000):
            await self.lock.acquire()
        self.owner = task
        try:
            yield
        finally:
            self.owner = None
            self.lock.release()


_TURNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _WriterTurn]] = (
    weakref.WeakKeyDictionary()
)


def _writer_turn(bind: Engine | Connection) -> AbstractAsyncContextManager[None]:
    if bind.dialect.name != "sqlite" or bind.url.database in (None, "", ":memory:"):
        return nullcontext()
    turns = _TURNS.setdefault(asyncio.get_running_loop(), {})
    turn = turns.setdefault(bind.url.database, _WriterTurn())
    return turn()


def utc(value: datetime) -> datetime:
    """Timestamps are stored in UTC. SQLite hands them back naive, so a naive
    value read from the database is taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
