"""Bench: the daily digest's scan over a million invented members (issue 14).

One committee, ``--branches`` branches (default 1,000) and ``--members``
members (default 1,000,000) spread over them, generated inside the database
with one ``INSERT … SELECT`` over a recursive CTE (SQLite) or
``generate_series`` (PostgreSQL). Each member's dates come from a fixed hash
of its id, over about 1,000 days before ``TODAY``: 组织生活 and 党费 (5 % / 4 %
missing), a 介绍信 for 3 % (half with 回执), 2 % 预备党员 (a third with a
month-only 入党时间); 1 % have a 流出党员登记 in force and 0.5 % a search outcome
(most “found”, some superseded).

Then, in the same run and on the same engine, it times (warm-up, then
``--repeat`` rounds, the two interleaved):

(a) ``storage.services.digest.crossings`` for (TODAY − 1, TODAY] through a
    fresh session, as the scheduler calls it (window arithmetic, the one
    UNION ALL statement, ``Crossing`` rows with their crossing dates);
(b) one hand-written SQL statement (``text()``) counting the same members per
    clock (and, as a second reference, the same statement returning them), given the same windows and written for the same index ranges (a
    UNION of candidates for the lost clock: an OR across the joined search
    outcomes would scan every member).

The counts of (a) and (b) are compared per clock; a difference is printed
loudly. While (a) runs, a ticker measures how long the event loop was held
(the scan must not stop the bot serving users). It prints median and best
seconds and the ratio (a)/(b) of the medians. It never asserts times.
Target (issue 14): ratio ≤ 1.5, on SQLite and on PostgreSQL.

    .venv/bin/python bench/scan.py [--members 1000000] [--branches 1000]
        [--repeat 5] [--probation-index]
        [--pg-url postgresql+asyncpg://user@host/postgres] [--no-sqlite]

入党时间 and 党员类别 have no index in schema 0008, so the probation clock scans
the member table; ``--probation-index`` adds the index this bench suggests,
``(member_type, joined)``, to the bench's own database to show the difference.

``--pg-url`` names a server database the bench may use to CREATE and DROP one
scratch database (as tests/conftest.py does). On PostgreSQL the tables are
ANALYZEd after loading (what autovacuum would soon do); SQLite is left as the
bot leaves it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from domain.thresholds import (  # noqa: E402
    iso_text_range,
    lost_before,
    lost_window,
    mobile_window,
    pocket_before,
    pocket_window,
    probation_window,
)
from storage.db import create_engine, is_sqlite, make_sessionmaker  # noqa: E402
from storage.models import Base  # noqa: E402
from storage.services.digest import CLOCKS, crossings  # noqa: E402

TODAY = date(2026, 12, 1)
SINCE = TODAY - timedelta(days=1)
POCKET_DAYS = 90
COMMITTEE_ID = 1

# Per-member hashes of the id (Lehmer / MINSTD multipliers), each mod a prime
# so the fields are independent enough; ``i`` is a BIGINT on both engines.
_H = {
    "h1": "((i * 48271) % 2147483647)",
    "h2": "((i * 69621) % 2147483629)",
    "h3": "((i * 40692) % 2147483399)",
    "h4": "((i * 16807) % 2147483563)",
}


def _fields(day: Callable[[str], str], text_day: Callable[[str], str]) -> str:
    """The SELECT list; ``day(n)`` renders TODAY − n days for the engine as a
    DATE, ``text_day(n)`` as ISO text (入党时间 is text)."""
    h1, h2, h3, h4 = _H["h1"], _H["h2"], _H["h3"], _H["h4"]
    return f"""
    i,
    {COMMITTEE_ID} + 1 + (i % :branches),
    '党员' || i,
    CASE WHEN i % 2 = 0 THEN '男' ELSE '女' END,
    '1980-01',
    CASE WHEN {h4} % 50 = 0 THEN
        CASE WHEN {h4} % 3 = 0 THEN SUBSTR({text_day(f"(340 + {h4} % 60)")}, 1, 7)
             ELSE {text_day(f"(340 + {h4} % 60)")} END
        ELSE '2000-07' END,
    CASE WHEN {h4} % 50 = 0 THEN '预备' ELSE '正式' END,
    CASE WHEN {h1} % 20 = 0 THEN NULL ELSE {day(f"({h1} % 1000)")} END,
    CASE WHEN {h2} % 25 = 0 THEN NULL ELSE {day(f"({h2} % 1000)")} END,
    CASE WHEN {h3} % 33 = 0 THEN {day(f"({h3} % 700)")} END,
    CASE WHEN {h3} % 33 = 0 AND {h3} % 2 = 0 AND {h3} % 700 >= 30
         THEN {day(f"({h3} % 700 - 30)")} END
    """


_COLUMNS = (
    "id, branch_id, name, gender, birth, joined, member_type, last_org_life, last_dues, "
    "transfer_letter_date, transfer_receipt_date"
)


def _sqlite_day(n: str) -> str:
    return f"date('{TODAY.isoformat()}', '-' || {n} || ' days')"


def _pg_day(n: str) -> str:
    return f"TO_CHAR(DATE '{TODAY.isoformat()}' - ({n})::int, 'YYYY-MM-DD')"


def _pg_date(n: str) -> str:
    return f"(DATE '{TODAY.isoformat()}' - ({n})::int)"


def member_insert(sqlite: bool) -> str:
    if sqlite:
        return (
            f"INSERT INTO member ({_COLUMNS}) "
            "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < :n) "
            f"SELECT {_fields(_sqlite_day, _sqlite_day)} FROM seq"
        )
    body = _fields(_pg_date, _pg_day)
    return (
        f"INSERT INTO member ({_COLUMNS}) "
        f"SELECT {body} FROM generate_series(1::bigint, CAST(:n AS bigint)) AS s(i)"
    )


def side_inserts(sqlite: bool) -> list[str]:
    day = _sqlite_day if sqlite else _pg_date
    h1 = _H["h1"].replace("i", "CAST(id AS BIGINT)")
    return [
        # 流出党员登记 in force for 1 % (some would otherwise be lost or suspected mobile).
        f"INSERT INTO mobile_record (member_id, registered_on, transferred_in_campaign) "
        f"SELECT id, {day('400')}, false FROM member WHERE id % 97 = 0",
        # A search outcome for 0.5 %: mostly found, a fifth superseded.
        f"INSERT INTO search_outcome (member_id, kind, decided_on, is_pocket, superseded_by_id) "
        f"SELECT id, CASE WHEN id % 5 = 0 THEN 'unreachable' ELSE 'found' END, "
        f"{day(f'({h1} % 400)')}, false, CASE WHEN id % 7 = 0 THEN 1 END "
        f"FROM member WHERE id % 199 = 0",
    ]


# (b): the same members counted by hand, one statement; the windows are the
# domain's (the inversion is not what is measured, the SQL is).
# The later of 组织生活, 党费 and a search that found the member, written out
# where it is used (a CTE used twice is materialised for every member).
_CONTACT = """CASE WHEN f.found_on IS NOT NULL
                 AND f.found_on > COALESCE(m.last_org_life, f.found_on)
                 AND f.found_on > COALESCE(m.last_dues, f.found_on) THEN f.found_on
                WHEN m.last_dues IS NULL OR m.last_org_life >= m.last_dues THEN m.last_org_life
                ELSE m.last_dues END"""
_IN_FORCE = "SELECT 1 FROM mobile_record r WHERE r.member_id = m.id AND r.ended_on IS NULL"
HAND_SQL = text(
    f"""
WITH found AS (
    SELECT member_id, MAX(decided_on) AS found_on
    FROM search_outcome
    WHERE kind = 'found' AND superseded_by_id IS NULL
    GROUP BY member_id
)
SELECT 'lost', COUNT(*) FROM member m LEFT JOIN found f ON f.member_id = m.id
WHERE m.id IN (SELECT id FROM member WHERE last_org_life BETWEEN :l1 AND :l2
               UNION SELECT id FROM member WHERE last_dues BETWEEN :l1 AND :l2
               UNION SELECT member_id FROM found WHERE found_on BETWEEN :l1 AND :l2)
  AND {_CONTACT} BETWEEN :l1 AND :l2
  AND NOT (m.transfer_letter_date IS NOT NULL AND m.transfer_receipt_date IS NULL
           AND m.transfer_letter_date <= :pocket_by)
  AND NOT (m.transfer_letter_date IS NULL AND EXISTS ({_IN_FORCE}))
UNION ALL
SELECT 'mobile', COUNT(*) FROM member m LEFT JOIN found f ON f.member_id = m.id
WHERE m.last_org_life BETWEEN :m1 AND :m2
  AND COALESCE(m.transfer_letter_date, NULL) IS NULL
  AND {_CONTACT} > :lost_by
  AND NOT EXISTS ({_IN_FORCE})
UNION ALL
SELECT 'pocket', COUNT(*) FROM member m
WHERE m.transfer_letter_date BETWEEN :p1 AND :p2 AND m.transfer_receipt_date IS NULL
UNION ALL
SELECT 'probation', COUNT(*) FROM member m
WHERE m.member_type = '预备' AND m.joined BETWEEN :j1 AND :j2
  AND m.transfer_receipt_date IS NULL
"""
)

# (c): the same statement returning the members (id, branch, name) instead of
# counting them — what the scan hands on, without the ORM or Crossing rows.
HAND_ROWS_SQL = text(HAND_SQL.text.replace("COUNT(*)", "m.id, m.branch_id, m.name"))


def hand_params() -> dict[str, object]:
    lost = lost_window(SINCE, TODAY)
    mobile = mobile_window(SINCE, TODAY)
    pocket = pocket_window(SINCE, TODAY, POCKET_DAYS)
    j1, j2 = iso_text_range(probation_window(SINCE, TODAY))
    return {
        "l1": lost.first,
        "l2": lost.last,
        "m1": mobile.first,
        "m2": mobile.last,
        "p1": pocket.first,
        "p2": pocket.last,
        "j1": j1,
        "j2": j2,
        "lost_by": lost_before(TODAY),
        "pocket_by": pocket_before(TODAY, POCKET_DAYS),
    }


@dataclass
class Result:
    engine: str
    members: int
    load_s: float
    service_s: list[float] = field(default_factory=list)
    hand_s: list[float] = field(default_factory=list)
    rows_s: list[float] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    hand_counts: dict[str, int] = field(default_factory=dict)
    rows_counts: dict[str, int] = field(default_factory=dict)
    loop_held_ms: float = 0.0


async def build(
    engine: AsyncEngine, members: int, branches: int, probation_index: bool = False
) -> None:
    sqlite = is_sqlite(str(engine.url))
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
        await conn.execute(
            text("INSERT INTO organisation (id, name, kind) VALUES (:id, '示例党委', 'committee')"),
            {"id": COMMITTEE_ID},
        )
        await conn.execute(
            text(
                "INSERT INTO organisation (id, name, kind, parent_id) VALUES (:id, :n, 'branch', :p)"
            ),
            [
                {"id": COMMITTEE_ID + 1 + b, "n": f"示例第{b + 1:04d}党支部", "p": COMMITTEE_ID}
                for b in range(branches)
            ],
        )
        await conn.execute(text(member_insert(sqlite)), {"n": members, "branches": branches})
        for statement in side_inserts(sqlite):
            await conn.execute(text(statement))
        if probation_index:
            await conn.execute(
                text("CREATE INDEX ix_bench_member_probation ON member (member_type, joined)")
            )
    if not sqlite:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE"))


async def run_service(engine: AsyncEngine) -> Counter[str]:
    async with make_sessionmaker(engine)() as session:
        found = await crossings(session, since=SINCE, today=TODAY, pocket_days=POCKET_DAYS)
    return Counter(c.clock for c in found)


async def run_hand(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = (await conn.execute(HAND_SQL, hand_params())).all()
    return {str(clock): int(n) for clock, n in rows}


async def run_hand_rows(engine: AsyncEngine) -> Counter[str]:
    async with engine.connect() as conn:
        rows = (await conn.execute(HAND_ROWS_SQL, hand_params())).all()
    return Counter(str(row[0]) for row in rows)


async def _ticker(held: list[float], stop: asyncio.Event) -> None:
    """The longest the event loop went without running this (ms)."""
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        held.append((now - last) * 1000)
        last = now


async def measure(label: str, url: str, args: argparse.Namespace) -> Result:
    engine = create_engine(url)
    try:
        t0 = time.perf_counter()
        await build(engine, args.members, args.branches, args.probation_index)
        result = Result(label, args.members, time.perf_counter() - t0)
        print(f"  [{label}] loaded {args.members} members in {result.load_s:.1f} s", flush=True)
        result.counts = {c: n for c, n in (await run_service(engine)).items()}
        result.hand_counts = {c: n for c, n in (await run_hand(engine)).items() if n}
        result.rows_counts = dict(await run_hand_rows(engine))
        for _ in range(args.warmup):
            await run_service(engine)
            await run_hand(engine)
            await run_hand_rows(engine)
        for i in range(args.repeat):
            order = [
                (run_service, result.service_s),
                (run_hand, result.hand_s),
                (run_hand_rows, result.rows_s),
            ]
            for fn, sink in order if i % 2 == 0 else order[::-1]:
                start = time.perf_counter()
                await fn(engine)
                sink.append(time.perf_counter() - start)
        held: list[float] = []
        stop = asyncio.Event()
        ticker = asyncio.create_task(_ticker(held, stop))
        await asyncio.sleep(0.01)
        await run_service(engine)
        stop.set()
        await ticker
        result.loop_held_ms = max(held) if held else 0.0
        return result
    finally:
        await engine.dispose()


async def fresh_pg(admin_url: str) -> tuple[str, str]:
    name = f"paicha_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name, name


async def drop_pg(admin_url: str, name: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


async def main(args: argparse.Namespace) -> int:
    results: list[Result] = []
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            results.append(await measure("sqlite", f"sqlite+aiosqlite:///{tmp}/scan.sqlite3", args))
    if args.pg_url:
        url, name = await fresh_pg(args.pg_url)
        try:
            results.append(await measure("postgresql", url, args))
        finally:
            await drop_pg(args.pg_url, name)

    print()
    print(
        f"{'engine':<11} {'members':>9} {'crossings s med':>16} {'best':>7} "
        f"{'hand count s med':>17} {'best':>7} {'ratio':>6} "
        f"{'hand rows s med':>16} {'ratio':>6} {'loop held ms':>13}"
    )
    for r in results:
        s_med, h_med = statistics.median(r.service_s), statistics.median(r.hand_s)
        w_med = statistics.median(r.rows_s)
        print(
            f"{r.engine:<11} {r.members:>9} {s_med:>16.3f} {min(r.service_s):>7.3f} "
            f"{h_med:>17.3f} {min(r.hand_s):>7.3f} {s_med / h_med:>6.2f} "
            f"{w_med:>16.3f} {s_med / w_med:>6.2f} {r.loop_held_ms:>13.1f}"
        )
    print(
        f"\n{args.repeat} timed rounds after {args.warmup} warm-up (crossings and hand SQL "
        f"interleaved), window ({SINCE}, {TODAY}]"
        + (", with the probation index" if args.probation_index else ", no probation index")
        + "; ratio = median crossings / median hand SQL (the count, as issue 14 asks; "
        "then the same SQL returning the rows); target ≤ 1.5. "
        "loop held = the longest the event loop was busy during one scan."
    )
    bad = False
    for r in results:
        print(f"{r.engine}: " + ", ".join(f"{c} {r.counts.get(c, 0)}" for c in CLOCKS))
        if not r.counts == r.hand_counts == r.rows_counts:
            bad = True
            print(
                f"!!!!! {r.engine}: COUNTS DIFFER: crossings {r.counts}, "
                f"hand count {r.hand_counts}, hand rows {r.rows_counts}"
            )
    if not bad:
        print("counts: crossings = hand count = hand rows on every engine run")
    return 1 if bad else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--members", type=int, default=1_000_000)
    p.add_argument("--branches", type=int, default=1_000)
    p.add_argument("--repeat", type=int, default=5, help="timed rounds (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    p.add_argument(
        "--pg-url", help="postgresql+asyncpg://… (a DB to CREATE/DROP a scratch DB from)"
    )
    p.add_argument(
        "--probation-index",
        action="store_true",
        help="index member (member_type, joined) in the bench's database",
    )
    p.add_argument("--no-sqlite", action="store_true", help="only the PostgreSQL run")
    args = p.parse_args(argv)
    if args.members < 1 or args.branches < 1 or args.repeat < 1:
        p.error("--members ≥ 1, --branches ≥ 1, --repeat ≥ 1")
    if args.no_sqlite and not args.pg_url:
        p.error("--no-sqlite needs --pg-url")
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
