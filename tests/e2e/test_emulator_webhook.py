"""The emulator's webhook delivery against a bare aiohttp receiver on
127.0.0.1: the header, one update at a time per chat in order, retries with
backoff and Telegram's last_error_message, a method in the answer, and
getUpdates refused while the webhook is set."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramConflictError
from aiohttp import web

from emulator import BotApiEmulator

TOKEN = "4242:HOOK"
SECRET = "test_secret-42"

Answer = Callable[[dict[str, Any]], Awaitable[web.StreamResponse]]


async def _ok(update: dict[str, Any]) -> web.StreamResponse:
    return web.json_response({})


@dataclass
class Receiver:
    """A webhook endpoint that records what arrives and answers as told."""

    answer: Answer = _ok
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    port: int = 0
    _runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        update = await request.json()
        self.received.append(update)
        self.headers.append(dict(request.headers))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return await self.answer(update)
        finally:
            self.in_flight -= 1

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def texts(self) -> list[str]:
        return [u["message"]["text"] for u in self.received if "message" in u]


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    emu = BotApiEmulator(webhook_timeout=0.5, webhook_retry=(0.05, 0.2), set_webhook_interval=0)
    async with emu:
        yield emu


@pytest.fixture
async def bot(emulator: BotApiEmulator) -> AsyncIterator[Bot]:
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url)))
    yield bot
    await bot.session.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


async def _until(condition: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_updates_are_posted_with_the_secret_and_confirmed(emulator, bot, receiver):
    await bot.set_webhook(receiver.url, secret_token=SECRET)
    await emulator.user(1).send("你好")
    await _until(lambda: receiver.received and not emulator.pending_updates())
    assert receiver.texts() == ["你好"]
    assert receiver.headers[0]["X-Telegram-Bot-Api-Secret-Token"] == SECRET
    assert receiver.headers[0]["Content-Type"] == "application/json"
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count, info.last_error_message) == (
        receiver.url,
        0,
        None,
    )
    assert [a.ok for a in emulator.webhook_attempts] == [True]


async def test_get_updates_is_409_while_the_webhook_is_set(emulator, bot, receiver):
    await bot.set_webhook(receiver.url)
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates()
    await bot.delete_webhook()
    assert await bot.get_updates(timeout=0) == []


async def test_set_webhook_ends_a_waiting_long_poll(emulator, bot, receiver):
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.1)
    await bot.set_webhook(receiver.url)
    with pytest.raises(TelegramConflictError, match="terminated by setWebhook request"):
        await asyncio.wait_for(poll, 2)


async def test_one_update_at_a_time_per_chat_in_order(emulator, bot, receiver):
    release = asyncio.Event()

    async def slow_for_chat_1(update: dict[str, Any]) -> web.StreamResponse:
        if update["message"]["chat"]["id"] == 1:
            await release.wait()
        return web.json_response({})

    receiver.answer = slow_for_chat_1
    await bot.set_webhook(receiver.url)
    one, two = emulator.user(1), emulator.user(2)
    await one.send("1a")
    await one.send("1b")
    await two.send("2a")
    await two.send("2b")
    # Chat 2 is not held up by chat 1; chat 1's second waits for its first.
    await _until(lambda: receiver.texts().count("2b") == 1)
    assert receiver.texts() == ["1a", "2a", "2b"]
    release.set()
    await _until(lambda: not emulator.pending_updates())
    assert receiver.texts() == ["1a", "2a", "2b", "1b"]
    assert receiver.most_in_flight == 2


async def test_failures_are_retried_with_backoff_in_order(emulator, bot, receiver):
    failures = 3

    async def flaky(update: dict[str, Any]) -> web.StreamResponse:
        nonlocal failures
        if update["message"]["text"] == "first" and failures:
            failures -= 1
            return web.Response(status=500)
        return web.json_response({})

    receiver.answer = flaky
    await bot.set_webhook(receiver.url)
    user = emulator.user(1)
    await user.send("first")
    await user.send("second")
    await _until(lambda: len(emulator.webhook_attempts) == 2)
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 2
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    assert info.last_error_date is not None
    await _until(lambda: not emulator.pending_updates())
    # "second" never overtook "first"; the gaps between tries grew.
    assert receiver.texts() == ["first"] * 4 + ["second"]
    stamps = [a.at for a in emulator.webhook_attempts[:4]]
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert gaps[0] >= 0.04 and gaps[2] > gaps[0]
    assert [a.status for a in emulator.webhook_attempts] == [500, 500, 500, 200, 200]


async def test_a_slow_answer_times_out_and_is_sent_again(emulator, bot, receiver):
    slow = True

    async def sleepy(update: dict[str, Any]) -> web.StreamResponse:
        nonlocal slow
        if slow:
            slow = False
            await asyncio.sleep(2)
        return web.json_response({})

    receiver.answer = sleepy
    await bot.set_webhook(receiver.url)
    await emulator.user(1).send("慢")
    await _until(lambda: not emulator.pending_updates())
    assert [a.error for a in emulator.webhook_attempts] == ["Read timeout expired", None]
    assert receiver.texts() == ["慢", "慢"]  # the bot saw it twice: it must not act twice


async def test_nobody_listening_then_the_bot_comes_back(emulator, bot, receiver):
    await receiver.stop()
    await bot.set_webhook(receiver.url)
    await emulator.user(1).send("等我")
    await _until(lambda: len(emulator.webhook_attempts) >= 2)
    info = await bot.get_webhook_info()
    assert info.last_error_message == "Connection refused" and info.pending_update_count == 1
    await receiver.start(receiver.port)
    await _until(lambda: not emulator.pending_updates())
    assert receiver.texts() == ["等我"]
    # The same webhook set again (a worker restarting) keeps its state.
    await bot.set_webhook(receiver.url)
    assert (await bot.get_webhook_info()).last_error_message == "Connection refused"


async def test_retry_after_from_the_bot_is_honoured(emulator, bot, receiver):
    busy = True

    async def later(update: dict[str, Any]) -> web.StreamResponse:
        nonlocal busy
        if busy:
            busy = False
            return web.Response(status=503, headers={"Retry-After": "1"})
        return web.json_response({})

    receiver.answer = later
    await bot.set_webhook(receiver.url)
    await emulator.user(1).send("稍后")
    await _until(lambda: not emulator.pending_updates())
    first, second = emulator.webhook_attempts
    assert first.status == 503 and second.at - first.at >= 0.95


async def test_a_method_in_the_answer_is_run(emulator, bot, receiver):
    async def answer_in_place(update: dict[str, Any]) -> web.StreamResponse:
        chat_id = update["message"]["chat"]["id"]
        return web.json_response({"method": "sendMessage", "chat_id": chat_id, "text": "回"})

    receiver.answer = answer_in_place
    await bot.set_webhook(receiver.url)
    user = emulator.user(1)
    await user.send("问")
    assert (await user.reply()).text == "回"


async def test_allowed_updates_and_drop_pending(emulator, bot, receiver):
    user = emulator.user(1)
    await user.send("丢掉")
    await bot.set_webhook(
        receiver.url, allowed_updates=["callback_query"], drop_pending_updates=True
    )
    assert (await bot.get_webhook_info()).allowed_updates == ["callback_query"]
    await user.send("不要消息")
    await asyncio.sleep(0.2)
    assert receiver.received == [] and emulator.pending_updates() == []


async def test_a_webhook_off_this_machine_is_never_contacted(emulator, bot):
    await bot.set_webhook("https://bot.example.org/telegram")
    await emulator.user(1).send("外面")
    await _until(lambda: bool(emulator.webhook_attempts))
    attempt = emulator.webhook_attempts[0]
    assert attempt.status is None and "127.0.0.1" in (attempt.error or "")
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 1 and info.ip_address == "<unknown>"
