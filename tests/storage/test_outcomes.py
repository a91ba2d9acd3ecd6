"""Closing a search on SQLite and PostgreSQL (R-EXHAUSTED, R-DOSSIER)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from domain.channels import ChannelGroup
from domain.errors import InvalidInput
from storage.db import write_tx
from storage.models import Organisation, SearchOutcome
from storage.services import members, mobile, outcomes, search
from storage.services.access import AccessDenied, Actor, Grant, Role
from tests.conftest import both_backends
from tests.factories import member_values

TODAY = date(2026, 11, 25)
UNREACHABLE = {
    "decided_on": TODAY,
    "lost_reason": "6",
    "occupation": "8",
    "org_category": "8",
    "is_pocket": False,
}


@pytest.fixture
async def setup(session):
    async with write_tx(session):
        committee = Organisation(name="示例党委", kind="committee")
        session.add(committee)
        await session.flush()
        branch = Organisation(name="一支部", kind="branch", parent_id=committee.id)
        session.add(branch)
        await session.flush()
    actor = Actor(5, (Grant(Role.SECRETARY, branch.id),))
    member = await members.add_member(
        session, actor, branch.id, member_values(1, last_org_life=date(2025, 1, 1))
    )
    return actor, member.id


async def _try(session, actor, member_id, *channels: str) -> None:
    for channel in channels:
        await search.log_attempt(
            session,
            actor,
            member_id,
            channel=channel,
            result="not_reached",
            attempted_on=TODAY,
            today=TODAY,
        )


@both_backends
async def test_unreachable_needs_groups_1_2_3_and_5_R_EXHAUSTED(session, setup):
    actor, member_id = setup
    await _try(session, actor, member_id, "phone", "relative", "hotline")
    status = await outcomes.exhaustion(session, actor, member_id, TODAY)
    assert status.missing == (ChannelGroup.DEPARTMENTS,)
    with pytest.raises(InvalidInput, match="部门协查"):
        await outcomes.record_unreachable(session, actor, member_id, UNREACHABLE, today=TODAY)
    await _try(session, actor, member_id, "police")
    outcome = await outcomes.record_unreachable(session, actor, member_id, UNREACHABLE, today=TODAY)
    assert outcome.kind == "unreachable"


@both_backends
async def test_a_recorded_reason_fills_a_group_and_a_pocket_member_needs_group_4_R_EXHAUSTED(
    session, setup
):
    actor, member_id = setup
    await members.update_fields(
        session,
        actor,
        member_id,
        {"transfer_letter_date": date(2026, 1, 5), "transfer_receiver": "某党委"},
    )
    await _try(session, actor, member_id, "phone", "friend", "origin_org")
    with pytest.raises(InvalidInput, match="请写明"):
        await outcomes.mark_impossible(session, actor, member_id, ChannelGroup.DEPARTMENTS, "无")
    await outcomes.mark_impossible(
        session, actor, member_id, ChannelGroup.DEPARTMENTS, "党委尚未协调到有关部门"
    )
    status = await outcomes.exhaustion(session, actor, member_id, TODAY)
    assert status.is_pocket and status.missing == (ChannelGroup.RECEIVER,)
    await _try(session, actor, member_id, "receiver")
    assert (await outcomes.exhaustion(session, actor, member_id, TODAY)).complete


@both_backends
async def test_a_new_outcome_supersedes_the_old_one_R_DOSSIER(session, setup):
    actor, member_id = setup
    found = {
        "decided_on": TODAY,
        "lost_reason": "1",
        "occupation": "3",
        "org_category": "3",
        "had_misconduct": False,
        "misconduct_check": "self",
        "attitude": "愿意",
        "is_pocket": False,
    }
    first = await outcomes.record_found(session, actor, member_id, found, today=TODAY)
    second = await outcomes.record_found(
        session, actor, member_id, {**found, "attitude": "积极"}, today=TODAY
    )
    rows = (await session.scalars(select(SearchOutcome).order_by(SearchOutcome.id))).all()
    assert [(r.id, r.superseded_by_id) for r in rows] == [(first.id, second.id), (second.id, None)]


@both_backends
async def test_outcomes_and_mobile_registration_respect_the_branch_R_ACL_BRANCH(session, setup):
    actor, member_id = setup
    stranger = Actor(6, (Grant(Role.SECRETARY, 999),))
    with pytest.raises(AccessDenied):
        await outcomes.mark_impossible(
            session, stranger, member_id, ChannelGroup.SELF, "无法联系本人原因"
        )
    with pytest.raises(AccessDenied):
        await mobile.register_mobile(
            session, stranger, member_id, {"destination": "外地"}, today=TODAY
        )
    record = await mobile.register_mobile(
        session,
        actor,
        member_id,
        {"destination": "深圳", "region": "X", "reason": "N", "transferred_in_campaign": False},
        today=TODAY,
    )
    again = await mobile.register_mobile(
        session,
        actor,
        member_id,
        {"destination": "广州", "region": "X", "reason": "N", "transferred_in_campaign": False},
        today=TODAY,
    )
    await session.refresh(record)
    assert record.ended_on == TODAY and again.ended_on is None
