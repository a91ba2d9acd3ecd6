"""/join cannot be used to guess codes (issue 18 point 5): a used code, an
expired code and guessed codes are refused and counted; after five refusals
within 15 minutes every attempt is refused for 15 minutes, even the right
code, counted from the audit events so the limit holds across processes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from domain.errors import InvalidInput
from storage.db import write_tx
from storage.models import AuditEvent, Organisation, RoleGrant
from storage.services import invitations
from storage.services.access import Actor, Grant, Role
from tests.conftest import both_backends

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.fixture
async def branch(session) -> int:  # type: ignore[no-untyped-def]
    async with write_tx(session):
        committee = Organisation(name="示例党委", kind="committee")
        session.add(committee)
        await session.flush()
        one = Organisation(name="一支部", kind="branch", parent_id=committee.id)
        session.add(one)
        await session.flush()
    return one.id


async def _code(session, branch: int, now: datetime = NOW, days: int = 7) -> str:  # type: ignore[no-untyped-def]
    async with write_tx(session):
        committee_id = (await session.get(Organisation, branch)).parent_id
    actor = Actor(2, (Grant(Role.COMMITTEE, committee_id),))
    invitation = await invitations.create_invitation(
        session, actor=actor, org_id=branch, role="secretary", now=now, days=days
    )
    return invitation.code


async def _grants(session, user_id: int) -> int:  # type: ignore[no-untyped-def]
    return (
        await session.scalar(
            select(func.count()).select_from(RoleGrant).where(RoleGrant.user_id == user_id)
        )
        or 0
    )


@both_backends
async def test_used_and_expired_codes_are_refused_and_counted(session, branch):
    used = await _code(session, branch)
    await invitations.redeem(session, user_id=70, code=used, now=NOW)
    with pytest.raises(InvalidInput, match="用过"):
        await invitations.redeem(session, user_id=71, code=used, now=NOW)
    old = await _code(session, branch, now=NOW - timedelta(days=8))
    with pytest.raises(InvalidInput, match="过期"):
        await invitations.redeem(session, user_id=71, code=old, now=NOW)
    assert await _grants(session, 71) == 0
    failed = await session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "join_failed", AuditEvent.actor_id == 71)
    )
    assert failed == 2


@both_backends
async def test_a_sixth_guess_is_refused_without_looking_at_the_code(session, branch):
    good = await _code(session, branch)
    for n in range(5):
        with pytest.raises(InvalidInput, match="不对"):
            await invitations.redeem(
                session, user_id=72, code=f"GUESS{n}ABCD", now=NOW + timedelta(minutes=n)
            )
    # The sixth attempt is refused, even with the right code, and says for how long.
    at = NOW + timedelta(minutes=4)  # right after the fifth
    with pytest.raises(InvalidInput, match="次数过多") as refused:
        await invitations.redeem(session, user_id=72, code=good, now=at)
    assert "15分钟" in refused.value.render()
    assert await _grants(session, 72) == 0
    # Another user is not held up by this one's guesses.
    other = await _code(session, branch)
    await invitations.redeem(session, user_id=73, code=other, now=at)
    assert await _grants(session, 73) == 1
    # Still locked 14 minutes after the fifth refusal; free after 15.
    with pytest.raises(InvalidInput, match="次数过多"):
        await invitations.redeem(session, user_id=72, code=good, now=NOW + timedelta(minutes=18))
    await invitations.redeem(session, user_id=72, code=good, now=NOW + timedelta(minutes=19))
    assert await _grants(session, 72) == 1


@both_backends
async def test_refusals_spread_over_more_than_15_minutes_do_not_lock(session, branch):
    good = await _code(session, branch)
    for n in range(6):
        with pytest.raises(InvalidInput, match="不对"):
            await invitations.redeem(
                session, user_id=74, code="WRONGCODE2", now=NOW + timedelta(minutes=4 * n)
            )
    # Every five in a row span 16 minutes: no lock.
    await invitations.redeem(session, user_id=74, code=good, now=NOW + timedelta(minutes=21))
    assert await _grants(session, 74) == 1
