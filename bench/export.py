"""Bench: building the big exports (issue 15, “tests and proof”). Prints
figures; never asserts.

(1) 党员名册 of one branch of ``--roster-members`` invented members (default
    100,000) through the roster collector (``storage.services.form_data.
    registers``, key ``roster``: pages of a few hundred rows, then the
    renderer of ``reports.forms.registers`` in write-only mode), against
    openpyxl's write-only mode writing the same rows (the same columns read
    with plain ``sqlite3``) with no logic at all. Ours is measured twice: as
    the bot runs it, read and built in one worker process
    (``storage.services.export_worker.collect_and_render``), and as the
    command line runs it, read in its own process and built from the pickled
    job in a worker. Each runs in a fresh Python process, so its peak RSS
    (``resource.getrusage``: imports included) is its own. Target: seconds
    ratio ≤ 1.3, peak RSS ≤ 200 MB.

(2) 流出党员有关情况统计表 (seed 003 附件2, A–Z) for a committee of
    ``--branches`` branches (default 1,000) over ``--outflow-members`` members
    (default 1,000,000), ``--mobile-share`` of them (default 5 %) with a 流出党员
    登记 in force (some transferred in the campaign: Y), against one plain
    ``SELECT branch_id, COUNT(*) … GROUP BY branch_id`` over the same joined
    rows, on the same engine, interleaved, medians of ``--repeat`` rounds.
    The collector's time includes its second statement (the U 备注), the
    R-TABLE-SUMS check and the rendering of the workbook. Target: ratio ≤ 2.

Both databases are temporary SQLite files, filled inside SQLite with one
``INSERT … SELECT`` over a recursive CTE (as bench/scan.py does): fields vary
by a fixed hash of the member id.

    .venv/bin/python bench/export.py [--quick] [--roster-members N]
        [--outflow-members N] [--branches N] [--mobile-share 0.05] [--repeat 3]
        [--only roster|outflow]

``--quick``: 10,000 and 100,000 members, 100 branches, one round.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import pickle
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TODAY = date(2026, 12, 4)
COMMITTEE_ID = 1


# ---------------------------------------------------------------- the data


def _member_sql(branches: int) -> str:
    """``:n`` members over ``branches`` branches (ids 2 …), every field the
    roster has filled for most of them."""
    h1 = "((i * 48271) % 2147483647)"
    h2 = "((i * 69621) % 2147483629)"
    day = "date('2026-12-04', '-' || ({h} % {span}) || ' days')"
    return f"""
INSERT INTO member (
    id, branch_id, name, gender, birth, joined, member_type, id_number, ethnicity,
    full_member_since, education, marital_status, work_start, academic, degree, school,
    party_post, work_unit, work_unit_has_org, residence, phone, last_org_life, last_dues,
    remarks, category)
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < :n)
SELECT
    i,
    {COMMITTEE_ID} + 1 + (i % {branches}),
    '党员' || i,
    CASE WHEN i % 2 = 0 THEN '男' ELSE '女' END,
    printf('%04d-%02d', 1940 + {h1} % 65, 1 + {h2} % 12),
    printf('%04d-07', 1990 + {h1} % 30),
    CASE WHEN {h2} % 50 = 0 THEN '预备' ELSE '正式' END,
    printf('4101%014d', i),
    CASE WHEN {h1} % 10 = 0 THEN '回族' ELSE '汉族' END,
    printf('%04d-07', 1991 + {h1} % 30),
    CASE {h2} % 3 WHEN 0 THEN '高中(中专)以下' WHEN 1 THEN '大专' ELSE '本科及以上' END,
    '已婚',
    printf('%04d-09', 1995 + {h1} % 25),
    '大学本科',
    '学士',
    '示范大学',
    CASE WHEN {h1} % 40 = 0 THEN '支部委员' END,
    '示范单位' || ({h2} % 500),
    {h1} % 2,
    '示范省示范市示范路' || ({h1} % 900) || '号',
    printf('139%08d', i),
    {day.format(h=h1, span=900)},
    {day.format(h=h2, span=900)},
    NULL,
    CASE WHEN i % 5 = 0 THEN '学生' ELSE '教职工' END
FROM seq
"""


def _mobile_sql(every: int) -> str:
    """A 流出党员登记 in force for one member in ``every``; one in 20 of them
    transferred in the campaign (Y); region and reason from the id."""
    spread = "((member.id * 48271) % 2147483647)"  # not tied to the branch (id % branches)
    h = f"(({spread} / {every}) % 2147483629)"
    return f"""
INSERT INTO mobile_record (
    member_id, registered_on, region, reason, reason_note, occupation, direction,
    reported_branch, transferred_in_campaign, ended_on)
SELECT id, '2026-11-10',
    substr('VWX', 1 + {h} % 3, 1),
    substr('JKLMNOPQRSTU', 1 + {h} % 12, 1),
    CASE WHEN {h} % 12 = 11 THEN '照看孙辈' END,
    CAST(1 + {h} % 5 AS TEXT),
    CAST(1 + {h} % 6 AS TEXT),
    CASE WHEN {h} % 3 = 0 THEN '示范社区党支部' END,
    CASE WHEN {h} % 20 = 0 THEN 1 ELSE 0 END,
    CASE WHEN {h} % 20 = 0 THEN '2026-11-30' END
FROM member WHERE {spread} % {every} = 0
"""


async def _seed(path: Path, members: int, branches: int, mobile_every: int | None) -> float:
    from sqlalchemy import text

    from storage.db import create_engine
    from storage.models import Base

    started = time.perf_counter()
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
        await conn.execute(
            text("INSERT INTO organisation (id, name, kind) VALUES (:id, '示例党委', 'committee')"),
            {"id": COMMITTEE_ID},
        )
        await conn.execute(
            text(
                "INSERT INTO organisation (id, name, kind, parent_id) "
                "VALUES (:id, :name, 'branch', :parent)"
            ),
            [
                {"id": COMMITTEE_ID + 1 + k, "name": f"第{k + 1}党支部", "parent": COMMITTEE_ID}
                for k in range(branches)
            ],
        )
        await conn.execute(text(_member_sql(branches)), {"n": members})
        if mobile_every:
            await conn.execute(text(_mobile_sql(mobile_every)))
    await engine.dispose()
    return time.perf_counter() - started


def _context(branches: int, *, committee: bool) -> Any:
    from storage.services.access import Actor, Grant, Role
    from storage.services.form_data import BranchRef, ExportContext

    refs = tuple(BranchRef(COMMITTEE_ID + 1 + k, f"第{k + 1}党支部") for k in range(branches))
    return ExportContext(
        actor=Actor(1, (Grant(Role.COMMITTEE, COMMITTEE_ID),)),
        org_id=COMMITTEE_ID if committee else refs[0].id,
        org_name="示例党委" if committee else refs[0].name,
        is_committee=committee,
        branches=refs,
        campaign=None,
        today=TODAY,
        pocket_days=90,
        stamp="基准测试 2026-12-04 09:00 导出",
    )


# ---------------------------------------------------------------- children


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _roster_collector() -> Callable[..., Awaitable[Any]]:
    """The roster collector if the registers module has it, else the template
    form of reports/forms/roster.py through the builder (write-only)."""
    from storage.services.form_data import registers

    collector = registers.COLLECTORS.get("roster")
    if collector is not None:
        return collector

    async def fallback(session: Any, ctx: Any) -> Any:
        from sqlalchemy import select

        from domain.member_fields import FIELDS
        from reports.builder import build_workbook
        from reports.forms.roster import roster_form
        from storage.models import Member
        from storage.services.form_data import RenderJob

        columns = [getattr(Member, spec.key) for spec in FIELDS]
        rows = (
            await session.execute(select(*columns).where(Member.branch_id.in_(ctx.branch_ids)))
        ).all()
        form = roster_form(ctx.org_name, ctx.today)

        def render(form: Any, rows: Any) -> bytes:
            return build_workbook(form, rows, write_only=True)

        return RenderJob(render, (form, [tuple(r) for r in rows]))

    return fallback


class _Rounds:
    """Wall and CPU seconds of each round, medians reported. CPU seconds count
    every thread of the process (the SQLite connection's too); on a shared
    machine they move far less than the wall clock does."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    @contextmanager
    def round(self) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.wall.append(time.perf_counter() - wall)
        self.cpu.append(time.process_time() - cpu)

    def figures(self, **more: Any) -> dict[str, Any]:
        return {
            "seconds": statistics.median(self.wall),
            "cpu_seconds": statistics.median(self.cpu),
            "rss_mb": _peak_mb(),
            **more,
        }


async def _child_roster(db: Path, repeat: int, job_file: Path) -> dict[str, Any]:
    """The collector's side, as the command line runs it: read, then pickle the
    job for the worker process (what ``reports.pool`` sends)."""
    from storage.db import create_engine, make_sessionmaker

    collect = _roster_collector()
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    maker = make_sessionmaker(engine)
    ctx = _context(1, committee=False)
    rounds = _Rounds()
    size = 0
    for _ in range(repeat):
        with rounds.round():
            async with maker() as session:
                job = await collect(session, ctx)
            payload = pickle.dumps((job.render, job.args), protocol=pickle.HIGHEST_PROTOCOL)
        await asyncio.to_thread(job_file.write_bytes, payload)
        size = len(payload)
        # One export at a time: the next round must not find this one still held.
        del job, payload
    await engine.dispose()
    return rounds.figures(pickle_mb=size / 1e6)


def _child_roster_worker(db: Path, repeat: int) -> dict[str, Any]:
    """The bot's worker: read and build in one process, on its own engine. The
    pool's worker lives on between exports: its imports are not timed."""
    import storage.services.exports  # noqa: F401  (what the first export imports)
    from storage.services.export_worker import collect_and_render

    ctx = _context(1, committee=False)
    rounds = _Rounds()
    size = 0
    for _ in range(repeat):
        with rounds.round():
            content = collect_and_render(f"sqlite+aiosqlite:///{db}", "roster", ctx)
        size = len(content)
        del content
    return rounds.figures(bytes=size)


def _child_roster_render(repeat: int, job_file: Path) -> dict[str, Any]:
    """The worker's side: unpickle the job and build the workbook."""
    rounds = _Rounds()
    size = 0
    for _ in range(repeat):
        with rounds.round():
            render, args = pickle.loads(job_file.read_bytes())
            content = render(*args)
        size = len(content)
        del render, args, content
    return rounds.figures(bytes=size)


def _child_roster_plain(db: Path, repeat: int) -> dict[str, Any]:
    from openpyxl import Workbook

    from domain.member_fields import FIELDS

    keys = [spec.key for spec in FIELDS]
    rounds = _Rounds()
    size = 0
    for _ in range(repeat):
        with rounds.round():
            connection = sqlite3.connect(db)
            book = Workbook(write_only=True)
            sheet = book.create_sheet("党员名册")
            sheet.append(keys)
            for row in connection.execute(
                f"SELECT {', '.join(keys)} FROM member WHERE branch_id = ? ORDER BY id",
                (COMMITTEE_ID + 1,),
            ):
                sheet.append(row)
            buffer = io.BytesIO()
            book.save(buffer)
            connection.close()
            content = buffer.getvalue()
        size = len(content)
        del book, buffer, content
    return rounds.figures(bytes=size)


async def _child_outflow(db: Path, branches: int, repeat: int) -> dict[str, Any]:
    from sqlalchemy import text

    from storage.db import create_engine, make_sessionmaker
    from storage.services.form_data.summaries import COLLECTORS, outflow_figures

    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    maker = make_sessionmaker(engine)
    ctx = _context(branches, committee=True)
    plain = text(
        "SELECT m.branch_id, COUNT(*) FROM mobile_record r JOIN member m ON m.id = r.member_id "
        "WHERE r.ended_on IS NULL GROUP BY m.branch_id"
    )
    # The same GROUP BY reading the columns the form counts by (the plain one
    # never reads a member row: its join is answered from indexes alone).
    reading = text(
        "SELECT m.branch_id, COUNT(*), COUNT(m.gender), MAX(m.birth), COUNT(m.education), "
        "COUNT(r.reason), COUNT(r.region), COUNT(r.reason_note), COUNT(r.reported_branch) "
        "FROM mobile_record r JOIN member m ON m.id = r.member_id "
        "WHERE r.ended_on IS NULL GROUP BY m.branch_id"
    )

    async def form() -> int:
        async with maker() as session:
            job = await COLLECTORS["outflow_stats"](session, ctx)
        return len(job.render(*job.args))

    async def figures() -> int:
        async with maker() as session:
            rows = await outflow_figures(session, ctx)
        return sum(r.a for r in rows)

    async def group_by() -> int:
        async with engine.connect() as conn:
            rows = (await conn.execute(plain)).all()
        return len(rows)

    async def group_by_reading() -> int:
        async with engine.connect() as conn:
            rows = (await conn.execute(reading)).all()
        return len(rows)

    steps = {
        "form": form,
        "figures": figures,
        "group_by": group_by,
        "group_by_reading": group_by_reading,
    }
    runs: dict[str, list[float]] = {k: [] for k in steps}
    a = await figures()  # warm-up (and the count of A)
    await group_by()
    for _ in range(repeat):
        for name, step in steps.items():
            started = time.perf_counter()
            await step()
            runs[name].append(time.perf_counter() - started)
    await engine.dispose()
    result: dict[str, Any] = {k: statistics.median(v) for k, v in runs.items()}
    result.update(a=a, rss_mb=_peak_mb())
    return result


def _child(args: argparse.Namespace) -> None:
    db = Path(args.db)
    if args.child == "roster":
        result = asyncio.run(_child_roster(db, args.repeat, Path(args.job)))
    elif args.child == "roster-worker":
        result = _child_roster_worker(db, args.repeat)
    elif args.child == "roster-render":
        result = _child_roster_render(args.repeat, Path(args.job))
    elif args.child == "roster-plain":
        result = _child_roster_plain(db, args.repeat)
    else:
        result = asyncio.run(_child_outflow(db, args.branches, args.repeat))
    print(json.dumps(result))


def _spawn(child: str, db: Path, repeat: int, branches: int = 1) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            *("--job", str(db.with_suffix(".job"))),
            "--child",
            child,
            "--db",
            str(db),
            "--repeat",
            str(repeat),
            "--branches",
            str(branches),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{child} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--roster-members", type=int)
    parser.add_argument("--outflow-members", type=int)
    parser.add_argument("--branches", type=int)
    parser.add_argument("--mobile-share", type=float, default=0.05)
    parser.add_argument("--repeat", type=int)
    parser.add_argument(
        "--child",
        choices=("roster", "roster-worker", "roster-render", "roster-plain", "outflow"),
    )
    parser.add_argument("--job")
    parser.add_argument("--only", choices=("roster", "outflow"), help="run one of the two")
    parser.add_argument("--db")
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    roster_n = args.roster_members or (10_000 if args.quick else 100_000)
    outflow_n = args.outflow_members or (100_000 if args.quick else 1_000_000)
    branches = args.branches or (100 if args.quick else 1_000)
    repeat = args.repeat or (1 if args.quick else 3)
    every = max(1, round(1 / args.mobile_share)) if args.mobile_share > 0 else 0

    with tempfile.TemporaryDirectory(prefix="paicha-bench-export-") as tmp:
        if args.only != "outflow":
            roster_db = Path(tmp) / "roster.sqlite3"
            seeded = asyncio.run(_seed(roster_db, roster_n, 1, None))
            print(f"(1) 党员名册, one branch of {roster_n:,} members (seeded in {seeded:.1f} s)")
            worker = _spawn("roster-worker", roster_db, repeat)
            collected = _spawn("roster", roster_db, repeat)
            rendered = _spawn("roster-render", roster_db, repeat)
            plain = _spawn("roster-plain", roster_db, repeat)

            def line(name: str, r: dict[str, Any], what: str) -> None:
                print(
                    f"    {name:<29}: {r['seconds']:6.2f} s ({r['cpu_seconds']:6.2f} s CPU)  "
                    f"peak RSS {r['rss_mb']:4.0f} MB  {what}"
                )

            line("bot's worker (read + build)", worker, f"{worker['bytes'] / 1e6:.1f} MB file")
            line(
                "command line: collector", collected, f"job pickled {collected['pickle_mb']:.1f} MB"
            )
            line("              builder", rendered, f"{rendered['bytes'] / 1e6:.1f} MB file")
            line("openpyxl write-only", plain, f"{plain['bytes'] / 1e6:.1f} MB file")
            for name, key in (("wall clock", "seconds"), ("CPU", "cpu_seconds")):
                split = collected[key] + rendered[key]
                print(
                    f"    ratio ({name}) {worker[key] / plain[key]:.2f} (bot's worker), "
                    f"{split / plain[key]:.2f} (collector + builder); target ≤ 1.3"
                )
            print(
                f"    peak RSS {worker['rss_mb']:.0f} MB (bot's worker), "
                f"{max(collected['rss_mb'], rendered['rss_mb']):.0f} MB (command line, the "
                f"larger of its two processes); target ≤ 200 MB"
            )
            roster_db.unlink()

        if args.only == "roster":
            return
        outflow_db = Path(tmp) / "outflow.sqlite3"
        seeded = asyncio.run(_seed(outflow_db, outflow_n, branches, every))
        print(
            f"(2) 流出党员有关情况统计表, {branches:,} branches, {outflow_n:,} members, "
            f"1 in {every} mobile (seeded in {seeded:.1f} s)"
        )
        result = _spawn("outflow", outflow_db, repeat, branches)
        print(f"    A (流出党员人数, all branches) = {result['a']:,}")
        print(f"    the form (collect + check + render) : {result['form']:7.3f} s")
        print(f"    its figures (one GROUP BY + 备注)    : {result['figures']:7.3f} s")
        print(f"    one plain GROUP BY                   : {result['group_by']:7.3f} s")
        print(f"    the same, reading the counted columns: {result['group_by_reading']:7.3f} s")
        base, reading = result["group_by"], result["group_by_reading"]
        print(
            f"    ratio figures / GROUP BY {result['figures'] / base:.2f} (target ≤ 2), "
            f"/ GROUP BY reading the columns {result['figures'] / reading:.2f}; "
            f"form / GROUP BY {result['form'] / base:.2f} (the form adds the check and "
            f"the workbook, built in the worker); peak RSS {result['rss_mb']:.0f} MB"
        )


if __name__ == "__main__":
    main()
