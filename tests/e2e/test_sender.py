"""The one sender, against the emulator's real limits: long texts, 429, 403,
retries of 5xx and network errors, and replies before bulk (issue 14)."""

from __future__ import annotations

import pytest
from aiogram.exceptions import TelegramForbiddenError

from bot.sender import bulk


class Sleeps:
    """The Sender's injected sleep: notes the waits, waits no real time."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


async def test_a_text_over_4096_characters_arrives_in_parts_with_the_keyboard_last(world):
    user = world.user(700)
    await user.send("/start")  # the chat must exist, as on Telegram
    await user.wait_idle()
    before = len(user.messages)
    text = "\n".join(f"第{i}行 " + "测" * 40 for i in range(300))
    from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="好", callback_data="ok")]]
    )
    await world.app.bot.send_message(700, text, reply_markup=keyboard, parse_mode=None)
    parts = user.messages[before:]
    assert len(parts) >= 3
    assert "\n".join(p.text for p in parts) == text
    assert [bool(p.buttons) for p in parts] == [False] * (len(parts) - 1) + [True]


async def test_429_is_waited_out_and_retried(world):
    user = world.user(701)
    await user.send("/start")
    await user.wait_idle()
    world.app.sender.sleep = sleeps = Sleeps()
    world.emulator.inject_429("sendMessage", times=1, retry_after=7)
    await world.app.bot.send_message(701, "重试后送达")
    assert user.last.text == "重试后送达"
    assert sleeps.waits == [7]  # Telegram's retry_after, not a guess


async def test_403_from_a_user_who_blocked_the_bot_is_remembered(world):
    user = world.user(702)
    await user.send("/start")
    await user.wait_idle()
    user.blocked = True
    with pytest.raises(TelegramForbiddenError):
        await world.app.bot.send_message(702, "提醒")
    assert 702 in world.app.sender.blocked_chats


# ---- retries, 403 bookkeeping, priority (issue 14, point 6) -------------------


def sends_to(world, chat_id: int) -> int:
    return sum(
        1
        for name, p in world.emulator.calls
        if name == "sendMessage" and str(p.get("chat_id")) == str(chat_id)
    )


async def _started(world, user_id: int):  # type: ignore[no-untyped-def]
    user = world.user(user_id)
    await user.send("/start")
    await user.wait_idle()
    return user


async def test_5xx_then_success_is_retried_with_backoff_and_delivered_once(world):
    user = await _started(world, 710)
    world.app.sender.sleep = sleeps = Sleeps()
    world.emulator.inject_5xx("sendMessage", times=2)
    before = len(user.messages)
    await world.app.bot.send_message(710, "服务器恢复后送达")
    assert [m.text for m in user.messages[before:]] == ["服务器恢复后送达"]
    assert sends_to(world, 710) - 1 == 3  # two 500s, one success (plus /start's reply)
    assert len(sleeps.waits) == 2
    assert 0.25 <= sleeps.waits[0] <= 0.5 and 0.5 <= sleeps.waits[1] <= 1.0


async def test_5xx_every_time_gives_up_after_five_tries(world):
    from aiogram.exceptions import TelegramServerError

    await _started(world, 711)
    world.app.sender.sleep = sleeps = Sleeps()
    world.emulator.inject_5xx("sendMessage", times=10, code=502)
    with pytest.raises(TelegramServerError):
        await world.app.bot.send_message(711, "送不到")
    assert sends_to(world, 711) - 1 == 5
    assert len(sleeps.waits) == 4 and max(sleeps.waits) <= 4.0


async def test_a_dropped_connection_is_retried_and_delivered_once(world):
    user = await _started(world, 712)
    world.app.sender.sleep = sleeps = Sleeps()
    world.emulator.inject_disconnect("sendMessage")
    before = len(user.messages)
    await world.app.bot.send_message(712, "断线重连后送达")
    assert [m.text for m in user.messages[before:]] == ["断线重连后送达"]
    assert len(sleeps.waits) == 1
    assert world.app.sender.stats["network"] == 1


async def test_400_is_not_retried(world):
    from aiogram.exceptions import TelegramBadRequest

    await _started(world, 713)
    world.app.sender.sleep = sleeps = Sleeps()
    with pytest.raises(TelegramBadRequest):
        await world.app.bot.send_message(713, "<b>没有闭合")
    assert sends_to(world, 713) - 1 == 1
    assert sleeps.waits == []


async def test_403_calls_the_hook_and_raises(world):
    await _started(world, 714)
    called: list[int] = []

    async def on_blocked(chat_id: int) -> None:
        called.append(chat_id)

    world.app.sender.on_blocked = on_blocked
    world.user(714).blocked = True
    with pytest.raises(TelegramForbiddenError):
        await world.app.bot.send_message(714, "提醒")
    assert called == [714]
    assert world.app.sender.is_blocked(714)
    world.app.sender.unblock(714)
    assert not world.app.sender.is_blocked(714)


async def test_a_user_who_blocked_the_bot_is_skipped_until_they_write_again(world):
    """R-REMIND / issue 14: 403 sets User.blocked_at; their next message clears it."""
    from sqlalchemy import select

    from storage.db import utc
    from storage.models import User
    from storage.services.blocking import blocked_hook

    async def blocked_at():  # type: ignore[no-untyped-def]
        async with world.app.sessionmaker() as s:
            return await s.scalar(select(User.blocked_at).where(User.id == 715))

    user = await _started(world, 715)
    world.app.sender.on_blocked = blocked_hook(world.app.sessionmaker, world.app.clock)
    user.blocked = True
    with pytest.raises(TelegramForbiddenError):
        with bulk():
            await world.app.bot.send_message(715, "提醒")
    assert utc(await blocked_at()) == world.app.clock.now()
    user.blocked = False  # they unblock the bot and write again
    await user.send("/help")
    await user.reply()
    assert await blocked_at() is None
    await world.app.bot.send_message(715, "又能收到了")
    assert not world.app.sender.is_blocked(715)


async def test_an_interactive_reply_overtakes_a_bulk_fan_out_under_telegram_limits(world):
    """Issue 14: a fan-out of hundreds never makes a secretary wait behind it;
    under the emulator's flood limits nothing is lost or sent twice."""
    import asyncio

    from bot.sender import PriorityBucket, Sender
    from emulator.limits import RateLimits

    # Ten times Telegram's pace on both sides, so the test takes seconds.
    flood = world.emulator.enforce_limits(RateLimits(per_second=300, burst=300))
    sender: Sender = world.app.sender
    sender.global_bucket = PriorityBucket(rate=200, capacity=10, reserve=3)
    secretary = await _started(world, 101)
    n = 400
    for uid in range(50_000, 50_000 + n):
        world.emulator.user(uid)
        world.emulator.chat(uid, "private")
    start = len(world.emulator.send_log)

    async def remind(uid: int) -> None:
        with bulk():
            await world.app.bot.send_message(uid, f"提醒 {uid}")

    fan_out = [asyncio.create_task(remind(uid)) for uid in range(50_000, 50_000 + n)]
    under_way = await world.emulator.signal.wait_for(
        lambda: len(world.emulator.send_log) - start >= 20, 10
    )
    assert under_way
    assert sender.global_bucket.waiting[1] > n / 2
    await secretary.send("/help")
    await secretary.reply(timeout=10)
    await asyncio.gather(*fan_out)

    chats = [c for _, c in world.emulator.send_log[start:]]
    position = chats.index(101)
    assert position < n / 4, f"reply came after {position} of {n} bulk messages"
    delivered = [c for c in chats if c != 101]
    assert sorted(delivered) == list(range(50_000, 50_000 + n))  # none lost, none twice
    assert world.emulator.max_rate(window=1.0) <= 300
    assert sum(flood.refused.values()) == 0
