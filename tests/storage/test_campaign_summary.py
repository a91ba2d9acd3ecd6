"""/summary's figures on SQLite and PostgreSQL (issue 15 item 6): counted by
SQL per branch from invented members, outcomes, attempts and sweep answers;
“lost now” in SQL agrees with domain.clocks.situation (R-LOST-6M, R-POCKET);
once every search ends 失联 = 取得联系 + 仍无法取得联系 (seed 001 附件7);
已处置 counts the members with a disposition done (SPEC §5); R-ACL-BRANCH on
both views."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.clocks import Standing
from domain.sweep import Check
from storage.db import write_tx
from storage.models import (
    ContactAttempt,
    Disposition,
    Member,
    MobileRecord,
    SearchOutcome,
    SweepAnswer,
)
from storage.services import campaign_summary, campaigns, submissions
from storage.services.access import AccessDenied, Actor, Grant, Role
from tests.conftest import both_backends
from tests.factories import member_values, org_tree

TODAY = date(2026, 11, 25)
RECENT = date(2026, 11, 1)
LONG_AGO = date(2025, 1, 1)


def _staff(ids) -> Actor:
    return Actor(201, (Grant(Role.COMMITTEE, ids["示例党委"]),))


def _secretary(ids, branch: str = "一支部") -> Actor:
    return Actor(101, (Grant(Role.SECRETARY, ids[branch]),))


async def _add(session, branch_id: int, i: int, **values) -> Member:
    member = Member(branch_id=branch_id, **member_values(i, **values))
    session.add(member)
    await session.flush()
    return member


def _outcome(member: Member, kind: str, **kw) -> SearchOutcome:
    return SearchOutcome(member_id=member.id, kind=kind, decided_on=date(2026, 11, 20), **kw)


@pytest.fixture
async def scene(session):
    """一支部: 1 normal and fully checked, 4 lost (not started, searching,
    reached, unreachable), 1 mobile, 1 pocket, 1 without dates; 二支部: 1 lost
    and 1 normal with five 待完善. The reached member's 纳入组织正常管理 is done
    (after a withdrawn 限期改正); the unreachable one's 停止党籍 is in procedure."""
    ids = await org_tree(session, {"示例党委": ("一支部", "二支部"), "别的党委": ("远支部",)})
    campaign = await campaigns.create_campaign(
        session,
        _staff(ids),
        ids["示例党委"],
        template="mobile_2023",
        name="流动党员排查",
        year=2026,
    )
    one, two = ids["一支部"], ids["二支部"]
    async with write_tx(session):
        normal = await _add(session, one, 0, last_org_life=RECENT, last_dues=RECENT)
        await _add(session, one, 1, last_org_life=LONG_AGO)  # lost, nothing logged yet
        searching = await _add(session, one, 2, last_dues=LONG_AGO)
        reached = await _add(session, one, 3, last_org_life=LONG_AGO)
        unreachable = await _add(session, one, 4, last_org_life=LONG_AGO)
        mobile = await _add(session, one, 5, last_org_life=LONG_AGO)
        await _add(session, one, 6, last_dues=LONG_AGO, transfer_letter_date=date(2026, 1, 5))
        await _add(session, one, 7)  # no dates: 待完善
        await _add(session, two, 8, last_org_life=LONG_AGO)
        pending = await _add(session, two, 9, last_org_life=RECENT)
        for member in (searching, reached, unreachable):
            session.add(
                ContactAttempt(
                    member_id=member.id,
                    channel="phone",
                    channel_group=1,
                    result="not_reached",
                    attempted_on=date(2026, 11, 10),
                )
            )
        # An earlier unreachable, superseded by the contact made later.
        session.add(_outcome(reached, "unreachable", superseded_by_id=999))
        session.add(_outcome(reached, "found"))
        session.add(_outcome(unreachable, "unreachable"))
        session.add(MobileRecord(member_id=mobile.id, registered_on=date(2025, 3, 1)))
        for member, outcome, status in (
            (reached, "correct", "withdrawn"),
            (reached, "normal", "done"),
            (unreachable, "suspend", "in_progress"),
        ):
            session.add(
                Disposition(
                    member_id=member.id,
                    outcome=outcome,
                    opened_on=date(2026, 11, 21),
                    status=status,
                    effective_on=date(2026, 11, 24) if status == "done" else None,
                )
            )
        for check in Check:
            for member, answer in ((normal, "ok"), (pending, "pending")):
                session.add(
                    SweepAnswer(
                        campaign_id=campaign.id,
                        member_id=member.id,
                        check_no=int(check),
                        answer=answer,
                    )
                )
    return ids, campaign


@both_backends
async def test_committee_figures_per_branch_by_sql(session, scene):
    ids, campaign = scene
    summary = await campaign_summary.committee_summary(
        session, _staff(ids), campaign.id, TODAY, pocket_days=90
    )
    assert [r.name for r in summary.rows] == ["一支部", "二支部"]  # most lost first
    one, two = summary.rows
    assert (one.members, one.checked, one.pending) == (8, 1, 0)
    assert (one.lost, one.reached, one.unreachable) == (4, 1, 1)
    # 已处置: only the disposition done (not the withdrawn one, not the one in procedure)
    assert (one.searching, one.not_started, one.settled) == (1, 1, 1)
    assert (two.members, two.checked, two.pending, two.lost) == (2, 1, 5, 1)
    assert (two.reached, two.unreachable, two.settled, two.not_started) == (0, 0, 0, 1)
    assert summary.total.members == 10 and summary.total.lost == 5
    assert summary.total.settled == 1 and summary.total.name == "合计"
    shown, left = summary.top(1)
    assert [r.name for r in shown] == ["一支部"] and left == 1


@both_backends
async def test_lost_now_in_sql_agrees_with_the_situations_R_LOST_6M(session, scene):
    ids, _campaign = scene
    summary = await campaign_summary.branch_summary(
        session, _secretary(ids), ids["一支部"], TODAY, pocket_days=90
    )
    s = summary.standings
    assert s[Standing.NORMAL] == 2  # the normal one and the member reached
    assert (s[Standing.LOST], s[Standing.MOBILE], s[Standing.POCKET]) == (3, 1, 1)
    assert s[Standing.UNKNOWN] == 1
    f = summary.figures
    # Lost now (SQL) = the lost standing (Python); the reached are lost no longer.
    assert f.lost - f.reached == s[Standing.LOST]
    assert f.lost == f.reached + f.unreachable + f.searching + f.not_started
    assert summary.campaign is not None and f.checked == 1


@both_backends
async def test_a_branch_sees_its_deadlines_with_the_submitted_marks(session, scene):
    ids, campaign = scene
    sec = _secretary(ids)
    before = await campaign_summary.branch_summary(session, sec, ids["一支部"], TODAY, 90)
    assert before.due, "the 2026 mobile campaign has a stage due after 11月25日"
    stage = next(d for d in before.due if d.own)
    item = stage.own[0].items[0]
    await submissions.mark(
        session, sec, item.id, ids["一支部"], now=datetime(2026, 11, 25, 2, tzinfo=UTC)
    )
    after = await campaign_summary.branch_summary(session, sec, ids["一支部"], TODAY, 90)
    marked = next(d for d in after.due if d.stage_id == stage.stage_id)
    assert marked.own[0].items[0].done is True
    assert all(d.campaign_id == campaign.id for d in after.due)


@both_backends
async def test_a_branch_outside_a_campaign_has_no_sweep_figures(session, scene):
    ids, _campaign = scene
    far = Actor(301, (Grant(Role.SECRETARY, ids["远支部"]),))
    summary = await campaign_summary.branch_summary(session, far, ids["远支部"], TODAY, 90)
    assert summary.campaign is None and summary.due == []
    assert summary.figures.members == 0 and summary.figures.checked == 0


@both_backends
async def test_only_own_branch_and_own_committee_R_ACL_BRANCH(session, scene):
    ids, campaign = scene
    with pytest.raises(AccessDenied):
        await campaign_summary.branch_summary(session, _secretary(ids), ids["二支部"], TODAY, 90)
    with pytest.raises(AccessDenied):
        await campaign_summary.committee_summary(session, _secretary(ids), campaign.id, TODAY, 90)
    stranger = Actor(401, (Grant(Role.COMMITTEE, ids["别的党委"]),))
    with pytest.raises(AccessDenied):
        await campaign_summary.committee_summary(session, stranger, campaign.id, TODAY, 90)
    # Committee staff read each branch of their committee.
    staff = await campaign_summary.branch_summary(session, _staff(ids), ids["二支部"], TODAY, 90)
    assert staff.figures.members == 2
