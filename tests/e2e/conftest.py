"""End-to-end harness: the real bot (built by bot.runner.assemble, as `paicha
run` builds it) long-polls the local Bot API emulator over HTTP; scripted
users send messages, press buttons and upload workbooks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest

from bot.runner import Paicha, assemble
from bot.settings import Settings
from domain.clock import FixedClock
from emulator import BotApiEmulator, ChatUser
from storage.db import write_tx
from storage.models import Member, Organisation
from storage.services.access import Role
from storage.services.users import grant_role
from tests.factories import member_values

TOKEN = "123456:TEST-TOKEN"
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def bot_settings(emulator: BotApiEmulator | None = None, **values: Any) -> Settings:
    """The bot's settings in a test: the emulator's address, user 900 a fixed
    admin, nothing read from a .env file, and the scheduler off (its digest and
    reminders would land between a test's own messages; tests/e2e/
    test_scheduler.py runs it on purpose). ``values`` are what the test is
    about; a test that opens a database names its ``database_url``."""
    defaults: dict[str, Any] = {
        "bot_token": TOKEN,
        "paicha_admin_ids": [900],
        "scheduler_enabled": False,
        "_env_file": None,
    }
    if emulator is not None:
        defaults["bot_api_url"] = emulator.base_url
    return Settings(**{**defaults, **values})


@dataclass
class World:
    """The emulator, the running bot, and helpers to set the scene."""

    emulator: BotApiEmulator
    settings: Settings
    app: Paicha | None = None
    task: asyncio.Task | None = None
    orgs: dict[str, int] = field(default_factory=dict)

    async def start(self) -> None:
        clock = FixedClock(ZoneInfo("Asia/Shanghai"), at=NOW)
        self.app = await assemble(self.settings, clock)
        self.task = asyncio.create_task(self.app.poll())

    async def stop(self) -> None:
        """Stop as a crash would: polling ends, the process state is gone."""
        assert self.app is not None and self.task is not None
        with contextlib.suppress(RuntimeError):
            await self.app.dp.stop_polling()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self.task, 5)
        await self.app.close()
        self.app, self.task = None, None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def user(self, user_id: int, **kwargs) -> ChatUser:  # type: ignore[no-untyped-def]
        return self.emulator.user(user_id, **kwargs)

    async def org(self, name: str, kind: str, parent: str | None = None) -> int:
        assert self.app is not None
        async with self.app.sessionmaker() as s, write_tx(s):
            org = Organisation(name=name, kind=kind, parent_id=self.orgs.get(parent or ""))
            s.add(org)
            await s.flush()
            self.orgs[name] = org.id
        return org.id

    async def grant(self, user_id: int, role: Role, org: str | None) -> None:
        assert self.app is not None
        async with self.app.sessionmaker() as s, write_tx(s):
            org_id = self.orgs[org] if org else None
            await grant_role(s, user_id=user_id, role=role, org_id=org_id, granted_by=None)

    async def members(self, branch: str, count: int, start: int = 0) -> list[int]:
        assert self.app is not None
        ids = []
        async with self.app.sessionmaker() as s, write_tx(s):
            for i in range(start, start + count):
                m = Member(branch_id=self.orgs[branch], **member_values(i))
                s.add(m)
                await s.flush()
                ids.append(m.id)
        return ids


W = TypeVar("W", bound=World)


@contextlib.asynccontextmanager
async def running(world: W) -> AsyncIterator[W]:
    """The world's bot started, and stopped however the test ends (unless the
    test stopped it itself)."""
    await world.start()
    try:
        yield world
    finally:
        if world.app is not None:
            await world.stop()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with BotApiEmulator() as emulator:
        settings = bot_settings(
            emulator,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'e2e.sqlite3'}",
            # Scripted users tap faster than a person can; flood control
            # would slow them (tests/e2e/test_throttle.py runs it on purpose).
            throttle_rate=0,
        )
        async with running(World(emulator, settings)) as w:
            yield w


@pytest.fixture
async def branch_world(world: World) -> World:
    """A committee with two branches; user 101 is secretary of 一支部, user 201
    committee staff, user 102 secretary of 二支部."""
    await world.org("示例党委", "committee")
    await world.org("一支部", "branch", "示例党委")
    await world.org("二支部", "branch", "示例党委")
    await world.grant(101, Role.SECRETARY, "一支部")
    await world.grant(102, Role.SECRETARY, "二支部")
    await world.grant(201, Role.COMMITTEE, "示例党委")
    return world


async def add_full_member(sec: ChatUser, name: str, id_no: str) -> str:
    """/add by chat, as a secretary types it: the name, the ID number (gender
    and birth read from it), 入党时间 2005年7月, 正式党员, the rest skipped.
    Returns the confirmation's text; 保存 is the caller's to press."""
    await sec.send("/add")
    await sec.replies(2)
    await sec.send(name)
    asked = await sec.reply()
    assert "身份证号" in asked.text
    await sec.send(id_no)
    await sec.replies(2)
    await sec.send("2005年7月")
    await sec.reply()
    await sec.press("正式党员")
    await sec.reply()
    await sec.press("跳过其余，去确认")
    return (await sec.reply()).text
