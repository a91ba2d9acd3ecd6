"""The one sender, against the emulator's real limits: long texts, 429, 403."""

from __future__ import annotations

import pytest
from aiogram.exceptions import TelegramForbiddenError


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
    world.emulator.inject_429("sendMessage", times=1, retry_after=1)
    await world.app.bot.send_message(701, "重试后送达")
    assert user.last.text == "重试后送达"


async def test_403_from_a_user_who_blocked_the_bot_is_remembered(world):
    user = world.user(702)
    await user.send("/start")
    await user.wait_idle()
    user.blocked = True
    with pytest.raises(TelegramForbiddenError):
        await world.app.bot.send_message(702, "提醒")
    assert 702 in world.app.sender.blocked_chats
