"""/sweep end to end (issue 8, item 2): findings first, a clean member in one
tap, answers kept, the walk resumes after a restart (R-SWEEP)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from storage.models import SweepAnswer
from storage.services import campaigns
from storage.services.access import Actor, Grant, Role
from tests.e2e.test_search import _set


async def _campaign(world) -> int:
    staff = Actor(201, (Grant(Role.COMMITTEE, world.orgs["示例党委"]),))
    async with world.app.sessionmaker() as s:
        campaign = await campaigns.create_campaign(
            s, staff, world.orgs["示例党委"], template="mobile_2023", name="流动党员排查", year=2026
        )
    return campaign.id


async def _clean_and_lost(world) -> list[int]:
    ids = await world.members("一支部", 2)
    await _set(
        world,
        ids[0],
        ethnicity="汉族",
        education="大专",
        phone="13900000011",
        last_org_life=date(2026, 11, 1),
        last_dues=date(2026, 11, 1),
    )
    await _set(world, ids[1], last_org_life=date(2025, 1, 1))
    return ids


async def test_a_clean_member_takes_one_tap_and_findings_come_first_R_SWEEP(branch_world):
    ids = await _clean_and_lost(branch_world)
    campaign_id = await _campaign(branch_world)
    sec = branch_world.user(101)
    await sec.send("/sweep")
    first = await sec.reply()
    assert "进度：已核查0/2人" in first.text
    # Names sort 赵测一 (clean) before 钱测一 (lost since January 2025).
    assert "赵测一" in first.text and "全部符合" in " ".join(first.button_texts)
    await sec.press("全部符合")  # one tap confirms all five checks
    second = (await sec.wait_idle())[-1]
    assert "钱测一" in second.text and "已核查1/2人" in second.text
    assert "全部符合" not in " ".join(second.button_texts)  # findings need a person
    async with branch_world.app.sessionmaker() as s:
        answers = (
            await s.scalars(select(SweepAnswer).where(SweepAnswer.campaign_id == campaign_id))
        ).all()
    assert {a.member_id for a in answers} <= set(ids)


async def test_problem_needs_a_note_and_the_walk_resumes_after_restart(branch_world):
    await _clean_and_lost(branch_world)
    await _campaign(branch_world)
    sec = branch_world.user(101)
    await sec.send("/sweep")
    shown = await sec.reply()
    name = shown.text.split("\n")[1]
    await sec.press("3 ✘")
    await sec.reply()
    await sec.send("超过6个月未交纳党费")
    after_note = await sec.reply()
    assert name in after_note.text  # still the same member: four checks open
    await branch_world.restart()
    await sec.send("/sweep")
    resumed = await sec.reply()
    assert name in resumed.text and "✘ 3." in resumed.text
    for label in ("1 待完善", "2 ✔", "4 ✔", "5 ✔"):
        await sec.press(label)
        await sec.reply()
    assert "已核查1/2人" in sec.last.text


async def test_todo_lists_open_items_until_resolved_R_SWEEP(branch_world):
    await _clean_and_lost(branch_world)
    await _campaign(branch_world)
    sec = branch_world.user(101)
    await sec.send("/sweep")
    await sec.reply()
    await sec.press("2 待完善")
    await sec.reply()
    await sec.send("/todo")
    listing = await sec.reply()
    assert "待办1项" in listing.text and "赵测一" in listing.text and "党员档案" in listing.text
    await sec.press("赵测一")
    await sec.reply()
    await sec.press("2 ✔")
    await sec.wait_idle()
    await sec.send("/todo")
    assert "待办0项" in (await sec.reply()).text


async def test_committee_sees_every_branch_progress_in_one_message(branch_world):
    await _clean_and_lost(branch_world)
    await branch_world.members("二支部", 3, start=10)
    await _campaign(branch_world)
    sec = branch_world.user(101)
    await sec.send("/sweep")
    await sec.reply()
    await sec.press("全部符合")
    await sec.wait_idle()
    staff = branch_world.user(201)
    await staff.send("/review")
    text = (await staff.reply()).text
    assert "已核查1/5人" in text
    assert "一支部 · 1/2 · 0 · 0" in text and "二支部 · 0/3 · 0 · 0" in text


async def test_suspected_false_membership_reaches_the_committee_and_offences_are_referred(
    branch_world,
):
    from storage.models import Escalation

    await _clean_and_lost(branch_world)
    await _campaign(branch_world)
    staff = branch_world.user(201)
    await staff.send("/help")  # the committee user has a chat with the bot
    await staff.reply()
    sec = branch_world.user(101)
    await sec.send("/sweep")
    await sec.reply()
    await sec.press("2 ✘")
    await sec.reply()
    await sec.send("入党志愿书缺失，入党时间无法核实")
    await sec.reply()
    await sec.press("报告党委")
    told = await sec.reply()
    assert "1人收到" in told.text
    alert = await staff.reply()
    assert "赵测一" in alert.text and "违规入党" in alert.text
    await sec.wait_idle()
    await sec.press("5 ✘")
    await sec.reply()
    await sec.send("群众反映有违法行为")
    await sec.reply()
    await sec.press("记录移交")
    await sec.reply()
    await sec.send("区纪委监委")
    assert "已记录移交：区纪委监委" in (await sec.reply()).text
    async with branch_world.app.sessionmaker() as s:
        rows = (await s.scalars(select(Escalation).order_by(Escalation.id))).all()
    assert [(r.kind, r.referred_to) for r in rows] == [
        ("identity", "上级党委"),
        ("discipline", "区纪委监委"),
    ]


async def test_committee_sends_a_branch_back_then_marks_it_reviewed(branch_world):
    ids = await _clean_and_lost(branch_world)
    campaign_id = await _campaign(branch_world)
    staff = branch_world.user(201)
    sec = branch_world.user(101)
    await sec.send("/help")
    await sec.reply()
    await staff.send("/review")
    await staff.reply()
    await staff.press("一支部")
    await staff.reply()
    refused = await staff.press("核查完成")  # the sweep is not complete yet
    assert "暂不能标记核查完成" in (await staff.callback_answer(refused)).text
    await staff.press("退回整改")
    await staff.reply()
    await staff.send("钱测一的党费记录需补充")
    await staff.wait_idle()
    notice = await sec.reply()
    assert "退回整改" in notice.text and "党费记录" in notice.text
    from domain.sweep import Answer, Check
    from storage.services import sweep
    from storage.services.access import Actor, Grant, Role

    secretary = Actor(101, (Grant(Role.SECRETARY, branch_world.orgs["一支部"]),))
    async with branch_world.app.sessionmaker() as s:
        for member_id in ids:
            await sweep.answer_checks(
                s, secretary, campaign_id, member_id, dict.fromkeys(Check, Answer.ok)
            )
    await staff.send("/review")
    await staff.reply()
    await staff.press("一支部")
    await staff.reply()
    await staff.press("核查完成")
    replies = await staff.wait_idle()
    assert "✅ 一支部 · 2/2" in replies[-1].text


async def test_todo_opens_the_missing_field_and_filling_it_closes_the_pending_R_SWEEP(
    branch_world,
):
    """Issue 8 item 3: “filling the missing field closes the 待完善 by itself”."""
    [member_id] = await branch_world.members("一支部", 1)
    await _set(
        branch_world,
        member_id,
        ethnicity="汉族",
        education="大专",
        last_org_life=date(2026, 11, 1),
        last_dues=date(2026, 11, 1),
    )  # only 联系电话 is missing
    campaign_id = await _campaign(branch_world)
    sec = branch_world.user(101)
    await sec.send("/sweep")
    await sec.reply()
    await sec.press("1 待完善")
    await sec.wait_idle()
    await sec.send("/todo")
    todo = await sec.reply()
    assert "待办1项" in todo.text
    await sec.press(1)  # the member's button
    view = await sec.reply()
    assert "✏️ 联系电话" in view.button_texts
    await sec.press("✏️ 联系电话")
    assert "联系电话" in (await sec.reply()).text
    await sec.send("13900006666")
    await sec.wait_idle()
    await sec.send("/todo")
    assert "待办0项" in (await sec.reply()).text
    async with branch_world.app.sessionmaker() as s:
        roster = (
            await s.scalars(
                select(SweepAnswer)
                .where(SweepAnswer.campaign_id == campaign_id, SweepAnswer.check_no == 1)
                .order_by(SweepAnswer.id)
            )
        ).all()
    assert [(a.answer, a.superseded_by_id is None) for a in roster] == [
        ("pending", False),
        ("ok", True),
    ]
    assert roster[-1].answered_by == 101  # closed by whoever filled the field
