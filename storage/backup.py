"""Backup, restore and the move to PostgreSQL (备份与恢复, issue 17 item 7).

SQLite, the embedded default: ``backup`` copies the live database with
SQLite's online backup API in one step, that is inside one read transaction,
so the copy is consistent while the bot keeps writing (WAL: readers never
block the writer); the copy is then checked with ``PRAGMA integrity_check``.
``restore`` checks a copy (a SQLite file, intact, with an Alembic version this
code knows) before it touches anything, takes the configured database for
itself (a running bot keeps connections open, so it is refused), keeps the
current data in a copy of its own, loads the backup with the same API and
migrates it to this code's head.

PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore``, run as
subprocesses with the password in ``PGPASSWORD``, never on a command line.

``migrate_data`` copies every row of the SQLite database to another database
(PostgreSQL in production; SQLite too, for tests), in foreign-key order, in
batches, all in one transaction on the target, then moves PostgreSQL's
sequences past the copied ids and compares the row counts.

Nothing here prints: refusals are ``Refused`` with a reason and details, and
``bot/backup_cli.py`` words them.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Table, event, func, select, text, update
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import NullPool

from storage.db import create_engine, is_sqlite
from storage.migrate import alembic_config, upgrade
from storage.models import Base

BATCH = 1_000
FILE_MODE = 0o600  # the copies hold the members' personal data
DIR_MODE = 0o700
VERSION_TABLE = "alembic_version"
SQLITE_MAGIC = b"SQLite format 3\x00"


class Refused(Exception):
    """Nothing was changed. ``reason`` is one of: not_found, not_database,
    corrupt, no_version, newer, busy, no_tool, tool_failed, not_dump,
    not_sqlite, same_database, not_empty, migrate_failed, copy_failed."""

    def __init__(self, reason: str, **details: Any) -> None:
        super().__init__(reason, details)
        self.reason = reason
        self.details = details


@dataclass(frozen=True)
class BackupInfo:
    """A backup file, as checked: its Alembic revision and rows per table
    (SQLite), or the tables it holds data for (PostgreSQL, from the dump's
    table of contents)."""

    path: Path
    size: int
    revision: str
    counts: dict[str, int] = field(default_factory=dict)
    tables: tuple[str, ...] = ()


@dataclass(frozen=True)
class BackupResult:
    info: BackupInfo
    seconds: float  # the copy, without the check


@dataclass(frozen=True)
class RestoreResult:
    info: BackupInfo  # what was loaded
    kept: Path | None  # the data it replaced, copied first
    counts: dict[str, int]  # the database afterwards, migrated to head
    seconds: float


@dataclass(frozen=True)
class TableCopy:
    table: str
    source: int
    target: int

    @property
    def ok(self) -> bool:
        return self.source == self.target


# -- shared ------------------------------------------------------------------


def database_path(url: str) -> Path:
    """The file of a SQLite URL."""
    database = make_url(url).database
    if not database or database == ":memory:":
        raise Refused("not_found", path=database or ":memory:")
    return Path(database)


def known_revisions() -> tuple[set[str], str]:
    """Every revision of this code's migration scripts, and the head."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    known = {s.revision for s in script.walk_revisions()}
    return known, script.get_current_head() or ""


def _check_revision(revision: str) -> None:
    known, head = known_revisions()
    if revision not in known:
        # Not one of ours: written by a newer version of the bot.
        raise Refused("newer", revision=revision, head=head)


def _timestamp() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S")


def _target(output: Path | None, folder: Path, name: str) -> Path:
    """``output``, or ``name`` in it when it is a folder, or in ``folder``."""
    if output is not None and not output.is_dir():
        output.parent.mkdir(parents=True, exist_ok=True)
        return output
    place = output if output is not None else folder
    if not place.exists():
        place.mkdir(mode=DIR_MODE, parents=True)
    return place / name


def _private_file(path: Path) -> None:
    """An empty file only its owner can read, in place of whatever was there."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.close(fd)
    os.chmod(path, FILE_MODE)


def _aware(table: Table) -> list[str]:
    return [c.name for c in table.columns if isinstance(c.type, DateTime) and c.type.timezone]


# -- SQLite ------------------------------------------------------------------


def _open_read_only(path: Path) -> sqlite3.Connection:
    # immutable: no -wal/-shm beside the copy, no lock taken.
    uri = path.resolve().as_uri() + "?mode=ro&immutable=1"
    return sqlite3.connect(uri, uri=True)


def _tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name"
    )
    return [name for (name,) in rows]


def _counts(conn: sqlite3.Connection, tables: list[str]) -> dict[str, int]:
    return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def _revision(conn: sqlite3.Connection, tables: list[str]) -> str:
    if VERSION_TABLE not in tables:
        raise Refused("no_version")
    rows = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall()
    if len(rows) != 1:
        raise Refused("no_version")
    return str(rows[0][0])


def _integrity(conn: sqlite3.Connection) -> None:
    problems = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
    if problems != ["ok"]:
        raise Refused("corrupt", problems=problems)


def inspect_sqlite(path: Path) -> BackupInfo:
    """A SQLite backup, checked without changing it: a database, intact, made
    by a version of this code (no newer than it)."""
    if not path.is_file():
        raise Refused("not_found", path=path)
    with path.open("rb") as f:
        if f.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
            raise Refused("not_database", path=path)
    try:
        with closing(_open_read_only(path)) as conn:
            _integrity(conn)
            tables = _tables(conn)
            revision = _revision(conn, tables)
            counts = _counts(conn, tables)
    except sqlite3.DatabaseError as exc:
        raise Refused("corrupt", problems=[str(exc)]) from None
    _check_revision(revision)
    return BackupInfo(path, path.stat().st_size, revision, counts)


def backup_sqlite(url: str, output: Path | None = None) -> BackupResult:
    """A consistent copy of the live database, checked. The default name has
    the time in it, in ``backups/`` beside the database."""
    source = database_path(url)
    if not source.is_file():
        raise Refused("not_found", path=source)
    target = _target(output, source.parent / "backups", f"{source.stem}-{_timestamp()}.sqlite3")
    if target.resolve() == source.resolve():
        raise Refused("same_database")
    partial = target.with_name(target.name + ".partial")
    _private_file(partial)
    try:
        with closing(sqlite3.connect(source, timeout=30)) as live:
            with closing(sqlite3.connect(partial)) as copy:
                started = time.perf_counter()
                # One step (pages=-1): one read transaction, one snapshot.
                live.backup(copy, pages=-1)
                seconds = time.perf_counter() - started
                # The copy keeps the live file's WAL flag; a backup is one file.
                copy.execute("PRAGMA journal_mode=DELETE")
                _integrity(copy)
                tables = _tables(copy)
                revision = _revision(copy, tables)
                counts = _counts(copy, tables)
        os.replace(partial, target)
        os.chmod(target, FILE_MODE)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    info = BackupInfo(target, target.stat().st_size, revision, counts)
    return BackupResult(info, seconds)


@contextmanager
def _alone(path: Path) -> Iterator[sqlite3.Connection]:
    """The database to ourselves until the end of the block. A running bot (or
    any other process) keeps connections open, and in WAL mode every open
    connection holds a shared lock on the file, so the exclusive lock is
    refused at once (``busy``); once taken (locking_mode EXCLUSIVE keeps it)
    no one can read or write until we close."""
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        try:
            conn.execute("BEGIN EXCLUSIVE")
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise Refused("busy", path=path) from None
            raise
        yield conn
    finally:
        conn.close()


def check_stopped(url: str) -> None:
    """Refused (``busy``) while another process has the database open."""
    if is_sqlite(url):
        path = database_path(url)
        if path.is_file():
            with _alone(path):
                pass
    else:
        sessions = asyncio.run(_pg_other_sessions(url))
        if sessions:
            raise Refused("busy", sessions=sessions)


def restore_sqlite(url: str, backup: Path) -> RestoreResult:
    """Load ``backup`` into the configured database; the data it replaces is
    copied to ``backups/`` first. Checked again here: nothing changes on a
    refusal."""
    info = inspect(url, backup)
    path = database_path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        _private_file(path)
    started = time.perf_counter()
    kept = None
    with _alone(path) as live, closing(_open_read_only(backup)) as source:
        if _tables(live):
            kept = _target(
                None, path.parent / "backups", f"{path.stem}-before-restore-{_timestamp()}.sqlite3"
            )
            _private_file(kept)
            with closing(sqlite3.connect(kept)) as copy:
                live.backup(copy, pages=-1)
                copy.execute("PRAGMA journal_mode=DELETE")
        # Out of WAL (we are alone) so that the page size may change; the
        # copy is written in one transaction, all or nothing.
        live.execute("PRAGMA journal_mode=DELETE")
        source.backup(live, pages=-1)
        live.execute("PRAGMA journal_mode=WAL")
    upgrade(url)
    with closing(sqlite3.connect(path)) as conn:
        counts = _counts(conn, _tables(conn))
    return RestoreResult(info, kept, counts, time.perf_counter() - started)


def sqlite_counts(url: str) -> dict[str, int]:
    path = database_path(url)
    if not path.is_file():
        return {}
    with closing(sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)) as conn:
        return _counts(conn, _tables(conn))


# -- PostgreSQL --------------------------------------------------------------


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise Refused("no_tool", tool=name)
    return found


def _pg_connection(url: str) -> tuple[list[str], dict[str, str]]:
    """libpq options for ``url`` (no password) and the environment with the
    password in PGPASSWORD."""
    u: URL = make_url(url)
    args: list[str] = ["--no-password"]
    if u.host:
        args += ["--host", u.host]
    if u.port:
        args += ["--port", str(u.port)]
    if u.username:
        args += ["--username", u.username]
    args += ["--dbname", u.database or "postgres"]
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = u.password
    ssl = u.query.get("sslmode") or u.query.get("ssl")
    if isinstance(ssl, str):
        env["PGSSLMODE"] = {"true": "require", "false": "disable"}.get(ssl.lower(), ssl)
    return args, env


def _run(args: list[str], env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, umask=0o077)
    if done.returncode != 0:
        raise Refused("tool_failed", tool=Path(args[0]).name, detail=done.stderr.strip())
    return done.stdout


_TOC_DATA = re.compile(r"^\d+; \d+ \d+ TABLE DATA (\S+) (\S+) ")
_TOC_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE (\S+) (\S+) ")


def inspect_postgres(path: Path) -> BackupInfo:
    """A pg_dump custom-format file, read through once (``pg_restore`` to
    /dev/null) and its Alembic revision taken from its data."""
    if not path.is_file():
        raise Refused("not_found", path=path)
    pg_restore = _tool("pg_restore")
    try:
        toc = _run([pg_restore, "--list", str(path)])
        _run([pg_restore, "--file", os.devnull, str(path)])
    except Refused as refused:
        raise Refused("not_dump", path=path, detail=refused.details.get("detail", "")) from None
    tables = tuple(m.group(2) for line in toc.splitlines() if (m := _TOC_DATA.match(line)))
    if VERSION_TABLE not in tables:
        raise Refused("no_version")
    data = _run(
        [pg_restore, "--data-only", "--table", VERSION_TABLE, "--file", "-", str(path)]
    ).splitlines()
    starts = [i for i, line in enumerate(data) if line.startswith("COPY ")]
    revisions = []
    if starts:
        for line in data[starts[0] + 1 :]:
            if line == "\\.":
                break
            revisions.append(line.strip())
    if len(revisions) != 1:
        raise Refused("no_version")
    _check_revision(revisions[0])
    return BackupInfo(path, path.stat().st_size, revisions[0], tables=tables)


def backup_postgres(url: str, output: Path | None, folder: Path, label: str = "") -> BackupResult:
    """``pg_dump --format=custom`` of the configured database, checked."""
    pg_dump = _tool("pg_dump")
    name = make_url(url).database or "postgres"
    target = _target(output, folder, f"{name}{label}-{_timestamp()}.dump")
    partial = target.with_name(target.name + ".partial")
    args, env = _pg_connection(url)
    _private_file(partial)
    try:
        started = time.perf_counter()
        _run([pg_dump, "--format=custom", "--file", str(partial), *args], env)
        seconds = time.perf_counter() - started
        os.replace(partial, target)
        os.chmod(target, FILE_MODE)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupResult(inspect_postgres(target), seconds)


async def _pg_other_sessions(url: str) -> int:
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            found = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                )
            )
            return int(found or 0)
    finally:
        await engine.dispose()


async def _pg_drop_unknown(url: str, keep: set[str]) -> None:
    """Tables of ours (the models' and Alembic's) that the dump does not hold:
    created by migrations newer than the dump, so the upgrade after the
    restore can create them again."""
    ours = {t.name for t in Base.metadata.sorted_tables} | {VERSION_TABLE}
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            present = await conn.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            )
            for name in sorted((set(present) & ours) - keep):
                await conn.execute(text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))
    finally:
        await engine.dispose()


async def _pg_counts(url: str) -> dict[str, int]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            names = await conn.scalars(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                    " ORDER BY tablename"
                )
            )
            return {
                name: int(await conn.scalar(text(f'SELECT count(*) FROM "{name}"')) or 0)
                for name in list(names)
            }
    finally:
        await engine.dispose()


def restore_postgres(url: str, backup: Path, folder: Path) -> RestoreResult:
    """``pg_restore --clean`` in one transaction into the configured database,
    after a dump of what it holds now, then the migrations."""
    info = inspect_postgres(backup)
    pg_restore = _tool("pg_restore")
    check_stopped(url)
    started = time.perf_counter()
    kept = backup_postgres(url, None, folder, "-before-restore").info.path
    asyncio.run(_pg_drop_unknown(url, set(info.tables)))
    args, env = _pg_connection(url)
    _run(
        [
            pg_restore,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            *args,
            str(backup),
        ],
        env,
    )
    upgrade(url)
    counts = asyncio.run(_pg_counts(url))
    return RestoreResult(info, kept, counts, time.perf_counter() - started)


def postgres_counts(url: str) -> dict[str, int]:
    return asyncio.run(_pg_counts(url))


# -- either ------------------------------------------------------------------


def backup(url: str, output: Path | None = None, folder: Path = Path("backups")) -> BackupResult:
    """``folder``: where a PostgreSQL dump goes by default (a SQLite copy goes
    beside its database)."""
    if is_sqlite(url):
        return backup_sqlite(url, output)
    return backup_postgres(url, output, folder)


def inspect(url: str, path: Path) -> BackupInfo:
    """``path`` checked as a backup for the database at ``url``."""
    if not is_sqlite(url):
        return inspect_postgres(path)
    live = database_path(url)
    if live.exists() and path.exists() and live.resolve() == path.resolve():
        raise Refused("same_database")
    return inspect_sqlite(path)


def restore(url: str, path: Path, folder: Path = Path("backups")) -> RestoreResult:
    if is_sqlite(url):
        return restore_sqlite(url, path)
    return restore_postgres(url, path, folder)


def counts(url: str) -> dict[str, int]:
    return sqlite_counts(url) if is_sqlite(url) else postgres_counts(url)


# -- SQLite to PostgreSQL ----------------------------------------------------


def migrate_data(source_url: str, target_url: str, batch: int = BATCH) -> list[TableCopy]:
    """Every row of the SQLite database at ``source_url`` into ``target_url``,
    which is migrated to head first and must then be empty. The source is
    held exclusively while it is read (the bot must be stopped: what it wrote
    afterwards would not be copied). All tables in one transaction on the
    target: on any error nothing is left there but the empty schema."""
    from alembic.util import CommandError

    if not is_sqlite(source_url):
        raise Refused("not_sqlite", url=make_url(source_url).render_as_string())
    source = database_path(source_url)
    if not source.is_file():
        raise Refused("not_found", path=source)
    if is_sqlite(target_url) and database_path(target_url).resolve() == source.resolve():
        raise Refused("same_database")
    check_stopped(source_url)
    try:
        upgrade(source_url)
        upgrade(target_url)
    except (CommandError, SQLAlchemyError) as exc:
        raise Refused("migrate_failed", detail=str(exc).splitlines()[0]) from None
    return asyncio.run(_copy(source, target_url, batch))


@contextmanager
def _source_snapshot(path: Path) -> Iterator[Any]:
    """A sync connection (stdlib sqlite3, the models' types) holding the
    source exclusively, inside one transaction."""
    engine = create_sync_engine(f"sqlite:///{path}", poolclass=NullPool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # our BEGIN, below
        dbapi_connection.execute("PRAGMA locking_mode=EXCLUSIVE")

    try:
        with engine.connect() as conn:
            try:
                conn.exec_driver_sql("BEGIN EXCLUSIVE")
            except Exception as exc:
                if "locked" in str(exc):
                    raise Refused("busy", path=path) from None
                raise
            yield conn
    finally:
        engine.dispose()


async def _copy(source: Path, target_url: str, batch: int) -> list[TableCopy]:
    tables = Base.metadata.sorted_tables
    engine = create_engine(target_url)
    try:
        async with engine.connect() as conn:
            full = {t.name: n for t in tables if (n := await _count(conn, t))}
        if full:
            raise Refused("not_empty", counts=full)
        copied: dict[str, int] = {}
        with _source_snapshot(source) as src:
            async with engine.begin() as conn:
                for table in tables:
                    try:
                        copied[table.name] = await _copy_table(src, conn, table, batch)
                    except Refused:
                        raise
                    except Exception as exc:
                        raise Refused(
                            "copy_failed", table=table.name, detail=str(exc).splitlines()[0]
                        ) from exc
                if conn.dialect.name == "postgresql":
                    await _reset_sequences(conn)
        async with engine.connect() as conn:
            return [TableCopy(t.name, copied[t.name], await _count(conn, t)) for t in tables]
    finally:
        await engine.dispose()


async def _count(conn: AsyncConnection, table: Table) -> int:
    return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


async def _copy_table(src: Any, conn: AsyncConnection, table: Table, batch: int) -> int:
    """Rows in primary-key order, ``batch`` at a time. A reference to a row of
    the same table not copied yet (a parent organisation with a larger id) is
    written empty and set once the whole table is there."""
    self_refs = [
        (fk.parent.name, fk.column.name) for fk in table.foreign_keys if fk.column.table is table
    ]
    seen: dict[str, set[Any]] = {column: set() for _, column in self_refs}
    later: list[tuple[dict[str, Any], str, Any]] = []
    aware = _aware(table)
    key = list(table.primary_key.columns)
    rows_read = 0
    result = src.execution_options(yield_per=batch).execute(select(table).order_by(*key))
    for part in result.partitions():
        rows = []
        for row in part:
            values = dict(row._mapping)
            for name in aware:  # SQLite keeps UTC without the zone
                value = values[name]
                if value is not None and value.tzinfo is None:
                    values[name] = value.replace(tzinfo=UTC)
            for ref, column in self_refs:
                if values[ref] is not None and values[ref] not in seen[column]:
                    later.append(({c.name: values[c.name] for c in key}, ref, values[ref]))
                    values[ref] = None
            for _, column in self_refs:
                seen[column].add(values[column])
            rows.append(values)
        rows_read += len(rows)
        await conn.execute(table.insert(), rows)
    for where, ref, value in later:
        clause = [table.c[name] == v for name, v in where.items()]
        await conn.execute(update(table).where(*clause).values({ref: value}))
    return rows_read


async def _reset_sequences(conn: AsyncConnection) -> None:
    """Each serial id's sequence to just past the largest id copied, so the
    next row gets a fresh one."""
    preparer = conn.dialect.identifier_preparer
    for table in Base.metadata.sorted_tables:
        column = table.autoincrement_column
        if column is None:
            continue
        name = preparer.format_table(table)
        sequence = await conn.scalar(
            text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": name, "c": column.name}
        )
        if sequence is None:
            continue
        await conn.execute(
            text(
                f"SELECT setval(CAST(:s AS regclass), "
                f"COALESCE((SELECT max({preparer.quote(column.name)}) FROM {name}), 0) + 1, false)"
            ),
            {"s": sequence},
        )
