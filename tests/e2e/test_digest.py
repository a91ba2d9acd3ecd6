"""The daily digest end to end: /notify turns it off and on; a rendered digest
opens the member's card; a committee digest opens a branch's names
(issue 14, R-LOST-6M, R-POCKET); the real scheduler tells a suspension's
coming two years, then the two years, each once, to the secretary by name and
to committee staff as a count (issue 16, R-SUSPEND-2Y)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from domain.clock import FixedClock, ShiftedClock
from domain.dispositions import suspension_ends
from handlers.digest import HEADINGS, SHORT, render_digest
from scheduler import SchedulerApp
from storage.db import write_tx
from storage.models import Disposition, DispositionEvent, Member, Notification, User
from storage.services.digest import CLOCKS, Crossing, Digest, digests_for_day
from tests.factories import member_values

TODAY = date(2026, 11, 25)  # the e2e clock's day


async def _next(user, needle: str):  # type: ignore[no-untyped-def]
    """The next bot message or edit containing ``needle`` (the scheduler may
    send its own digest in between: the order of the two is not fixed)."""
    for _ in range(10):
        message = await user.reply()
        if needle in message.text:
            return message
    raise AssertionError(f"no message with {needle!r}")


async def _digest_off(world, user_id: int) -> bool:  # type: ignore[no-untyped-def]
    async with world.app.sessionmaker() as s:
        return bool(await s.scalar(select(User.digest_off).where(User.id == user_id)))


async def test_notify_turns_the_daily_digest_off_and_on(branch_world):
    sec = branch_world.user(101)
    await sec.send("/notify")
    shown = await _next(sec, "每日提醒：")
    assert "已开启" in shown.text
    await sec.press("关闭每日提醒", message=shown)
    assert "已关闭" in (await _next(sec, "每日提醒：")).text
    assert await _digest_off(branch_world, 101)
    await sec.press("开启每日提醒", message=shown)
    assert "已开启" in (await _next(sec, "每日提醒：")).text
    assert not await _digest_off(branch_world, 101)

    staff = branch_world.user(201)
    await staff.send("/notify")
    shown = await _next(staff, "每日提醒：")
    await staff.press("关闭每日提醒", message=shown)
    await _next(staff, "已关闭")
    assert await _digest_off(branch_world, 201)


async def _lost_today(world, branch: str, i: int) -> int:  # type: ignore[no-untyped-def]
    """A member whose six months ran out yesterday: lost from today (R-LOST-6M)."""
    async with world.app.sessionmaker() as s, write_tx(s):
        m = Member(
            branch_id=world.orgs[branch], **member_values(i, last_org_life=date(2026, 5, 24))
        )
        s.add(m)
        await s.flush()
        return m.id


async def test_a_digest_button_opens_the_members_card_R_LOST_6M(branch_world):
    member_id = await _lost_today(branch_world, "一支部", 5)
    async with branch_world.app.sessionmaker() as s:
        digests = await digests_for_day(s, today=TODAY, pocket_days=90)
    mine = [d for d in digests if d.recipient == 101]
    assert len(mine) == 1 and [c.member_id for c in mine[0].crossings] == [member_id]
    text, keyboard = render_digest(mine[0])
    sec = branch_world.user(101)
    await sec.send("/notify")  # a private chat exists once the user wrote
    await _next(sec, "每日提醒：")
    sent = await branch_world.app.bot.send_message(101, text, reply_markup=keyboard)
    digest = await _next(sec, "失联超过6个月")
    assert member_values(5)["name"] in digest.text
    await sec.press("1", message=sent.message_id)
    card = await _next(sec, "党员卡片")
    assert member_values(5)["name"] in card.text
    assert "记录查找" in " ".join(card.button_texts)  # the secretary's own card
    # The card came as a new message: the digest is still there to tap the next one.
    [still] = [m for m in sec.messages if m.message_id == sent.message_id]
    assert still.text == text.replace("<b>", "").replace("</b>", "")


async def test_committee_digest_counts_per_branch_and_opens_the_names(branch_world):
    await _lost_today(branch_world, "一支部", 5)
    await _lost_today(branch_world, "二支部", 6)
    async with branch_world.app.sessionmaker() as s:
        digests = await digests_for_day(s, today=TODAY, pocket_days=90)
    [committee] = [d for d in digests if d.recipient == 201]
    text, keyboard = render_digest(committee)
    assert "一支部" in text and "二支部" in text and "失联1" in text
    staff = branch_world.user(201)
    await staff.send("/notify")
    await _next(staff, "每日提醒：")
    sent = await branch_world.app.bot.send_message(201, text, reply_markup=keyboard)
    await staff.press("二支部", message=sent.message_id)
    names = await _next(staff, "点编号打开党员卡片")
    assert member_values(6)["name"] in names.text
    assert member_values(5)["name"] not in names.text
    await staff.press("1", message=names)
    card = await _next(staff, "党员卡片")
    assert "记录查找" not in " ".join(card.button_texts)  # committee staff read only


async def test_a_forged_branch_tap_is_refused_R_ACL_BRANCH(branch_world):
    await _lost_today(branch_world, "一支部", 5)
    sec = branch_world.user(102)  # secretary of 二支部
    await sec.send("/notify")
    await _next(sec, "每日提醒：")
    data = f"dgb:{branch_world.orgs['一支部']}:{TODAY.toordinal() - 1}:{TODAY.toordinal()}"
    answer = await sec.callback_answer(await sec.press_data(data))
    assert answer.text == "无权限"


def test_a_long_digest_stays_within_telegrams_limits():
    many = tuple(
        Crossing(i, 1, "欧阳" + "测" * 28, "lost" if i % 2 else "pocket", TODAY)
        for i in range(1, 400)
    )
    d = Digest(101, None, "branch:1", "branch", 1, "一支部", TODAY, TODAY, crossings=many)
    text, keyboard = render_digest(d)
    assert len(text) <= 4096
    assert sum(len(row) for row in keyboard.inline_keyboard) <= 100
    assert "及另外" in text


def test_the_digest_follows_the_recipients_language():
    one = (Crossing(1, 1, "赵测一", "lost", TODAY),)
    zh, _ = render_digest(Digest(1, None, "branch:1", "branch", 1, "一支部", TODAY, TODAY, one))
    assert "每日提醒" in zh
    en, _ = render_digest(Digest(1, "en", "branch:1", "branch", 1, "一支部", TODAY, TODAY, one))
    assert "赵测一" in en  # English strings arrive with the lead's catalogue update


# ---- the clocks a disposition starts (issue 16) ------------------------------------------------

SH = ZoneInfo("Asia/Shanghai")


async def _suspended(world, branch: str, i: int, on: date) -> int:  # type: ignore[no-untyped-def]
    """A member whose 停止党籍 took effect on ``on`` (approved, 备案 recorded)."""
    async with world.app.sessionmaker() as s, write_tx(s):
        m = Member(branch_id=world.orgs[branch], **member_values(i))
        s.add(m)
        await s.flush()
        d = Disposition(
            member_id=m.id,
            outcome="suspend",
            opened_on=on - timedelta(days=10),
            opened_by=101,
            status="done",
            position=3,
            effective_on=on,
            ends_on=suspension_ends(on),
        )
        s.add(d)
        await s.flush()
        votes = {"present": 9, "votes_for": 8, "votes_against": 1, "votes_abstain": 0}
        steps = (
            ("recorded", "resolution", on - timedelta(days=5), 101, {**votes, "signed": True}),
            ("approved", "approval", on, 201, {}),
            ("recorded", "upper_filing", on + timedelta(days=5), 201, {"document_no": "示组1号"}),
        )
        for seq, (kind, step, day, by, facts) in enumerate(steps, start=1):
            s.add(
                DispositionEvent(
                    disposition_id=d.id, seq=seq, kind=kind, step=step, on=day, by=by, facts=facts
                )
            )
        return m.id


def _digests(user) -> list[str]:  # type: ignore[no-untyped-def]
    return [m.text for m in user.messages if m.text.startswith("每日提醒 · ")]


async def test_a_suspension_is_told_30_days_before_and_on_its_two_years_once_R_SUSPEND_2Y(
    branch_world,
):
    world = branch_world
    await _suspended(world, "一支部", 7, date(2024, 12, 10))  # two years on 10 December 2026
    for uid in (101, 201):
        await world.user(uid).send("/start")  # a private chat exists once the user wrote
        await world.user(uid).wait_idle()
    clock = ShiftedClock(SH, base=FixedClock(SH, at=datetime(2026, 11, 10, 8, 30)))

    def scheduler() -> SchedulerApp:  # a new process each time
        return SchedulerApp(
            bot=world.app.bot,
            sessionmaker=world.app.sessionmaker,
            clock=clock,
            settings=world.settings,
        )

    sec, staff = world.user(101), world.user(201)
    name = member_values(7)["name"]
    warned = await scheduler().tick()
    assert warned.report.by_kind == {"digest": 2}
    [text] = _digests(sec)
    assert "停止党籍即将满2年" in text and f"1. {name} · 12月10日满2年" in text
    assert "一支部：停止党籍将满2年1人" in _digests(staff)[0]
    assert (await scheduler().tick()).sent == 0  # a restart the same day: not again
    clock.shift(timedelta(days=1))
    assert (await scheduler().tick()).sent == 0  # nothing new the next day

    clock.shift(timedelta(days=29))  # 10 December: the two years are up
    due = await scheduler().tick()
    assert due.report.by_kind == {"digest": 2}
    text = _digests(sec)[-1]
    assert "停止党籍满2年：仍无法取得联系的，可按自行脱党除名办理（需按程序）" in text
    assert f"1. {name} · 12月10日起" in text and "即将满2年" not in text
    assert "（共1人）" in text and "11月11日至12月10日" in text
    assert "一支部：停止党籍满2年1人" in _digests(staff)[-1]
    assert (await scheduler().tick()).sent == 0
    async with world.app.sessionmaker() as s:
        assert await s.scalar(select(func.count()).where(Notification.kind == "digest")) == 4

    # The number opens the card: the member is still only suspended (never automatic).
    digest = next(m for m in reversed(sec.messages) if m.text == text)
    await sec.press("1", message=digest)
    card = await _next(sec, "党员卡片")
    assert name in card.text


def test_every_clock_has_a_heading_and_a_short_name():
    assert set(HEADINGS) == set(SHORT) == set(CLOCKS)
    day = date(2026, 12, 10)
    found = tuple(
        Crossing(i, 1, f"赵测{i}", clock, day, day) for i, clock in enumerate(CLOCKS, start=1)
    )
    text, keyboard = render_digest(
        Digest(101, None, "branch:1", "branch", 1, "一支部", day - timedelta(days=1), day, found)
    )
    for clock in CLOCKS:
        assert HEADINGS[clock] in text
    assert "（共9人）" in text and len(keyboard.inline_keyboard[-1]) == 4
