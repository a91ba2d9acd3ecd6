"""/deadlines through the emulator (issue 14 point 3): a secretary marks items
已报送 with one tap each, committee staff see which branches have not
submitted, tap into a branch and undo for it; a forged tap is refused
(R-ACL-BRANCH); the reminder and escalation the scheduler sends carry the
same buttons (R-REMIND). The clock is the fixture's: 2026-11-25."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from handlers.deadlines import DueAct, render_escalation, render_reminder
from storage.models import AuditEvent, ItemSubmission
from storage.services import campaigns, submissions
from storage.services.access import Actor, Grant, Role


async def _campaign(world, template: str = "mobile_2023", year: int = 2026) -> int:
    committee = world.orgs["示例党委"]
    async with world.app.sessionmaker() as s:
        campaign = await campaigns.create_campaign(
            s,
            Actor(201, (Grant(Role.COMMITTEE, committee),)),
            committee,
            template=template,
            name="流动党员排查",
            year=year,
        )
        return campaign.id


async def test_secretary_marks_items_submitted_and_staff_see_who_has_not(branch_world):
    await _campaign(branch_world)
    sec = branch_world.user(101)
    await sec.send("/deadlines")
    shown = await sec.reply()
    assert "报告工作情况" in shown.text and "还有20天" in shown.text
    assert "⬜ 集中排查工作情况报告" in shown.text
    assert len([b for b in shown.button_texts if "⬜" in b]) == 3
    await sec.press("⬜ 集中排查工作情况报告")
    marked = await sec.reply()  # the same message, edited
    assert marked.message_id == shown.message_id
    assert "✅ 集中排查工作情况报告" in marked.text
    assert any(b.endswith("✅ 集中排查工作情况报告") for b in marked.button_texts)

    staff = branch_world.user(201)
    await staff.send("/deadlines")
    overview = await staff.reply()
    assert "未报送：2/2个党支部（一支部、二支部）" in overview.text
    await staff.press("各党支部报送情况")
    branches = await staff.reply()
    assert "一支部：缺2项" in branches.text and "二支部：缺3项" in branches.text
    await staff.press("一支部")
    one = await staff.reply()
    assert "一支部" in one.text
    assert "已报送1/3项" in one.text
    await staff.press("✅ 集中排查工作情况报告")  # undo for the branch
    undone = await staff.reply()
    assert "已报送0/3项" in undone.text
    await staff.press("◀ 各党支部")
    back = await staff.reply()
    assert "一支部：缺3项" in back.text

    async with branch_world.app.sessionmaker() as s:
        marks = (await s.scalars(select(ItemSubmission))).all()
        events = (
            await s.scalars(select(AuditEvent).where(AuditEvent.entity == "stage_item"))
        ).all()
    assert [(m.marked_by, m.undone_by) for m in marks] == [(101, 201)]
    assert [(e.action, e.actor_id) for e in events] == [("mark", 101), ("undo", 201)]


async def test_a_forged_tap_for_another_branch_is_refused_R_ACL_BRANCH(branch_world):
    await _campaign(branch_world)
    sec = branch_world.user(101)
    await sec.send("/deadlines")
    await sec.reply()
    data = DueAct.unpack(next(d for t, d in sec.last.buttons[0] if "⬜" in t) or "")
    forged = DueAct(
        op="mark", stage_id=data.stage_id, org_id=branch_world.orgs["二支部"], item_id=data.item_id
    )
    answer = await sec.callback_answer(await sec.press_data(forged.pack()))
    assert answer.text == "无权限"
    peek = DueAct(op="stage", stage_id=data.stage_id)
    answer = await sec.callback_answer(await sec.press_data(peek.pack()))
    assert answer.text == "无权限"
    async with branch_world.app.sessionmaker() as s:
        assert (await s.scalars(select(ItemSubmission))).all() == []


async def test_committee_marks_its_own_upward_items(branch_world):
    await _campaign(branch_world, template="city_2016", year=2027)
    staff = branch_world.user(201)
    await staff.send("/deadlines")
    shown = await staff.reply()
    assert "示例党委：" in shown.text and "⬜ 综合报告" in shown.text
    await staff.press("⬜ 综合报告")
    assert "✅ 综合报告" in (await staff.reply()).text
    sec = branch_world.user(101)
    await sec.send("/deadlines")
    assert "综合报告" not in " ".join((await sec.reply()).button_texts)


async def test_reminder_and_escalation_buttons_mark_and_open_the_branch_list_R_REMIND(
    branch_world,
):
    await _campaign(branch_world)
    async with branch_world.app.sessionmaker() as s:
        reminders = await submissions.due_reminders(s, today=date(2026, 12, 12))
        escalations = await submissions.due_escalations(s, today=date(2026, 12, 12))
    reminder = next(r for r in reminders if r.recipient == 101)
    text, markup = render_reminder(reminder)
    assert "报送提醒" in text and "还有3天" in text and "一支部尚未报送" in text
    assert len(markup.inline_keyboard) == 3
    notice = next(e for e in escalations if e.recipient == 201)
    etext, emarkup = render_escalation(notice)
    assert "未报送：2/2个党支部" in etext and "一支部（缺3项）" in etext
    # Sent as the scheduler would (to users who once wrote to the bot); the
    # taps land in /deadlines' handlers.
    sec, staff = branch_world.user(101), branch_world.user(201)
    for user in (sec, staff):
        await user.send("/deadlines")
        await user.reply()
    bot = branch_world.app.bot
    await bot.send_message(101, text, reply_markup=markup)
    await sec.reply()
    await sec.press("已报送：流出党员有关情况统计表")
    org_view = await sec.reply()
    assert "已报送1/3项" in org_view.text and "✅ 流出党员有关情况统计表" in org_view.text
    await bot.send_message(201, etext, reply_markup=emarkup)
    await staff.reply()
    await staff.press("各党支部报送情况")
    assert "一支部：缺2项" in (await staff.reply()).text


async def test_staff_change_the_reminder_days_from_the_campaign_view_R_REMIND(branch_world):
    campaign_id = await _campaign(branch_world)
    staff = branch_world.user(201)
    await staff.send("/campaign")
    await staff.reply()
    await staff.press("流动党员排查")
    view = await staff.reply()
    assert "截止前7、3、1天和当天" in view.text
    await staff.press("提醒日")
    await staff.reply()
    await staff.send("七天")
    assert "不是天数" in (await staff.reply()).text
    await staff.send("5 2 0")
    saved, detail = await staff.replies(2)
    assert "截止前5、2天和当天" in saved.text and "截止前5、2天和当天" in detail.text
    async with branch_world.app.sessionmaker() as s:
        from storage.models import Campaign

        assert (await s.get(Campaign, campaign_id)).remind_offsets == "5,2,0"


def test_deadline_callback_data_fits_in_64_bytes():
    big = 2**31 - 1
    for op in ("mark", "undo", "stage", "org"):
        data = DueAct(op=op, stage_id=big, org_id=big, item_id=big, page=99_999, back="a")
        assert len(data.pack().encode()) <= 64


def test_a_long_list_of_deadlines_keeps_to_telegrams_limits():
    """4,096 characters and 100 buttons: later stages are counted, not cut mid-way."""
    from bot.i18n import build_i18n
    from domain.campaigns import Direction
    from handlers.deadlines import _overview
    from storage.services.submissions import ItemState, OrgItems, StageDue

    items = tuple(ItemState(i, f"第{i}号汇总表（附件{i}）", None, i % 2 == 0) for i in range(6))
    branches = tuple(OrgItems(100 + b, f"第{b}党支部", items) for b in range(30))
    dues = [
        StageDue(
            campaign_id=1,
            campaign_name="2027年党员组织关系集中排查",
            stage_id=n,
            title=f"第{n}阶段报送",
            what="",
            due=date(2027, 3, 1 + n % 28),
            approximate=False,
            direction=Direction.branch_to_committee,
            closed=False,
            own=(OrgItems(100, "第0党支部", items),),
            branches=branches,
        )
        for n in range(60)
    ]
    with build_i18n().context():
        text, markup = _overview(dues, date(2027, 2, 1))
    assert len(text) <= 4096 and len(markup.inline_keyboard) <= 100
    assert "另有" in text
