"""The daily digest end to end: /notify turns it off and on; a rendered digest
opens the member's card; a committee digest opens a branch's names
(issue 14, R-LOST-6M, R-POCKET)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from handlers.digest import render_digest
from storage.db import write_tx
from storage.models import Member, User
from storage.services.digest import Crossing, Digest, digests_for_day
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
