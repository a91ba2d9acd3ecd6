"""The scheduler end to end through the local Bot API emulator (R-REMIND,
issue 14 points 1 and 5): restarted mid-run it sends nothing twice; killed
between claim and send, the message arrives once, after the stale limit;
quiet hours hold messages until the morning; a user who blocked the bot is
dropped and not retried; the real jobs send the digest at 08:30 and the
reminders and escalations at 09:00. Messages are counted in the emulator's
chats. Time moves on a movable clock: nothing sleeps for it."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.app import build_bot
from bot.settings import Settings
from domain.clock import FixedClock, ShiftedClock
from emulator import BotApiEmulator
from scheduler import Outgoing, SchedulerApp
from scheduler.jobs import Job
from storage.db import create_engine, make_sessionmaker, write_tx
from storage.models import Member, Notification, User
from storage.services import campaigns
from storage.services.access import Actor, Grant, Role
from tests.conftest import both_backends
from tests.e2e.conftest import World, bot_settings, running
from tests.factories import member_values

SH = ZoneInfo("Asia/Shanghai")
USERS = list(range(501, 511))


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[World]:
    """The e2e world with the bot's own scheduler off: each test runs its
    schedulers on a clock it moves. SQLite unless a test asks for both."""
    async with (
        BotApiEmulator() as emulator,
        running(World(emulator, bot_settings(emulator, database_url=db_url))) as w,
    ):
        yield w


def clock_at(*args: int) -> ShiftedClock:
    return ShiftedClock(SH, base=FixedClock(SH, at=datetime(*args)))


def scheduler(world: World, clock: ShiftedClock, jobs: list[Job] | None = None) -> SchedulerApp:
    """A scheduler as a process would build it (a restart: a new one)."""
    assert world.app is not None
    return SchedulerApp(
        bot=world.app.bot,
        sessionmaker=world.app.sessionmaker,
        clock=clock,
        settings=world.settings,
        jobs=jobs,
    )


async def started(world: World, user_ids: list[int]) -> None:
    """Users who wrote to the bot once (Telegram lets a bot write only then)."""
    for uid in user_ids:
        user = world.user(uid)
        await user.send("/start")
        await user.wait_idle(quiet=0.1)


def received(world: World, text_prefix: str = "提醒") -> Counter[int]:
    """Scheduled messages per chat, counted in the emulator."""
    return Counter(
        chat_id
        for chat_id, chat in world.emulator.chats.items()
        for sent in chat.messages.values()
        if (sent.current.text or "").startswith(text_prefix)
    )


def attempts(world: World, chat_id: int) -> int:
    return sum(
        1
        for name, p in world.emulator.calls
        if name == "sendMessage" and str(p.get("chat_id")) == str(chat_id)
    )


class Fake:
    """A job of invented reminders: three per user (three stages), due in three days."""

    def __init__(self, users: list[int], per_user: int = 3) -> None:
        self.users, self.per_user = users, per_user
        self.rendered: list[int] = []
        self.on_render: dict[int, asyncio.Event] = {}

    def job(self) -> Job:
        async def collect(session, today):  # type: ignore[no-untyped-def]
            return [
                Outgoing(
                    "reminder",
                    f"stage:{stage}:org:1",
                    uid,
                    today + timedelta(days=3),
                    3,
                    "zh",
                    self._render(n, f"提醒{stage}"),
                )
                for n, (uid, stage) in enumerate(
                    (u, s) for u in self.users for s in range(self.per_user)
                )
            ]

        return Job("fake", "reminder", collect)

    def _render(self, n: int, text: str):  # type: ignore[no-untyped-def]
        def render():  # type: ignore[no-untyped-def]
            self.rendered.append(n)
            if n in self.on_render:
                self.on_render[n].set()
            return text, None

        return render


async def test_a_restart_mid_run_sends_nothing_twice_and_loses_nothing_R_REMIND(world):
    await started(world, USERS)
    fake = Fake(USERS)
    clock = clock_at(2026, 11, 25, 9, 0)
    first = scheduler(world, clock, [fake.job()])
    tenth = fake.on_render[9] = asyncio.Event()
    run = first.kick()
    assert run is not None
    await tenth.wait()
    await first.stop()  # graceful: the messages being sent are finished and confirmed
    assert run.done()
    before = sum(received(world).values())
    assert 0 < before < 30
    assert (await run).sent == before

    second = scheduler(world, clock, [fake.job()])  # the restarted process
    assert (await second.tick()).sent == 30 - before
    clock.shift(timedelta(minutes=30))  # long past the stale limit
    assert (await second.tick()).sent == 0
    got = received(world)
    assert set(got) == set(USERS) and set(got.values()) == {3}
    for uid in USERS:  # each recipient's messages in order, across the restart
        texts = [m.text for m in world.user(uid).messages if m.text.startswith("提醒")]
        assert texts == ["提醒0", "提醒1", "提醒2"]
    async with world.app.sessionmaker() as s:
        rows = (await s.scalars(select(Notification))).all()
    assert len(rows) == 30 and all(r.sent_at is not None and r.tries == 1 for r in rows)


@both_backends
async def test_two_schedulers_on_one_database_deliver_each_reminder_once_R_REMIND(world, db_url):
    """Two processes (each its own engine, bot and Sender) tick at the same
    moment, and again after the stale limit: every reminder arrives once."""
    await started(world, USERS)
    fake = Fake(USERS)
    clock = clock_at(2026, 11, 25, 9, 0)
    other_engine = create_engine(db_url)
    other_bot = build_bot(world.settings)
    try:
        a = scheduler(world, clock, [fake.job()])
        b = SchedulerApp(
            bot=other_bot,
            sessionmaker=make_sessionmaker(other_engine),
            clock=clock,
            settings=world.settings,
            jobs=[fake.job()],
        )
        ticks = await asyncio.gather(a.tick(), b.tick())
        assert sum(t.sent for t in ticks) == 30
        clock.shift(timedelta(minutes=6))
        ticks = await asyncio.gather(a.tick(), b.tick())
        assert sum(t.sent for t in ticks) == 0
    finally:
        await other_bot.session.close()
        await other_engine.dispose()
    got = received(world)
    assert set(got) == set(USERS) and set(got.values()) == {3}


class HangingBot:
    """A process that dies between claim and send: its send never returns."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()

    async def send_message(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.entered.set()
        await asyncio.Event().wait()


async def test_killed_between_claim_and_send_the_message_arrives_once_after_the_stale_limit_R_REMIND(
    world,
):
    users = USERS[:3]
    await started(world, users)
    fake = Fake(users, per_user=1)
    clock = clock_at(2026, 11, 25, 9, 0)
    dying = SchedulerApp(
        bot=HangingBot(),  # type: ignore[arg-type]
        sessionmaker=world.app.sessionmaker,
        clock=clock,
        settings=world.settings,
        jobs=[fake.job()],
    )
    dying.delivery.workers = 1  # it dies on the first message; the others are unclaimed
    run = dying.kick()
    assert run is not None
    await dying.delivery.bot.entered.wait()  # the first message is claimed, not sent
    run.cancel()  # killed: no stop, no confirmation
    with pytest.raises(asyncio.CancelledError):
        await run

    await world.restart()
    survivor = scheduler(world, clock, [fake.job()])
    assert not (await survivor.tick()).leader  # the dead process's lease still runs
    clock.shift(timedelta(seconds=61))  # …and has run out (issue 17 point 3)
    first = await survivor.tick()
    assert (first.sent, first.report.in_flight) == (2, 1)  # the dead claim is still fresh
    assert received(world)[users[0]] == 0
    clock.shift(timedelta(minutes=3))
    assert (await survivor.tick()).sent == 0
    clock.shift(timedelta(minutes=2))  # now older than NOTIFY_STALE_MINUTES (5)
    assert (await survivor.tick()).sent == 1
    clock.shift(timedelta(minutes=10))
    assert (await survivor.tick()).sent == 0
    assert received(world) == Counter({u: 1 for u in users})
    async with world.app.sessionmaker() as s:
        tries = {r.recipient: r.tries for r in await s.scalars(select(Notification))}
    assert tries == {users[0]: 2, users[1]: 1, users[2]: 1}


async def test_quiet_hours_hold_messages_until_the_morning_R_REMIND(world):
    users = USERS[:2]
    await started(world, users)
    fake = Fake(users, per_user=1)
    clock = clock_at(2026, 11, 25, 21, 0)
    app = scheduler(world, clock, [fake.job()])
    for step in (timedelta(0), timedelta(hours=3), timedelta(hours=5)):  # 21:00, 00:00, 05:00
        clock.shift(step)
        assert (await app.tick()).ran == []
    clock.shift(timedelta(hours=3))  # 08:00: quiet over; reminders wait for 09:00
    assert (await app.tick()).ran == []
    assert received(world) == Counter()
    clock.shift(timedelta(hours=1))
    assert (await app.tick()).sent == 2
    assert received(world) == Counter({u: 1 for u in users})


async def test_a_user_who_blocked_the_bot_is_dropped_and_not_retried_R_REMIND(world):
    users = USERS[:2]
    await started(world, users)
    world.user(users[0]).blocked = True  # the emulator answers 403
    before = attempts(world, users[0])  # the reply to /start
    fake = Fake(users, per_user=1)
    clock = clock_at(2026, 11, 25, 9, 0)
    app = scheduler(world, clock, [fake.job()])
    tick = await app.tick()
    assert (tick.sent, tick.report.dropped) == (1, 1)
    for _ in range(3):
        clock.shift(timedelta(hours=1))
        assert (await app.tick()).sent == 0
    assert attempts(world, users[0]) - before == 1  # one 403, never tried again
    assert received(world) == Counter({users[1]: 1})
    async with world.app.sessionmaker() as s:
        dropped = await s.scalar(select(Notification).where(Notification.recipient == users[0]))
        user = await s.get(User, users[0])
    assert dropped.dropped == "blocked" and dropped.sent_at is None
    assert user.blocked_at is not None


# ---- the real jobs ------------------------------------------------------------------------


async def test_the_digest_at_0830_and_reminders_and_escalations_at_0900_R_REMIND(branch_world):
    world = branch_world
    await started(world, [101, 102, 201])
    staff = Actor(201, (Grant(Role.COMMITTEE, world.orgs["示例党委"]),))
    async with world.app.sessionmaker() as s:
        # 流动党员 2023 in 2026: 报告工作情况 (党支部报党委) due 15 December.
        await campaigns.create_campaign(
            s, staff, world.orgs["示例党委"], template="mobile_2023", name="流动党员排查", year=2026
        )
    async with world.app.sessionmaker() as s, write_tx(s):
        # Lost from 12 December: six months without contact (R-LOST-6M).
        s.add(
            Member(
                branch_id=world.orgs["一支部"], **member_values(3, last_org_life=date(2026, 6, 11))
            )
        )
    clock = clock_at(2026, 12, 12, 8, 29)  # three days before the deadline
    app = scheduler(world, clock)  # the three real jobs
    assert (await app.tick()).ran == []
    clock.shift(timedelta(minutes=1))
    digest = await app.tick()
    # The secretary's branch digest and the committee's counts; 二支部 had nothing.
    assert digest.ran == ["digest"] and digest.report.by_kind == {"digest": 2}
    assert "每日提醒" in world.user(101).last.text
    assert "每日提醒" in world.user(201).last.text
    clock.shift(timedelta(minutes=30))
    nine = await app.tick()
    assert nine.report.by_kind == {"reminder": 2, "escalation": 1}
    assert "报送提醒" in world.user(102).last.text
    assert "报送催办" in world.user(201).last.text
    # Later ticks that day, and a restart, send none of it again.
    clock.shift(timedelta(hours=3))
    assert (await app.tick()).sent == 0
    await app.stop()  # releases the lease: the restarted process leads at once
    again = await scheduler(world, clock).tick()
    assert again.leader and again.sent == 0
    async with world.app.sessionmaker() as s:
        kinds = Counter(r.kind for r in await s.scalars(select(Notification)))
    assert kinds == Counter({"digest": 2, "reminder": 2, "escalation": 1})


# ---- `paicha run` and `paicha scheduler` ----------------------------------------------------


async def test_paicha_run_runs_the_scheduler_by_default_and_a_digest_arrives_by_itself_R_REMIND(
    tmp_path,
):
    """`paicha run` (assemble + poll) is a complete bot: its scheduler ticks at
    start, so a digest due today arrives without anybody calling tick()."""
    async with BotApiEmulator() as emulator:
        assert Settings.model_fields["scheduler_enabled"].default  # `paicha run` schedules
        settings = bot_settings(  # `paicha run` as shipped: no fixed admin, the scheduler on
            emulator,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'run.sqlite3'}",
            paicha_admin_ids=[],
            scheduler_enabled=True,
        )
        # The scene is set with the scheduler off, so no tick races the set-up.
        w = World(emulator, settings.model_copy(update={"scheduler_enabled": False}))
        await w.start()  # the e2e clock: 25 November 2026, 10:00
        try:
            assert w.app.scheduler is None
            await w.org("示例党委", "committee")
            await w.org("一支部", "branch", "示例党委")
            await w.grant(101, Role.SECRETARY, "一支部")
            async with w.app.sessionmaker() as s, write_tx(s):
                # Lost from today, 25 November (R-LOST-6M).
                s.add(
                    Member(
                        branch_id=w.orgs["一支部"],
                        **member_values(5, last_org_life=date(2026, 5, 24)),
                    )
                )
            await started(w, [101])
            w.settings = settings
            await w.restart()  # `paicha run`: its tick at start finds the digest due
            chat = w.emulator.chats[101]

            def digests() -> int:
                return sum(
                    (m.current.text or "").startswith("每日提醒 · ") for m in chat.messages.values()
                )

            assert await w.emulator.chat_signal(101).wait_for(lambda: digests() == 1, 10)
            scheduler_app = w.app.scheduler
            assert scheduler_app is not None and scheduler_app.running
        finally:
            await w.stop()
        assert not scheduler_app.running  # close() stopped it
        assert digests() == 1


def test_paicha_scheduler_is_a_command_and_needs_a_token(capsys, monkeypatch):
    from bot.cli import build_parser, main

    assert build_parser().parse_args(["scheduler"]).command == "scheduler"
    monkeypatch.setenv("BOT_TOKEN", "")
    assert main(["scheduler"]) == 2
    assert "BOT_TOKEN" in capsys.readouterr().err


async def test_after_downtime_the_digest_catches_up_and_passed_reminders_are_not_sent_R_REMIND(
    branch_world,
):
    """Down from the morning of 8 December until 16 December 09:00: the digest
    then lists who crossed while it was down; the reminders for the deadline
    of 15 December are not sent late; the escalation of the morning after is."""
    world = branch_world
    await started(world, [101, 102, 201])
    staff = Actor(201, (Grant(Role.COMMITTEE, world.orgs["示例党委"]),))
    async with world.app.sessionmaker() as s:
        await campaigns.create_campaign(
            s, staff, world.orgs["示例党委"], template="mobile_2023", name="流动党员排查", year=2026
        )
    async with world.app.sessionmaker() as s, write_tx(s):
        for i, last in ((1, date(2026, 6, 7)), (2, date(2026, 6, 12))):
            # Lost from 8 December and from 13 December (R-LOST-6M).
            s.add(Member(branch_id=world.orgs["一支部"], **member_values(i, last_org_life=last)))
    clock = clock_at(2026, 12, 8, 9, 0)
    app = scheduler(world, clock)
    first = await app.tick()
    assert first.report.by_kind == {"digest": 2, "reminder": 2}  # 7 days before
    assert "（共1人）" in world.user(101).messages[-2].text

    clock.shift(timedelta(days=8))  # 16 December 09:00, a new process
    back = await scheduler(world, clock).tick()
    assert back.report.by_kind == {"digest": 2, "escalation": 1}
    digest = next(m.text for m in reversed(world.user(101).messages) if "每日提醒" in m.text)
    assert "12月9日至12月16日" in digest and "（共1人）" in digest
    assert "报送逾期" in world.user(201).last.text
    async with world.app.sessionmaker() as s:
        offsets = sorted(
            r.offset_days
            for r in await s.scalars(select(Notification).where(Notification.kind == "reminder"))
        )
    assert offsets == [7, 7]  # none of 3, 1 or 0 days sent after the deadline


async def test_a_403_on_any_send_marks_the_user_until_they_write_again(world):
    """`paicha run` wires the Sender's 403 hook: the reminders skip a user who
    blocked the bot (``blocked_at``) until their next message clears it."""
    from aiogram.exceptions import TelegramForbiddenError

    await started(world, [520])
    user = world.user(520)
    user.blocked = True
    with pytest.raises(TelegramForbiddenError):
        await world.app.bot.send_message(520, "你好")

    async def blocked_at():  # type: ignore[no-untyped-def]
        async with world.app.sessionmaker() as s:
            return await s.scalar(select(User.blocked_at).where(User.id == 520))

    assert await blocked_at() is not None
    user.blocked = False
    await user.send("/help")
    await user.wait_idle(quiet=0.1)
    assert await blocked_at() is None
