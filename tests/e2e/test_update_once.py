"""Each update handled once (issue 17 point 4), end to end through the local
Bot API emulator: a /log step delivered again after the worker died between
saving the attempt and moving the conversation on saves nothing twice and
answers nothing twice (it stops at its first write); a roster delivered again
after its import is skipped before it is downloaded; the same update given to
two bot processes on one database at the same moment (two workers) saves one
attempt and sends one reply."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from aiogram import BaseMiddleware
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import Update
from sqlalchemy import func, select

from bot.runner import Paicha, assemble
from emulator import BotApiEmulator, ChatUser
from storage.models import ContactAttempt, Member, ProcessedUpdate
from storage.services.access import Role
from tests.conftest import both_backends
from tests.e2e.conftest import World, bot_settings, running
from tests.e2e.test_roster_upload import _fill
from tests.e2e.test_search import _lost_branch
from tests.factories import member_values

SECRETARY = 101
_IDS = itertools.count(10**9)  # update ids the emulator never hands out


class Recorder(BaseMiddleware):
    """Keeps every update the dispatcher is given, as delivered."""

    def __init__(self) -> None:
        self.updates: list[Update] = []

    async def __call__(self, handler, event, data):  # type: ignore[no-untyped-def]
        self.updates.append(event)
        return await handler(event, data)


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[World]:
    async with (
        BotApiEmulator() as emulator,
        running(World(emulator, bot_settings(emulator, database_url=db_url))) as w,
    ):
        await w.org("示例党委", "committee")
        await w.org("一支部", "branch", "示例党委")
        await w.grant(SECRETARY, Role.SECRETARY, "一支部")
        await _lost_branch(w)
        yield w


async def _up_to_the_note(sec: ChatUser) -> None:
    """/log → the longest lost → 打电话 → 未取得联系 → 今天: the note is asked."""
    await sec.send("/log")
    await sec.reply()
    for label in (1, "打电话", "未取得联系", "今天"):
        await sec.press(label)
        await sec.reply()


def _key(app: Paicha) -> StorageKey:
    return StorageKey(bot_id=app.bot.id, chat_id=SECRETARY, user_id=SECRETARY)


async def _conversation(app: Paicha) -> tuple[str | None, dict[str, Any]]:
    key = _key(app)
    return await app.dp.storage.get_state(key), await app.dp.storage.get_data(key)


async def _restore(app: Paicha, conversation: tuple[str | None, dict[str, Any]]) -> None:
    """The conversation as it was: the worker died after the attempt was
    committed and before the conversation moved on."""
    key = _key(app)
    await app.dp.storage.set_state(key, conversation[0])
    await app.dp.storage.set_data(key, conversation[1])


async def _attempts(app: Paicha) -> list[ContactAttempt]:
    async with app.sessionmaker() as s:
        return list((await s.scalars(select(ContactAttempt))).all())


def _saved(world: World) -> int:
    chat = world.emulator.chats[SECRETARY]
    return sum((s.current.text or "").startswith("✅ 已保存") for s in chat.messages.values())


def _calls(world: World, method: str) -> int:
    return sum(1 for name, _params in world.emulator.calls if name == method)


def _answers(world: World, callback_id: str) -> int:
    return sum(
        1
        for name, params in world.emulator.calls
        if name == "answerCallbackQuery" and str(params.get("callback_query_id")) == callback_id
    )


async def test_a_save_tap_delivered_twice_saves_one_attempt_and_answers_once(world, caplog):
    caplog.set_level(logging.INFO, logger="bot.middlewares")
    app = world.app
    recorder = Recorder()
    app.dp.update.outer_middleware(recorder)
    sec = world.user(SECRETARY)
    await _up_to_the_note(sec)
    before = await _conversation(app)
    callback_id = await sec.press("跳过，保存")
    assert "已保存" in (await sec.reply()).text
    await sec.wait_idle(quiet=0.1)
    [tap] = [u for u in recorder.updates if u.callback_query and u.callback_query.id == callback_id]
    assert _answers(world, callback_id) == 1

    await _restore(app, before)  # so the handler runs again up to its first write
    await app.dp.feed_update(app.bot, tap)
    await sec.wait_idle(quiet=0.1)

    [attempt] = await _attempts(app)
    assert (attempt.channel, attempt.result, attempt.attempted_on) == (
        "phone",
        "not_reached",
        date(2026, 11, 25),
    )
    assert _saved(world) == 1 and _answers(world, callback_id) == 1
    assert f"update {tap.update_id} was handled already (by another" in caplog.text
    async with app.sessionmaker() as s:
        assert await s.get(ProcessedUpdate, tap.update_id) is not None


async def test_a_roster_delivered_again_after_its_import_is_skipped_before_the_download(
    world, caplog
):
    caplog.set_level(logging.INFO, logger="bot.middlewares")
    app = world.app
    recorder = Recorder()
    app.dp.update.outer_middleware(recorder)
    sec = world.user(SECRETARY)
    await sec.send("/template")
    template = (await sec.reply()).document
    assert template is not None
    data = _fill(template.data, [member_values(i) for i in range(10, 13)])
    await sec.upload("名册.xlsx", data)
    messages = await sec.wait_idle(quiet=0.5, timeout=20)
    assert "新增3人" in messages[-1].text
    [upload] = [u for u in recorder.updates if u.message and u.message.document]
    downloads = _calls(world, "getFile")
    shown = len(sec.messages)

    await app.dp.feed_update(app.bot, upload)
    await sec.wait_idle(quiet=0.3)

    assert _calls(world, "getFile") == downloads  # not even downloaded again
    assert len(sec.messages) == shown
    assert f"update {upload.update_id} was handled already; skipped" in caplog.text
    async with app.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Member)) == 3 + 3


def _note_update(world: World, text: str) -> Update:
    """A text message from the secretary, as Telegram would deliver it."""
    chat = world.emulator.chat(SECRETARY, "private")
    user = world.user(SECRETARY)
    return Update.model_validate(
        {
            "update_id": next(_IDS),
            "message": {
                "message_id": chat.take_id(),
                "from": user.as_dict(),
                "chat": world.emulator.chat_dict(chat),
                "date": int(time.time()),
                "text": text,
            },
        }
    )


@both_backends
async def test_one_update_given_to_two_workers_at_once_is_handled_once(world):
    first = world.app
    second = await assemble(world.settings, first.clock, migrate=False, scheduler=False)
    try:
        sec = world.user(SECRETARY)
        await _up_to_the_note(sec)
        conversation = await _conversation(first)
        for round_, note in enumerate(("邻居说已搬走", "村委会说去了外地", "电话停机")):
            if round_:
                await _restore(first, conversation)  # the same step once more, a new update
            update = _note_update(world, note)
            await asyncio.gather(
                first.dp.feed_update(first.bot, update),
                second.dp.feed_update(second.bot, update),
            )
            await sec.wait_idle(quiet=0.1)
            notes = [a.note for a in await _attempts(first)]
            assert notes.count(note) == 1
            assert _saved(world) == round_ + 1
    finally:
        await second.close()
