"""Issue 17, faults to survive: ``kill -9`` of a real ``paicha run`` process
(polling the local Bot API emulator) in the middle of a roster import and of
a conversation. Nothing is half-imported; the conversation resumes in the
next process; the member is saved once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from domain.thresholds import lost_crossing
from emulator import BotApiEmulator, ChatUser
from scheduler.delivery import WORKERS
from storage.db import create_engine, make_sessionmaker, write_tx
from storage.migrate import upgrade_async
from storage.models import Member, Organisation, User
from storage.services.access import Role
from storage.services.users import grant_role
from tests.e2e.conftest import TOKEN
from tests.e2e.test_roster_upload import _fill
from tests.factories import member_values

ROOT = Path(__file__).resolve().parents[2]
ROWS = 10_000  # the saving half of the import takes a few seconds; IDs repeat past 10,500


class BotProcess:
    """`paicha run` in its own process, as production starts it."""

    def __init__(self, base_url: str, db_url: str, workdir: Path) -> None:
        self.env = {
            **os.environ,
            "BOT_TOKEN": TOKEN,
            "BOT_API_URL": base_url,
            "DATABASE_URL": db_url,
            "SCHEDULER_ENABLED": "false",
            "DATA_DIR": str(workdir / "data"),
            "PYTHONPATH": str(ROOT),
        }
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, command: str = "run") -> None:
        # cwd without a .env: only the variables above configure it.
        code = f"import sys; from bot.cli import main; sys.exit(main([{command!r}]))"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=self.workdir,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=(self.workdir / "process.log").open("ab"),
        )

    def log_tail(self) -> str:
        """The processes' stderr, for a failing assertion's message."""
        path = self.workdir / "process.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()
            self.proc = None


@pytest.fixture
async def scene(tmp_path: Path) -> AsyncIterator[tuple[BotApiEmulator, BotProcess, str]]:
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'kill9.sqlite3'}"
    await upgrade_async(db_url)
    engine = create_engine(db_url)
    async with make_sessionmaker(engine)() as s, write_tx(s):
        committee = Organisation(name="示例党委", kind="committee")
        s.add(committee)
        await s.flush()
        branch = Organisation(name="一支部", kind="branch", parent_id=committee.id)
        s.add(branch)
        await s.flush()
        await grant_role(s, user_id=101, role=Role.SECRETARY, org_id=branch.id, granted_by=None)
    await engine.dispose()
    async with BotApiEmulator() as emulator:
        process = BotProcess(emulator.base_url, db_url, tmp_path)
        process.start()
        try:
            yield emulator, process, db_url
        finally:
            process.stop()


async def _members(db_url: str) -> list[Member]:
    engine = create_engine(db_url)
    try:
        async with make_sessionmaker(engine)() as s:
            return list((await s.scalars(select(Member))).all())
    finally:
        await engine.dispose()


async def _count(db_url: str) -> int:
    engine = create_engine(db_url)
    try:
        async with make_sessionmaker(engine)() as s:
            return int(await s.scalar(select(func.count()).select_from(Member)) or 0)
    finally:
        await engine.dispose()


async def _ready(user: ChatUser) -> None:
    """The process is up when it answers (its start imports and migrates)."""
    await user.send("/help")
    await user.reply(timeout=60)


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


async def _writing(user: ChatUser, wal: Path, timeout: float = 120) -> None:  # noqa: ASYNC109
    """Wait until the import is inside its one write transaction: the rows
    overflow SQLite's page cache into the WAL file before the commit. (The
    progress edits, one a second, can miss a saving half that is quicker.)"""
    start = _size(wal)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if _size(wal) > start + 256 * 1024:
            return
        last = user.last
        assert last is None or "导入完成" not in last.text, "the import finished before the kill"
        await asyncio.sleep(0.005)
    raise AssertionError("the import never began writing")


async def _finished(user: ChatUser, timeout: float = 300) -> str:  # noqa: ASYNC109
    """The import's last word: progress edits until 导入完成 or a refusal."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        text = (await user.reply(timeout=max(0.1, deadline - loop.time()))).text or ""
        if not text.startswith("正在"):  # 正在读取文件… / 正在检查和导入… n%
            return text


async def test_kill9_in_the_middle_of_a_roster_import_leaves_nothing_half_imported(scene) -> None:
    """Issue 17: kill -9 mid-import — nothing half-imported; the file sent
    again to the next process imports every row once."""
    emulator, process, db_url = scene
    sec = emulator.user(101)
    await _ready(sec)
    await sec.send("/template")
    template = (await sec.reply(timeout=30)).document
    assert template is not None
    data = await asyncio.to_thread(_fill, template.data, [member_values(i) for i in range(ROWS)])

    await sec.upload("名册.xlsx", data)
    await _writing(sec, Path(db_url.split("///", 1)[1] + "-wal"))
    process.kill9()
    assert await _count(db_url) == 0, "a part of the import was saved"

    process.start()
    await _ready(sec)
    await sec.upload("名册.xlsx", data)
    assert f"新增{ROWS}人" in await _finished(sec)
    assert await _count(db_url) == ROWS


async def test_kill9_in_the_middle_of_add_resumes_in_the_next_process(scene) -> None:
    """Issue 17: kill -9 mid-conversation — the next process continues the
    /add where it stopped (the FSM is in the database) and saves once."""
    emulator, process, db_url = scene
    sec = emulator.user(101)
    await _ready(sec)
    await sec.send("/add")
    await sec.replies(2, timeout=10)
    await sec.send("李测三")
    await sec.reply(timeout=10)
    process.kill9()

    # No /help to see it is up: a command would leave the conversation. The
    # press waits in the emulator until the new process polls.
    process.start()
    await sec.press("跳过")  # the ID number question, asked before the kill
    assert "性别" in (await sec.reply(timeout=60)).text
    await sec.press("女")
    await sec.reply(timeout=10)
    await sec.send("1990-03")
    await sec.reply(timeout=10)
    await sec.send("2015-06")
    await sec.reply(timeout=10)
    await sec.press("预备党员")
    await sec.reply(timeout=10)
    await sec.press("跳过其余，去确认")
    assert "李测三" in (await sec.reply(timeout=10)).text
    await sec.press("保存")
    await sec.wait_idle(timeout=10)
    [member] = await _members(db_url)
    assert member.name == "李测三" and member.member_type == "预备"


BRANCHES = 90  # one digest each: three seconds of sends at Telegram's 30 a second


def _lost_today() -> date:
    """A last 组织生活 that makes the member lost today (R-LOST-6M): the
    digest tells only what crossed since the last one, and the process runs
    on the real clock (UTC here)."""
    today = datetime.now(UTC).date()
    back = (today - timedelta(days=days) for days in range(170, 200))
    return next(day for day in back if lost_crossing(day) == today)


async def _digest_scene(db_url: str) -> list[int]:
    """90 branches, each with a secretary and a member lost from today."""
    last = _lost_today()
    engine = create_engine(db_url)
    secretaries = []
    async with make_sessionmaker(engine)() as s, write_tx(s):
        committee = (
            await s.scalars(select(Organisation).where(Organisation.kind == "committee"))
        ).one()
        for i in range(BRANCHES):
            branch = Organisation(name=f"第{i + 1}支部", kind="branch", parent_id=committee.id)
            s.add(branch)
            await s.flush()
            s.add(Member(branch_id=branch.id, **member_values(i, last_org_life=last)))
            uid = 5000 + i
            # The row the bot makes at a user's first update (see_user).
            s.add(User(id=uid, full_name=f"书记{i}"))
            await grant_role(s, user_id=uid, role=Role.SECRETARY, org_id=branch.id, granted_by=None)
            secretaries.append(uid)
    await engine.dispose()
    return secretaries


def _digests(emulator: BotApiEmulator) -> Counter[int]:
    return Counter(
        chat_id
        for chat_id, chat in emulator.chats.items()
        for sent in chat.messages.values()
        if (sent.current.text or "").startswith("每日提醒")
    )


async def test_kill9_in_the_middle_of_a_digest_batch_loses_none(scene) -> None:
    """Issue 17 / R-REMIND: `paicha scheduler` killed -9 half-way through the
    day's digests; the next one (after the dead leader's lease runs out) sends
    the rest: every secretary gets the digest. A message Telegram accepted in
    the instant before its confirmation was written cannot be told from one
    never sent (the Bot API has no idempotency key), so at most the messages
    in flight at the kill (delivery WORKERS) may arrive twice; none is lost."""
    emulator, process, db_url = scene
    process.stop()  # the polling bot of the scene is not needed here
    secretaries = await _digest_scene(db_url)
    for uid in secretaries:  # Telegram lets a bot write only to who wrote first
        await emulator.user(uid).send("/start")
    process.env.update(
        TIMEZONE="UTC",
        DIGEST_TIME="00:00",
        REMINDER_TIME="00:00",
        QUIET_START="23:59",
        QUIET_END="00:00",
        NOTIFY_STALE_MINUTES="0",
        SCHEDULER_LEASE_SECONDS="3",
    )
    process.start("scheduler")
    half = BRANCHES // 3
    assert await emulator.signal.wait_for(lambda: len(_digests(emulator)) >= half, 60), (
        process.log_tail()
    )
    process.kill9()
    killed_at = len(_digests(emulator))
    assert killed_at < BRANCHES, "the batch finished before the kill"

    process.start("scheduler")
    assert await emulator.signal.wait_for(lambda: len(_digests(emulator)) == BRANCHES, 60)
    await asyncio.sleep(1.0)  # anything sent twice would arrive by now
    received = _digests(emulator)
    assert set(received) == set(secretaries)
    assert sum(n - 1 for n in received.values()) <= WORKERS, received.most_common(5)
