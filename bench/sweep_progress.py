"""Bench: the committee's progress message (核查进度) over a big committee (issue 8).

One committee, ``--branches`` branches × ``--members-per-branch`` members
(default 200 × 60 = 12,000), one campaign over every branch, and sweep answers
for most members: ~70 % with all five checks answered, ~5 % part-way (one to
four checks), a few 待完善 / 有问题 answers, and some superseded rows (an answer
changed later, R-DOSSIER) — about 45,000 ``sweep_answer`` rows by default.
Everything is loaded with bulk ``insert()`` statements; the campaign itself is
started through ``create_campaign`` as the bot does.

Then, in the same run and on the same engine, it times (warm-up, then
``--repeat`` rounds, the two interleaved):

(a) ``storage.services.sweep.committee_progress`` through a fresh session, as a
    handler calls it (campaign lookup, committee access check, aggregate query,
    ``BranchProgress`` rows);
(b) one hand-written SQL statement (``text()``) that computes the same
    per-branch numbers with GROUP BY, through a fresh connection.

Both results are compared with each other and with the numbers the generator
knows it wrote; a difference is printed loudly. It prints median and best
milliseconds and the ratio service / hand SQL (medians). It never asserts
times. Target (issue brief): ratio ≤ 2, on SQLite and on PostgreSQL.

    .venv/bin/python bench/sweep_progress.py [--branches 200] [--members-per-branch 60]
        [--repeat 20] [--pg-url postgresql+asyncpg://user@host/postgres] [--no-sqlite]

``--pg-url`` names a server database the bench may use to CREATE and DROP one
scratch database (as tests/conftest.py does); the run on that server follows
the SQLite run. On PostgreSQL the tables are ANALYZEd after loading (what
autovacuum would soon do); SQLite is left as the bot leaves it.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from domain.sweep import Answer, Check  # noqa: E402
from storage.db import create_engine, is_sqlite, make_sessionmaker  # noqa: E402
from storage.models import Base, Member, Organisation, SweepAnswer  # noqa: E402
from storage.services.access import Actor, Grant, Role  # noqa: E402
from storage.services.campaigns import create_campaign  # noqa: E402
from storage.services.sweep import committee_progress  # noqa: E402
from tests.factories import id_number, member_values  # noqa: E402

COMMITTEE_ID = 1
STAFF_USER = 1
SEED = 20260801
FULL_SHARE = 0.70  # members with all five checks answered
PARTIAL_SHARE = 0.05  # members part-way through the walk
PENDING_SHARE = 0.04  # of current answers: 待完善
PROBLEM_SHARE = 0.015  # of current answers: ✘ 有问题
SUPERSEDED_SHARE = 0.035  # of current answers: an earlier answer they replaced
BATCH = 5_000

# (b): the per-branch numbers written by hand — answers aggregated per member,
# members aggregated per branch, every branch in the campaign's scope kept.
HAND_SQL = text(
    """
SELECT o.id,
       o.name,
       COUNT(m.id)                                          AS members,
       COUNT(CASE WHEN a.answered >= :checks THEN 1 END)    AS checked,
       COALESCE(SUM(a.pending), 0)                          AS pending,
       COALESCE(SUM(a.problems), 0)                         AS problems
FROM campaign_branch cb
JOIN organisation o ON o.id = cb.branch_id
LEFT JOIN member m ON m.branch_id = o.id
LEFT JOIN (
    SELECT member_id,
           COUNT(*)                                          AS answered,
           SUM(CASE WHEN answer = 'pending' THEN 1 ELSE 0 END) AS pending,
           SUM(CASE WHEN answer = 'problem' THEN 1 ELSE 0 END) AS problems
    FROM sweep_answer
    WHERE campaign_id = :campaign_id AND superseded_by_id IS NULL
    GROUP BY member_id
) a ON a.member_id = m.id
WHERE cb.campaign_id = :campaign_id
GROUP BY o.id, o.name
ORDER BY o.name
"""
)

Row = tuple[int, str, int, int, int, int]  # branch id, name, members, checked, pending, problems


@dataclass
class Dataset:
    campaign_id: int
    branches: int
    members: int
    answers: int  # all sweep_answer rows, superseded ones included
    current: int
    expected: list[Row]


@dataclass
class Result:
    engine: str
    data: Dataset
    service_ms: list[float]
    hand_ms: list[float]
    mismatches: list[str]


# ---- data ---------------------------------------------------------------------------------------


def _member_row(i: int, branch_id: int) -> dict[str, object]:
    values = member_values(i)
    if i >= 10_500:
        # member_values' ID numbers repeat every 10,500 people (birth cycle ×
        # serial); move later ones to another invented region code.
        birth_year, birth_month = map(int, str(values["birth"]).split("-"))
        values["id_number"] = id_number(
            date(birth_year, birth_month, 1 + i % 28),
            male=i % 2 == 0,
            region=str(410102 + i // 10_500),
            serial=i,
        )
    values["id"] = i + 1
    values["branch_id"] = branch_id
    return values


async def _insert(engine: AsyncEngine, table, rows: list[dict[str, object]]) -> None:  # type: ignore[no-untyped-def]
    async with engine.begin() as conn:
        for start in range(0, len(rows), BATCH):
            await conn.execute(insert(table), rows[start : start + BATCH])


async def build(engine: AsyncEngine, branches: int, per_branch: int) -> Dataset:
    """Schema, committee, branches, members, campaign and answers; returns
    what the generator wrote, per branch, as the expected progress rows."""
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    branch_ids = list(range(COMMITTEE_ID + 1, COMMITTEE_ID + 1 + branches))
    names = {b: f"示例第{n:03d}党支部" for n, b in enumerate(branch_ids, start=1)}
    orgs: list[dict[str, object]] = [
        {"id": COMMITTEE_ID, "name": "示例党委", "kind": "committee", "parent_id": None}
    ]
    orgs += [
        {"id": b, "name": names[b], "kind": "branch", "parent_id": COMMITTEE_ID} for b in branch_ids
    ]
    await _insert(engine, Organisation, orgs)

    members = [
        _member_row(n * per_branch + k, b)
        for n, b in enumerate(branch_ids)
        for k in range(per_branch)
    ]
    await _insert(engine, Member, members)

    sessions = make_sessionmaker(engine)
    actor = Actor(STAFF_USER, (Grant(Role.COMMITTEE, COMMITTEE_ID),))
    async with sessions() as session:
        campaign = await create_campaign(
            session, actor, COMMITTEE_ID, template="mobile_2023", name="2026年集中排查", year=2026
        )
        campaign_id = campaign.id

    rnd = random.Random(SEED)
    stats = {b: [0, 0, 0, 0] for b in branch_ids}  # members, checked, pending, problems
    answers: list[dict[str, object]] = []
    next_id = 1
    current = 0
    for m in members:
        branch = int(m["branch_id"])  # type: ignore[call-overload]
        stats[branch][0] += 1
        draw = rnd.random()
        if draw < FULL_SHARE:
            checks = list(Check)
        elif draw < FULL_SHARE + PARTIAL_SHARE:
            checks = sorted(rnd.sample(list(Check), rnd.randint(1, len(Check) - 1)))
        else:
            continue
        if len(checks) == len(Check):
            stats[branch][1] += 1
        for check in checks:
            roll = rnd.random()
            if roll < PENDING_SHARE:
                answer, note = Answer.pending, None
            elif roll < PENDING_SHARE + PROBLEM_SHARE:
                answer, note = Answer.problem, "待核实（示例）"
            else:
                answer, note = Answer.ok, None
            stats[branch][2] += answer is Answer.pending
            stats[branch][3] += answer is Answer.problem
            row_id = next_id
            next_id += 1
            if rnd.random() < SUPERSEDED_SHARE:
                # The earlier answer, replaced by this one (it stays, R-DOSSIER).
                old = Answer.ok if answer is not Answer.ok else Answer.pending
                answers.append(
                    {
                        "id": next_id,
                        "campaign_id": campaign_id,
                        "member_id": m["id"],
                        "check_no": int(check),
                        "answer": old.value,
                        "note": None,
                        "answered_by": STAFF_USER,
                        "superseded_by_id": row_id,
                    }
                )
                next_id += 1
            answers.append(
                {
                    "id": row_id,
                    "campaign_id": campaign_id,
                    "member_id": m["id"],
                    "check_no": int(check),
                    "answer": answer.value,
                    "note": note,
                    "answered_by": STAFF_USER,
                    "superseded_by_id": None,
                }
            )
            current += 1
    await _insert(engine, SweepAnswer, answers)

    if not is_sqlite(str(engine.url)):
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))

    expected: list[Row] = [(b, names[b], *stats[b]) for b in branch_ids]  # type: ignore[misc]
    expected.sort(key=lambda r: r[1])
    return Dataset(campaign_id, branches, len(members), len(answers), current, expected)


# ---- timing -------------------------------------------------------------------------------------


async def run_service(engine: AsyncEngine, campaign_id: int) -> list[Row]:
    sessions = make_sessionmaker(engine)
    actor = Actor(STAFF_USER, (Grant(Role.COMMITTEE, COMMITTEE_ID),))
    async with sessions() as session:
        _campaign, rows = await committee_progress(session, actor, campaign_id)
    return [(r.branch_id, r.name, r.members, r.checked, r.pending, r.problems) for r in rows]


async def run_hand(engine: AsyncEngine, campaign_id: int) -> list[Row]:
    async with engine.connect() as conn:
        result = await conn.execute(HAND_SQL, {"campaign_id": campaign_id, "checks": len(Check)})
        rows = result.all()
    return [(int(i), str(n), int(a), int(b), int(c), int(d)) for i, n, a, b, c, d in rows]


def _diff(label: str, got: list[Row], want: list[Row]) -> list[str]:
    if got == want:
        return []
    out = [f"{label}: {len(got)} rows, expected {len(want)}"]
    for g, w in zip(got, want, strict=False):
        if g != w:
            out.append(f"  first difference: got {g}, expected {w}")
            break
    return out


async def measure(label: str, url: str, args: argparse.Namespace) -> Result:
    engine = create_engine(url)
    try:
        t0 = time.perf_counter()
        data = await build(engine, args.branches, args.members_per_branch)
        print(
            f"  [{label}] loaded {data.branches} branches, {data.members} members, "
            f"{data.answers} answers in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
        service_rows = await run_service(engine, data.campaign_id)
        hand_rows = await run_hand(engine, data.campaign_id)
        mismatches = _diff("service vs hand SQL", service_rows, hand_rows)
        mismatches += _diff("service vs generator", service_rows, data.expected)
        mismatches += _diff("hand SQL vs generator", hand_rows, data.expected)
        for _ in range(args.warmup):
            await run_service(engine, data.campaign_id)
            await run_hand(engine, data.campaign_id)
        service_ms: list[float] = []
        hand_ms: list[float] = []
        for i in range(args.repeat):
            # Alternate which goes first so neither always follows the other.
            order = (
                ((run_service, service_ms), (run_hand, hand_ms))
                if i % 2 == 0
                else ((run_hand, hand_ms), (run_service, service_ms))
            )
            for fn, sink in order:
                start = time.perf_counter()
                await fn(engine, data.campaign_id)
                sink.append((time.perf_counter() - start) * 1000)
        return Result(label, data, service_ms, hand_ms, mismatches)
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
            results.append(
                await measure("sqlite", f"sqlite+aiosqlite:///{tmp}/bench.sqlite3", args)
            )
    if args.pg_url:
        url, name = await fresh_pg(args.pg_url)
        try:
            results.append(await measure("postgresql", url, args))
        finally:
            await drop_pg(args.pg_url, name)

    print()
    print(
        f"{'engine':<11} {'branches':>8} {'members':>8} {'answers':>8} "
        f"{'service ms med':>15} {'best':>7} {'hand SQL ms med':>16} {'best':>7} {'ratio':>6}"
    )
    for r in results:
        s_med, h_med = statistics.median(r.service_ms), statistics.median(r.hand_ms)
        print(
            f"{r.engine:<11} {r.data.branches:>8} {r.data.members:>8} {r.data.answers:>8} "
            f"{s_med:>15.2f} {min(r.service_ms):>7.2f} {h_med:>16.2f} {min(r.hand_ms):>7.2f} "
            f"{s_med / h_med:>6.2f}"
        )
    print(
        f"\n{args.repeat} timed rounds after {args.warmup} warm-up (service and hand SQL "
        "interleaved); ratio = median service / median hand SQL; target ≤ 2."
    )
    for r in results:
        print(
            f"{r.engine}: {r.data.current} current answers, "
            f"{r.data.answers - r.data.current} superseded"
        )
    bad = [r for r in results if r.mismatches]
    for r in bad:
        print(f"\n!!!!! {r.engine}: RESULTS DIFFER !!!!!")
        for line in r.mismatches:
            print(f"!!!!! {line}")
    if not bad:
        print("numbers: service = hand SQL = generator on every engine run")
    return 1 if bad else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--branches", type=int, default=200)
    p.add_argument("--members-per-branch", type=int, default=60)
    p.add_argument("--repeat", type=int, default=20, help="timed rounds (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="untimed rounds first (default 3)")
    p.add_argument(
        "--pg-url", help="postgresql+asyncpg://… (a DB to CREATE/DROP a scratch DB from)"
    )
    p.add_argument("--no-sqlite", action="store_true", help="only the PostgreSQL run")
    args = p.parse_args(argv)
    if args.branches < 1 or args.members_per_branch < 0 or args.repeat < 1:
        p.error("--branches ≥ 1, --members-per-branch ≥ 0, --repeat ≥ 1")
    if args.no_sqlite and not args.pg_url:
        p.error("--no-sqlite needs --pg-url")
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
