"""The committee's review (核查) on SQLite and PostgreSQL: findings about one
member go into the member's dossier (R-DOSSIER), only for members of the
reviewed branch (R-ACL-BRANCH), and a send-back lists the open ones (R-SWEEP)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from domain.sweep import Answer, Check
from storage.models import AuditEvent, BranchReview
from storage.services import campaigns, members, sweep
from storage.services import review as reviews
from storage.services.access import AccessDenied, Actor, Grant, Role
from storage.services.dossier import dossier
from tests.conftest import both_backends
from tests.factories import member_values, org_tree


@pytest.fixture
async def scene(session):
    orgs = await org_tree(session, {"示例党委": ("一支部", "二支部"), "别的党委": ("远支部",)})
    committee, one, two, far = (orgs[n] for n in ("示例党委", "一支部", "二支部", "远支部"))
    staff = Actor(1, (Grant(Role.COMMITTEE, committee),))
    campaign = await campaigns.create_campaign(
        session, staff, committee, template="mobile_2023", name="排查", year=2026
    )
    sec_one = Actor(2, (Grant(Role.SECRETARY, one),))
    sec_two = Actor(3, (Grant(Role.SECRETARY, two),))
    sec_far = Actor(4, (Grant(Role.SECRETARY, far),))
    a = await members.add_member(session, sec_one, one, member_values(1))
    b = await members.add_member(session, sec_one, one, member_values(2))
    c = await members.add_member(session, sec_two, two, member_values(3))
    d = await members.add_member(session, sec_far, far, member_values(4))
    return {
        "campaign": campaign.id,
        "one": one,
        "two": two,
        "staff": staff,
        "sec_one": sec_one,
        "a": (a.id, a.name),
        "b": (b.id, b.name),
        "c": c.id,
        "d": d.id,
    }


async def _count(session, model) -> int:  # type: ignore[no-untyped-def]
    return await session.scalar(select(func.count()).select_from(model)) or 0


@both_backends
async def test_a_finding_about_a_member_is_in_their_dossier_R_DOSSIER(session, scene):
    staff, campaign, one = scene["staff"], scene["campaign"], scene["one"]
    a_id, a_name = scene["a"]
    done = await reviews.record_review(
        session, staff, campaign, one, kind="finding", text="党费记录缺2025年", member_id=a_id
    )
    assert done.row.member_id == a_id and done.row.kind == "finding"
    for reader in (staff, scene["sec_one"]):  # the committee and the branch both see it
        page = await dossier(session, reader, a_id)
        described = [(e.entity, e.action, e.new_value) for e, _who in page.events]
        assert ("review", "finding", "党费记录缺2025年") in described
    other = await dossier(session, staff, scene["b"][0])
    assert all(e.entity != "review" for e, _who in other.events)
    _branch, findings = await reviews.branch_findings(session, staff, campaign, one)
    assert [(f.member_name, f.text, f.open) for f in findings] == [
        (a_name, "党费记录缺2025年", True)
    ]


@both_backends
async def test_a_member_outside_the_reviewed_branch_is_refused_R_ACL_BRANCH(session, scene):
    staff, campaign, one, two = scene["staff"], scene["campaign"], scene["one"], scene["two"]
    events_before = await _count(session, AuditEvent)
    for branch_id, member_id in (
        (one, scene["c"]),  # a member of 二支部 under 一支部's review
        (one, scene["d"]),  # a member of another committee
        (two, scene["a"][0]),  # 一支部's member under 二支部's review
        (one, 999_999),  # no such member
    ):
        with pytest.raises(AccessDenied):
            await reviews.record_review(
                session, staff, campaign, branch_id, kind="finding", text="x", member_id=member_id
            )
        with pytest.raises(AccessDenied):
            await reviews.require_review_member(session, staff, campaign, branch_id, member_id)
    secretary = scene["sec_one"]  # a secretary is not the working group
    with pytest.raises(AccessDenied):
        await reviews.record_review(
            session, secretary, campaign, one, kind="finding", text="x", member_id=scene["a"][0]
        )
    assert await _count(session, BranchReview) == 0
    assert await _count(session, AuditEvent) == events_before


@both_backends
async def test_a_send_back_lists_the_open_member_findings_R_SWEEP(session, scene):
    staff, campaign, one = scene["staff"], scene["campaign"], scene["one"]
    (a_id, a_name), (b_id, b_name) = scene["a"], scene["b"]
    await reviews.record_review(session, staff, campaign, one, kind="finding", text="支部台账不全")
    await reviews.record_review(
        session, staff, campaign, one, kind="finding", text="档案缺转正申请书", member_id=b_id
    )
    await reviews.record_review(
        session, staff, campaign, one, kind="finding", text="联系电话有误", member_id=a_id
    )
    sent = await reviews.record_review(
        session, staff, campaign, one, kind="returned", text="请补齐后再报"
    )
    assert [(f.member_name, f.text) for f in sent.open_findings] == [
        (b_name, "档案缺转正申请书"),
        (a_name, "联系电话有误"),
    ]
    for member_id in (a_id, b_id):  # the branch corrects and completes its sweep
        await sweep.answer_checks(
            session, scene["sec_one"], campaign, member_id, dict.fromkeys(Check, Answer.ok)
        )
    await reviews.record_review(session, staff, campaign, one, kind="complete")
    again = await reviews.record_review(
        session, staff, campaign, one, kind="returned", text="复查发现新问题"
    )
    assert again.open_findings == []  # closed by 核查完成
    _branch, findings = await reviews.branch_findings(session, staff, campaign, one)
    assert [f.open for f in findings] == [False, False, False]
