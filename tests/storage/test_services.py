"""Services against SQLite and PostgreSQL: permissions, invitations, members, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from domain.errors import InvalidInput
from storage.db import write_tx
from storage.models import AuditEvent, Organisation, RoleGrant
from storage.services import invitations, members
from storage.services.access import AccessDenied, Actor, Grant, Role, require_branch
from tests.conftest import both_backends
from tests.factories import member_values

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.fixture
async def tree(session):
    async with write_tx(session):
        committee = Organisation(name="示例党委", kind="committee")
        other_committee = Organisation(name="别的党委", kind="committee")
        session.add_all([committee, other_committee])
        await session.flush()
        one = Organisation(name="一支部", kind="branch", parent_id=committee.id)
        two = Organisation(name="二支部", kind="branch", parent_id=committee.id)
        far = Organisation(name="远支部", kind="branch", parent_id=other_committee.id)
        session.add_all([one, two, far])
        await session.flush()
    return {"committee": committee.id, "one": one.id, "two": two.id, "far": far.id}


def secretary(branch_id: int, user_id: int = 1) -> Actor:
    return Actor(user_id, (Grant(Role.SECRETARY, branch_id),))


def staff(committee_id: int, user_id: int = 2) -> Actor:
    return Actor(user_id, (Grant(Role.COMMITTEE, committee_id),))


@both_backends
async def test_secretary_reaches_only_their_branch_R_ACL_BRANCH(session, tree):
    actor = secretary(tree["one"])
    assert (await require_branch(session, actor, tree["one"], write=True)).id == tree["one"]
    for other in (tree["two"], tree["far"], 424242):
        with pytest.raises(AccessDenied):
            await require_branch(session, actor, other)


@both_backends
async def test_committee_reads_branches_under_it_and_writes_none_R_ACL_BRANCH(session, tree):
    actor = staff(tree["committee"])
    await require_branch(session, actor, tree["one"])
    await require_branch(session, actor, tree["two"])
    with pytest.raises(AccessDenied):
        await require_branch(session, actor, tree["far"])
    with pytest.raises(AccessDenied):
        await require_branch(session, actor, tree["one"], write=True)


@both_backends
async def test_member_outside_scope_is_denied_like_a_missing_one_R_ACL_BRANCH(session, tree):
    member = await members.add_member(
        session, secretary(tree["two"]), tree["two"], member_values(1)
    )
    for member_id in (member.id, 99999):
        with pytest.raises(AccessDenied):
            await members.get_member(session, secretary(tree["one"]), member_id)
        with pytest.raises(AccessDenied):
            await members.update_fields(
                session, secretary(tree["one"]), member_id, {"phone": "13900000000"}
            )


@both_backends
async def test_every_member_change_is_audited_with_old_and_new(session, tree):
    actor = secretary(tree["one"])
    member = await members.add_member(session, actor, tree["one"], member_values(3))
    await members.update_fields(
        session, actor, member.id, {"phone": "13900000003", "ethnicity": "汉族"}
    )
    await members.update_fields(session, actor, member.id, {"phone": "13900000004"})
    events = (
        await session.scalars(
            select(AuditEvent).where(AuditEvent.member_id == member.id).order_by(AuditEvent.id)
        )
    ).all()
    assert [(e.action, e.field, e.old_value, e.new_value) for e in events] == [
        ("create", None, None, None),
        ("update", "phone", None, "13900000003"),
        ("update", "ethnicity", None, "汉族"),
        ("update", "phone", "13900000003", "13900000004"),
    ]
    assert {e.actor_id for e in events} == {1}


@both_backends
async def test_an_id_number_is_registered_once_per_deployment(session, tree):
    values = member_values(4)
    await members.add_member(session, secretary(tree["one"]), tree["one"], values)
    with pytest.raises(InvalidInput, match="已经登记"):
        await members.add_member(
            session, secretary(tree["far"]), tree["far"], {**values, "name": "别名"}
        )


@both_backends
async def test_a_record_that_does_not_hold_together_is_refused(session, tree):
    values = member_values(5, birth="1960-01")  # the ID number says otherwise
    with pytest.raises(InvalidInput, match="不一致"):
        await members.add_member(session, secretary(tree["one"]), tree["one"], values)
    member = await members.add_member(
        session, secretary(tree["one"]), tree["one"], member_values(5)
    )
    with pytest.raises(InvalidInput, match="必须填写"):
        await members.update_fields(session, secretary(tree["one"]), member.id, {"name": None})


@both_backends
async def test_list_pages_and_search(session, tree):
    actor = secretary(tree["one"])
    for i in range(23):
        await members.add_member(session, actor, tree["one"], member_values(100 + i))
    page = await members.list_members(session, actor, tree["one"], page=2)
    assert (page.total, page.pages, page.page, len(page.members)) == (23, 3, 2, 3)
    first = (await members.list_members(session, actor, tree["one"])).members[0]
    found = await members.list_members(session, actor, tree["one"], query=first.name[1:])
    assert first.id in [m.id for m in found.members]


@both_backends
async def test_invitation_is_single_use_expires_and_is_audited(session, tree):
    actor = staff(tree["committee"])
    invitation = await invitations.create_invitation(
        session, actor=actor, org_id=tree["one"], role="secretary", now=NOW, days=7
    )
    org = await invitations.redeem(session, user_id=77, code=invitation.code.lower(), now=NOW)
    assert org.id == tree["one"]
    grant = await session.scalar(select(RoleGrant).where(RoleGrant.user_id == 77))
    assert (grant.role, grant.org_id) == ("secretary", tree["one"])
    with pytest.raises(InvalidInput, match="用过"):
        await invitations.redeem(session, user_id=78, code=invitation.code, now=NOW)
    late = await invitations.create_invitation(
        session, actor=actor, org_id=tree["two"], role="secretary", now=NOW, days=7
    )
    with pytest.raises(InvalidInput, match="过期"):
        await invitations.redeem(session, user_id=79, code=late.code, now=NOW + timedelta(days=8))
    with pytest.raises(InvalidInput, match="不对"):
        await invitations.redeem(session, user_id=79, code="NOPE", now=NOW)
    actions = (
        await session.scalars(
            select(AuditEvent.action).where(AuditEvent.entity.in_(["invitation", "role"]))
        )
    ).all()
    # Each refused code is kept: it counts towards the /join limit.
    assert sorted(actions) == [
        "create",
        "create",
        "grant",
        "join_failed",
        "join_failed",
        "join_failed",
        "redeem",
    ]


@both_backends
async def test_committee_cannot_invite_into_another_committee_or_invite_staff(session, tree):
    actor = staff(tree["committee"])
    with pytest.raises(AccessDenied):
        await invitations.create_invitation(
            session, actor=actor, org_id=tree["far"], role="secretary", now=NOW
        )
    with pytest.raises(AccessDenied):
        await invitations.create_invitation(
            session, actor=actor, org_id=tree["committee"], role="committee", now=NOW
        )
