"""The search services on SQLite and PostgreSQL: meetings, attempts,
corrections (R-DOSSIER), evidence, situations (R-LOST-6M, R-POCKET, R-MOBILE-6M)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from domain.clocks import Standing
from domain.errors import InvalidInput
from storage.db import write_tx
from storage.models import (
    AuditEvent,
    ContactAttempt,
    Member,
    MobileRecord,
    Organisation,
    SearchOutcome,
)
from storage.services import members, search
from storage.services.access import AccessDenied, Actor, Grant, Role
from storage.services.dossier import dossier
from storage.services.situations import branch_situations, longest_first
from tests.conftest import both_backends
from tests.factories import member_values

TODAY = date(2026, 11, 25)


@pytest.fixture
async def branch(session):
    async with write_tx(session):
        committee = Organisation(name="示例党委", kind="committee")
        session.add(committee)
        await session.flush()
        one = Organisation(name="一支部", kind="branch", parent_id=committee.id)
        two = Organisation(name="二支部", kind="branch", parent_id=committee.id)
        session.add_all([one, two])
        await session.flush()
    return one.id, two.id


def sec(branch_id: int) -> Actor:
    return Actor(7, (Grant(Role.SECRETARY, branch_id),))


async def _member(session, branch_id: int, i: int, **extra) -> Member:
    return await members.add_member(session, sec(branch_id), branch_id, member_values(i, **extra))


@both_backends
async def test_meeting_sets_last_contact_but_never_moves_it_back(session, branch):
    one, _ = branch
    a = await _member(session, one, 1, last_org_life=date(2026, 10, 1))
    b = await _member(session, one, 2)
    await search.record_meeting(
        session,
        sec(one),
        one,
        kind="org_life",
        held_on=date(2026, 9, 1),
        member_ids=[a.id, b.id],
        today=TODAY,
    )
    await session.refresh(a)
    await session.refresh(b)
    assert a.last_org_life == date(2026, 10, 1) and b.last_org_life == date(2026, 9, 1)
    await search.record_meeting(
        session, sec(one), one, kind="both", held_on=TODAY, member_ids=[a.id], today=TODAY
    )
    await session.refresh(a)
    assert (a.last_org_life, a.last_dues) == (TODAY, TODAY)


@both_backends
async def test_meeting_cannot_tick_another_branchs_member_R_ACL_BRANCH(session, branch):
    one, two = branch
    other = await _member(session, two, 3)
    with pytest.raises(AccessDenied):
        await search.record_meeting(
            session, sec(one), one, kind="dues", held_on=TODAY, member_ids=[other.id], today=TODAY
        )


@both_backends
async def test_attempts_are_refused_in_the_future_before_joining_and_outside_scope(session, branch):
    one, two = branch
    member_id = (await _member(session, one, 4)).id  # joined: birth year + 25, July
    with pytest.raises(InvalidInput, match="将来"):
        await search.log_attempt(
            session,
            sec(one),
            member_id,
            channel="phone",
            result="not_reached",
            attempted_on=date(2027, 1, 1),
            today=TODAY,
        )
    with pytest.raises(InvalidInput, match="入党时间"):
        await search.log_attempt(
            session,
            sec(one),
            member_id,
            channel="phone",
            result="not_reached",
            attempted_on=date(1980, 1, 1),
            today=TODAY,
        )
    with pytest.raises(AccessDenied):
        await search.log_attempt(
            session,
            sec(two),
            member_id,
            channel="phone",
            result="not_reached",
            attempted_on=TODAY,
            today=TODAY,
        )
    with pytest.raises(InvalidInput, match="最多500"):
        await search.log_attempt(
            session,
            sec(one),
            member_id,
            channel="phone",
            result="lead",
            attempted_on=TODAY,
            today=TODAY,
            note="很" * 501,
        )


@both_backends
async def test_a_correction_keeps_the_old_version_R_DOSSIER(session, branch):
    one, _ = branch
    member_id = (await _member(session, one, 5)).id
    first = await search.log_attempt(
        session,
        sec(one),
        member_id,
        channel="phone",
        result="not_reached",
        attempted_on=date(2026, 11, 20),
        today=TODAY,
    )
    fixed = await search.correct_attempt(
        session, sec(one), first.id, today=TODAY, result="lead", note="得到新号码"
    )
    rows = (await session.scalars(select(ContactAttempt).order_by(ContactAttempt.id))).all()
    assert [(r.id, r.result, r.superseded_by_id, r.replaces_id) for r in rows] == [
        (first.id, "not_reached", fixed.id, None),
        (fixed.id, "lead", None, first.id),
    ]
    assert [a.id for a in await search.attempts_of(session, sec(one), member_id)] == [fixed.id]
    first_id = first.id
    with pytest.raises(InvalidInput, match="更正过"):
        await search.correct_attempt(session, sec(one), first_id, today=TODAY, result="reached")
    page = await dossier(session, sec(one), member_id)
    assert [(e.entity, e.action, e.field) for e, _who in page.events] == [
        ("member", "create", None),
        ("attempt", "create", "phone"),
        ("attempt", "correct", "note"),
        ("attempt", "correct", "result"),
    ]


@both_backends
async def test_evidence_bytes_are_stored_with_their_hash(session, branch):
    one, two = branch
    member_id = (await _member(session, one, 6)).id
    attempt = await search.log_attempt(
        session,
        sec(one),
        member_id,
        channel="visit",
        result="not_reached",
        attempted_on=TODAY,
        today=TODAY,
    )
    evidence = await search.add_evidence(
        session, sec(one), attempt.id, kind="photo", content=b"\x89PNG fake", file_name="走访.png"
    )
    assert evidence.size == 9 and len(evidence.sha256) == 64
    attempt_id = attempt.id  # a refused write rolls back and expires loaded rows
    with pytest.raises(AccessDenied):
        await search.add_evidence(session, sec(two), attempt_id, kind="photo", content=b"x")
    with pytest.raises(InvalidInput):
        await search.add_evidence(session, sec(one), attempt_id, kind="photo", content=b"")


@both_backends
async def test_situations_are_computed_from_stored_dates(session, branch):
    one, _ = branch
    lost = await _member(session, one, 7, last_org_life=date(2026, 5, 24))  # 6 months + 1 day
    edge = await _member(session, one, 8, last_dues=date(2026, 5, 25))  # exactly 6 months: not yet
    pocket = await _member(
        session, one, 9, transfer_letter_date=date(2026, 8, 1), transfer_receiver="某党委"
    )
    mobile = await _member(session, one, 10, last_org_life=date(2024, 1, 1))
    unknown = await _member(session, one, 11)
    async with write_tx(session):
        session.add(MobileRecord(member_id=mobile.id, registered_on=date(2026, 1, 1)))
    rows = {r.member.id: r for r in await branch_situations(session, sec(one), one, TODAY)}
    assert rows[lost.id].situation.standing is Standing.LOST
    assert rows[edge.id].situation.standing is Standing.NORMAL
    assert rows[pocket.id].situation.standing is Standing.POCKET
    assert rows[mobile.id].situation.standing is Standing.MOBILE
    assert rows[unknown.id].situation.standing is Standing.UNKNOWN
    await search.log_attempt(
        session,
        sec(one),
        lost.id,
        channel="sms",
        result="not_reached",
        attempted_on=TODAY,
        today=TODAY,
    )
    rows_list = await branch_situations(session, sec(one), one, TODAY)
    [only] = longest_first(rows_list, Standing.LOST)
    assert only.member.id == lost.id and only.attempts == 1


@both_backends
async def test_situations_count_only_what_is_in_force_R_DOSSIER(session, branch):
    """One query per branch: a superseded attempt is not counted, an ended
    mobile registration is not mobile, only a 'found' outcome in force sets
    the contact date (R-LOST-6M, R-MOBILE-6M)."""
    one, _ = branch
    lost = await _member(session, one, 13, last_org_life=date(2024, 1, 1))
    back = await _member(session, one, 14, last_org_life=date(2024, 1, 1))
    moved = await _member(session, one, 15, last_org_life=date(2024, 1, 1))

    def attempt(member_id: int, superseded: int | None = None) -> ContactAttempt:
        return ContactAttempt(
            member_id=member_id,
            channel="sms",
            channel_group=1,
            result="not_reached",
            attempted_on=TODAY,
            superseded_by_id=superseded,
        )

    def outcome(member_id: int, kind: str, on: date, superseded: int | None = None):  # type: ignore[no-untyped-def]
        return SearchOutcome(
            member_id=member_id, kind=kind, decided_on=on, superseded_by_id=superseded
        )

    async with write_tx(session):
        session.add_all([attempt(lost.id), attempt(lost.id), attempt(lost.id, superseded=1)])
        session.add(
            MobileRecord(
                member_id=moved.id, registered_on=date(2025, 1, 1), ended_on=date(2025, 6, 1)
            )
        )
        session.add_all(
            [
                outcome(back.id, "found", date(2026, 10, 1)),
                outcome(back.id, "found", date(2026, 11, 1), superseded=1),
                outcome(lost.id, "unreachable", date(2026, 11, 1)),
            ]
        )
    rows = {r.member.id: r for r in await branch_situations(session, sec(one), one, TODAY)}
    assert rows[lost.id].attempts == 2 and rows[lost.id].situation.standing is Standing.LOST
    assert rows[moved.id].attempts == 0 and rows[moved.id].situation.standing is Standing.LOST
    assert rows[back.id].situation.standing is Standing.NORMAL
    assert rows[back.id].situation.last_contact == date(2026, 10, 1)


@both_backends
async def test_meeting_attendance_is_in_the_dossier(session, branch):
    one, _ = branch
    m = await _member(session, one, 12)
    await search.record_meeting(
        session, sec(one), one, kind="dues", held_on=TODAY, member_ids=[m.id], today=TODAY
    )
    events = (await session.scalars(select(AuditEvent).where(AuditEvent.member_id == m.id))).all()
    assert [(e.entity, e.field) for e in events][-1] == ("meeting", "last_dues")
