"""Bench: scripted secretaries logging search attempts (/log) concurrently
through the local Bot API emulator (issue 3).

One process, one event loop, one emulator. Scenarios run one after another:

1. baseline — a bare aiogram Bot + Dispatcher whose one router echoes texts
   and answers each button tap by editing the message (one reply per step).
   It has no Sender at all (no rate limit, no splitting), i.e. it is the
   "relaxed" case. A second baseline row adds the relaxed Sender to the same
   echo bot, so the Sender's own cost is visible.
2. Paicha, relaxed sender — the real bot built as ``bot.runner.assemble``
   builds it, but with ``Sender(global_rate=10_000, chat_rate=10_000,
   chat_burst=10_000)``: the bot's own cost.
3. Paicha, sender as assembled — ``assemble()`` itself: the deliberate
   ~28 msg/s global limit (Telegram's own limit on one bot) is included.

Each user waits for the bot's reply before the next step (``ChatUser.reply()``,
woken only by its own chat). Paicha's script per secretary: /log → 1st lost member → 打电话 →
未取得联系 → 今天 → 跳过，保存 (6 steps). The baseline does 6 steps too
(one text, five taps). Latency = from send/press to the reply arriving.

It prints figures and never asserts times. Target (issue brief): p95 ratio
Paicha/baseline ≤ 3 on SQLite. A sampler thread notes where the single
event loop spent its time, to say whether the emulator/harness or the bot is
the bottleneck.

    .venv/bin/python bench/log_attempts.py [--users 500 | --quick]
        [--db sqlite|postgres --pg-url postgresql+asyncpg://user@host/postgres]
        [--step-timeout 45] [--scenario-timeout 120] [--no-assembled]
        [--tasks-limit K] [--no-sampler]
    .venv/bin/python bench/log_attempts.py --import-lag [--import-rows 100000]

Every scenario also runs an event-loop lag monitor (issue 17 point 5): a task
that sleeps 10 ms and records how late it wakes; the table prints its p99 and
max (target: never late by more than 100 ms). ``--import-lag`` instead
measures that lag while the roster import writes ROWS members into a fresh
SQLite database and then while a PASSIVE WAL checkpoint runs.

``--tasks-limit K`` adds a diagnostic row that is NOT Paicha as assembled: the
relaxed-Sender bot polled with aiogram's ``tasks_concurrency_limit=K``.

With ``--db postgres``, ``--pg-url`` names a server database the bench may use
to CREATE and DROP scratch databases (one per Paicha scenario).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import linecache
import logging
import os
import re
import resource
import sys
import tempfile
import threading
import time
import traceback
import uuid
import warnings
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiogram import Bot, Dispatcher, F, Router  # noqa: E402
from aiogram.client.session.aiohttp import AiohttpSession  # noqa: E402
from aiogram.client.telegram import TelegramAPIServer  # noqa: E402
from aiogram.types import (  # noqa: E402
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from bot.runner import Paicha, assemble, freeze_startup_heap  # noqa: E402
from bot.sender import Sender  # noqa: E402
from bot.settings import Settings  # noqa: E402
from domain.clock import FixedClock  # noqa: E402
from emulator import BotApiEmulator  # noqa: E402
from handlers.common import publish_default_commands  # noqa: E402
from storage.db import create_engine, write_tx  # noqa: E402
from storage.models import Member, Organisation, User  # noqa: E402
from storage.services.access import Role  # noqa: E402
from storage.services.users import grant_role  # noqa: E402
from tests.factories import member_values  # noqa: E402

TOKEN = "123456:BENCH"
TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=TZ)
SECRETARY_BASE = 100_000
BASELINE_BASE = 300_000
USER_NAME = "测试"  # ChatUser's default first_name; stored so /log is not a rename write

# (action, argument, a substring the reply must contain)
PAICHA_SCRIPT: list[tuple[str, Any, str]] = [
    ("send", "/log", "为谁记录查找"),
    ("press", 1, "通过什么渠道"),
    ("press", "打电话", "结果如何"),
    ("press", "未取得联系", "哪天查找"),
    ("press", "今天", "补充说明"),
    ("press", "跳过，保存", "已保存"),
]
BASELINE_SCRIPT: list[tuple[str, Any, str]] = [
    ("send", "/log", "echo"),
    ("press", 1, "tap 1"),
    ("press", 2, "tap 2"),
    ("press", 3, "tap 3"),
    ("press", 1, "tap 4"),
    ("press", 2, "tap 5"),
]


def relaxed_sender() -> Sender:
    return Sender(global_rate=10_000, chat_rate=10_000, chat_burst=10_000)


# ---- where the time goes -------------------------------------------------------


_PROJECT = tuple(f"{ROOT}/{d}/" for d in ("bot", "handlers", "storage", "domain", "reports"))
_BENCH = str(Path(__file__).resolve())
_BENCH_USERS = {"one", "drive"}
_BENCH_BOT = {"echo", "tapped", "keyboard", "poll", "poll_limited"}
_COMPONENTS = [  # (path fragment, name): the innermost known frame names the component
    ("/emulator/", "emulator"),
    ("/aiohttp/", "aiohttp"),
    ("/aiogram/", "aiogram"),
    ("/pydantic", "pydantic"),
    ("/sqlalchemy/", "SQLAlchemy/driver"),
    ("/aiosqlite/", "SQLAlchemy/driver"),
    ("/asyncpg/", "SQLAlchemy/driver"),
    ("/babel/", "i18n"),
    ("/asyncio/", "asyncio"),
    ("/json/", "json"),
]


def _component(fn: str, func: str) -> str | None:
    if fn == _BENCH:  # main(), <module>: the outermost frames of every sample
        if func in _BENCH_USERS:
            return "scripted users"
        return "echo bot" if func in ("echo", "tapped", "keyboard") else None
    if fn.endswith("/bot/sender.py"):
        return "Sender"
    if fn.startswith(_PROJECT):
        return "Paicha code"
    return next((name for part, name in _COMPONENTS if part in fn), None)


def _side(frames: list[tuple[str, str]]) -> str:
    """Harness (emulator, its HTTP server, scripted users) or bot (everything
    the bot process would run in production)."""
    for fn, func in frames:  # innermost first
        if "/emulator/" in fn or "/aiohttp/web_" in fn:
            return "harness"
        if fn == _BENCH and func in _BENCH_USERS:
            return "harness"
        if fn == _BENCH and func in _BENCH_BOT:
            return "bot"
        if fn.startswith(_PROJECT) or "/aiogram/" in fn or "/aiohttp/client" in fn:
            return "bot"
        if "/sqlalchemy/" in fn or "/aiosqlite/" in fn or "/asyncpg/" in fn:
            return "bot"
    return "other"


def _classify(frames: list[tuple[str, str]]) -> str:
    """One sample of the main thread's stack, innermost first, as (file,
    function) pairs → "side: component" (self time by package)."""
    if not frames or frames[0][0].endswith("selectors.py"):
        return "idle"
    # asyncio's own frames (wait_for, task creation…) are charged to their caller.
    known = [c for fn, func in frames if (c := _component(fn, func))]
    component = next((c for c in known if c != "asyncio"), known[0] if known else "stdlib")
    return f"{_side(frames)}: {component}"


def _db_thread_idle(frame: Any) -> bool:
    """A SQLite connection's worker thread (storage.db's ``_Worker``, or
    aiosqlite's) blocked on its queue (SimpleQueue.get is C, so its innermost
    Python frame is the worker loop at that line)."""
    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno)
    if frame.f_code.co_name == "_serve":
        return "_jobs.get(" in line
    return frame.f_code.co_name == "_connection_worker_thread" and "tx.get(" in line


class Sampler(threading.Thread):
    """Every ``interval`` s, look at the main thread's stack and count the
    bucket it is in; also how many database driver threads are busy.

    The sampler needs the GIL to look, so it mostly looks while the main
    thread has let go of it: code that releases the GIL (SQLite calls, which
    run on the event loop's thread since issue 3) is over-counted. Read the
    shares as hints, not as a profile."""

    def __init__(self, interval: float = 0.01) -> None:
        super().__init__(daemon=True, name="bench-sampler")
        self.interval = interval
        self.main = threading.main_thread().ident
        self.counts: Counter[str] = Counter()
        self.db_busy = 0
        self.samples = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            names = {t.ident: t.name for t in threading.enumerate()}
            for ident, frame in sys._current_frames().items():
                if ident == self.main:
                    frames: list[tuple[str, str]] = []
                    f = frame
                    while f is not None and len(frames) < 300:
                        frames.append((f.f_code.co_filename, f.f_code.co_name))
                        f = f.f_back
                    self.counts[_classify(frames)] += 1
                    self.samples += 1
                elif (
                    names.get(ident) == "paicha-sqlite" or "/aiosqlite/" in _outermost_file(frame)
                ) and not _db_thread_idle(frame):
                    self.db_busy += 1

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=2)


def _outermost_file(frame: Any) -> str:
    files = []
    while frame is not None and len(files) < 300:
        files.append(frame.f_code.co_filename)
        frame = frame.f_back
    return " ".join(files[-4:])


# ---- event-loop lag -----------------------------------------------------------


class LagMonitor:
    """A task that sleeps ``interval`` (10 ms) and records how late it wakes:
    the time the event loop could not run a ready callback."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.lags.append(max(0.0, time.perf_counter() - start - self.interval))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def take(self) -> list[float]:
        lags, self.lags = self.lags, []
        return lags


def lag_ms(lags: list[float], q: float) -> float:
    if not lags:
        return float("nan")
    data = sorted(lags)
    return data[min(len(data) - 1, max(0, round(q * (len(data) - 1))))] * 1000


# ---- results ---------------------------------------------------------------


@dataclass
class Result:
    name: str
    users: int
    steps_planned: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    users_done: int = 0
    failed: int = 0
    timeouts: int = 0
    cancelled: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    logged: Counter[str] = field(default_factory=Counter)
    cpu_seconds: float = 0.0
    sends: int = 0
    sampler: Sampler | None = None
    note: str = ""
    lags: list[float] = field(default_factory=list)
    # CPU seconds of the other processes in the run (bench/load.py: harness, servers)
    cpu_others: dict[str, float] = field(default_factory=dict)
    harness_lags: list[float] = field(default_factory=list)
    full_passes: list[float] = field(default_factory=list)  # bench/load.py's bots

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        data = sorted(self.latencies)
        k = min(len(data) - 1, max(0, round(q * (len(data) - 1))))
        return data[k] * 1000

    @property
    def steps(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.steps / self.seconds if self.seconds else 0.0

    def verdict(self) -> str:
        """Where the wall time went, in one line or two."""
        lines = []
        cpu = 100 * self.cpu_seconds / self.seconds if self.seconds else 0.0
        sends_rate = self.sends / self.seconds if self.seconds else 0.0
        s = self.sampler
        if s and s.samples:
            busy = 1 - s.counts["idle"] / s.samples
            shares = {k: v / s.samples for k, v in s.counts.items() if k != "idle"}
            harness = sum(v for k, v in shares.items() if k.startswith("harness"))
            botside = sum(v for k, v in shares.items() if k.startswith("bot"))
            top = ", ".join(
                f"{k} {100 * v:.0f}%"
                for k, v in sorted(shares.items(), key=lambda kv: -kv[1])[:7]
                if v >= 0.005
            )
            lines.append(
                f"event loop busy {100 * busy:.0f}% (harness {100 * harness:.0f}%, "
                f"bot {100 * botside:.0f}%): {top}"
            )
            db_threads = s.db_busy / s.samples
            extra = (
                f"; sqlite driver threads busy {db_threads:.2f} on average" if db_threads else ""
            )
            lines.append(
                f"process CPU {cpu:.0f}% of one core; sendMessage {sends_rate:.1f}/s{extra}"
            )
            if any("QueuePool limit" in k for k in self.logged):
                lines.append(
                    "=> stalled: the bot's database connection pool ran out (QueuePool timeouts)"
                )
            elif "assembled" in self.name and 22 <= sends_rate <= 30:
                lines.append("=> bottleneck: the Sender's deliberate global rate limit (~28 msg/s)")
            elif busy >= 0.8:
                who = "the emulator/harness" if harness > botside else "the bot"
                lines.append(f"=> bottleneck: the single event loop (CPU), mostly {who}")
            elif db_threads >= 0.5:
                lines.append(
                    "=> event loop not saturated; the bot waits on SQLite "
                    "(queries and the single-writer lock)"
                )
            else:
                lines.append("=> event loop not saturated: waiting on I/O / locks / timers")
        else:
            lines.append(f"process CPU {cpu:.0f}% of one core; sendMessage {sends_rate:.1f}/s")
        return "\n    ".join(lines)


class LogCollector(logging.Handler):
    """Warnings and errors from the bot, grouped (numbers masked) instead of
    flooding stderr; each group keeps its project frames (not .venv)."""

    _FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\S+)')

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:
            text = str(record.msg)
        head, _, rest = text.partition("\n")
        frames = [(f, int(n), fn) for f, n, fn in self._FRAME.findall(rest)]
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            head += f" -> {type(exc).__name__}: {exc}"
            frames += [
                (fr.filename, fr.lineno or 0, fr.name)
                for fr in traceback.extract_tb(exc.__traceback__)
            ]
        ours = [
            f"{Path(f).relative_to(ROOT)}:{n} {fn}"
            for f, n, fn in frames
            if f.startswith(str(ROOT)) and "/.venv/" not in f and f != _BENCH
        ]
        key = re.sub(r"id=\d+", "id=N", f"{record.name}: {head}")
        if ours:
            key += "\n        at " + " > ".join(ours)
        self.records[key] += 1


# ---- driving the users ---------------------------------------------------------


async def drive(
    emulator: BotApiEmulator,
    result: Result,
    user_ids: list[int],
    script: list[tuple[str, Any, str]],
    step_timeout: float,
    deadline: float,
) -> None:
    async def reply_to(user: Any) -> Any:
        return await user.reply(timeout=step_timeout)

    async def one(uid: int) -> None:
        user = emulator.user(uid, first_name=USER_NAME)
        for index, (action, arg, expect) in enumerate(script, 1):
            where = f"step {index} ({action} {arg!r})"
            callback_id = None
            start = time.perf_counter()
            try:
                if action == "send":
                    await user.send(arg)
                else:
                    callback_id = await user.press(arg)
            except AssertionError as exc:
                result.failed += 1
                result.errors[f"{where}: {str(exc).splitlines()[0][:300]}"] += 1
                return
            try:
                reply = await reply_to(user)
            except AssertionError:
                result.timeouts += 1
                why = f"no reply within {step_timeout:.0f}s"
                record = emulator.callbacks.get(callback_id) if callback_id else None
                if record is not None and record.answered and record.text:
                    why += f"; callback answered with alert {record.text!r}"
                result.errors[f"{where}: {why}"] += 1
                return
            elapsed = time.perf_counter() - start
            if expect not in reply.text:
                result.failed += 1
                result.errors[f"{where}: unexpected reply {reply.text[:200]!r}"] += 1
                return
            result.latencies.append(elapsed)
        result.users_done += 1

    loop = asyncio.get_running_loop()
    sends_before = len(emulator.send_log)
    cpu_before = time.process_time()
    if result.sampler:
        result.sampler.start()
    monitor = LagMonitor()
    monitor.start()
    start = time.perf_counter()
    tasks = [asyncio.create_task(one(uid)) for uid in user_ids]
    done, pending = await asyncio.wait(tasks, timeout=max(1.0, deadline - loop.time()))
    result.seconds = time.perf_counter() - start
    await monitor.stop()
    result.lags = monitor.take()
    if result.sampler:
        result.sampler.stop()
    result.cpu_seconds = time.process_time() - cpu_before
    result.sends = len(emulator.send_log) - sends_before
    for task in pending:
        task.cancel()
    if pending:
        result.cancelled = len(pending)
        result.errors[f"scenario deadline: {len(pending)} user(s) cancelled"] += 1
        await asyncio.wait(pending, timeout=5)
    for task in done:
        if task.exception() is not None:
            result.failed += 1
            exc = task.exception()
            result.errors[f"harness: {type(exc).__name__}: {exc}"] += 1


# ---- running a bot -----------------------------------------------------------------


def drop_pending_updates(emulator: BotApiEmulator) -> None:
    """Updates left unconfirmed by a stopped bot must not reach the next one."""
    emulator._confirm(10**15)  # private: the emulator has no public "forget all"


async def run_bot(
    poll: Callable[[], Awaitable[None]],
    dp: Dispatcher,
    body: Callable[[], Awaitable[None]],
    close: Callable[[], Awaitable[None]],
) -> None:
    """Poll while ``body`` runs, then stop everything within bounded waits."""
    task = asyncio.create_task(poll())
    try:
        await asyncio.sleep(0.2)  # let it publish commands and start the long poll
        if task.done():
            task.result()  # polling died at once: raise why
        await body()
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(dp.stop_polling(), 10)
        if not task.done():
            task.cancel()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        leftover = set(getattr(dp, "_handle_update_tasks", ()))
        if leftover:
            _, still = await asyncio.wait(leftover, timeout=5)
            for t in still:
                t.cancel()
            if still:
                await asyncio.wait(still, timeout=2)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(close(), 10)


def echo_dispatcher() -> Dispatcher:
    router = Router()

    def keyboard(step: int) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(
            inline_keyboard=[
                [InlineKeyboardButton(text=f"b{j}", callback_data=f"{step}:{j}") for j in (1, 2, 3)]
            ]
        )

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"echo {message.text}", reply_markup=keyboard(1))

    @router.callback_query()
    async def tapped(call: CallbackQuery) -> None:
        assert isinstance(call.message, Message) and call.data
        step = int(call.data.split(":")[0])
        await call.message.edit_text(f"tap {step}: {call.data}", reply_markup=keyboard(step + 1))
        await call.answer()

    dp = Dispatcher()
    dp.include_router(router)
    return dp


async def run_baseline(
    emulator: BotApiEmulator, name: str, n: int, sender: Sender | None, args: argparse.Namespace
) -> Result:
    drop_pending_updates(emulator)
    session = AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url))
    if sender is not None:
        session.middleware(sender)
    bot = Bot(TOKEN, session=session)
    dp = echo_dispatcher()
    result = Result(
        name, n, n * len(BASELINE_SCRIPT), sampler=None if args.no_sampler else Sampler()
    )
    base = BASELINE_BASE if sender is None else BASELINE_BASE + 100_000
    ids = [base + i for i in range(n)]
    loop = asyncio.get_running_loop()

    async def poll() -> None:
        await bot.delete_webhook(drop_pending_updates=False)
        await dp.start_polling(bot, handle_signals=False, close_bot_session=False)

    async def body() -> None:
        await drive(
            emulator,
            result,
            ids,
            BASELINE_SCRIPT,
            args.step_timeout,
            loop.time() + args.scenario_timeout,
        )

    await run_bot(poll, dp, body, bot.session.close)
    return result


# ---- Paicha ------------------------------------------------------------------------


async def fresh_database(args: argparse.Namespace, tmp: Path, label: str) -> tuple[str, Callable]:
    """A new empty database and a coroutine function that drops it."""
    if args.db == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / f'{label}.sqlite3'}"

        async def nothing() -> None:
            return None

        return url, nothing
    from sqlalchemy import text

    name = f"paicha_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()

    async def drop() -> None:
        engine = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await engine.dispose()

    return args.pg_url.rsplit("/", 1)[0] + "/" + name, drop


async def build_paicha(settings: Settings, relaxed: bool) -> Paicha:
    clock = FixedClock(TZ, at=NOW)
    # Exactly as `paicha run` builds it; the relaxed variant swaps only the Sender.
    return await assemble(settings, clock, sender=relaxed_sender() if relaxed else None)


async def populate(app: Paicha, n: int) -> None:
    """One committee; n branches, each with its secretary (100000+i) and 3
    members, 2 of them lost since 2025-01-10."""
    async with app.sessionmaker() as s, write_tx(s):
        committee = Organisation(name="示例党委", kind="committee")
        s.add(committee)
        await s.flush()
        branches = [
            Organisation(name=f"示例第{i + 1}支部", kind="branch", parent_id=committee.id)
            for i in range(n)
        ]
        s.add_all(branches)
        s.add_all(User(id=SECRETARY_BASE + i, full_name=USER_NAME) for i in range(n))
        await s.flush()
        for i, branch in enumerate(branches):
            await grant_role(
                s,
                user_id=SECRETARY_BASE + i,
                role=Role.SECRETARY,
                org_id=branch.id,
                granted_by=None,
            )
            for k, (org_life, dues) in enumerate(
                [
                    (date(2025, 1, 10), date(2024, 12, 1)),
                    (date(2025, 1, 10), None),
                    (date(2026, 11, 1), None),
                ]
            ):
                s.add(
                    Member(
                        branch_id=branch.id,
                        last_org_life=org_life,
                        last_dues=dues,
                        **member_values(3 * i + k),
                    )
                )
        await s.flush()


async def run_paicha(
    emulator: BotApiEmulator,
    name: str,
    n: int,
    relaxed: bool,
    args: argparse.Namespace,
    tmp: Path,
    collector: LogCollector,
    tasks_limit: int | None = None,
) -> Result:
    drop_pending_updates(emulator)
    url, drop = await fresh_database(args, tmp, name.replace(" ", "_").replace(",", ""))
    settings = Settings(
        bot_token=TOKEN,
        bot_api_url=emulator.base_url,
        database_url=url,
        _env_file=None,  # type: ignore[call-arg]
    )
    result = Result(name, n, n * len(PAICHA_SCRIPT), sampler=None if args.no_sampler else Sampler())
    loop = asyncio.get_running_loop()
    setup = time.perf_counter()
    app = await build_paicha(settings, relaxed)
    try:
        await populate(app, n)
    except BaseException:
        await app.close()
        await drop()
        raise
    result.note = f"setup (migrate + {n} branches) {time.perf_counter() - setup:.1f}s"
    before = collector.records.copy()

    async def body() -> None:
        await drive(
            emulator,
            result,
            [SECRETARY_BASE + i for i in range(n)],
            PAICHA_SCRIPT,
            args.step_timeout,
            loop.time() + args.scenario_timeout,
        )

    async def poll_limited() -> None:
        # Paicha.poll, plus aiogram's tasks_concurrency_limit (diagnostic only).
        await app.bot.delete_webhook(drop_pending_updates=False)
        await publish_default_commands(app.bot)
        await app.dp.start_polling(
            app.bot,
            handle_signals=False,
            close_bot_session=False,
            tasks_concurrency_limit=tasks_limit,
        )

    try:
        await run_bot(app.poll if tasks_limit is None else poll_limited, app.dp, body, app.close)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(drop(), 20)
    result.logged = collector.records - before
    return result


# ---- lag while a large import and a checkpoint run -----------------------------------


async def import_lag(args: argparse.Namespace) -> int:
    """The event-loop lag while ``import_roster`` writes ``--import-rows``
    members into a fresh SQLite database, then while a PASSIVE checkpoint of
    what the WAL still holds runs through the engine."""
    sys.path.insert(0, str(ROOT / "bench"))
    import import_roster as roster_bench  # bench/import_roster.py

    from storage import crypto
    from storage.db import make_sessionmaker
    from storage.models import Base
    from storage.services.access import Actor, Grant
    from storage.services.roster_import import import_roster

    crypto.install(crypto.Keyring([crypto.new_key()]))  # an invented key, as the bot's own
    rows = args.import_rows
    folder = Path(tempfile.gettempdir()) / "paicha-bench"
    folder.mkdir(parents=True, exist_ok=True)
    book = folder / f"roster_{rows}.xlsx"
    if not book.exists():
        print(f"… writing {book} ({rows} rows)", file=sys.stderr, flush=True)
        roster_bench.generate(book, rows)
    data = book.read_bytes()
    monitor = LagMonitor()
    with tempfile.TemporaryDirectory(prefix="paicha-bench-") as tmp:
        path = Path(tmp) / "import.sqlite3"
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        sessions = make_sessionmaker(engine)
        async with sessions() as session, write_tx(session):
            session.add(Organisation(id=1, name="示例党委", kind="committee"))
            session.add(Organisation(id=2, name="示例第一党支部", kind="branch", parent_id=1))
        actor = Actor(user_id=1, grants=(Grant(Role.SECRETARY, 2),))
        freeze_startup_heap()  # as `paicha run` does once started
        monitor.start()
        start = time.perf_counter()
        async with sessions() as session:
            result = await import_roster(session, actor, 2, data, today=roster_bench.TODAY)
        seconds = time.perf_counter() - start
        during_import = monitor.take()
        wal = path.with_name(path.name + "-wal")
        wal_mb = wal.stat().st_size / 2**20 if wal.exists() else 0.0
        start = time.perf_counter()
        async with engine.connect() as conn:
            busy, log, done = (await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")).one()
        checkpoint_seconds = time.perf_counter() - start
        await asyncio.sleep(0.05)  # a wake-up after the checkpoint's end
        during_checkpoint = monitor.take()
        await monitor.stop()
        await engine.dispose()
    print(
        f"import of {rows} rows: {seconds:.1f}s, created {result.created}, "
        f"errors {result.error_count}; WAL file afterwards {wal_mb:.1f} MB"
    )
    print(
        f"checkpoint (PASSIVE) through the engine: {checkpoint_seconds * 1000:.0f} ms, "
        f"busy={busy} frames in WAL={log} checkpointed={done}"
    )
    print(f"{'event-loop lag (10 ms sleep)':<34} {'wakes':>6} {'p99 ms':>8} {'max ms':>8}")
    for label, lags in (
        ("during the import", during_import),
        ("during the checkpoint", during_checkpoint),
    ):
        print(f"{label:<34} {len(lags):>6} {lag_ms(lags, 0.99):>8.1f} {lag_ms(lags, 1.0):>8.1f}")
    print("target: never late by more than 100 ms")
    return 0


# ---- printing ----------------------------------------------------------------------


def table(results: list[Result], baseline: Result | None) -> str:
    head = (
        f"{'scenario':<38} {'users':>5} {'steps':>9} {'seconds':>8} {'steps/s':>8} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'p50 ×':>6} {'p95 ×':>6} "
        f"{'fail':>4} {'t/o':>4} {'cut':>4} {'lag p99':>7} {'lag max':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        complete = r.steps == r.steps_planned
        if baseline and baseline.latencies and r.latencies and complete:
            r50 = f"{r.pct(0.5) / baseline.pct(0.5):6.2f}"
            r95 = f"{r.pct(0.95) / baseline.pct(0.95):6.2f}"
        else:
            r50 = r95 = f"{'-':>6}"
        lines.append(
            f"{r.name:<38} {r.users:>5} {f'{r.steps}/{r.steps_planned}':>9} {r.seconds:>8.1f} "
            f"{r.rate:>8.1f} {r.pct(0.5):>8.0f} {r.pct(0.95):>8.0f} {r.pct(1.0):>8.0f} "
            f"{r50} {r95} {r.failed:>4} {r.timeouts:>4} {r.cancelled:>4} "
            f"{lag_ms(r.lags, 0.99):>7.1f} {lag_ms(r.lags, 1.0):>7.1f}"
        )
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> int:
    if args.import_lag:
        return await import_lag(args)
    n = 50 if args.quick else args.users
    # Cancelling aiogram's semaphore-queued updates at shutdown (--tasks-limit) is noisy.
    warnings.filterwarnings("ignore", "coroutine 'Dispatcher._process_update' was never awaited")
    collector = LogCollector()
    logging.basicConfig(level=logging.WARNING, handlers=[collector], force=True)
    results: list[Result] = []
    wall = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="paicha-bench-") as tmpdir:
        tmp = Path(tmpdir)
        async with BotApiEmulator() as emulator:
            plan: list[tuple[str, Callable[[], Awaitable[Result]]]] = [
                (
                    "baseline echo (no Sender)",
                    lambda: run_baseline(emulator, "baseline echo (no Sender)", n, None, args),
                ),
                (
                    "baseline echo + relaxed Sender",
                    lambda: run_baseline(
                        emulator, "baseline echo + relaxed Sender", n, relaxed_sender(), args
                    ),
                ),
                (
                    f"Paicha {args.db}, relaxed Sender",
                    lambda: run_paicha(
                        emulator, f"Paicha {args.db}, relaxed Sender", n, True, args, tmp, collector
                    ),
                ),
            ]
            if args.tasks_limit:
                label = f"Paicha {args.db}, relaxed, ≤{args.tasks_limit} at once"
                plan.append(
                    (
                        label,
                        lambda label=label: run_paicha(
                            emulator, label, n, True, args, tmp, collector, args.tasks_limit
                        ),
                    )
                )
            if not args.no_assembled:
                plan.append(
                    (
                        f"Paicha {args.db}, Sender as assembled",
                        lambda: run_paicha(
                            emulator,
                            f"Paicha {args.db}, Sender as assembled",
                            n,
                            False,
                            args,
                            tmp,
                            collector,
                        ),
                    )
                )
            for label, run in plan:
                print(f"… {label}: {n} users", file=sys.stderr, flush=True)
                try:
                    r = await run()
                except Exception as exc:
                    r = Result(label, n, n * 6)
                    r.errors[f"scenario crashed: {type(exc).__name__}: {exc}"] += 1
                results.append(r)
                print(
                    f"  done in {r.seconds:.1f}s: {r.steps}/{r.steps_planned} steps, "
                    f"p95 {r.pct(0.95):.0f} ms",
                    file=sys.stderr,
                    flush=True,
                )
    # Anything still running (there should be nothing) is cancelled, bounded.
    rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for t in rest:
        t.cancel()
    if rest:
        await asyncio.wait(rest, timeout=5)

    baseline = results[0] if results else None
    print()
    print(
        f"/log bench: {n} concurrent users × 6 steps, each waiting for the reply; "
        f"one process, one event loop (emulator + users + bot), Python "
        f"{sys.version.split()[0]}, {os.cpu_count()} CPU(s), db={args.db}"
    )
    print(table(results, baseline))
    print(
        "ratios ×: this row / 'baseline echo (no Sender)'. fail = wrong reply or error, "
        "t/o = no reply within step timeout, cut = cancelled at the scenario deadline; "
        "lag = how late a 10 ms sleep woke, in ms (target: max ≤ 100)."
    )
    print(
        "The baseline has no Sender at all (bare aiogram); the second baseline row adds the "
        "relaxed Sender to the same echo bot."
    )
    print(
        "Paicha's processing of updates is as assembled (aiogram handle_as_tasks=True, "
        "no concurrency limit; SqlStorage FSM; DB pool defaults), except a '≤K at once' "
        "row (--tasks-limit K, diagnostic only)."
    )
    print()
    for r in results:
        print(f"{r.name}:")
        if r.note:
            print(f"    {r.note}")
        print(f"    {r.verdict()}")
        for text, count in r.errors.most_common(8):
            print(f"    ! {count}× {text}")
        for text, count in r.logged.most_common(5):
            short = text if len(text) < 1500 else text[:1500] + " …"
            print(f"    log {count}× {short}")
    relaxed = results[2] if len(results) > 2 else None
    print()
    if relaxed is not None and relaxed.steps < relaxed.steps_planned:
        print(
            f"figure: n/a — Paicha ({args.db}, relaxed Sender) completed only "
            f"{relaxed.steps}/{relaxed.steps_planned} steps (see the errors above); "
            "ratios are left out for incomplete runs"
        )
    elif baseline and relaxed and relaxed.latencies and baseline.latencies:
        ratio = relaxed.pct(0.95) / baseline.pct(0.95)
        print(
            f"figure: p95 Paicha ({args.db}, relaxed Sender) / bare aiogram echo = {ratio:.2f} "
            f"(target ≤ 3 on SQLite)"
        )
        fair = results[1] if results[1].latencies else None
        if fair is not None:
            print(
                f"figure: p95 Paicha ({args.db}, relaxed Sender) / echo + the same relaxed "
                f"Sender = {relaxed.pct(0.95) / fair.pct(0.95):.2f} (the fair baseline)"
            )
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        f"total wall {time.perf_counter() - wall:.1f}s, CPU {usage.ru_utime + usage.ru_stime:.1f}s, "
        f"peak RSS {usage.ru_maxrss / 1024:.0f} MB"
    )
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--users", type=int, default=500)
    p.add_argument("--quick", action="store_true", help="50 users")
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--pg-url", help="postgresql+asyncpg://… (a DB to CREATE/DROP scratch DBs from)")
    p.add_argument(
        "--step-timeout",
        type=float,
        default=45.0,
        help="seconds to wait for each reply (default 45)",
    )
    p.add_argument(
        "--scenario-timeout",
        type=float,
        default=120.0,
        help="hard deadline per scenario in seconds (default 120)",
    )
    p.add_argument(
        "--tasks-limit",
        type=int,
        default=0,
        metavar="K",
        help="diagnostic extra row: Paicha (relaxed Sender) polled with aiogram's\n"
        "tasks_concurrency_limit=K; NOT as assembled (default: off)",
    )
    p.add_argument(
        "--no-assembled",
        action="store_true",
        help="skip the run with the Sender as assembled (~28 msg/s)",
    )
    p.add_argument("--no-sampler", action="store_true", help="no stack sampling")
    p.add_argument(
        "--import-lag",
        action="store_true",
        help="only: event-loop lag during a roster import and a WAL checkpoint (SQLite)",
    )
    p.add_argument("--import-rows", type=int, default=100_000, metavar="ROWS")
    args = p.parse_args(argv)
    if args.db == "postgres" and not args.pg_url:
        p.error("--db postgres needs --pg-url")
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
