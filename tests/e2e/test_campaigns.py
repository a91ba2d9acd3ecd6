"""Campaigns from the notices' templates and the deadlines everyone sees (issue 8, item 1)."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Campaign, CampaignBranch, CampaignStage


async def test_committee_starts_a_campaign_from_each_template(branch_world):
    staff = branch_world.user(201)
    for label in (
        "学校 2016（2027）",
        "市直机关 2016（2027）",
        "流动党员 2023（2026）",
        "全市 双查（2027）",
    ):
        await staff.send("/campaign")
        await staff.reply()
        await staff.press("新建排查")
        await staff.reply()
        await staff.press(label)
        await staff.reply()
        await staff.press("用默认")
        await staff.reply()
        await staff.press("确定")  # every branch ticked by default: one tap keeps them
        created, detail = await staff.replies(2)
        assert "已创建" in created.text and "2个党支部" in detail.text
    async with branch_world.app.sessionmaker() as s:
        campaigns = (await s.scalars(select(Campaign))).all()
        scope = (await s.scalars(select(CampaignBranch))).all()
        stages = (await s.scalars(select(CampaignStage))).all()
    assert len(campaigns) == 4 and len(scope) == 8 and len(stages) >= 12


async def test_move_a_stage_refuses_a_date_outside_the_campaign(branch_world):
    staff = branch_world.user(201)
    await staff.send("/campaign")
    await staff.reply()
    await staff.press("新建排查")
    await staff.reply()
    await staff.press("流动党员 2023（2026）")
    await staff.reply()
    await staff.send("2026年流动党员排查")
    await staff.reply()
    await staff.press("确定")
    await staff.replies(2)
    await staff.press("1. 改日期")
    await staff.reply()
    await staff.send("2027-06-01")
    assert "请重新输入" in (await staff.reply()).text
    await staff.send("2026-12-14")
    moved = await staff.reply()
    assert "12月14日" in moved.text


async def test_secretary_sees_deadlines_with_days_left_but_cannot_start_campaigns(branch_world):
    staff = branch_world.user(201)
    await staff.send("/campaign")
    await staff.reply()
    await staff.press("新建排查")
    await staff.reply()
    await staff.press("流动党员 2023（2026）")
    await staff.reply()
    await staff.press("用默认")
    await staff.reply()
    await staff.press("确定")
    await staff.replies(2)
    sec = branch_world.user(101)
    await sec.send("/deadlines")
    text = (await sec.reply()).text
    assert "12月15日" in text and "还有20天" in text
    await sec.send("/campaign")
    assert "进行中的排查" not in (await sec.reply()).text
