"""The emulator's opt-in flood limits and fault injection (issue 14): what the
Sender is tested against must refuse like Telegram does."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError

from emulator import BotApiEmulator, RateLimits

TOKEN = "4242:LIMITS"


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator() as emu:
        for uid in range(1, 41):
            emu.user(uid)
            emu.chat(uid, "private")
        emu.chat(-100500, "supergroup", "测试群")
        yield emu


@pytest.fixture
async def bot(emulator: BotApiEmulator) -> AsyncIterator[Bot]:
    """A bare bot, no Sender: every refusal reaches the test."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url))
    bot = Bot(TOKEN, session=session)
    yield bot
    await bot.session.close()


async def test_limits_are_off_by_default(emulator, bot):
    for _ in range(35):
        await bot.send_message(1, "快")
    assert len(emulator.chats[1].send_times) == 35


async def test_over_30_a_second_overall_is_refused_with_retry_after(emulator, bot):
    flood = emulator.enforce_limits()
    refused = []
    for uid in range(1, 41):
        try:
            await bot.send_message(uid, "群发")
        except TelegramRetryAfter as exc:
            refused.append(exc.retry_after)
    assert len(refused) >= 10 - 1  # a token may come back while we send
    assert all(r >= 1 for r in refused)
    assert len(emulator.send_log) == 40 - len(refused)  # a refused send is not delivered
    assert flood.refused["overall"] == len(refused)


async def test_one_chat_gets_a_burst_then_one_a_second(emulator, bot):
    emulator.enforce_limits(RateLimits(chat_burst=5))
    for _ in range(5):
        await bot.send_message(2, "连发")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(2, "太多了")
    assert caught.value.retry_after == 1
    await bot.send_message(3, "别的聊天不受影响")


async def test_a_group_gets_20_a_minute(emulator, bot):
    flood = emulator.enforce_limits()
    for _ in range(20):
        await bot.send_message(-100500, "群消息")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(-100500, "第21条")
    assert caught.value.retry_after >= 2
    assert flood.refused["group"] == 1


async def test_edits_are_not_counted(emulator, bot):
    emulator.enforce_limits(RateLimits(chat_burst=1))
    sent = await bot.send_message(4, "0")
    for i in range(1, 6):
        await bot.edit_message_text(str(i), chat_id=4, message_id=sent.message_id)


async def test_injected_5xx_and_dropped_connection(emulator, bot):
    emulator.inject_5xx("sendMessage", code=502)
    with pytest.raises(TelegramServerError, match="Bad Gateway"):
        await bot.send_message(5, "一")
    emulator.inject_disconnect("sendMessage")
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(5, "二")
    await bot.send_message(5, "三")
    assert [m.text for m in emulator.users[5].messages] == ["三"]


async def test_random_faults_hit_some_calls_and_can_be_turned_off(emulator, bot):
    emulator.random_faults("sendMessage", server_error=0.3, disconnect=0.3, seed=1)
    outcomes = []
    for _ in range(30):
        try:
            await bot.send_message(6, "也许")
            outcomes.append("ok")
        except TelegramServerError:
            outcomes.append("500")
        except TelegramNetworkError:
            outcomes.append("drop")
    assert {"ok", "500", "drop"} == set(outcomes)
    assert emulator.faults == {"500": outcomes.count("500"), "disconnect": outcomes.count("drop")}
    assert len(emulator.users[6].messages) == outcomes.count("ok")  # a failed call sends nothing
    emulator.random_faults("sendMessage")
    for _ in range(5):
        await bot.send_message(6, "稳定")
