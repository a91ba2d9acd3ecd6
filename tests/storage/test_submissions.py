"""What is due, and by whom, on SQLite and PostgreSQL (issue 14 points 3–4):
items created from the templates, 已报送 marks and undo with permissions
(R-ACL-BRANCH), and the reminders and escalations owed day by day (R-REMIND).
Days are parameters: nothing sleeps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from domain.errors import InvalidInput
from storage.db import write_tx
from storage.models import AuditEvent, ItemSubmission, StageItem, User
from storage.services import campaigns, submissions
from storage.services.access import AccessDenied, Actor, Grant, Role
from storage.services.users import grant_role
from tests.conftest import both_backends
from tests.factories import org_tree

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.fixture
async def world(session):
    ids = await org_tree(
        session, {"示例党委": ("一支部", "二支部", "三支部"), "别的党委": ("远支部",)}
    )
    async with write_tx(session):
        for user, role, org in (
            (101, Role.SECRETARY, "一支部"),
            (102, Role.SECRETARY, "二支部"),
            (103, Role.SECRETARY, "三支部"),
            (104, Role.SECRETARY, "一支部"),  # a second secretary (支委) of 一支部
            (201, Role.COMMITTEE, "示例党委"),
            (202, Role.COMMITTEE, "示例党委"),
            (301, Role.SECRETARY, "远支部"),
            (401, Role.COMMITTEE, "别的党委"),
        ):
            await grant_role(session, user_id=user, role=role, org_id=ids[org], granted_by=None)
    return ids


def staff(ids, user: int = 201) -> Actor:
    return Actor(user, (Grant(Role.COMMITTEE, ids["示例党委"]),))


def secretary(ids, user: int, branch: str) -> Actor:
    return Actor(user, (Grant(Role.SECRETARY, ids[branch]),))


async def _mobile_campaign(session, ids, **kw):
    """流动党员 2023 in 2026: 报告工作情况 due 12月15日, three items per branch."""
    return await campaigns.create_campaign(
        session,
        staff(ids),
        ids["示例党委"],
        template="mobile_2023",
        name="流动党员排查",
        year=2026,
        **kw,
    )


async def _stage(session, ids, actor, key_title: str, today=date(2026, 11, 25)):
    rows = await submissions.deadlines(session, actor, today)
    return next(d for d in rows if d.title == key_title)


@both_backends
async def test_items_are_created_from_the_template_and_internal_stages_owe_none(session, world):
    campaign = await campaigns.create_campaign(
        session, staff(world), world["示例党委"], template="school_2016", name="学校排查", year=2027
    )
    _c, stages, _b = await campaigns.campaign_detail(session, staff(world), campaign.id)
    by_key = {s.key: s for s in stages}
    items = (await session.scalars(select(StageItem).order_by(StageItem.id))).all()
    per_stage = {}
    for item in items:
        per_stage.setdefault(item.stage_id, []).append(item)
    registers = per_stage[by_key["registers"].id]
    assert [i.form for i in registers] == [
        "found_register",
        "unreachable_register",
        "mobile_register",
        "pocket_register",
    ]
    assert [i.position for i in registers] == [0, 1, 2, 3]
    assert by_key["launch"].id not in per_stage and by_key["close"].id not in per_stage
    # A stage added by hand owes one item named as the stage.
    added = await campaigns.add_stage(
        session, staff(world), campaign.id, title="补充材料", due=date(2027, 5, 10)
    )
    extra = (await session.scalars(select(StageItem).where(StageItem.stage_id == added.id))).all()
    assert [(i.title, i.form) for i in extra] == [("补充材料", None)]


@both_backends
async def test_secretary_marks_own_branch_and_staff_mark_or_undo_for_it_R_ACL_BRANCH(
    session, world
):
    await _mobile_campaign(session, world)
    one = secretary(world, 101, "一支部")
    due = await _stage(session, world, one, "报告工作情况")
    (own,) = due.own
    assert own.org_name == "一支部" and len(own.missing) == 3 and due.branches is None
    item = own.items[1].id
    assert await submissions.mark(session, one, item, world["一支部"], now=NOW)
    assert not await submissions.mark(session, one, item, world["一支部"], now=NOW)  # double tap
    # Not for another branch, not for a branch of another committee.
    with pytest.raises(AccessDenied):
        await submissions.mark(session, one, item, world["二支部"], now=NOW)
    with pytest.raises(AccessDenied):
        await submissions.mark(session, staff(world), item, world["远支部"], now=NOW)
    with pytest.raises(AccessDenied):
        await submissions.mark(
            session,
            Actor(401, (Grant(Role.COMMITTEE, world["别的党委"]),)),
            item,
            world["一支部"],
            now=NOW,
        )
    # Staff see who has not submitted, and undo or mark for a branch.
    view = await _stage(session, world, staff(world), "报告工作情况")
    assert view.own == () and len(view.branches) == 3
    assert {b.org_name: len(b.missing) for b in view.missing_branches} == {
        "一支部": 2,
        "二支部": 3,
        "三支部": 3,
    }
    assert await submissions.undo(session, staff(world), item, world["一支部"], now=NOW)
    assert not await submissions.undo(session, staff(world), item, world["一支部"], now=NOW)
    assert await submissions.mark(session, staff(world), item, world["二支部"], now=NOW)
    missing = await submissions.missing_by_org(session, staff(world), due.stage_id)
    assert len(missing[world["一支部"]]) == 3 and len(missing[world["二支部"]]) == 2
    with pytest.raises(AccessDenied):
        await submissions.missing_by_org(session, one, due.stage_id)
    # Every mark and undo is kept: three rows, one undone; four audit events.
    rows = (await session.scalars(select(ItemSubmission).order_by(ItemSubmission.id))).all()
    assert [(r.org_id, r.undone_by) for r in rows] == [
        (world["一支部"], 201),
        (world["二支部"], None),
    ]
    events = (
        await session.scalars(
            select(AuditEvent).where(AuditEvent.entity == "stage_item").order_by(AuditEvent.id)
        )
    ).all()
    assert [(e.action, e.actor_id) for e in events] == [("mark", 101), ("undo", 201), ("mark", 201)]


@both_backends
async def test_upward_items_are_the_committees_and_closing_freezes_marks(session, world):
    campaign = await campaigns.create_campaign(
        session, staff(world), world["示例党委"], template="city_2016", name="市直排查", year=2027
    )
    view = await _stage(session, world, staff(world), "分析总结", today=date(2027, 6, 1))
    (own,) = view.own
    assert own.org_id == world["示例党委"] and view.branches is None
    one = secretary(world, 101, "一支部")
    assert (await _stage(session, world, one, "分析总结", today=date(2027, 6, 1))).own == ()
    with pytest.raises(AccessDenied):
        await submissions.mark(session, one, own.items[0].id, world["示例党委"], now=NOW)
    with pytest.raises(AccessDenied):  # upward items are the committee's, not a branch's
        await submissions.mark(session, staff(world), own.items[0].id, world["一支部"], now=NOW)
    assert await submissions.mark(
        session, staff(world), own.items[0].id, world["示例党委"], now=NOW
    )
    await campaigns.close_campaign(session, staff(world), campaign.id, NOW)
    with pytest.raises(InvalidInput, match="已经结束"):
        await submissions.undo(session, staff(world), own.items[0].id, world["示例党委"], now=NOW)


@both_backends
async def test_removing_a_stage_removes_its_items_and_marks_and_audits_it(session, world):
    await _mobile_campaign(session, world)
    one = secretary(world, 101, "一支部")
    due = await _stage(session, world, one, "报告工作情况")
    await submissions.mark(session, one, due.own[0].items[0].id, world["一支部"], now=NOW)
    await campaigns.remove_stage(session, staff(world), due.stage_id)
    assert (
        await session.scalar(
            select(func.count()).select_from(StageItem).where(StageItem.stage_id == due.stage_id)
        )
        == 0
    )
    assert await session.scalar(select(func.count()).select_from(ItemSubmission)) == 0
    removed = await session.scalar(
        select(AuditEvent).where(AuditEvent.entity == "stage", AuditEvent.action == "remove")
    )
    assert removed.entity_id == due.stage_id and removed.new_value == "1"


async def _reminders(session, day):
    return {
        (r.recipient, r.offset_days, r.days_left, len(r.items))
        for r in await submissions.due_reminders(session, today=day)
    }


@both_backends
async def test_reminders_7_3_1_and_0_days_before_to_who_has_not_marked_R_REMIND(session, world):
    await _mobile_campaign(session, world)  # 报告工作情况 due 2026-12-15
    due = date(2026, 12, 15)
    owed = {}
    day = date(2026, 12, 1)
    while day <= date(2026, 12, 17):
        for r in await submissions.due_reminders(session, today=day):
            owed.setdefault((r.recipient, r.offset_days), day)
        day += timedelta(days=1)
    secretaries = {101, 102, 103, 104}
    assert {key[0] for key in owed} == secretaries  # staff owe no branch item; 301 not in scope
    for user in secretaries:
        assert [owed[(user, o)] for o in (7, 3, 1, 0)] == [
            due - timedelta(days=7),
            due - timedelta(days=3),
            due - timedelta(days=1),
            due,
        ]
    # The subject is per stage and branch; the items are the branch's missing ones.
    (r,) = [
        r
        for r in await submissions.due_reminders(session, today=date(2026, 12, 8))
        if r.recipient == 101
    ]
    assert r.subject == f"stage:{r.stage_id}:org:{world['一支部']}"
    assert r.org_name == "一支部" and len(r.items) == len(r.item_ids) == 3
    assert (r.due, r.days_left, r.campaign_name) == (due, 7, "流动党员排查")


@both_backends
async def test_marked_items_blocked_users_and_closed_campaigns_get_no_reminder_R_REMIND(
    session, world
):
    campaign = await _mobile_campaign(session, world)
    day = date(2026, 12, 12)  # three days before
    one = secretary(world, 101, "一支部")
    due = await _stage(session, world, one, "报告工作情况", today=day)
    for item in due.own[0].items[:2]:
        await submissions.mark(session, one, item.id, world["一支部"], now=NOW)
    assert (101, 3, 3, 1) in await _reminders(session, day)  # one item left to mark
    await submissions.mark(session, one, due.own[0].items[2].id, world["一支部"], now=NOW)
    assert {r[0] for r in await _reminders(session, day)} == {102, 103}
    async with write_tx(session):
        (await session.get(User, 102)).blocked_at = NOW
    assert {r[0] for r in await _reminders(session, day)} == {103}
    await campaigns.close_campaign(session, staff(world), campaign.id, NOW)
    assert await _reminders(session, day) == set()


@both_backends
async def test_offsets_per_campaign_and_catch_up_after_downtime_R_REMIND(session, world):
    campaign = await _mobile_campaign(session, world, branch_ids=[world["一支部"]])
    # Down from the 7-day morning until 5 days before: one reminder, offset 7, "5 days".
    assert await _reminders(session, date(2026, 12, 10)) == {(101, 7, 5, 3), (104, 7, 5, 3)}
    assert await _reminders(session, date(2026, 12, 16)) == set()  # passed: nothing stale
    assert await campaigns.set_offsets(session, staff(world), campaign.id, "14 2") == (14, 2)
    assert await _reminders(session, date(2026, 12, 1)) == {(101, 14, 14, 3), (104, 14, 14, 3)}
    # 0 is no longer an offset: on the day the owed one is still offset 2's,
    # already in the ledger since 13 December, so nothing new goes out.
    assert await _reminders(session, date(2026, 12, 13)) == {(101, 2, 2, 3), (104, 2, 2, 3)}
    assert {r[1] for r in await _reminders(session, date(2026, 12, 15))} == {2}
    with pytest.raises(InvalidInput):
        await campaigns.set_offsets(session, staff(world), campaign.id, "明天")
    with pytest.raises(AccessDenied):
        await campaigns.set_offsets(session, secretary(world, 101, "一支部"), campaign.id, "1")


@both_backends
async def test_upward_items_remind_committee_staff_R_REMIND(session, world):
    await campaigns.create_campaign(
        session, staff(world), world["示例党委"], template="city_2016", name="市直排查", year=2027
    )
    # 登记造册、党员信息库 due 2027-03-20, owed by the committee.
    got = await submissions.due_reminders(session, today=date(2027, 3, 19))
    assert {(r.recipient, r.org_id, r.offset_days, r.stage_title) for r in got} == {
        (201, world["示例党委"], 1, "登记造册、党员信息库"),
        (202, world["示例党委"], 1, "登记造册、党员信息库"),
    }
    assert got[0].subject.endswith(f":org:{world['示例党委']}")


@both_backends
async def test_escalation_three_days_before_and_the_day_after_lists_missing_branches_R_REMIND(
    session, world
):
    await _mobile_campaign(session, world)
    assert await submissions.due_escalations(session, today=date(2026, 12, 11)) == []
    before = await submissions.due_escalations(session, today=date(2026, 12, 12))
    assert {(e.recipient, e.offset_days, e.days_left) for e in before} == {
        (201, 3, 3),
        (202, 3, 3),
    }
    e = before[0]
    assert set(e.branches) == {"一支部", "二支部", "三支部"}
    assert e.total == 3 and e.subject == f"stage:{e.stage_id}:committee:{world['示例党委']}"
    # Two branches submit everything; the day after the deadline lists the third.
    for branch, user in (("一支部", 101), ("二支部", 102)):
        who = secretary(world, user, branch)
        due = await _stage(session, world, who, "报告工作情况", today=date(2026, 12, 12))
        for item in due.own[0].items:
            await submissions.mark(session, who, item.id, world[branch], now=NOW)
    assert await submissions.due_escalations(session, today=date(2026, 12, 15))  # caught up
    after = await submissions.due_escalations(session, today=date(2026, 12, 16))
    assert {(x.offset_days, x.days_left, x.branches, x.missing_items) for x in after} == {
        (-1, -1, ("三支部",), (3,))
    }
    assert await submissions.due_escalations(session, today=date(2026, 12, 17)) == []
    who = secretary(world, 103, "三支部")
    due = await _stage(session, world, who, "报告工作情况", today=date(2026, 12, 12))
    for item in due.own[0].items:
        await submissions.mark(session, who, item.id, world["三支部"], now=NOW)
    assert await submissions.due_escalations(session, today=date(2026, 12, 16)) == []
