"""Bench: secretaries' /log while a large export builds (issue 15, “tests and
proof”: the /log p95 of users working while a large export builds, target
within 1.5× of /log alone). It prints figures and never asserts.

One process, one event loop: the local Bot API emulator (no flood limits: this
measures the loop, not Telegram), the real bot as ``paicha run`` builds it
with the relaxed Sender of bench/log_attempts.py, and a branch of
``--members`` invented members (default 100,000). Three phases, the same
users and the same /log script:

1. /log alone;
2. /log while the 党员名册 of the big branch is exported again and again
   through ``storage.services.exports`` as /export does it (read and built in
   the worker process of ``reports.pool``, on its own connection);
3. the same exports read and built on the event loop: what the worker
   process saves.

    .venv/bin/python bench/export_load.py [--quick] [--members N] [--users 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from fanout import LoopLag, work  # noqa: E402
from log_attempts import (  # noqa: E402
    SECRETARY_BASE,
    TOKEN,
    Result,
    build_paicha,
    drop_pending_updates,
    fresh_database,
    populate,
)
from sqlalchemy import insert  # noqa: E402

from bot.settings import Settings  # noqa: E402
from emulator import BotApiEmulator  # noqa: E402
from reports import pool  # noqa: E402
from storage.db import write_tx  # noqa: E402
from storage.models import Member, Organisation  # noqa: E402
from storage.services import exports  # noqa: E402
from storage.services.access import Actor, Grant, Role  # noqa: E402
from storage.services.form_data import RenderJob  # noqa: E402
from tests.factories import member_values  # noqa: E402

EXPORT_USER = 777


async def big_branch(app, members: int) -> int:  # type: ignore[no-untyped-def]
    async with app.sessionmaker() as s, write_tx(s):
        branch = Organisation(name="大支部", kind="branch")
        s.add(branch)
        await s.flush()
        rows = []
        for i in range(members):
            values = member_values(i, id_number=None)
            rows.append({"branch_id": branch.id, **values})
            if len(rows) == 10_000:
                await s.execute(insert(Member), rows)
                rows = []
        if rows:
            await s.execute(insert(Member), rows)
        return branch.id


async def _in_place(job: RenderJob) -> bytes:
    return job.render(*job.args)


async def exporting(app, branch_id: int, stop: asyncio.Event, seconds: list[float], run) -> None:  # type: ignore[no-untyped-def]
    actor = Actor(EXPORT_USER, (Grant(Role.SECRETARY, branch_id),))
    while stop.is_set():
        start = time.perf_counter()
        async with app.sessionmaker() as s:
            await exports.export_form(
                s,
                actor,
                "roster",
                org_id=branch_id,
                today=app.clock.today(),
                now=datetime.now(UTC),
                pocket_days=90,
                **({"database_url": app.settings.database_url} if run is None else {"run": run}),
            )
        seconds.append(time.perf_counter() - start)


async def phase(emulator, app, result: Result, ids, args, branch_id=None, run=None) -> str:  # type: ignore[no-untyped-def]
    lag = LoopLag()
    lag.start()
    start = time.perf_counter()
    seconds: list[float] = []
    going = asyncio.Event()
    going.set()
    builder = (
        asyncio.create_task(exporting(app, branch_id, going, seconds, run))
        if branch_id is not None
        else None
    )
    await work(emulator, result, ids, args.pause, None, args.rounds, 120)
    going.clear()
    if builder is not None:
        await builder
    result.seconds = time.perf_counter() - start
    note = lag.stop()
    if seconds:
        note += f"; {len(seconds)} exports, {sum(seconds) / len(seconds):.1f} s each"
    return note


async def main(args: argparse.Namespace) -> int:
    members = 10_000 if args.quick else args.members
    rounds = 3 if args.quick else args.rounds
    args.rounds = rounds
    ids = [SECRETARY_BASE + i for i in range(args.users)]
    results: list[tuple[Result, str]] = []
    with tempfile.TemporaryDirectory(prefix="paicha-export-load-") as tmpdir:
        async with BotApiEmulator() as emulator:
            drop_pending_updates(emulator)
            url, drop = await fresh_database(args, Path(tmpdir), "export")
            settings = Settings(
                bot_token=TOKEN,
                bot_api_url=emulator.base_url,
                database_url=url,
                scheduler_enabled=False,
                _env_file=None,  # type: ignore[call-arg]
            )
            app = await build_paicha(settings, relaxed=True)
            await populate(app, args.users)
            print(f"… {members:,} members in one branch", file=sys.stderr, flush=True)
            branch_id = await big_branch(app, members)
            task = asyncio.create_task(app.poll())
            try:
                await work(emulator, Result("warm-up", 0, 0), ids, 0, None, 1, 120)
                await pool.render(RenderJob(len, (b"",)))  # start the worker once
                for name, branch, run in (
                    ("/log alone", None, None),
                    ("/log during exports (worker process)", branch_id, None),
                    ("/log during exports (on the loop)", branch_id, _in_place),
                ):
                    print(f"… {name}", file=sys.stderr, flush=True)
                    result = Result(name, args.users, 0)
                    note = await phase(emulator, app, result, ids, args, branch, run)
                    results.append((result, note))
            finally:
                await app.dp.stop_polling()
                await task
                await app.close()
                await drop()
    alone = results[0][0].pct(0.95)
    print(f"\n/log with a {members:,}-member 党员名册 export building ({args.users} users)")
    for result, note in results:
        p95 = result.pct(0.95)
        print(
            f"{result.name:<40} steps {result.steps:>4}  p50 {result.pct(0.5):7.1f} ms"
            f"  p95 {p95:7.1f} ms  ratio {p95 / alone:5.2f}  ({note})"
        )
    print("target: p95 during exports within 1.5× of /log alone (the worker-process row)")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 members, 3 rounds")
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--pause", type=float, default=1.0)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg-url")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
