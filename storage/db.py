"""Engine and sessions (数据库连接).

SQLite traps (issue 2): WAL alone does not stop "database is locked" when a
read transaction later writes, because SQLite cannot upgrade the lock while
another writer holds it. So we take over BEGIN from the driver: reads begin
DEFERRED, and every write unit of work begins IMMEDIATE (``write_tx``), which
waits on busy_timeout instead of failing. Foreign keys are off by default in
SQLite; we turn them on for every connection.

The SQLite driver is our own (issue 17 point 5), on documented APIs only: the
stdlib ``sqlite3`` module and ``_Worker``, one thread per connection with an
awaitable call. SQLAlchemy gets it through its documented async route,
``create_async_engine(async_creator=...)`` with its ``sqlite+aiosqlite``
dialect; ``_Connection`` and ``_Cursor`` implement the part of aiosqlite's
public Connection/Cursor interface that the dialect calls. The aiosqlite
package is imported by that dialect (its exception names are sqlite3's), never
by us.

Speed (issue 3, bench/log_attempts.py): a hand-off to a thread and back costs
the loop ~100 µs, and under load the thread waits for the GIL after every
SQLite call, so a short read runs in place on the event loop's thread, with
SQLite's busy timeout at zero and a wall-clock budget (``_Budget``); a read
past its budget, or meeting a lock, is run again on the connection's thread,
which waits the full busy timeout. Everything that writes (and its COMMIT or
ROLLBACK) runs on the thread, and so do streamed results (``yield_per``,
``stream()``), fetched in chunks. Single reads send no BEGIN at all
(``read_alone``). SQLite's own checkpoints are off (``wal_autocheckpoint=0``):
after a commit that grew the WAL past ``CHECKPOINT_BYTES`` a PASSIVE
checkpoint runs on that connection's thread, never in a commit on the loop.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import queue
import sqlite3
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import greenlet_spawn

BUSY_TIMEOUT_MS = 30_000
# A read run in place gives up after this much wall-clock time and is run
# again on the connection's thread.
IN_PLACE_BUDGET_S = 0.002
# Rows fetched per trip to the thread for a streamed result.
STREAM_CHUNK = 500
# A PASSIVE checkpoint once the WAL has grown by this much (SQLite's own
# default is 1000 pages of 4 KiB).
CHECKPOINT_BYTES = 4 * 2**20
_BEGIN_OPTION = "paicha_begin"
_T = TypeVar("_T")
_log = logging.getLogger(__name__)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, **kwargs: object) -> AsyncEngine:
    if not is_sqlite(url):
        server = create_async_engine(url, **kwargs)
        event.listen(server.sync_engine, "checkout", _closed_is_disconnected)
        return server
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)

    async def connect() -> _Connection:
        return await _connect(engine)

    engine = create_async_engine(url, async_creator=connect, **kwargs)
    _install_sqlite_hooks(engine)
    return engine


def _closed_is_disconnected(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A pooled connection the server has closed (PostgreSQL restarted) is
    replaced on checkout, so requests after a restart succeed. The driver
    notices the closed socket by itself (asyncpg's ``is_closed``): no round
    trip, where ``pool_pre_ping`` spent three (BEGIN, ping, ROLLBACK) on
    every checkout, a tenth of a worker's CPU under load (bench/load.py). A
    connection lost silently fails its first statement instead; SQLAlchemy
    then invalidates the whole pool and that one request gets "稍后再试"."""
    is_closed = getattr(getattr(dbapi_connection, "driver_connection", None), "is_closed", None)
    if is_closed is not None and is_closed():
        raise DisconnectionError("the server closed this pooled connection")


async def _connect(engine: AsyncEngine) -> _Connection:
    args, options = engine.dialect.create_connect_args(engine.url)
    # isolation_level=None: sqlite3 sends no BEGIN of its own, ours comes
    # with the transaction's first statement. check_same_thread=False: the
    # loop's thread and the connection's own thread both use it, never at
    # once (``_Worker.idle``).
    options.update(timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    worker = _Worker()
    try:
        db = await worker.call(partial(_open, args, options))
    except BaseException:
        worker.stop()
        raise
    return _Connection(db, worker, engine.url.database)


def _open(args: Sequence[Any], options: Mapping[str, Any]) -> sqlite3.Connection:
    db: sqlite3.Connection = sqlite3.connect(*args, **options)
    try:
        for pragma in (
            "journal_mode=WAL",
            "foreign_keys=ON",
            "synchronous=NORMAL",
            # Checkpoints are ours, on the connection's thread (_Checkpoints).
            "wal_autocheckpoint=0",
            # After a complete checkpoint SQLite writes the WAL from its start
            # again; this makes it cut the file down when it does, so the
            # file's size tells how much waits to be checkpointed.
            "journal_size_limit=0",
        ):
            db.execute(f"PRAGMA {pragma}").close()
    except BaseException:
        db.close()
        raise
    return db


class _Worker:
    """One thread that runs calls, one at a time, in the order given; ``call``
    awaits the result. ``idle`` (every call given has finished) tells when
    the event loop's thread may use the connection itself."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[
            tuple[asyncio.AbstractEventLoop | None, asyncio.Future[Any] | None, Callable[[], Any]]
            | None
        ] = queue.SimpleQueue()
        # Each written by one thread only: _handed by the loop's, _finished
        # by the worker's.
        self._handed = 0
        self._finished = 0
        # Daemon, as SQLAlchemy makes aiosqlite's: never hold up interpreter exit.
        self.thread = threading.Thread(target=self._serve, name="paicha-sqlite", daemon=True)
        self.thread.start()

    @property
    def idle(self) -> bool:
        return self._handed == self._finished

    def submit(self, fn: Callable[[], _T]) -> asyncio.Future[_T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_T] = loop.create_future()
        self._handed += 1
        self._jobs.put((loop, future, fn))
        return future

    async def call(self, fn: Callable[[], _T]) -> _T:
        return await self.submit(fn)

    def stop(self, last: Callable[[], Any] | None = None) -> None:
        """End the thread after the calls already given (and ``last``)."""
        if last is not None:
            self._handed += 1
            self._jobs.put((None, None, last))
        self._jobs.put(None)

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            loop, future, fn = job
            result: Any = None
            error: BaseException | None = None
            try:
                result = fn()
            except BaseException as exc:
                error = exc
            self._finished += 1
            if loop is None or future is None:
                if error is not None:
                    _log.debug("sqlite call failed after its caller left", exc_info=error)
                continue
            with suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(_settle, future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


@dataclass
class _Outcome:
    description: Any
    rowcount: int
    lastrowid: int | None
    rows: list[Any]
    more: sqlite3.Cursor | None  # a streamed result with rows still to fetch
    in_tx: bool


def _execute(
    db: sqlite3.Connection,
    begin: str | None,
    sql: str,
    parameters: Any,
    many: bool,
    stream: bool,
) -> _Outcome:
    """(begin,) execute and fetch: every row, or a streamed result's first chunk."""
    cursor = db.cursor()
    more: sqlite3.Cursor | None = None
    try:
        if begin is not None:
            cursor.execute(begin)
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        rows: list[Any] = []
        if cursor.description is not None:
            if stream:
                rows = cursor.fetchmany(STREAM_CHUNK)
                if len(rows) == STREAM_CHUNK:
                    more = cursor
            else:
                rows = cursor.fetchall()
        return _Outcome(
            cursor.description, cursor.rowcount, cursor.lastrowid, rows, more, db.in_transaction
        )
    finally:
        if more is None:
            cursor.close()


class _Budget:
    """SQLite's progress handler for a read run in place: a long read (an
    export, a committee's whole register) is stopped once it has taken
    ``IN_PLACE_BUDGET_S`` of wall-clock time, SQLite's own work and the
    building of rows alike, and run again on the connection's thread, so it
    does not hold up every other chat. Only reads: stopping a write inside a
    transaction would roll the whole transaction back."""

    EVERY = 1_000  # SQLite VM instructions between looks at the clock

    def __init__(self) -> None:
        self.deadline = time.perf_counter() + IN_PLACE_BUDGET_S
        self.spent = False

    def __call__(self) -> bool:
        self.spent = time.perf_counter() > self.deadline
        return self.spent


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return "locked" in str(exc)
    return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _small(sql: str, parameters: Any) -> bool:
    """SQLite compiles a statement and binds its parameters before its first
    VM instruction, where no progress handler sees the time go: a statement
    with a huge ``IN (...)`` list (the roster import asks for 100,000 ID
    numbers at once) goes to the worker without a try in place."""
    return len(sql) <= _SMALL_SQL and len(parameters) <= _SMALL_PARAMETERS


_SMALL_SQL = 20_000  # characters
_SMALL_PARAMETERS = 500


def _reads(sql: str) -> bool:
    # Not "WITH": a common table expression may lead an INSERT.
    return sql.lstrip()[:6].upper() == "SELECT"


class _Connection:
    """What SQLAlchemy's aiosqlite dialect holds as its driver connection: the
    public interface of ``aiosqlite.Connection`` that the dialect calls
    (``cursor``, ``commit``, ``rollback``, ``close``, ``create_function``,
    ``stop``, ``isolation_level``), on one ``sqlite3.Connection`` and its
    ``_Worker``.

    Also carries our BEGIN over to the transaction's first statement, and
    skips COMMIT/ROLLBACK when no transaction is open (SQLAlchemy's pool rolls
    back every connection it gets back, even just after a commit): each saves
    a trip. ``in_tx`` is sqlite3's ``in_transaction`` as of the last call.

    Where a statement runs: a read (SELECT) in place on the event loop's
    thread when the worker is idle, within ``_Budget``; everything else,
    and a read that met a lock or ran out of budget, on the worker. A write
    takes this process's writer turn (``_WriterTurn``) unless its task holds
    it already (``write_tx``), and keeps it until the transaction ends: so a
    commit outside ``write_tx`` takes its turn too. COMMIT and ROLLBACK of a
    transaction that wrote run on the worker; of one that only read, in place.
    """

    isolation_level = None  # sqlite3 begins nothing by itself (see _connect)

    def __init__(self, db: sqlite3.Connection, worker: _Worker, database: str | None) -> None:
        self._db: sqlite3.Connection | None = db
        self._worker = worker
        self._database = database
        self._wal = (
            None
            if database in (None, "", ":memory:") or database.startswith("file:")
            else os.path.abspath(database) + "-wal"
        )
        self.pending_begin: str | None = None
        self.stream_next = False  # set by _install_sqlite_hooks for a streamed statement
        self.in_tx = False
        self._tx_wrote = False
        self._turn: _WriterTurn | None = None  # held by this connection, not by write_tx
        self._busy_zero = False  # busy_timeout is 0 (for a call in place), not the full wait

    @property
    def _connection(self) -> sqlite3.Connection | None:
        """The open sqlite3 connection, None once closed: the aiosqlite dialect
        reads this name to skip COMMIT/ROLLBACK on a closed connection."""
        return self._db

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise sqlite3.OperationalError("connection closed")
        return self._db

    def cursor(self) -> _Cursor:
        return _Cursor(self)

    def take_begin(self) -> str | None:
        begin, self.pending_begin = self.pending_begin, None
        return begin

    # ---- where a call runs -------------------------------------------------------

    def _in_place(self) -> sqlite3.Connection:
        """The connection for a call on the loop's thread (worker idle): busy
        timeout 0, so SQLite never sleeps in its busy handler on the loop."""
        db = self.db
        if not self._busy_zero:
            db.execute("PRAGMA busy_timeout=0").close()
            self._busy_zero = True
        return db

    async def _on_worker(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        return await self._submit(fn)

    def _submit(self, fn: Callable[[sqlite3.Connection], _T]) -> asyncio.Future[_T]:
        db = self.db
        if self._busy_zero:
            # Only ever zero after a call in place with nothing given to the
            # worker since, so the worker is idle: set it back here, on the
            # loop, which costs microseconds; on the worker each extra
            # statement means waiting for the GIL again.
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}").close()
            self._busy_zero = False
        return self._worker.submit(partial(fn, db))

    async def run(self, cursor: _Cursor, sql: str, parameters: Any, many: bool) -> None:
        begin = self.take_begin()
        stream, self.stream_next = self.stream_next, False
        reads = not many and _reads(sql)
        if reads and not stream and self._worker.idle and _small(sql, parameters):
            db = self._in_place()
            budget = _Budget()
            was_in_tx = db.in_transaction
            db.set_progress_handler(budget, _Budget.EVERY)
            try:
                cursor.take(_execute(db, begin, sql, parameters, False, False))
                return
            except sqlite3.OperationalError as exc:
                if not (_is_locked(exc) or budget.spent):
                    raise
            finally:
                db.set_progress_handler(None, 0)
                self.in_tx = db.in_transaction
            if was_in_tx and not self.in_tx:  # never for a SELECT; never hide it
                raise sqlite3.OperationalError("transaction rolled back by an interrupted read")
            if self.in_tx:  # BEGIN went through; only the statement moves
                begin = None
        if not reads:
            await self._take_turn()
        try:
            outcome = await self._on_worker(
                lambda db: _execute(db, begin, sql, parameters, many, stream)
            )
        finally:
            still = self._db
            self.in_tx = still is not None and still.in_transaction
            if not reads:
                self._tx_wrote = self.in_tx
                if not self.in_tx:  # on its own: done (committed or failed)
                    self._release_turn()
        cursor.take(outcome)
        if not reads and not self.in_tx:
            self._maybe_checkpoint()

    # ---- the writer turn ----------------------------------------------------------

    async def _take_turn(self) -> None:
        turn = _turn_for(self._database)
        if turn is None or self._turn is not None or turn.held_here():
            return
        try:
            await turn.acquire()
        except TimeoutError:
            raise sqlite3.OperationalError("database is locked (writer turn)") from None
        self._turn = turn

    def _release_turn(self) -> None:
        turn, self._turn = self._turn, None
        if turn is not None:
            turn.release()

    # ---- ending a transaction ----------------------------------------------------

    async def commit(self) -> None:
        await self._end("commit")

    async def rollback(self) -> None:
        await self._end("rollback")

    async def _end(self, how: str) -> None:
        self.pending_begin = None  # nothing ran, so nothing began
        wrote = self._tx_wrote
        try:
            if self.in_tx:
                if wrote or not self._worker.idle:
                    await self._on_worker(lambda db: getattr(db, how)())
                else:  # only read: nothing to write or undo
                    getattr(self._in_place(), how)()
        finally:
            db = self._db
            self.in_tx = db is not None and db.in_transaction
            if not self.in_tx:
                self._tx_wrote = False
                self._release_turn()
        if wrote and how == "commit":
            self._maybe_checkpoint()

    def _maybe_checkpoint(self) -> None:
        if self._wal is None or self._db is None:
            return
        if _CHECKPOINTS.due(self._wal):
            future = self._submit(_checkpoint)
            future.add_done_callback(_log_checkpoint)

    # ---- the rest of aiosqlite's interface that the dialect uses ---------------------

    async def create_function(
        self, name: str, num_params: int, func: Callable[..., Any], *, deterministic: bool = False
    ) -> None:
        if self._worker.idle:
            self.db.create_function(name, num_params, func, deterministic=deterministic)
        else:
            await self._on_worker(
                lambda db: db.create_function(name, num_params, func, deterministic=deterministic)
            )

    async def close(self) -> None:
        db, self._db = self._db, None
        self._release_turn()
        if db is None:
            return
        try:
            await self._worker.call(db.close)
        finally:
            self._worker.stop()

    def stop(self) -> None:
        """Close without waiting (SQLAlchemy's terminate of a connection it
        cannot close gracefully, or one garbage-collected)."""
        db, self._db = self._db, None
        turn, self._turn = self._turn, None
        if turn is not None:
            # An asyncio lock is released on its loop's thread only; with no
            # loop running here, the loop is gone and its turns with it.
            with suppress(RuntimeError):
                asyncio.get_running_loop()
                turn.release()
        self._worker.stop(db.close if db is not None else None)


def _checkpoint(db: sqlite3.Connection) -> tuple[int, int, int]:
    row = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return (int(row[0]), int(row[1]), int(row[2]))


def _log_checkpoint(future: asyncio.Future[tuple[int, int, int]]) -> None:
    if future.cancelled():
        return
    if (error := future.exception()) is not None:
        _log.warning("WAL checkpoint failed: %s", error)
    else:
        busy, frames, done = future.result()
        _log.debug("WAL checkpoint: %s of %s frames (busy=%s)", done, frames, busy)


class _Checkpoints:
    """When a WAL has grown by ``CHECKPOINT_BYTES`` since the checkpoint last
    started on it (per file, for this process). SQLite cuts the file back
    when it writes the log from its start again (``journal_size_limit=0``),
    so a file smaller than at the last checkpoint means it started afresh."""

    def __init__(self) -> None:
        self._at: dict[str, int] = {}

    def due(self, wal: str) -> bool:
        try:
            size = os.stat(wal).st_size
        except OSError:
            return False
        last = self._at.get(wal, 0)
        if size < last:
            last = 0
        if size - last < CHECKPOINT_BYTES:
            self._at[wal] = last
            return False
        self._at[wal] = size
        return True


_CHECKPOINTS = _Checkpoints()


class _Cursor:
    """The public interface of ``aiosqlite.Cursor`` that SQLAlchemy's adapter
    uses. A result is fetched with its statement; a streamed one (SQLAlchemy's
    server-side cursor: ``yield_per``, ``stream()``) comes ``STREAM_CHUNK``
    rows per trip to the worker, so it is never held whole in memory."""

    arraysize = 1

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: collections.deque[Any] = collections.deque()
        self._more: sqlite3.Cursor | None = None

    def take(self, outcome: _Outcome) -> None:
        self.description = outcome.description
        self.rowcount = outcome.rowcount
        self.lastrowid = outcome.lastrowid
        self._rows = collections.deque(outcome.rows)
        self._more = outcome.more

    async def __aenter__(self) -> _Cursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Any = None) -> _Cursor:
        await self.close()
        await self._connection.run(self, sql, () if parameters is None else parameters, False)
        return self

    async def executemany(self, sql: str, parameters: Any) -> _Cursor:
        await self.close()
        await self._connection.run(self, sql, parameters, True)
        return self

    async def _fetch_more(self, want: int | None) -> None:
        more = self._more
        if more is None:
            return
        size = None if want is None else max(want, STREAM_CHUNK)

        def fetch(_db: sqlite3.Connection) -> list[Any]:
            rows = more.fetchall() if size is None else more.fetchmany(size)
            if size is None or len(rows) < size:
                more.close()
            return rows

        try:
            rows = await self._connection._on_worker(fetch)
        except BaseException:
            await self.close()
            raise
        if size is None or len(rows) < size:
            self._more = None
        self._rows.extend(rows)

    async def fetchone(self) -> Any | None:
        if not self._rows:
            await self._fetch_more(1)
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        size = size or self.arraysize
        if len(self._rows) < size:
            await self._fetch_more(size - len(self._rows))
        rows = self._rows
        return [rows.popleft() for _ in range(min(size, len(rows)))]

    async def fetchall(self) -> list[Any]:
        await self._fetch_more(None)
        rows = list(self._rows)
        self._rows.clear()
        return rows

    async def __aiter__(self) -> AsyncIterator[Any]:
        while rows := await self.fetchmany(STREAM_CHUNK):
            for row in rows:
                yield row

    async def setinputsizes(self, *_sizes: Any) -> None:
        return None

    def setoutputsize(self, *_args: Any) -> None:
        return None

    async def nextset(self) -> None:
        return None

    async def close(self) -> None:
        self._rows.clear()
        more, self._more = self._more, None
        if more is None:
            return
        if self._connection._worker.idle:
            more.close()
        else:
            await self._connection._on_worker(lambda _db: more.close())


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        if mode is None:  # read_alone: each statement is its own transaction
            return
        driver = conn.connection.driver_connection
        if isinstance(driver, _Connection):
            driver.pending_begin = f"BEGIN {mode}"
        else:
            conn.exec_driver_sql(f"BEGIN {mode}")

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _on_execute(conn, _cursor, _sql, _params, context, _many) -> None:  # type: ignore[no-untyped-def]
        # A streamed result (yield_per, stream(), stream_results): fetched in
        # chunks on the connection's thread instead of whole.
        if context is not None and context.execution_options.get("stream_results"):
            driver = conn.connection.driver_connection
            if isinstance(driver, _Connection):
                driver.stream_next = True


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
    On PostgreSQL the connection is in AUTOCOMMIT for it: no BEGIN and
    ROLLBACK round trips around the statement (the pool puts the isolation
    level back when the connection returns).
    ``bind`` is the sync engine (``AsyncSession.get_bind()``,
    ``AsyncEngine.sync_engine``).
    """
    return await greenlet_spawn(_alone, bind, work)


def _alone(bind: Engine, work: Callable[[Connection], _T]) -> _T:
    with bind.connect() as connection:
        _on_its_own(connection)
        return work(connection)


def _on_its_own(connection: Connection) -> None:
    """Each statement on ``connection`` is its own transaction."""
    if connection.dialect.name == "sqlite":
        connection.execution_options(**{_BEGIN_OPTION: None})
    else:
        connection.execution_options(isolation_level="AUTOCOMMIT")


async def write_alone(
    bind: Engine, work: Callable[[Connection], _T], *, one_statement: bool = False
) -> _T:
    """``work(connection)`` as one write unit of work on a connection of its
    own: what ``write_tx`` does for a session (BEGIN IMMEDIATE on SQLite, the
    writer turn, commit on success), in one greenlet. ``one_statement``:
    ``work`` runs a single statement, which is atomic by itself, so on
    PostgreSQL it runs in AUTOCOMMIT: one round trip, not three."""
    async with _writer_turn(bind):
        return await greenlet_spawn(_in_write_tx, bind, work, one_statement)


def _in_write_tx(bind: Engine, work: Callable[[Connection], _T], one_statement: bool) -> _T:
    with bind.connect() as connection:
        if one_statement and connection.dialect.name != "sqlite":
            _on_its_own(connection)
            return work(connection)
        connection.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        with connection.begin():
            return work(connection)


class _WriterTurn:
    """This process's writers to one SQLite file, one at a time, first come
    first served. SQLite's own wait (busy_timeout) polls with sleeps of up to
    100 ms, so under load the lock sat free while waiters slept (bench
    log_attempts: most of the latency). Waiting here wakes the next writer at
    once; other processes still meet busy_timeout. Re-entrant for the task
    that holds it, so a nested write_tx behaves as before. Taken by
    ``write_tx``/``write_alone`` for their unit of work, and by a connection
    for a write made outside them, until its transaction ends."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.owner: asyncio.Task[Any] | None = None

    def held_here(self) -> bool:
        task = asyncio.current_task()
        return task is not None and task is self.owner

    async def acquire(self) -> None:
        async with asyncio.timeout(BUSY_TIMEOUT_MS / 1000):
            await self.lock.acquire()
        self.owner = asyncio.current_task()

    def release(self) -> None:
        self.owner = None
        self.lock.release()

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[None]:
        if self.held_here():
            yield
            return
        await self.acquire()
        try:
            yield
        finally:
            self.release()


_TURNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _WriterTurn]] = (
    weakref.WeakKeyDictionary()
)


def _turn_for(database: str | None) -> _WriterTurn | None:
    if database in (None, "", ":memory:"):
        return None
    turns = _TURNS.setdefault(asyncio.get_running_loop(), {})
    return turns.setdefault(database, _WriterTurn())


def _writer_turn(bind: Engine | Connection) -> AbstractAsyncContextManager[None]:
    turn = _turn_for(bind.engine.url.database) if bind.dialect.name == "sqlite" else None
    return nullcontext() if turn is None else turn()


def utc(value: datetime) -> datetime:
    """Timestamps are stored in UTC. SQLite hands them back naive, so a naive
    value read from the database is taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
