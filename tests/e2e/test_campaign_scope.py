"""Which branches a campaign covers (排查范围; issue “The first sweep”, item 1):
chosen when starting, changed while open, every change audited, forged branch
ids refused (R-ACL-BRANCH), sweep answers kept when a branch leaves (R-SWEEP)."""

from __future__ import annotations

from sqlalchemy import select

from domain.sweep import Answer, Check
from handlers.campaigns import CampaignAct
from storage.models import AuditEvent, Campaign, CampaignBranch, SweepAnswer
from storage.services import campaigns, sweep
from storage.services.access import Actor, Grant, Role


async def _to_scope_step(staff) -> None:  # type: ignore[no-untyped-def]
    await staff.send("/campaign")
    await staff.reply()
    await staff.press("新建排查")
    await staff.reply()
    await staff.press("流动党员 2023（2026）")
    await staff.reply()
    await staff.press("用默认")


async def _scope(world) -> dict[int, set[str]]:  # type: ignore[no-untyped-def]
    names = {v: k for k, v in world.orgs.items()}
    async with world.app.sessionmaker() as s:
        rows = (await s.scalars(select(CampaignBranch))).all()
    scope: dict[int, set[str]] = {}
    for row in rows:
        scope.setdefault(row.campaign_id, set()).add(names[row.branch_id])
    return scope


async def _scope_events(world) -> list[tuple[str | None, str | None]]:  # type: ignore[no-untyped-def]
    async with world.app.sessionmaker() as s:
        rows = await s.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity == "campaign", AuditEvent.action == "scope")
            .order_by(AuditEvent.id)
        )
        return [(e.old_value, e.new_value) for e in rows]


async def test_all_branches_are_ticked_and_one_can_be_left_out(branch_world):
    staff = branch_world.user(201)
    await _to_scope_step(staff)
    picker = await staff.reply()
    assert "已选2/2个党支部" in picker.text
    assert {"✅ 一支部", "✅ 二支部", "全选", "全不选"} <= set(picker.button_texts)
    await staff.press("二支部")
    edited = await staff.reply()
    assert "已选1/2个党支部" in edited.text and "▫️ 二支部" in edited.button_texts
    await staff.press("确定")
    created, detail = await staff.replies(2)
    assert "已创建" in created.text and "1个党支部" in detail.text and "二支部" not in detail.text
    assert list((await _scope(branch_world)).values()) == [{"一支部"}]
    one = str(branch_world.orgs["一支部"])
    assert await _scope_events(branch_world) == [(None, one)]
    outside = branch_world.user(102)  # 二支部 is not in scope: no deadlines for them
    await outside.send("/deadlines")
    assert "目前没有待办" in (await outside.reply()).text
    inside = branch_world.user(101)
    await inside.send("/deadlines")
    assert "12月15日" in (await inside.reply()).text


async def test_an_empty_choice_is_refused_and_nothing_is_saved(branch_world):
    staff = branch_world.user(201)
    await _to_scope_step(staff)
    await staff.reply()
    await staff.press("全不选")
    assert "已选0/2个党支部" in (await staff.reply()).text
    refused = await staff.press("确定")
    answer = await staff.callback_answer(refused)
    assert "请至少选择一个党支部" in answer.text and answer.show_alert
    async with branch_world.app.sessionmaker() as s:
        assert (await s.scalars(select(Campaign))).all() == []
    await staff.press("全选")
    assert "已选2/2个党支部" in (await staff.reply()).text
    await staff.press("确定")
    created, detail = await staff.replies(2)
    assert "已创建" in created.text and "2个党支部" in detail.text


async def test_a_committee_with_one_branch_skips_the_step(world):
    await world.org("单支部党委", "committee")
    await world.org("唯一支部", "branch", "单支部党委")
    await world.grant(301, Role.COMMITTEE, "单支部党委")
    staff = world.user(301)
    await _to_scope_step(staff)
    created, detail = await staff.replies(2)
    assert "已创建" in created.text and "1个党支部" in detail.text
    assert list((await _scope(world)).values()) == [{"唯一支部"}]


async def test_forged_branch_outside_the_committee_is_refused_R_ACL_BRANCH(branch_world):
    await branch_world.org("别的党委", "committee")
    far = await branch_world.org("别的支部", "branch", "别的党委")
    staff = branch_world.user(201)
    await _to_scope_step(staff)
    await staff.reply()
    forged = await staff.press_data(CampaignAct(op="tick", id=far).pack())
    assert (await staff.callback_answer(forged)).text == "无权限"
    await staff.press("确定")
    await staff.replies(2)
    assert list((await _scope(branch_world)).values()) == [{"一支部", "二支部"}]
    # the same from an open campaign's view
    await staff.press("调整范围")
    await staff.reply()
    forged = await staff.press_data(CampaignAct(op="tick", id=far).pack())
    assert (await staff.callback_answer(forged)).text == "无权限"
    await staff.press("确定")
    assert "范围没有变化" in (await staff.reply()).text
    assert list((await _scope(branch_world)).values()) == [{"一支部", "二支部"}]


async def test_the_scope_of_an_open_campaign_changes_from_its_view_and_is_audited(branch_world):
    staff = branch_world.user(201)
    await _to_scope_step(staff)
    await staff.reply()
    await staff.press("二支部")
    await staff.reply()
    await staff.press("确定")
    await staff.replies(2)
    await staff.send("/campaign")
    await staff.reply()
    await staff.press("流动党员")
    await staff.reply()
    await staff.press("调整范围")
    picker = await staff.reply()
    assert "调整排查范围" in picker.text and "▫️ 二支部" in picker.button_texts
    await staff.press("二支部")
    await staff.reply()
    await staff.press("确定")
    done, detail = await staff.replies(2)
    assert "加入1个，移出0个" in done.text and "2个党支部" in detail.text
    assert list((await _scope(branch_world)).values()) == [{"一支部", "二支部"}]
    one, two = branch_world.orgs["一支部"], branch_world.orgs["二支部"]
    assert await _scope_events(branch_world) == [(None, str(one)), (str(one), f"{one},{two}")]


async def test_removing_a_branch_with_answers_asks_first_and_keeps_them_R_SWEEP(branch_world):
    (member_id,) = await branch_world.members("一支部", 1)
    committee = branch_world.orgs["示例党委"]
    async with branch_world.app.sessionmaker() as s:
        campaign = await campaigns.create_campaign(
            s,
            Actor(201, (Grant(Role.COMMITTEE, committee),)),
            committee,
            template="mobile_2023",
            name="流动党员排查",
            year=2026,
        )
        secretary = Actor(101, (Grant(Role.SECRETARY, branch_world.orgs["一支部"]),))
        await sweep.answer_checks(
            s, secretary, campaign.id, member_id, dict.fromkeys(Check, Answer.ok)
        )
    staff = branch_world.user(201)
    await staff.send("/campaign")
    await staff.reply()
    await staff.press("流动党员排查")
    await staff.reply()
    await staff.press("调整范围")
    await staff.reply()
    await staff.press("一支部")
    await staff.reply()
    await staff.press("确定")
    asked = await staff.reply()
    assert "一支部已有五核查记录" in asked.text and "确定移出" in asked.button_texts
    assert (await _scope(branch_world))[campaign.id] == {"一支部", "二支部"}
    await staff.press("确定移出")
    done, detail = await staff.replies(2)
    assert "移出1个" in done.text and "1个党支部" in detail.text
    assert (await _scope(branch_world))[campaign.id] == {"二支部"}
    async with branch_world.app.sessionmaker() as s:
        kept = (await s.scalars(select(SweepAnswer))).all()
    assert len(kept) == 5
    assert len(await _scope_events(branch_world)) == 2  # the creation and the removal
