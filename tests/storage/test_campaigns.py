"""Campaign services on SQLite and PostgreSQL: scope, edits, deadlines (R-ACL-BRANCH)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from domain.errors import InvalidInput
from domain.sweep import Answer, Check
from storage.db import write_tx
from storage.models import AuditEvent, Campaign, CampaignBranch, Organisation, SweepAnswer
from storage.services import campaigns, members, sweep
from storage.services.access import AccessDenied, Actor, Grant, Role
from tests.conftest import both_backends
from tests.factories import member_values


@pytest.fixture
async def orgs(session):
    async with write_tx(session):
        committee = Organisation(name="示例党委", kind="committee")
        other = Organisation(name="别的党委", kind="committee")
        session.add_all([committee, other])
        await session.flush()
        branch = Organisation(name="一支部", kind="branch", parent_id=committee.id)
        far = Organisation(name="远支部", kind="branch", parent_id=other.id)
        session.add_all([branch, far])
        await session.flush()
    return committee.id, branch.id, far.id


@both_backends
async def test_campaign_scope_and_who_sees_its_deadlines(session, orgs):
    committee, branch, far = orgs
    staff = Actor(1, (Grant(Role.COMMITTEE, committee),))
    campaign = await campaigns.create_campaign(
        session, staff, committee, template="mobile_2023", name="流动党员排查", year=2026
    )
    secretary = Actor(2, (Grant(Role.SECRETARY, branch),))
    outsider = Actor(3, (Grant(Role.SECRETARY, far),))
    due = await campaigns.deadlines(session, secretary, date(2026, 11, 25))
    assert due and all(d.campaign.id == campaign.id for d in due)
    assert await campaigns.deadlines(session, outsider, date(2026, 11, 25)) == []
    with pytest.raises(AccessDenied):
        await campaigns.campaign_detail(session, outsider, campaign.id)
    with pytest.raises(AccessDenied):
        await campaigns.create_campaign(
            session,
            staff,
            committee,
            template="mobile_2023",
            name="越界",
            year=2026,
            branch_ids=[far],
        )


@both_backends
async def test_edits_are_checked_against_the_plan_and_closing_freezes_it(session, orgs):
    committee, _branch, _far = orgs
    staff = Actor(1, (Grant(Role.COMMITTEE, committee),))
    campaign = await campaigns.create_campaign(
        session, staff, committee, template="dual_check", name="双查", year=2027
    )
    campaign_id = campaign.id
    _c, stages, _b = await campaigns.campaign_detail(session, staff, campaign_id)
    stage_id = stages[-1].id
    with pytest.raises(InvalidInput):
        await campaigns.move_stage(session, staff, stage_id, due=date(2028, 1, 1))
    added = await campaigns.add_stage(
        session, staff, campaign_id, title="补充材料", due=date(2027, 5, 10)
    )
    assert added.key == "extra1"
    await campaigns.remove_stage(session, staff, added.id)
    await campaigns.close_campaign(session, staff, campaign_id, datetime(2027, 8, 10, tzinfo=UTC))
    with pytest.raises(InvalidInput, match="已经结束"):
        await campaigns.add_stage(session, staff, campaign_id, title="再加", due=date(2027, 5, 11))
    with pytest.raises(InvalidInput):
        await campaigns.create_campaign(
            session, staff, committee, template="dual_check", name="", year=2027
        )


@pytest.fixture
async def two_branches(session, orgs):
    committee, branch, far = orgs
    async with write_tx(session):
        second = Organisation(name="二支部", kind="branch", parent_id=committee)
        session.add(second)
        await session.flush()
    return committee, branch, second.id, far


async def _scope(session, campaign_id: int) -> set[int]:
    rows = await session.scalars(
        select(CampaignBranch.branch_id).where(CampaignBranch.campaign_id == campaign_id)
    )
    return set(rows)


async def _scope_events(session, campaign_id: int) -> list[tuple[str | None, str | None]]:
    rows = await session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.entity == "campaign",
            AuditEvent.entity_id == campaign_id,
            AuditEvent.action == "scope",
        )
        .order_by(AuditEvent.id)
    )
    return [(e.old_value, e.new_value) for e in rows]


@both_backends
async def test_chosen_scope_is_saved_and_an_empty_one_is_refused_R_ACL_BRANCH(
    session, two_branches
):
    committee, one, two, far = two_branches
    staff = Actor(1, (Grant(Role.COMMITTEE, committee),))
    with pytest.raises(InvalidInput, match="至少选择一个党支部"):
        await campaigns.create_campaign(
            session, staff, committee, template="mobile_2023", name="空", year=2026, branch_ids=[]
        )
    assert (await session.scalars(select(Campaign))).all() == []
    campaign = await campaigns.create_campaign(
        session, staff, committee, template="mobile_2023", name="只一支部", year=2026,
        branch_ids=[one],
    )  # fmt: skip
    assert await _scope(session, campaign.id) == {one}
    assert await _scope_events(session, campaign.id) == [(None, str(one))]
    choices = await campaigns.scope_choices(session, staff, committee, [one, two])
    assert [b.id for b in choices] == [one, two]
    with pytest.raises(AccessDenied):
        await campaigns.scope_choices(session, staff, committee, [one, far])


@both_backends
async def test_scope_change_of_an_open_campaign_is_checked_and_audited_R_ACL_BRANCH(
    session, two_branches
):
    committee, one, two, far = two_branches
    staff = Actor(1, (Grant(Role.COMMITTEE, committee),))
    campaign = await campaigns.create_campaign(
        session, staff, committee, template="mobile_2023", name="排查", year=2026,
        branch_ids=[one],
    )  # fmt: skip
    campaign_id = campaign.id
    with pytest.raises(AccessDenied):  # a branch of another committee
        await campaigns.set_scope(session, staff, campaign_id, [one, far])
    with pytest.raises(InvalidInput, match="至少选择一个党支部"):
        await campaigns.set_scope(session, staff, campaign_id, [])
    outsider = Actor(9, (Grant(Role.SECRETARY, one),))
    with pytest.raises(AccessDenied):
        await campaigns.set_scope(session, outsider, campaign_id, [one, two])
    assert await _scope(session, campaign_id) == {one}
    added, removed = await campaigns.set_scope(session, staff, campaign_id, [one, two])
    assert (added, removed) == ({two}, set())
    added, removed = await campaigns.set_scope(session, staff, campaign_id, [two])
    assert (added, removed) == (set(), {one})  # no answers yet: no question asked
    assert await _scope(session, campaign_id) == {two}
    assert await _scope_events(session, campaign_id) == [
        (None, str(one)),
        (str(one), f"{one},{two}"),
        (f"{one},{two}", str(two)),
    ]
    await campaigns.close_campaign(session, staff, campaign_id, datetime(2026, 12, 31, tzinfo=UTC))
    with pytest.raises(InvalidInput, match="已经结束"):
        await campaigns.set_scope(session, staff, campaign_id, [one, two])


@both_backends
async def test_removing_a_branch_with_answers_asks_first_and_keeps_them_R_SWEEP(
    session, two_branches
):
    committee, one, two, _far = two_branches
    staff = Actor(1, (Grant(Role.COMMITTEE, committee),))
    secretary = Actor(2, (Grant(Role.SECRETARY, one),))
    campaign = await campaigns.create_campaign(
        session, staff, committee, template="mobile_2023", name="排查", year=2026
    )
    campaign_id = campaign.id
    member = await members.add_member(session, secretary, one, member_values(1))
    await sweep.answer_checks(
        session, secretary, campaign_id, member.id, dict.fromkeys(Check, Answer.ok)
    )
    with pytest.raises(campaigns.ConfirmRemoval) as asked:
        await campaigns.set_scope(session, staff, campaign_id, [two])
    assert asked.value.branches == [(one, "一支部")]
    assert await _scope(session, campaign_id) == {one, two}  # nothing changed yet
    await campaigns.set_scope(session, staff, campaign_id, [two], confirmed=True)
    assert await _scope(session, campaign_id) == {two}
    kept = await session.scalars(select(SweepAnswer).where(SweepAnswer.campaign_id == campaign_id))
    assert len(kept.all()) == 5
    await campaigns.set_scope(session, staff, campaign_id, [one, two])  # back in scope
    progress = await sweep.branch_progress(session, staff, campaign_id, one)
    assert (progress.checked, progress.in_scope) == (1, 1)
