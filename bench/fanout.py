"""Bench: a fan-out of reminders through the one Sender while secretaries
work (issue 14, point 6). It prints figures and never asserts.

One process, one event loop: the local Bot API emulator with Telegram's flood
limits on (about 30 msg/s overall, 1/s per chat with a burst, 20/min per
group, answered with 429 + retry_after), and the real bot built as
``paicha run`` builds it (``bot.runner.assemble``: the Sender as assembled,
~28 msg/s).

The fan-out: one reminder each to N distinct invented users (default 5,000),
through the scheduler's exactly-once delivery (``scheduler.delivery.Delivery``:
claim in the ledger → ``with bulk(): bot.send_message`` → confirm), with its
own number of workers (``--workers`` to change it). ``--direct`` skips the
ledger: ``--workers`` senders (default 100) call ``with bulk():
bot.send_message(...)`` themselves, all waiting in the Sender.

The interactive side: a few secretaries (default 5) each walk the /log
script of bench/log_attempts.py (6 steps, each waiting for the bot's reply),
pause ``--pause`` seconds (a secretary's pace, under Telegram's 1 msg/s per
chat), and walk it again:

1. alone: ``--rounds`` rounds each (default 10);
2. while the fan-out runs, until it is delivered.

Each user keeps their own schedule (random start), not in lockstep.

Figures: bulk msg/s sustained (first to last reminder delivered), 429s
answered by the emulator and seen by the Sender, lost and duplicated
reminders (counted in the emulator's chats), and the p95 of the /log steps
with the fan-out over the p95 alone (target ≤ 1.5; the issue's targets are
≥ 25 msg/s, 0 lost, 0 duplicated). The loop lag and the replies' wait for a
Sender token tell CPU contention (one process runs everything) from queueing
behind the fan-out.

    .venv/bin/python bench/fanout.py [--quick | --messages 5000] [--users 5]
        [--pause 5] [--rounds 10] [--direct] [--workers K] [--faults P]
        [--db sqlite|postgres --pg-url …]

``--faults P`` makes P % of sendMessage calls fail with 500 and another P %
lose their connection while the fan-out runs (replies too: the emulator
cannot tell them apart). The Sender retries them with backoff; a send that
fails five times in a row is left to the ledger (claimed, unconfirmed: a
later tick sends it once stale), which this bench counts as lost.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import random
import resource
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Iterable
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from log_attempts import (  # noqa: E402
    PAICHA_SCRIPT,
    SECRETARY_BASE,
    TOKEN,
    LogCollector,
    Result,
    build_paicha,
    drive,
    drop_pending_updates,
    fresh_database,
    populate,
    run_bot,
)

from bot.i18n import build_i18n  # noqa: E402
from bot.sender import bulk  # noqa: E402
from bot.settings import Settings  # noqa: E402
from emulator import BotApiEmulator, RateLimits  # noqa: E402
from scheduler.delivery import Delivery, Outgoing, Report  # noqa: E402

RECIPIENT_BASE = 5_000_000  # invented user ids, far from the secretaries'
DUE = date(2027, 3, 31)


def reminder_text(uid: int) -> str:
    return f"⏰ 提醒：年度排查材料请于3月31日前报送（编号 {uid}）"


async def work(
    emulator: BotApiEmulator,
    result: Result,
    ids: list[int],
    pause: float,
    keep_going: asyncio.Event | None,
    rounds: int,
    step_timeout: float,
) -> None:
    """Each user walks the /log script, pauses, walks it again — on their own
    schedule (a random start within the first pause), not in lockstep. With
    ``keep_going``, until it is cleared (and at least ``rounds`` each), else
    exactly ``rounds`` each."""
    loop = asyncio.get_running_loop()
    rng = random.Random(len(ids))

    async def one(uid: int) -> None:
        done = 0
        await asyncio.sleep(rng.uniform(0, pause))
        while done < rounds or (keep_going is not None and keep_going.is_set()):
            await drive(emulator, result, [uid], PAICHA_SCRIPT, step_timeout, loop.time() + 120)
            done += 1
            await asyncio.sleep(pause)

    await asyncio.gather(*(one(uid) for uid in ids))


class LoopLag:
    """How late the event loop wakes a 10 ms timer: CPU contention in the one
    process (emulator + users + bot) shows up here, not as the Sender's wait."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(0.01)
            self.lags.append(loop.time() - start - 0.01)

    def start(self) -> None:
        self.lags = []
        self._task = asyncio.create_task(self._run())

    def stop(self) -> str:
        if self._task is not None:
            self._task.cancel()
        return f"loop lag {_p95_max(self.lags)}"


def _p95_max(values: Iterable[float]) -> str:
    data = sorted(values) or [0.0]
    p95 = data[min(len(data) - 1, round(0.95 * (len(data) - 1)))]
    return f"p95 {1000 * p95:.0f} ms, max {1000 * data[-1]:.0f} ms"


async def fan_out(app, recipients: list[int], workers: int) -> list[BaseException]:  # type: ignore[no-untyped-def]
    """--direct: ``workers`` senders take the next recipient in turn (not
    5,000 tasks at once); each waits in the Sender's bucket."""
    queue = iter(recipients)
    failures: list[BaseException] = []

    async def worker() -> None:
        with bulk():
            for uid in queue:
                try:
                    await app.bot.send_message(uid, reminder_text(uid), parse_mode=None)
                except Exception as exc:
                    failures.append(exc)

    await asyncio.gather(*(worker() for _ in range(workers)))
    return failures


async def deliver(app, recipients: list[int], workers: int | None) -> Report:  # type: ignore[no-untyped-def]
    """Through the scheduler's delivery: claim → send → confirm per reminder."""
    extra = {} if workers is None else {"workers": workers}
    delivery = Delivery(
        bot=app.bot,
        sessionmaker=app.sessionmaker,
        clock=app.clock,
        i18n=build_i18n(app.settings.default_locale),
        name="bench",
        **extra,
    )
    items = [
        Outgoing(
            kind="reminder",
            subject="bench:stage:1",
            recipient=uid,
            due=DUE,
            offset_days=7,
            locale="zh",
            render=functools.partial(lambda u: (reminder_text(u), None), uid),
        )
        for uid in recipients
    ]
    return await delivery.deliver(items)


def count_deliveries(emulator: BotApiEmulator, recipients: list[int]) -> tuple[int, int]:
    """(lost, duplicated): recipients with no reminder, and extra copies."""
    lost = duplicated = 0
    for uid in recipients:
        chat = emulator.chats.get(uid)
        texts = [m.text for m in (chat.events if chat else [])]
        copies = texts.count(reminder_text(uid))
        lost += copies == 0
        duplicated += max(0, copies - 1)
    return lost, duplicated


async def main(args: argparse.Namespace) -> int:
    warnings.filterwarnings("ignore", "coroutine 'Dispatcher._process_update' was never awaited")
    collector = LogCollector()
    logging.basicConfig(level=logging.WARNING, handlers=[collector], force=True)
    n = 500 if args.quick else args.messages
    wall = time.perf_counter()
    recipients = [RECIPIENT_BASE + i for i in range(n)]
    secretaries = [SECRETARY_BASE + i for i in range(args.users)]
    alone = Result("/log alone", args.users, 0)
    during = Result("/log during the fan-out", args.users, 0)
    figures: dict[str, object] = {}
    lag = LoopLag()

    with tempfile.TemporaryDirectory(prefix="paicha-fanout-") as tmpdir:
        async with BotApiEmulator(limits=RateLimits()) as emulator:
            for uid in recipients:  # they started the bot once, as on Telegram
                emulator.user(uid, first_name="测试")
                emulator.chat(uid, "private")
            drop_pending_updates(emulator)
            url, drop = await fresh_database(args, Path(tmpdir), "fanout")
            settings = Settings(
                bot_token=TOKEN,
                bot_api_url=emulator.base_url,
                database_url=url,
                _env_file=None,  # type: ignore[call-arg]
            )
            app = await build_paicha(settings, relaxed=False)  # the Sender as assembled
            await populate(app, args.users)
            flood = emulator.flood
            assert flood is not None
            waits = app.sender.global_bucket.interactive_waits

            async def body() -> None:
                print(f"… /log alone: {args.users} users", file=sys.stderr, flush=True)
                # Warm up (first-use costs), not measured.
                await work(emulator, Result("warm-up", 0, 0), secretaries, 0, None, 1, 45)
                start = time.perf_counter()
                waits.clear()
                lag.start()
                await work(emulator, alone, secretaries, args.pause, None, args.rounds, 45)
                alone.note = f"{lag.stop()}; replies' wait for a Sender token {_p95_max(waits)}"
                alone.seconds = time.perf_counter() - start

                print(f"… fan-out: {n} reminders + /log", file=sys.stderr, flush=True)
                sends_before = len(emulator.send_log)
                refused_before = sum(flood.refused.values())
                if args.faults:
                    share = args.faults / 100
                    emulator.random_faults("sendMessage", share, share, seed=14)
                keep_going = asyncio.Event()
                keep_going.set()
                start = time.perf_counter()
                waits.clear()
                lag.start()
                working = asyncio.create_task(
                    work(emulator, during, secretaries, args.pause, keep_going, 1, 45)
                )
                if args.direct:
                    failures = await fan_out(app, recipients, args.workers or 100)
                else:
                    report = await deliver(app, recipients, args.workers)
                    failures = []
                    figures["report"] = (
                        f"ledger: sent {report.sent}, dropped {report.dropped}, "
                        f"failed {report.failed}, in flight {report.in_flight}"
                    )
                fan_seconds = time.perf_counter() - start
                emulator.random_faults("sendMessage")
                figures["faults"] = dict(emulator.faults)
                keep_going.clear()
                await working
                during.note = f"{lag.stop()}; replies' wait for a Sender token {_p95_max(waits)}"
                during.seconds = time.perf_counter() - start

                wanted = set(recipients)
                mine = set(secretaries)
                log = emulator.send_log[sends_before:]
                stamps = [t for t, c in log if c in wanted]
                span = stamps[-1] - stamps[0] if len(stamps) > 1 else float("nan")
                lost, duplicated = count_deliveries(emulator, recipients)
                figures.update(
                    delivered=len(stamps),
                    span=span,
                    rate=(len(stamps) - 1) / span if len(stamps) > 1 else float("nan"),
                    all_rate=sum(1 for t, _ in log if stamps and stamps[0] <= t <= stamps[-1])
                    / span
                    if len(stamps) > 1
                    else float("nan"),
                    fan_seconds=fan_seconds,
                    refused=sum(flood.refused.values()) - refused_before,
                    refused_by=dict(flood.refused),
                    sender_stats=dict(app.sender.stats),
                    lost=lost,
                    duplicated=duplicated,
                    failures=Counter(type(f).__name__ for f in failures),
                    max_rate=emulator.max_rate(window=1.0),
                    per_round=sum(1 for _, c in log if c in mine)
                    / max(1, during.steps / len(PAICHA_SCRIPT)),
                )

            try:
                await run_bot(app.poll, app.dp, body, app.close)
            finally:
                await drop()

    print()
    how = (
        f"`with bulk(): bot.send_message(...)` from {args.workers or 100} workers, no ledger"
        if args.direct
        else "scheduler.delivery.Delivery (claim → send → confirm)"
    )
    print(
        f"fan-out bench: {n} reminders to {n} distinct users through {how}, "
        f"the Sender as assembled (~28 msg/s), the emulator "
        f"enforcing Telegram's limits (30/s, 1/s per chat, 20/min per group); "
        f"{args.users} secretaries doing /log (6 steps, pause {args.pause:g}s between rounds, "
        f"{figures.get('per_round', 0):.1f} sendMessage per round, the rest edits); "
        f"db={args.db}; faults: {args.faults:g} % 500s + {args.faults:g} % dropped connections "
        f"(injected {figures.get('faults') or 0})"
    )
    if not figures:
        print("figure: n/a — the run did not complete (see the log below)")
    else:
        print(
            f"bulk delivered {figures['delivered']}/{n} in {figures['span']:.1f}s: "
            f"{figures['rate']:.1f} msg/s sustained; with the replies {figures['all_rate']:.1f} "
            f"msg/s (whole fan-out {figures['fan_seconds']:.1f}s; busiest second "
            f"{figures['max_rate']} msgs incl. replies)"
        )
        print(
            f"429s answered by the emulator: {figures['refused']} {figures['refused_by']}; "
            f"Sender saw {figures['sender_stats']}"
        )
        failures = dict(figures["failures"])  # type: ignore[call-overload]
        if "report" in figures:
            print(figures["report"])
        print(
            f"lost {figures['lost']}, duplicated {figures['duplicated']}; "
            f"send failures raised to the caller: {failures or 0}"
        )
        for r in (alone, during):
            fails = r.failed + r.timeouts
            print(
                f"{r.name:<24} {r.steps / len(PAICHA_SCRIPT):>4.0f} rounds, {r.steps:>4} steps, "
                f"p50 {r.pct(0.5):5.0f} ms, p95 {r.pct(0.95):5.0f} ms, "
                f"max {r.pct(1.0):5.0f} ms, failed {fails}\n    {r.note}"
            )
        ratio = during.pct(0.95) / alone.pct(0.95)
        print(f"figure: /log p95 during the fan-out / alone = {ratio:.2f} (target ≤ 1.5)")
    for r in (alone, during):
        for text, count in r.errors.most_common(5):
            print(f"  ! {r.name}: {count}× {text}")
    for text, count in collector.records.most_common(6):
        print(f"  log {count}× {text[:300]}")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        f"total wall {time.perf_counter() - wall:.1f}s, CPU {usage.ru_utime + usage.ru_stime:.1f}s, "
        f"peak RSS {usage.ru_maxrss / 1024:.0f} MB"
    )
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--messages", type=int, default=5000, help="reminders (default 5000)")
    p.add_argument("--quick", action="store_true", help="500 reminders")
    p.add_argument("--users", type=int, default=5, help="secretaries doing /log (default 5)")
    p.add_argument("--pause", type=float, default=5.0, help="seconds between rounds (default 5)")
    p.add_argument("--rounds", type=int, default=10, help="/log rounds alone (default 10)")
    p.add_argument(
        "--direct", action="store_true", help="bulk sends without the ledger (no Delivery)"
    )
    p.add_argument(
        "--workers",
        type=int,
        help="reminders in flight at once (default: Delivery's own; 100 with --direct)",
    )
    p.add_argument(
        "--faults", type=float, default=0, metavar="P", help="P %% 500s + P %% dropped connections"
    )
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--pg-url", help="postgresql+asyncpg://… (a DB to CREATE/DROP scratch DBs from)")
    args = p.parse_args(argv)
    if args.db == "postgres" and not args.pg_url:
        p.error("--db postgres needs --pg-url")
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
