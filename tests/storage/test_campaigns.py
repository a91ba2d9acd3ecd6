"""Campaign services on SQLite and PostgreSQL: scope, edits, deadlines (R-ACL-BRANCH)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.errors import InvalidInput
from storage.db import write_tx
from storage.models import Organisation
from storage.services import campaigns
from storage.services.access import AccessDenied, Actor, Grant, Role
from tests.conftest import both_backends


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
