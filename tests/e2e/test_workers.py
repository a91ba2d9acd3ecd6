"""Several workers (issue 17 point 2): two bots, built by bot.runner.assemble
as `paicha run --webhook` builds them, serve webhooks on two ports behind one
address (a round-robin proxy here, nginx in production), share one
PostgreSQL database and one Redis. A conversation started on one worker
continues on the other: the conversation lives in Redis (aiogram's
RedisStorage, chosen by REDIS_URL), not in either process.

Needs PostgreSQL (PAICHA_TEST_PG_URL) and Redis (PAICHA_TEST_REDIS_URL);
`.ci/run` starts both. Each test has its own database and its own Redis key
prefix, deleted afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import func, select

from bot.runner import Paicha, assemble
from bot.settings import Settings
from bot.webhook import SECRET_HEADER
from domain.clock import FixedClock
from emulator import BotApiEmulator
from storage.db import write_tx
from storage.models import FsmRecord, Member, Organisation
from storage.services.access import Role
from storage.services.users import grant_role
from tests.conftest import (
    both_backends,  # noqa: F401  (the db_url fixture's backends)
    redis_scratch,
)
from tests.e2e.conftest import NOW, TOKEN, bot_settings
from tests.e2e.test_webhook import free_port
from tests.factories import id_number

ROOT = Path(__file__).resolve().parents[2]
SECRET = "workers_secret-0123456789"

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)


class RoundRobin:
    """One address in front of the workers, as nginx's upstream: each request
    goes to the next worker in turn, with its body and the secret header;
    the worker's answer goes back as it is (502 if the worker is down)."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.turn = 0
        self.served: list[tuple[int, int]] = []  # (update_id, worker index)
        self.port = free_port()
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> RoundRobin:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self._http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None and self._http is not None
        await self._http.close()
        await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.Response:
        """To the next worker in turn; a worker that refuses the connection
        (down) is skipped, as nginx tries the next upstream."""
        assert self._http is not None
        body = await request.read()
        headers = {
            name: value
            for name in ("Content-Type", SECRET_HEADER)
            if (value := request.headers.get(name)) is not None
        }
        for _ in self.backends:
            worker = self.turn
            self.turn = (self.turn + 1) % len(self.backends)
            try:
                async with self._http.post(
                    self.backends[worker] + request.path, data=body, headers=headers
                ) as answer:
                    payload = await answer.read()
                    if answer.status == 200:
                        self.served.append((json.loads(body)["update_id"], worker))
                    kind = answer.headers.get("Content-Type")
                    return web.Response(
                        status=answer.status,
                        body=payload,
                        headers={"Content-Type": kind} if kind else None,
                    )
            except aiohttp.ClientConnectorError:
                continue  # down: the next one
            except aiohttp.ClientError:
                return web.Response(status=502)
        return web.Response(status=502)


@dataclass
class Workers:
    emulator: BotApiEmulator
    proxy: RoundRobin
    settings: list[Settings]
    apps: list[Paicha] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        clock = FixedClock(ZoneInfo("Asia/Shanghai"), at=NOW)
        for settings in self.settings:  # one after the other: migrations once
            app = await assemble(settings, clock)
            started = asyncio.Event()
            task = asyncio.create_task(app.serve_webhook(started=started))
            await asyncio.wait_for(started.wait(), 15)
            self.apps.append(app)
            self.tasks.append(task)

    async def stop(self) -> None:
        for app, task in zip(self.apps, self.tasks, strict=True):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 10)
            await app.close()
        self.apps.clear()
        self.tasks.clear()


@contextlib.asynccontextmanager
async def _balanced(
    db_url: str, redis_url: str, tmp_path: Path
) -> AsyncIterator[tuple[BotApiEmulator, RoundRobin, list[Settings]]]:
    """The emulator, the balancer in front of two ports, and each worker's
    settings: one database, one Redis prefix (its keys deleted at the end),
    one public address and one data key, a port each."""
    ports = [free_port(), free_port()]
    async with (
        redis_scratch(redis_url) as (_, prefix),
        BotApiEmulator(webhook_timeout=15, webhook_retry=(0.05, 0.3)) as emulator,
        RoundRobin([f"http://127.0.0.1:{p}" for p in ports]) as proxy,
    ):
        settings = [
            bot_settings(
                emulator,
                database_url=db_url,
                throttle_rate=0,  # scripted users are faster than people
                webhook_url=proxy.url,  # the one public address
                webhook_secret=SecretStr(SECRET),
                webhook_port=port,
                redis_url=redis_url,
                redis_prefix=prefix,
                data_dir=tmp_path / "data",  # one data key for both
            )
            for port in ports
        ]
        yield emulator, proxy, settings


@pytest.fixture
async def workers(db_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[Workers]:
    async with _balanced(db_url, redis_url, tmp_path) as (emulator, proxy, settings):
        pool = Workers(emulator, proxy, settings)
        try:
            await pool.start()
            yield pool
        finally:
            await pool.stop()


async def _scene(app: Paicha) -> None:
    async with app.sessionmaker() as s, write_tx(s):
        committee = Organisation(name="示例党委", kind="committee")
        s.add(committee)
        await s.flush()
        branch = Organisation(name="一支部", kind="branch", parent_id=committee.id)
        s.add(branch)
        await s.flush()
        await grant_role(s, user_id=101, role=Role.SECRETARY, org_id=branch.id, granted_by=None)


async def test_a_conversation_started_on_one_worker_continues_on_the_other(workers: Workers):
    app = workers.apps[0]
    await _scene(app)
    sec = workers.emulator.user(101)

    await sec.send("/add")
    await sec.replies(2)
    assert "姓名" in sec.last.text
    await sec.send("钱测一")
    assert "身份证号" in (await sec.reply()).text
    typed_id = id_number(date(1980, 5, 6), male=False)
    await sec.send(typed_id)
    replies = await sec.replies(2)
    assert "入党时间" in replies[1].text  # the ID was read on the other worker
    await sec.send("2005年7月")
    assert "党员类别" in (await sec.reply()).text

    # Half-way: the conversation is in Redis, under this bot's prefix, and
    # not in the database's fsm_record (SqlStorage is not in use).
    redis = Redis.from_url(workers.settings[0].redis_url or "")
    try:
        prefix = workers.settings[0].redis_prefix
        keys = {k.decode() async for k in redis.scan_iter(match=f"{prefix}:fsm:*")}
        [data_key] = [k for k in keys if k.endswith(":101:default:data")]
        stored = (await redis.get(data_key)).decode()
    finally:
        await redis.aclose()
    assert any(k.endswith(":101:default:state") for k in keys), keys
    # What was typed is encrypted with the data key there (issue 18).
    assert stored.startswith("v1:") and typed_id not in stored and "钱测一" not in stored
    async with app.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(FsmRecord)) == 0

    await sec.press("正式党员")
    await sec.reply()
    await sec.press("跳过其余，去确认")
    summary = await sec.reply()
    assert "钱测一" in summary.text and "1980年5月6日" in summary.text
    await sec.press("保存")
    saved = await sec.wait_idle()
    assert "已保存" in saved[-1].text, [m.text for m in saved]

    async with workers.apps[1].sessionmaker() as s:
        members = list(await s.scalars(select(Member)))
    assert [(m.name, m.birth) for m in members] == [("钱测一", "1980-05-06")]  # saved once
    # Every step went through the proxy, and both workers took part.
    steps = [w for _, w in workers.proxy.served]
    assert len(steps) == 7 and set(steps) == {0, 1}, workers.proxy.served
    assert not workers.emulator.pending_updates()


def _text_update(update_id: int, user_id: int, text: str) -> dict:  # type: ignore[type-arg]
    user = {"id": user_id, "is_bot": False, "first_name": "示一", "language_code": "zh-hans"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "from": user,
            "chat": {"id": user_id, "type": "private", "first_name": "示一"},
            "date": int(NOW.timestamp()),
            "text": text,
        },
    }


async def test_one_users_taps_on_two_workers_at_once_are_handled_one_after_the_other(
    workers: Workers,
):
    """Two messages of one user reach the two workers at the same moment (two
    workers behind a balancer can see that). The Redis lock
    (RedisEventIsolation) has one wait for the other, so the second reads the
    step the first moved to (aiogram issue 1317, across processes): one is
    taken as the name, the other asked as the ID number and refused. With a
    lock per process each would read the name step and both be names, and
    neither would wait for the lock a third worker holds."""
    await _scene(workers.apps[0])
    sec = workers.emulator.user(101)
    await sec.send("/add")
    await sec.replies(2)
    assert "姓名" in sec.last.text

    async def post(worker: int, update: dict) -> int:  # type: ignore[type-arg]
        port = workers.settings[worker].webhook_port
        url = f"http://127.0.0.1:{port}{workers.settings[worker].webhook_path}"
        async with (
            aiohttp.ClientSession() as http,
            http.post(url, json=update, headers={SECRET_HEADER: SECRET}) as answer,
        ):
            return answer.status

    # The user's lock, as a third worker handling their update would hold it
    # (the key aiogram's RedisEventIsolation takes): both workers wait.
    settings = workers.settings[0]
    lock_key = f"{settings.redis_prefix}:fsm:{TOKEN.split(':')[0]}:101:101:default:lock"
    redis = Redis.from_url(settings.redis_url or "")
    try:
        lock = redis.lock(lock_key, timeout=30)
        # The worker that showed "姓名" may still be saving that step: its
        # lock goes when it is done.
        assert await lock.acquire(blocking=True, blocking_timeout=5)
        shown = len(sec.messages)
        posts = asyncio.gather(
            post(0, _text_update(900_001, 101, "钱测二")),
            post(1, _text_update(900_002, 101, "钱测三")),
        )
        await asyncio.sleep(1.0)
        assert not posts.done() and len(sec.messages) == shown  # both wait
        await lock.release()
        statuses = await asyncio.wait_for(posts, 15)
    finally:
        await redis.aclose()
    assert statuses == [200, 200]
    texts = [m.text for m in await sec.replies(2, timeout=10)]
    assert sum("请输入“身份证号”" in t for t in texts) == 1, texts  # the name step
    assert sum("现在是3位" in t for t in texts) == 1, texts  # then the ID step


async def _until_delivered(emulator: BotApiEmulator, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while emulator.pending_updates():
        assert loop.time() < deadline, "updates still waiting for the webhook's answer"
        await asyncio.sleep(0.02)


class WorkerProcess:
    """`paicha run --webhook` in a process of its own, as production runs a
    worker, configured only by its environment."""

    def __init__(self, settings: Settings, workdir: Path) -> None:
        assert settings.webhook_secret is not None
        self.port = settings.webhook_port
        self.env = {
            **os.environ,
            "BOT_TOKEN": settings.bot_token,
            "BOT_API_URL": settings.bot_api_url or "",
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": settings.redis_url or "",
            "REDIS_PREFIX": settings.redis_prefix,
            "WEBHOOK_URL": settings.webhook_url or "",
            "WEBHOOK_SECRET": settings.webhook_secret.get_secret_value(),
            "WEBHOOK_HOST": "127.0.0.1",
            "WEBHOOK_PORT": str(settings.webhook_port),
            "SCHEDULER_ENABLED": "false",
            "THROTTLE_RATE": "0",
            "DATA_DIR": str(settings.data_dir),
            "PYTHONPATH": str(ROOT),
        }
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)  # no .env here
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from bot.cli import main; sys.exit(main(['run', '--webhook']))",
            ],
            cwd=self.workdir,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def healthy(self, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with aiohttp.ClientSession() as http:
            while True:
                assert self.proc is not None and self.proc.poll() is None, "the worker exited"
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"http://127.0.0.1:{self.port}/healthz") as answer:
                        if answer.status == 200:
                            return
                assert loop.time() < deadline, "the worker did not start"
                await asyncio.sleep(0.2)

    def kill9(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None


async def test_kill9_of_a_worker_in_the_middle_of_a_conversation_it_goes_on_on_the_other(
    db_url: str, redis_url: str, tmp_path: Path
):
    """Issue 17's faults: worker 0 (a real `paicha run --webhook` process) is
    killed with SIGKILL half-way through /add; the balancer sends the rest to
    worker 1, which finds the conversation in Redis and saves the member once."""
    async with _balanced(db_url, redis_url, tmp_path) as (emulator, proxy, settings):
        process = WorkerProcess(settings[0], tmp_path / "w0")
        process.start()
        pool = Workers(emulator, proxy, settings[1:])
        try:
            await process.healthy()  # migrated and serving
            await pool.start()
            await _scene(pool.apps[0])
            sec = emulator.user(101)
            await sec.send("/add")  # worker 0
            await sec.replies(2, timeout=15)
            await sec.send("钱测四")  # worker 1
            assert "身份证号" in (await sec.reply(timeout=15)).text
            await sec.send(id_number(date(1979, 9, 9), male=True))  # worker 0
            assert "入党时间" in (await sec.replies(2, timeout=15))[1].text
            assert {w for _, w in proxy.served} == {0, 1}

            # Between two steps: once worker 0's answer to the last update
            # reached Telegram. (Killed after its replies but before that
            # answer, the update is delivered again and the step it moved to
            # reads it: the conversation state is not in processed_update's
            # transaction; see storage/services/processed.py.)
            await _until_delivered(emulator)
            process.kill9()

            await sec.send("2001年7月")
            assert "党员类别" in (await sec.reply(timeout=15)).text
            await sec.press("正式党员")
            await sec.reply(timeout=15)
            await sec.press("跳过其余，去确认")
            assert "钱测四" in (await sec.reply(timeout=15)).text
            await sec.press("保存")
            saved = await sec.wait_idle(timeout=15)
            assert "已保存" in saved[-1].text, [m.text for m in saved]
            async with pool.apps[0].sessionmaker() as s:
                members = list(await s.scalars(select(Member)))
            assert [m.name for m in members] == ["钱测四"]
            after_kill = [w for _, w in proxy.served][3:]
            assert after_kill and set(after_kill) == {1}, proxy.served
        finally:
            process.kill9()
            await pool.stop()
