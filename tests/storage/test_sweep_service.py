"""Sweep answers on SQLite and PostgreSQL (R-SWEEP, R-DOSSIER, R-ACL-BRANCH)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from domain.errors import InvalidInput
from domain.sweep import Answer, Check
from storage.db import write_tx
from storage.models import Organisation, SweepAnswer
from storage.services import campaigns, members, sweep
from storage.services.access import AccessDenied, Actor, Grant, Role
from tests.conftest import both_backends
from tests.factories import member_values


@pytest.fixture
async def scene(session):
    async with write_tx(session):
        committee = Organisation(name="示例党委", kind="committee")
        session.add(committee)
        await session.flush()
        one = Organisation(name="一支部", kind="branch", parent_id=committee.id)
        two = Organisation(name="二支部", kind="branch", parent_id=committee.id)
        session.add_all([one, two])
        await session.flush()
    staff = Actor(1, (Grant(Role.COMMITTEE, committee.id),))
    campaign = await campaigns.create_campaign(
        session,
        staff,
        committee.id,
        template="mobile_2023",
        name="排查",
        year=2026,
        branch_ids=[one.id],
    )
    sec_one = Actor(2, (Grant(Role.SECRETARY, one.id),))
    sec_two = Actor(3, (Grant(Role.SECRETARY, two.id),))
    a = await members.add_member(session, sec_one, one.id, member_values(1))
    b = await members.add_member(session, sec_one, one.id, member_values(2))
    c = await members.add_member(session, sec_two, two.id, member_values(3))
    return campaign.id, one.id, sec_one, sec_two, a.id, b.id, c.id


@both_backends
async def test_sweep_is_complete_only_when_every_member_has_five_answers_R_SWEEP(session, scene):
    campaign_id, one, sec_one, _sec_two, a, b, _c = scene
    await sweep.answer_checks(session, sec_one, campaign_id, a, dict.fromkeys(Check, Answer.ok))
    progress = await sweep.branch_progress(session, sec_one, campaign_id, one)
    assert (progress.checked, progress.in_scope, progress.complete) == (1, 2, False)
    await sweep.answer_checks(
        session, sec_one, campaign_id, b, {c: Answer.ok for c in Check if c != Check.file}
    )
    await sweep.answer_checks(session, sec_one, campaign_id, b, {Check.file: Answer.pending})
    progress = await sweep.branch_progress(session, sec_one, campaign_id, one)
    assert progress.complete and progress.pending == 1
    assert await sweep.next_member(session, sec_one, campaign_id, one) is None


@both_backends
async def test_a_member_outside_the_campaign_or_branch_is_refused_R_SWEEP_R_ACL_BRANCH(
    session, scene
):
    campaign_id, _one, sec_one, sec_two, a, _b, c = scene
    with pytest.raises(InvalidInput, match="不在本次排查范围"):
        await sweep.answer_checks(session, sec_two, campaign_id, c, {Check.roster: Answer.ok})
    with pytest.raises(AccessDenied):
        await sweep.answer_checks(session, sec_two, campaign_id, a, {Check.roster: Answer.ok})
    with pytest.raises(InvalidInput, match="写明问题"):
        await sweep.answer_checks(session, sec_one, campaign_id, a, {Check.conduct: Answer.problem})


@both_backends
async def test_changing_an_answer_keeps_the_old_one_R_DOSSIER(session, scene):
    campaign_id, _one, sec_one, _sec_two, a, _b, _c = scene
    await sweep.answer_checks(session, sec_one, campaign_id, a, {Check.file: Answer.pending})
    await sweep.answer_checks(
        session, sec_one, campaign_id, a, {Check.file: Answer.problem}, note="缺转正申请书"
    )
    rows = (await session.scalars(select(SweepAnswer).order_by(SweepAnswer.id))).all()
    assert [(r.answer, r.superseded_by_id is None) for r in rows] == [
        ("pending", False),
        ("problem", True),
    ]
    view = await sweep.member_sweep(session, sec_one, campaign_id, a, date(2026, 11, 25))
    assert view.answers == {Check.file: Answer.problem}


@both_backends
async def test_committee_progress_counts_per_branch_with_sql_aggregates(session, scene):
    campaign_id, one, sec_one, _sec_two, a, b, _c = scene
    await sweep.answer_checks(session, sec_one, campaign_id, a, dict.fromkeys(Check, Answer.ok))
    await sweep.answer_checks(session, sec_one, campaign_id, b, {Check.file: Answer.pending})
    await sweep.answer_checks(
        session, sec_one, campaign_id, b, {Check.conduct: Answer.problem}, note="待核实"
    )
    committee = (await session.get(Organisation, one)).parent_id
    staff = Actor(1, (Grant(Role.COMMITTEE, committee),))
    _campaign, rows = await sweep.committee_progress(session, staff, campaign_id)
    assert [(r.name, r.members, r.checked, r.pending, r.problems) for r in rows] == [
        ("一支部", 2, 1, 1, 1)
    ]
    with pytest.raises(AccessDenied):
        await sweep.committee_progress(session, sec_one, campaign_id)
