"""A command always does what it says, in every step of every flow (issue 13).

Generated from the code, so a new flow or a new command is covered without a
new test: for every state of every ``StatesGroup`` in ``handlers/`` and every
published command, the bot in that state answers the command exactly as it
does with no state open (the one line that names the dropped flow aside), and
ends in the same state.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey

from bot.flows import OptionalStep, all_flows
from bot.runner import assemble
from bot.sender import Sender
from domain.clock import FixedClock
from emulator import BotApiEmulator, ChatUser
from emulator.models import BotMessage
from handlers import get_routers
from handlers.common import COMMANDS
from storage.services import campaigns
from storage.services.access import Role, load_actor
from tests.e2e.conftest import NOW, World, bot_settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
USER = 900  # admin (settings), committee staff and secretary: every command is theirs

get_routers()  # imports every handler module, so every StatesGroup is defined
STATES = sorted(
    (state.state for group in all_flows() for state in group.__all_states__ if state.state),
)
# /cancel answers about the step it ends; it has its own test below.
COMMAND_NAMES = [name for name, _text, _roles in COMMANDS if name != "cancel"]
LEFT_NOTICE = "（已退出“"
# An invitation code differs on every /invite; nothing else may.
CODE = re.compile(r"\b[A-Z2-9]{8,}\b")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def everything(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    """One bot for the whole module: a committee with a running campaign, a
    branch with members, and user 900 in every role."""
    tmp: Path = tmp_path_factory.mktemp("flows")
    async with BotApiEmulator() as emulator:
        settings = bot_settings(
            emulator,
            database_url=f"sqlite+aiosqlite:///{tmp / 'e2e.sqlite3'}",
            paicha_admin_ids=[USER],
            throttle_rate=0,  # a script taps faster than a person (bot/throttle.py)
        )
        world = World(emulator, settings)
        # ~1,500 messages go into one chat: without Telegram's per-chat pace
        # (as tests/e2e/test_sweep_scenario.py and the bench do).
        unthrottled = Sender(global_rate=10_000, chat_rate=10_000, chat_burst=10_000)
        world.app = await assemble(settings, FixedClock(SHANGHAI, at=NOW), sender=unthrottled)
        world.task = asyncio.create_task(world.app.poll())
        await world.org("示例党委", "committee")
        await world.org("一支部", "branch", "示例党委")
        await world.grant(USER, Role.COMMITTEE, "示例党委")
        await world.grant(USER, Role.SECRETARY, "一支部")
        await world.members("一支部", 3)
        assert world.app is not None
        async with world.app.sessionmaker() as session:
            actor = await load_actor(session, USER)
            await campaigns.create_campaign(
                session,
                actor,
                world.orgs["示例党委"],
                template="dual_check",
                name="2027年党员组织关系集中排查",
                year=2027,
            )
        try:
            yield world
        finally:
            await world.stop()


def _context(world: World) -> FSMContext:
    assert world.app is not None
    key = StorageKey(bot_id=world.app.bot.id, chat_id=USER, user_id=USER)
    return FSMContext(storage=world.app.dp.fsm.storage, key=key)


def _shown(message: BotMessage) -> tuple[str, tuple[str, ...]]:
    buttons = tuple(text for row in message.buttons for text, _data in row)
    return CODE.sub("<code>", message.text or ""), buttons


async def _answer(world: World, user: ChatUser, command: str) -> tuple[list, str | None]:
    """What the bot shows after ``/command``, and the state it is left in.

    A callback press sent right after the command is handled after it (one
    user's updates are handled in order), so its answer marks the end of the
    command's replies without waiting for a quiet period."""
    messages = await _exchange(world, user, f"/{command}")
    shown = [_shown(m) for m in messages if not (m.text or "").startswith(LEFT_NOTICE)]
    left_in = await _context(world).get_state()
    await _context(world).clear()
    return shown, left_in


async def _exchange(world: World, user: ChatUser, text: str) -> list[BotMessage]:
    events = world.emulator.chats[USER].events
    before = len(events)
    await user.send(text)
    probe = await user.press_data("probe:end", user.messages[0].message_id)
    await user.callback_answer(probe)
    return events[before:]


_baselines: dict[str, tuple[list, str | None]] = {}


async def _baseline(world: World, user: ChatUser, command: str) -> tuple[list, str | None]:
    if command not in _baselines:
        await _context(world).clear()
        _baselines[command] = await _answer(world, user, command)
    return _baselines[command]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("command", COMMAND_NAMES)
@pytest.mark.parametrize("state", STATES)
async def test_a_command_in_any_step_answers_as_with_no_step_open(everything, state, command):
    user = everything.user(USER)
    if not user.messages:
        await user.send("/help")
        await user.reply()
    expected = await _baseline(everything, user, command)
    await _context(everything).set_state(state)
    await _context(everything).set_data({"member_id": 1, "draft": {"name": "半截"}})
    assert await _answer(everything, user, command) == expected


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("state", STATES)
async def test_a_command_names_the_flow_it_left_unless_the_step_was_optional(everything, state):
    user = everything.user(USER)
    await _context(everything).set_state(state)
    texts = [m.text or "" for m in await _exchange(everything, user, "/help")]
    optional = _optional(state)
    notices = [t for t in texts if t.startswith(LEFT_NOTICE)]
    assert notices == [] if optional else len(notices) == 1 and "没有保存" in notices[0]
    assert await _context(everything).get_state() is None


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("state", STATES)
async def test_cancel_in_any_step_ends_it(everything, state):
    """An optional step (waiting for evidence) was never on the screen: /cancel
    there answers as with nothing open."""
    user = everything.user(USER)
    await _context(everything).set_state(state)
    [answer] = await _exchange(everything, user, "/cancel")
    assert answer.text == ("当前没有进行中的操作。" if _optional(state) else "已取消。")
    assert await _context(everything).get_state() is None


def _optional(raw_state: str) -> bool:
    return any(
        isinstance(s, OptionalStep)
        for group in all_flows()
        for s in group.__all_states__
        if s.state == raw_state
    )


def test_every_flow_and_command_is_covered():
    """The generated cases are not empty: a refactor that hid the states or
    the commands from the test would otherwise pass silently."""
    assert len(STATES) >= 20 and {"add", "lost", "members", "log", "deadlines"} <= set(
        COMMAND_NAMES
    )
