"""Backup, restore and the move to PostgreSQL (issue 17 item 7).

`paicha backup` copies the live SQLite database while a writer keeps writing
and the copy is consistent; `paicha restore` refuses a damaged file, a file
that is not a database, a database of a newer version and a database in use,
each with nothing changed, and otherwise round-trips the data and migrates it
to head; `paicha migrate-data` copies every row, to SQLite here and to
PostgreSQL when PAICHA_TEST_PG_URL names a server, with equal counts and
sequences that hand out fresh ids. Invented data only (bot.demo,
tests.factories)."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import select, text
from sqlalchemy.pool import NullPool

from bot.cli import main
from bot.demo import seed_demo
from storage import backup as store
from storage.db import create_engine, make_sessionmaker, write_tx
from storage.migrate import upgrade, upgrade_async
from storage.models import (
    AuditEvent,
    Base,
    Disposition,
    DispositionEvent,
    Member,
    Organisation,
    User,
)
from tests.conftest import PG_URL, _drop_pg, _fresh_pg, both_backends
from tests.factories import member_values

HEAD = store.known_revisions()[1]


async def _seed(url: str, *, extra: int = 0) -> None:
    """The sandbox's demo scene, and ``extra`` more members and audit events
    (more than a batch), a disposition with its facts, a Telegram id past
    32 bits and a branch whose committee has the larger id."""
    await upgrade_async(url)
    engine = create_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            await seed_demo(session, 900, date(2026, 12, 4))
            if not extra:
                return
            async with write_tx(session):
                early = Organisation(name="后设上级支部", kind="branch")
                session.add(early)
                await session.flush()
                later = Organisation(name="后建党委", kind="committee")
                session.add(later)
                await session.flush()
                early.parent_id = later.id
                session.add(User(id=7_000_000_001, full_name="测试用户"))
                for i in range(extra):
                    session.add(Member(branch_id=early.id, **member_values(i, id_number=None)))
                    session.add(
                        AuditEvent(entity="member", action="note", new_value=f"第{i}条", org_id=2)
                    )
                await session.flush()
                first = await session.scalar(select(Member.id).order_by(Member.id))
                case = Disposition(
                    member_id=first, outcome="suspend", opened_on=date(2026, 12, 1), opened_by=900
                )
                session.add(case)
                await session.flush()
                session.add(
                    DispositionEvent(
                        disposition_id=case.id,
                        seq=1,
                        kind="step",
                        step="verify",
                        on=date(2026, 12, 2),
                        by=900,
                        facts={"votes": {"for": 5, "against": 0}, "文号": "示〔2026〕1号"},
                        created_at=datetime(2026, 12, 2, 1, 30, tzinfo=UTC),
                    )
                )
    finally:
        await engine.dispose()


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The bot's database (seeded), configured through DATABASE_URL."""
    path = tmp_path / "data" / "paicha.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    asyncio.run(_seed(url))
    return path


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@contextmanager
def _db(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection, committed and closed at the end (an open one would
    count as a running bot)."""
    conn = sqlite3.connect(path)
    try:
        with conn:
            yield conn
    finally:
        conn.close()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _counts(path: Path) -> dict[str, int]:
    with _db(path) as conn:
        names = [
            n
            for (n,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


def _private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


# -- backup ------------------------------------------------------------------


def test_a_backup_while_a_writer_writes_is_consistent(live: Path, tmp_path: Path) -> None:
    """Each of the writer's transactions adds a branch and a member in it; a
    copy taken in the middle holds both or neither, passes the integrity
    check, and holds what was committed before the copy began."""
    with _db(live) as conn:  # bulk, so that a copy takes a while
        conn.executemany(
            "INSERT INTO audit_event (entity, action, new_value, at) VALUES (?, ?, ?, ?)",
            [("member", "note", "虚构记录" * 40, "2026-12-01 00:00:00") for _ in range(20_000)],
        )
    committed = 0
    stop = threading.Event()
    failures: list[BaseException] = []

    def writer() -> None:
        nonlocal committed
        conn = sqlite3.connect(live, isolation_level=None, timeout=30)
        conn.execute("PRAGMA foreign_keys=ON")
        i = 0
        try:
            while not stop.is_set():
                i += 1
                conn.execute("BEGIN IMMEDIATE")
                org = conn.execute(
                    "INSERT INTO organisation (name, kind, parent_id) VALUES (?, 'branch', 1)",
                    (f"写入支部{i}",),
                ).lastrowid
                conn.execute(
                    "INSERT INTO member (branch_id, name, gender, birth, joined, member_type)"
                    " VALUES (?, ?, '男', '1980-01', '2005-07', '正式')",
                    (org, f"写入{i}"),
                )
                conn.execute("COMMIT")
                committed = i
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)
        finally:
            conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while committed < 20:
            time.sleep(0.005)
        seen: list[int] = []
        overlapped = 0  # copies during which the writer committed
        for n in range(5):
            before = committed
            done = store.backup_sqlite(f"sqlite:///{live}", tmp_path / f"copy{n}.sqlite3")
            after = committed
            with _db(done.info.path) as copy:
                branches = copy.execute(
                    "SELECT count(*) FROM organisation WHERE name LIKE '写入支部%'"
                ).fetchone()[0]
                members = copy.execute(
                    "SELECT count(*) FROM member WHERE name LIKE '写入%'"
                ).fetchone()[0]
                orphans = copy.execute("PRAGMA foreign_key_check").fetchall()
            assert branches == members and orphans == []
            assert before <= branches <= after
            assert done.info.counts["audit_event"] >= 20_000
            assert _private(done.info.path)
            seen.append(branches)
            overlapped += before < after
    finally:
        stop.set()
        thread.join()
    assert failures == []
    assert seen == sorted(seen) and overlapped > 0


def test_backup_prints_path_size_and_counts_into_backups_beside_the_database(
    live: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli(capsys, "backup")
    assert code == 0, err
    copies = list((live.parent / "backups").glob("paicha-*.sqlite3"))
    assert len(copies) == 1 and str(copies[0]) in out
    assert f"{copies[0].stat().st_size:,} 字节" in out
    assert "完整性检查通过" in out and HEAD in out
    members = _counts(live)["member"]
    assert any(line.split() == ["member", f"{members:,}"] for line in out.splitlines())
    assert _private(copies[0])
    assert stat.S_IMODE(copies[0].parent.stat().st_mode) == 0o700
    with _db(copies[0]) as conn:  # one file, no WAL beside it
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_backup_of_a_missing_database_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'none.sqlite3'}")
    code, _out, err = _cli(capsys, "backup")
    assert code == 1 and "找不到" in err
    assert not (tmp_path / "none.sqlite3").exists()


# -- restore -----------------------------------------------------------------


def _backup(live: Path, tmp_path: Path) -> Path:
    return store.backup_sqlite(f"sqlite:///{live}", tmp_path / "good.sqlite3").info.path


def _corrupt(good: Path, bad: Path) -> None:
    data = bytearray(good.read_bytes())
    page = 4096
    for p in range(2, len(data) // page):  # every page after the schema's
        data[p * page + 8 : p * page + 200] = bytes(range(192))
    bad.write_bytes(bytes(data))


def _newer(good: Path, bad: Path) -> None:
    shutil.copy(good, bad)
    with _db(bad) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_future'")


def _not_a_database(_good: Path, bad: Path) -> None:
    bad.write_text("姓名,身份证号\n赵测一,虚构\n" * 50, encoding="utf-8")


def _not_ours(_good: Path, bad: Path) -> None:
    with _db(bad) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")


@pytest.mark.parametrize(
    ("spoil", "said"),
    [
        (_corrupt, "已损坏"),
        (_newer, "更新版本"),
        (_not_a_database, "不是 SQLite 数据库"),
        (_not_ours, "不是排查机器人的数据库"),
    ],
)
def test_restore_refuses_a_bad_file_and_changes_nothing(
    live: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], spoil, said
) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.sqlite3"
    spoil(_backup(live, tmp_path), bad)
    before, counts = _digest(live), _counts(live)
    code, _out, err = _cli(capsys, "restore", str(bad), "--yes")
    assert code == 1
    assert said in err and "未做任何更改" in err
    assert _digest(live) == before and _counts(live) == counts
    assert not (live.parent / "backups").exists()  # no copy of the current data either


def test_restore_refuses_while_the_bot_has_the_database_open(
    live: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _backup(live, tmp_path)
    bot = sqlite3.connect(live)  # what a running bot's pool holds: an idle connection
    bot.execute("PRAGMA journal_mode=WAL")
    bot.execute("SELECT count(*) FROM member").fetchone()
    try:
        before = _counts(live)
        code, _out, err = _cli(capsys, "restore", str(good), "--yes")
        assert code == 1 and "正被其他进程使用" in err and "停止" in err
        assert _counts(live) == before
    finally:
        bot.close()
    code, _out, err = _cli(capsys, "restore", str(good), "--yes")
    assert code == 0, err


def test_restore_round_trips_the_data_and_keeps_what_it_replaced(
    live: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _backup(live, tmp_path)
    saved = _counts(good)
    with _db(live) as conn:
        conn.execute("DELETE FROM family_member")
        conn.execute("INSERT INTO organisation (name, kind) VALUES ('备份后新建党委', 'committee')")
    changed = _counts(live)
    assert changed != saved
    code, out, err = _cli(capsys, "restore", str(good), "--yes")
    assert code == 0, err
    assert "已恢复" in out
    assert _counts(live) == saved
    kept = list((live.parent / "backups").glob("paicha-before-restore-*.sqlite3"))
    assert len(kept) == 1 and str(kept[0]) in out
    assert _counts(kept[0]) == changed and _private(kept[0])
    with _db(live) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == HEAD


def test_restore_asks_first(
    live: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good = _backup(live, tmp_path)
    with _db(live) as conn:
        conn.execute("DELETE FROM family_member")
    before = _digest(live)
    monkeypatch.setattr("builtins.input", lambda _prompt: "no")
    code, out, _err = _cli(capsys, "restore", str(good))
    assert code == 1 and "已取消" in out and _digest(live) == before
    monkeypatch.setattr("builtins.input", lambda _prompt: "yes")
    code, out, err = _cli(capsys, "restore", str(good))
    assert code == 0, err
    assert _counts(live) == _counts(good)


def test_an_older_backup_is_restored_and_migrated_to_head(
    live: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old.sqlite3"
    upgrade(f"sqlite+aiosqlite:///{old}", "0009")
    with _db(old) as conn:
        conn.execute("INSERT INTO organisation (name, kind) VALUES ('旧版党委', 'committee')")
    copy = store.backup_sqlite(f"sqlite:///{old}", tmp_path / "old-copy.sqlite3")
    assert copy.info.revision == "0009"
    code, _out, err = _cli(capsys, "restore", str(copy.info.path), "--yes")
    assert code == 0, err
    with _db(live) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == HEAD
        assert conn.execute("SELECT name FROM organisation").fetchall() == [("旧版党委",)]


def test_restore_into_a_new_machine_creates_the_database(
    live: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _backup(live, tmp_path)
    fresh = tmp_path / "elsewhere" / "paicha.sqlite3"
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{fresh}")
    code, _out, err = _cli(capsys, "restore", str(good), "--yes")
    assert code == 0, err
    assert _counts(fresh) == _counts(good) and _private(fresh)


# -- migrate-data ------------------------------------------------------------


def _rows(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in key order, times in UTC."""
    url = url.replace("+aiosqlite", "")
    if url.startswith("postgresql"):
        return asyncio.run(_rows_async(url))
    engine = create_sync_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return {
                t.name: _normal(conn.execute(_ordered(t)).all())
                for t in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


async def _rows_async(url: str) -> dict[str, list[tuple[object, ...]]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return {
                t.name: _normal((await conn.execute(_ordered(t))).all())
                for t in Base.metadata.sorted_tables
            }
    finally:
        await engine.dispose()


def _ordered(table):  # type: ignore[no-untyped-def]
    return select(table).order_by(*table.primary_key.columns)


def _normal(rows) -> list[tuple[object, ...]]:  # type: ignore[no-untyped-def]
    def one(value: object) -> object:
        if isinstance(value, datetime):
            return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
        return value

    return [tuple(one(v) for v in row) for row in rows]


@pytest.fixture
def source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'source' / 'paicha.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    asyncio.run(_seed(url, extra=2_500))
    return url


async def _add_branch(url: str) -> tuple[int, int]:
    """A new row after the copy: its id, and the largest copied id."""
    engine = create_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            largest = await session.scalar(select(Organisation.id).order_by(Organisation.id.desc()))
            async with write_tx(session):
                org = Organisation(name="迁移后新建支部", kind="branch", parent_id=1)
                session.add(org)
            return org.id, largest or 0
    finally:
        await engine.dispose()


@both_backends
def test_migrate_data_copies_every_row(
    source: str, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.perf_counter()
    code, out, err = _cli(capsys, "migrate-data", "--to", db_url)
    seconds = time.perf_counter() - started
    assert code == 0, err
    expected = _rows(source)
    assert sum(len(r) for r in expected.values()) > 5_000
    assert _rows(db_url) == expected
    for table, rows in expected.items():
        assert any(
            line.split()[:3] == [table, f"{len(rows):,}", f"{len(rows):,}"]
            for line in out.splitlines()
        )
    assert "行数一致" in out
    new_id, largest = asyncio.run(_add_branch(db_url))
    assert new_id == largest + 1
    print(f"migrate-data to {db_url.split(':')[0]}: {seconds:.2f} s")


@both_backends
def test_migrate_data_refuses_a_target_that_is_not_empty(
    source: str, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(capsys, "migrate-data", "--to", db_url)[0] == 0
    before = _rows(db_url)
    code, _out, err = _cli(capsys, "migrate-data", "--to", db_url)
    assert code == 1 and "不是空的" in err and "member" in err
    assert _rows(db_url) == before


def test_migrate_data_refuses_while_the_source_is_in_use(
    source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = sqlite3.connect(source.split("///", 1)[1])
    bot.execute("SELECT 1 FROM member").fetchone()
    target = tmp_path / "target.sqlite3"
    try:
        code, _out, err = _cli(capsys, "migrate-data", "--to", f"sqlite+aiosqlite:///{target}")
    finally:
        bot.close()
    assert code == 1 and "正被其他进程使用" in err
    assert not target.exists()


def test_migrate_data_copies_from_sqlite_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://paicha:secret@127.0.0.1:1/paicha")
    code, _out, err = _cli(capsys, "migrate-data", "--to", f"sqlite:///{tmp_path / 't.sqlite3'}")
    assert code == 1 and "只从 SQLite" in err and "secret" not in err


# -- PostgreSQL: pg_dump / pg_restore ------------------------------------------


@pytest.fixture
def pg_live(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    if not PG_URL:
        pytest.skip("PAICHA_TEST_PG_URL not set: PostgreSQL tests skipped on this machine")
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump/pg_restore not installed")
    url, name = asyncio.run(_fresh_pg(PG_URL))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    asyncio.run(_seed(url))
    yield url
    asyncio.run(_drop_pg(PG_URL, name))


async def _execute(url: str, sql: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


def test_postgres_backup_and_restore_round_trip(
    pg_live: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = _rows(pg_live)
    code, out, err = _cli(capsys, "backup")
    assert code == 0, err
    dumps = list((tmp_path / "data" / "backups").glob("*.dump"))
    assert len(dumps) == 1 and str(dumps[0]) in out and _private(dumps[0])
    asyncio.run(_execute(pg_live, "DELETE FROM family_member"))
    assert _rows(pg_live) != saved

    # refused while another session is connected (a running bot)
    holding, release = threading.Event(), threading.Event()

    def bot() -> None:
        async def hold() -> None:
            engine = create_engine(pg_live)
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                holding.set()
                await asyncio.to_thread(release.wait)
            await engine.dispose()

        asyncio.run(hold())

    thread = threading.Thread(target=bot)
    thread.start()
    try:
        assert holding.wait(10)
        code, _out, err = _cli(capsys, "restore", str(dumps[0]), "--yes")
        assert code == 1 and "正被其他进程使用" in err
    finally:
        release.set()
        thread.join()

    code, out, err = _cli(capsys, "restore", str(dumps[0]), "--yes")
    assert code == 0, err
    assert _rows(pg_live) == saved
    assert list((tmp_path / "data" / "backups").glob("*-before-restore-*.dump"))


def test_postgres_restore_refuses_what_is_not_a_dump(
    pg_live: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _rows(pg_live)
    other = tmp_path / "other.sqlite3"
    upgrade(f"sqlite+aiosqlite:///{other}")
    code, _out, err = _cli(capsys, "restore", str(other), "--yes")
    assert code == 1 and "不是可读的 pg_dump 备份" in err and "未做任何更改" in err
    assert _rows(pg_live) == before


def test_the_password_goes_in_the_environment_never_on_the_command_line() -> None:
    args, env = store._pg_connection("postgresql+asyncpg://paicha:s3cr%40t@db.example:5433/paicha")
    assert "s3cr@t" not in " ".join(args) and env["PGPASSWORD"] == "s3cr@t"
    assert args[args.index("--host") + 1] == "db.example"
    assert args[args.index("--port") + 1] == "5433"


def test_without_pg_dump_the_answer_says_how(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://paicha:secret@127.0.0.1:1/paicha")
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump there
    code, _out, err = _cli(capsys, "backup")
    assert code == 1 and "pg_dump" in err and "apt-get install postgresql-client" in err
    assert "secret" not in err


def test_the_database_is_never_its_own_backup(
    live: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _digest(live)
    code, _out, err = _cli(capsys, "backup", "-o", str(live))
    assert code == 1 and "同一个文件" in err
    code, _out, err = _cli(capsys, "restore", str(live), "--yes")
    assert code == 1 and "同一个文件" in err
    assert _digest(live) == before
