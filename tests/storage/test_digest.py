"""The daily digest's scan and recipients on SQLite and PostgreSQL (issue 14:
R-LOST-6M, R-MOBILE-6M, R-POCKET, R-PROBATION)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from domain.clocks import Standing
from domain.thresholds import (
    lost_crossing,
    mobile_crossing,
    pocket_crossing,
    probation_crossing,
    probation_start,
)
from storage.db import write_tx
from storage.models import Member, MobileRecord, RoleGrant, SearchOutcome, User
from storage.services.access import Actor, Grant, Role
from storage.services.digest import crossings, digest_on, digests_for_day, set_digest
from storage.services.situations import branch_situations, mobile_suspects
from tests.conftest import both_backends
from tests.factories import member_values, org_tree

POCKET_DAYS = 90
TODAY = date(2026, 12, 1)


async def _member(session, branch_id: int, i: int, **values) -> int:  # type: ignore[no-untyped-def]
    async with write_tx(session):
        m = Member(branch_id=branch_id, **member_values(i, **values))
        session.add(m)
        await session.flush()
        return m.id


async def _grant(session, user_id: int, role: Role, org_id: int, **user) -> None:  # type: ignore[no-untyped-def]
    async with write_tx(session):
        if await session.get(User, user_id) is None:
            session.add(User(id=user_id, full_name="", **user))
            await session.flush()
        session.add(RoleGrant(user_id=user_id, role=role.value, org_id=org_id))


@pytest.fixture
async def orgs(session):
    return await org_tree(session, {"示例党委": ("一支部", "二支部"), "别的党委": ("远支部",)})


# ---- the scan against the rules as /lost, /mobile and /pocket apply them ----------------------


async def _random_branch(session, branch_id: int, count: int, seed: int) -> None:  # type: ignore[no-untyped-def]
    """Members whose dates fall around TODAY's windows, with every exclusion:
    found by a search, registered mobile (in force or ended), transferred out
    with and without 回执, month-only 入党时间."""
    rnd = random.Random(seed)
    base = TODAY - timedelta(days=420)

    def day() -> date | None:
        return None if rnd.random() < 0.2 else base + timedelta(days=rnd.randrange(420))

    async with write_tx(session):
        for i in range(count):
            letter = base + timedelta(days=rnd.randrange(420)) if rnd.random() < 0.25 else None
            receipt = letter + timedelta(days=30) if letter and rnd.random() < 0.3 else None
            joined_day = TODAY - timedelta(days=330 + rnd.randrange(60))
            joined = joined_day.isoformat()[: 7 if rnd.random() < 0.4 else 10]
            m = Member(
                branch_id=branch_id,
                **member_values(
                    seed * 1000 + i,
                    last_org_life=day(),
                    last_dues=day(),
                    transfer_letter_date=letter,
                    transfer_receipt_date=receipt,
                    member_type="预备" if rnd.random() < 0.3 else "正式",
                    joined=joined,
                    birth="1990-01",
                ),
            )
            session.add(m)
            await session.flush()
            if rnd.random() < 0.15:
                session.add(
                    MobileRecord(
                        member_id=m.id,
                        registered_on=base,
                        ended_on=base if rnd.random() < 0.3 else None,
                    )
                )
            if rnd.random() < 0.15:
                session.add(
                    SearchOutcome(
                        member_id=m.id,
                        kind="found" if rnd.random() < 0.8 else "unreachable",
                        decided_on=base + timedelta(days=rnd.randrange(420)),
                        superseded_by_id=1 if rnd.random() < 0.2 else None,
                    )
                )


async def _expected(session, branch_id: int, since: date, today: date) -> set[tuple]:  # type: ignore[no-untyped-def]
    """The oracle: each member's situation on ``today`` from the service behind
    /lost, /mobile and /pocket, and the clock's crossing date from the domain."""
    actor = Actor(1, (Grant(Role.SECRETARY, branch_id),))
    rows = await branch_situations(session, actor, branch_id, today, pocket_days=POCKET_DAYS)
    suspects = {r.member.id for r in mobile_suspects(rows, today)}
    out = set()
    for r in rows:
        m, s = r.member, r.situation

        def hit(clock: str, crossed: date) -> None:
            if since < crossed <= today:
                out.add((m.id, clock, crossed))  # noqa: B023

        if s.standing is Standing.LOST:
            assert s.last_contact is not None
            hit("lost", lost_crossing(s.last_contact))
        if m.id in suspects and m.transfer_letter_date is None:
            hit("mobile", mobile_crossing(m.last_org_life))
        if s.standing is Standing.POCKET:
            hit("pocket", pocket_crossing(m.transfer_letter_date, POCKET_DAYS))
        if m.member_type == "预备" and m.transfer_receipt_date is None:
            hit("probation", probation_crossing(probation_start(m.joined)))
    return out


@both_backends
async def test_scan_agrees_with_the_lists_member_by_member_R_LOST_6M_R_MOBILE_6M_R_POCKET_R_PROBATION(
    session, orgs
):
    await _random_branch(session, orgs["一支部"], 160, seed=7)
    days = [TODAY + timedelta(days=k) for k in range(-40, 100, 9)]
    days += [date(2027, 2, 28), date(2027, 3, 1), date(2026, 12, 31), date(2027, 1, 1)]
    hits = 0
    for today in days:
        for gap in (1, 3, 31):
            since = today - timedelta(days=gap)
            got = await crossings(session, since=since, today=today, pocket_days=POCKET_DAYS)
            assert {(c.member_id, c.clock, c.crossed_on) for c in got} == await _expected(
                session, orgs["一支部"], since, today
            ), (since, today)
            hits += len(got)
    assert hits > 50  # the data did exercise the clocks


@both_backends
async def test_month_end_and_found_members_R_LOST_6M(session, orgs):
    one = orgs["一支部"]
    clamped = await _member(session, one, 1, last_org_life=date(2026, 5, 31))
    dues_later = await _member(
        session, one, 2, last_org_life=date(2026, 1, 1), last_dues=date(2026, 5, 31)
    )
    found = await _member(session, one, 3, last_org_life=date(2026, 5, 31))
    async with write_tx(session):
        session.add(SearchOutcome(member_id=found, kind="found", decided_on=date(2026, 9, 1)))
    # 31 May + 6 months = 30 November; “超过” makes 1 December the first lost day.
    got = await crossings(
        session, since=date(2026, 11, 30), today=date(2026, 12, 1), pocket_days=POCKET_DAYS
    )
    lost = {c.member_id: c.crossed_on for c in got if c.clock == "lost"}
    assert lost == {clamped: date(2026, 12, 1), dues_later: date(2026, 12, 1)}
    # Exactly six months is not yet lost; it is six full months without
    # offline 组织生活, so /mobile suggests them that day (R-MOBILE-6M).
    day_before = await crossings(
        session, since=date(2026, 11, 29), today=date(2026, 11, 30), pocket_days=POCKET_DAYS
    )
    assert {(c.member_id, c.clock) for c in day_before} == {(clamped, "mobile"), (found, "mobile")}


@both_backends
async def test_pocket_after_the_period_and_not_with_a_receipt_R_POCKET(session, orgs):
    one = orgs["一支部"]
    pocket = await _member(session, one, 1, transfer_letter_date=date(2026, 9, 1))
    await _member(
        session,
        one,
        2,
        transfer_letter_date=date(2026, 9, 1),
        transfer_receipt_date=date(2026, 9, 20),
    )
    day = pocket_crossing(date(2026, 9, 1), POCKET_DAYS)
    got = await crossings(
        session, since=day - timedelta(days=1), today=day, pocket_days=POCKET_DAYS
    )
    assert [(c.member_id, c.clock) for c in got] == [(pocket, "pocket")]


@both_backends
async def test_probation_month_only_counts_from_the_first_R_PROBATION(session, orgs):
    one = orgs["一支部"]
    month = await _member(session, one, 1, member_type="预备", joined="2025-12")
    dated = await _member(session, one, 2, member_type="预备", joined="2025-12-02")
    await _member(session, one, 3, member_type="正式", joined="2025-12")
    got = await crossings(
        session, since=date(2026, 11, 30), today=date(2026, 12, 1), pocket_days=POCKET_DAYS
    )
    assert [(c.member_id, c.clock) for c in got] == [(month, "probation")]
    got = await crossings(
        session, since=date(2026, 12, 1), today=date(2026, 12, 2), pocket_days=POCKET_DAYS
    )
    assert [(c.member_id, c.clock) for c in got] == [(dated, "probation")]


@both_backends
async def test_scan_keeps_to_the_given_branches(session, orgs):
    await _member(session, orgs["一支部"], 1, last_org_life=date(2026, 5, 31))
    two = await _member(session, orgs["二支部"], 2, last_org_life=date(2026, 5, 31))
    got = await crossings(
        session,
        since=date(2026, 11, 30),
        today=date(2026, 12, 1),
        pocket_days=POCKET_DAYS,
        branch_ids=[orgs["二支部"]],
    )
    assert [c.member_id for c in got] == [two]


# ---- recipients ---------------------------------------------------------------------------------


@both_backends
async def test_secretary_gets_their_branch_and_staff_get_counts(session, orgs):
    one, two, far = orgs["一支部"], orgs["二支部"], orgs["远支部"]
    a = await _member(session, one, 1, last_org_life=date(2026, 5, 31))
    p = await _member(session, one, 2, transfer_letter_date=date(2026, 9, 1))  # 91st day: today
    b = await _member(session, two, 3, last_dues=date(2026, 5, 31))
    await _member(session, far, 4, last_dues=date(2026, 5, 31))
    await _grant(session, 11, Role.SECRETARY, one, locale="en")
    await _grant(session, 12, Role.SECRETARY, two)
    await _grant(session, 21, Role.COMMITTEE, orgs["示例党委"])
    await _grant(session, 22, Role.COMMITTEE, orgs["别的党委"], digest_off=True)
    await _grant(session, 23, Role.SECRETARY, far, blocked_at=datetime(2026, 11, 1, tzinfo=UTC))

    digests = await digests_for_day(session, today=TODAY, pocket_days=POCKET_DAYS)
    by = {(d.recipient, d.subject): d for d in digests}
    assert set(by) == {
        (11, f"branch:{one}"),
        (12, f"branch:{two}"),
        (21, f"committee:{orgs['示例党委']}"),
    }
    assert by[(11, f"branch:{one}")].locale == "en"
    assert [(c.member_id, c.clock) for c in by[(11, f"branch:{one}")].crossings] == [
        (a, "lost"),
        (p, "pocket"),
    ]
    assert [c.member_id for c in by[(12, f"branch:{two}")].crossings] == [b]
    committee = by[(21, f"committee:{orgs['示例党委']}")]
    assert committee.kind == "committee"
    assert [(x.branch_id, x.counts) for x in committee.branches] == [
        (one, (("lost", 1), ("pocket", 1))),
        (two, (("lost", 1),)),
    ]


@both_backends
async def test_nothing_new_sends_nothing_and_since_is_per_recipient(session, orgs):
    one = orgs["一支部"]
    await _member(session, one, 1, last_org_life=date(2026, 5, 31))  # lost on 1 December
    await _grant(session, 11, Role.SECRETARY, one)
    await _grant(session, 12, Role.SECRETARY, one)
    assert not await digests_for_day(session, today=date(2026, 12, 2), pocket_days=POCKET_DAYS)
    # 12's last digest went out on 29 November (downtime since): they still hear of it.
    digests = await digests_for_day(
        session,
        today=date(2026, 12, 2),
        since_by_recipient={12: date(2026, 11, 29)},
        pocket_days=POCKET_DAYS,
    )
    assert [d.recipient for d in digests] == [12]
    assert digests[0].since == date(2026, 11, 29)


@both_backends
async def test_revoked_grant_gets_no_digest_and_two_grants_get_two(session, orgs):
    one, two = orgs["一支部"], orgs["二支部"]
    await _member(session, one, 1, last_org_life=date(2026, 5, 31))
    await _member(session, two, 2, last_org_life=date(2026, 5, 31))
    await _grant(session, 11, Role.SECRETARY, one)
    await _grant(session, 11, Role.SECRETARY, two)
    await _grant(session, 12, Role.SECRETARY, two)
    async with write_tx(session):
        grant = await session.scalar(
            RoleGrant.__table__.select().where(RoleGrant.user_id == 12)  # type: ignore[attr-defined]
        )
        await session.execute(
            RoleGrant.__table__.update()  # type: ignore[attr-defined]
            .where(RoleGrant.id == grant)
            .values(revoked_at=datetime(2026, 11, 1, tzinfo=UTC))
        )
    digests = await digests_for_day(session, today=TODAY, pocket_days=POCKET_DAYS)
    assert sorted((d.recipient, d.subject) for d in digests) == [
        (11, f"branch:{one}"),
        (11, f"branch:{two}"),
    ]


@both_backends
async def test_notify_turns_the_digest_off_and_on(session, orgs):
    one = orgs["一支部"]
    await _member(session, one, 1, last_org_life=date(2026, 5, 31))
    await _grant(session, 11, Role.SECRETARY, one)
    assert await digest_on(session, 11)
    await set_digest(session, 11, False)
    assert not await digest_on(session, 11)
    assert not await digests_for_day(session, today=TODAY, pocket_days=POCKET_DAYS)
    await set_digest(session, 11, True)
    assert await digest_on(session, 11)
    assert len(await digests_for_day(session, today=TODAY, pocket_days=POCKET_DAYS)) == 1
