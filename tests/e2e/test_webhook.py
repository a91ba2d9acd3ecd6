"""Webhook mode end to end (issue 17 item 1): the real bot, built by
bot.runner.assemble as `paicha run --webhook` builds it, serves aiogram's
aiohttp webhook handler on 127.0.0.1; the emulator POSTs the updates to it
with the secret, as Telegram does."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramConflictError
from pydantic import SecretStr
from sqlalchemy import select

from bot.runner import assemble
from bot.settings import Settings
from bot.webhook import SECRET_HEADER, WebhookConfigError, webhook_problem
from domain.clock import FixedClock
from emulator import BotApiEmulator
from storage.models import User
from tests.e2e.conftest import NOW, TOKEN, World, bot_settings, running

SECRET = "e2e_Webhook-secret_0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class WebhookWorld(World):
    """The world of tests/e2e/conftest.py with the bot serving a webhook
    instead of polling."""

    async def start(self) -> None:
        clock = FixedClock(ZoneInfo("Asia/Shanghai"), at=NOW)
        self.app = await assemble(self.settings, clock)
        started = asyncio.Event()
        self.task = asyncio.create_task(self.app.serve_webhook(started=started))
        ready = asyncio.create_task(started.wait())
        await asyncio.wait({self.task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if self.task.done():
            self.task.result()  # serving failed: raise why
        assert started.is_set(), "webhook server did not start"

    async def stop(self) -> None:
        """The process stops (as on SIGTERM): the listener closes, the webhook
        stays registered."""
        assert self.app is not None and self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self.task, 10)
        await self.app.close()
        self.app, self.task = None, None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.settings.webhook_port}{self.settings.webhook_path}"


def _settings(emulator: BotApiEmulator, tmp_path: Path, secret: str | None) -> Settings:
    port = free_port()
    return bot_settings(
        emulator,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'webhook.sqlite3'}",
        webhook_url=f"http://127.0.0.1:{port}",
        webhook_secret=SecretStr(secret) if secret else None,
        webhook_host="127.0.0.1",
        webhook_port=port,
    )


@pytest.fixture
async def hook_world(tmp_path: Path) -> AsyncIterator[WebhookWorld]:
    emulator = BotApiEmulator(webhook_timeout=10, webhook_retry=(0.05, 0.3))
    async with emulator:
        async with running(WebhookWorld(emulator, _settings(emulator, tmp_path, SECRET))) as world:
            yield world


@pytest.fixture
async def api(hook_world: WebhookWorld) -> AsyncIterator[Bot]:
    """Another client of the same bot, to ask the emulator what Telegram knows."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(hook_world.emulator.base_url))
    bot = Bot(TOKEN, session=session)
    yield bot
    await bot.session.close()


async def _until(condition: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def _update(update_id: int, user_id: int, text: str) -> dict:  # type: ignore[type-arg]
    user = {"id": user_id, "is_bot": False, "first_name": "伪造", "language_code": "zh-hans"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "from": user,
            "chat": {"id": user_id, "type": "private", "first_name": "伪造"},
            "date": int(NOW.timestamp()),
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
        },
    }


async def test_help_arrives_by_post_and_is_answered(hook_world: WebhookWorld, api: Bot):
    emulator = hook_world.emulator
    admin = hook_world.user(900)
    await admin.send("/help")
    reply = await admin.reply()
    assert "可用命令" in reply.text and "/invite" in reply.text

    assert emulator.webhook is not None
    assert emulator.webhook.url == hook_world.endpoint
    assert emulator.webhook.secret_token == SECRET
    # Telegram's default of 40 would bound several workers together.
    assert emulator.webhook.max_connections == 100
    # The answer to the POST waits until the update is handled: after the reply.
    await _until(lambda: not emulator.pending_updates())
    assert [a.status for a in emulator.webhook_attempts] == [200]
    assert not any(method == "getUpdates" for method, _ in emulator.calls)
    info = await api.get_webhook_info()
    assert (info.url, info.pending_update_count) == (hook_world.endpoint, 0)
    assert hook_world.app is not None
    assert set(info.allowed_updates or []) == set(hook_world.app.dp.resolve_used_update_types())
    assert emulator.commands, "setMyCommands was not called"


async def test_a_request_without_the_secret_gets_401_and_changes_nothing(
    hook_world: WebhookWorld,
):
    emulator, app = hook_world.emulator, hook_world.app
    assert app is not None
    forger = emulator.user(777)
    emulator.chat(777)  # the bot could answer in this chat, were it fooled
    forged = _update(10_000, 777, "/help")
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: SECRET + "x"}):
            async with http.post(hook_world.endpoint, json=forged, headers=headers) as response:
                assert response.status == 401
    await asyncio.sleep(0.3)
    assert emulator.chats[777].events == []
    assert not any(m == "sendMessage" and p.get("chat_id") == 777 for m, p in emulator.calls)
    async with app.sessionmaker() as session:
        assert await session.scalar(select(User).where(User.id == 777)) is None

    # The same request with the secret is handled: the refusals were the secret's.
    async with aiohttp.ClientSession() as http:
        headers = {SECRET_HEADER: SECRET}
        async with http.post(hook_world.endpoint, json=forged, headers=headers) as response:
            assert response.status == 200
    assert (await forger.reply(chat_id=777)).text


async def test_get_updates_while_the_webhook_is_set_is_409(hook_world: WebhookWorld, api: Bot):
    with pytest.raises(TelegramConflictError, match="can't use getUpdates method while webhook"):
        await api.get_updates()


async def test_health_check(hook_world: WebhookWorld):
    port = hook_world.settings.webhook_port
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/healthz") as response,
    ):
        assert response.status == 200 and (await response.json()) == {"ok": True}


async def test_updates_sent_while_the_bot_is_down_arrive_after_restart(
    hook_world: WebhookWorld, api: Bot
):
    emulator = hook_world.emulator
    admin = hook_world.user(900)
    await admin.send("/help")
    await admin.reply()

    await hook_world.stop()
    assert emulator.webhook is not None, "a stopping worker must not delete the webhook"
    await admin.send("/help")
    await _until(lambda: len([a for a in emulator.webhook_attempts if not a.ok]) >= 2)
    info = await api.get_webhook_info()
    assert info.pending_update_count == 1
    assert info.last_error_message == "Connection refused"

    await hook_world.start()
    reply = await admin.reply()
    assert "可用命令" in reply.text
    await _until(lambda: not emulator.pending_updates())
    statuses = [a.status for a in emulator.webhook_attempts]
    assert statuses[0] == 200 and statuses[-1] == 200
    assert statuses[1:-1] and all(s is None for s in statuses[1:-1])  # refused while down
    assert len(emulator.webhook_attempts) - 2 == len(statuses[1:-1])


async def test_a_generated_secret_is_used_and_never_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    async with BotApiEmulator(webhook_retry=(0.05, 0.3)) as emulator:
        world = WebhookWorld(emulator, _settings(emulator, tmp_path, secret=None))
        with caplog.at_level(logging.DEBUG):
            await world.start()
            try:
                admin = world.user(900)
                await admin.send("/help")
                assert "可用命令" in (await admin.reply()).text
            finally:
                await world.stop()
    assert emulator.webhook is not None
    generated = emulator.webhook.secret_token
    assert generated and len(generated) >= 32
    assert "generated a random webhook secret" in caplog.text
    assert generated not in caplog.text


def test_webhook_settings_are_checked_without_showing_the_secret():
    base = {"bot_token": TOKEN, "_env_file": None}
    assert "WEBHOOK_URL" in (webhook_problem(Settings(**base)) or "")
    assert webhook_problem(Settings(**base, webhook_url="")) is not None
    ok = Settings(**base, webhook_url="https://bot.example.org", webhook_secret="a-b_C9")
    assert webhook_problem(ok) is None
    bad = Settings(**base, webhook_url="https://bot.example.org", webhook_secret="has space")
    problem = webhook_problem(bad) or ""
    assert "WEBHOOK_SECRET" in problem and "has space" not in problem
    assert "has space" not in repr(bad)
    assert Settings(**base, webhook_path="hook").webhook_path == "/hook"


async def test_serve_webhook_refuses_to_start_without_a_url(tmp_path: Path):
    settings = bot_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}")
    app = await assemble(settings)
    try:
        with pytest.raises(WebhookConfigError, match="WEBHOOK_URL"):
            await app.serve_webhook()
    finally:
        await app.close()


def test_paicha_run_webhook_is_a_flag_and_needs_a_url(capsys, monkeypatch, tmp_path: Path):
    from bot.cli import build_parser, main

    assert build_parser().parse_args(["run"]).webhook is False  # polling stays the default
    assert build_parser().parse_args(["run", "--webhook"]).webhook is True
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("WEBHOOK_URL", "")
    assert main(["run", "--webhook"]) == 2
    assert "WEBHOOK_URL" in capsys.readouterr().err
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.org")
    monkeypatch.setenv("WEBHOOK_SECRET", "not valid!")
    assert main(["run", "--webhook"]) == 2
    err = capsys.readouterr().err
    assert "WEBHOOK_SECRET" in err and "not valid!" not in err


async def test_an_error_in_a_handler_is_not_sent_again(hook_world: WebhookWorld):
    """The reply fails (the user blocked the bot): logged and answered 200, as
    polling confirms it; retrying would only fail again."""
    emulator = hook_world.emulator
    admin = hook_world.user(900)
    admin.blocked = True
    await admin.send("/help")
    await _until(lambda: bool(emulator.webhook_attempts))
    await asyncio.sleep(0.3)
    assert [a.status for a in emulator.webhook_attempts] == [200]
    assert emulator.pending_updates() == []
    assert hook_world.app is not None
    async with hook_world.app.sessionmaker() as session:
        user = await session.get(User, 900)
        assert user is not None and user.blocked_at is not None
