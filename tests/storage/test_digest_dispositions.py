"""The daily digest's disposition clocks on SQLite and PostgreSQL (issue 16
item 4): 停止党籍满2年 and the warning 30 days before (R-SUSPEND-2Y), 限期改正期满
(R-DEADLINE-CORRECT), the end of an extended probation (R-PROBATION) and of
保留组织关系 (R-ABROAD-RETAIN), read from ``disposition.ends_on``."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from domain.dispositions import (
    LEAVING,
    Outcome,
    Status,
    Step,
    probation_extended_to,
    retention_ends,
    suspension_ends,
)
from domain.thresholds import AHEAD_DAYS, SUSPENSION_WARNING_DAYS, Clock, ends_window
from storage.db import write_tx
from storage.models import (
    Disposition,
    DispositionEvent,
    Member,
    RoleGrant,
    SearchOutcome,
    User,
)
from storage.services import dispositions
from storage.services.access import Actor, Grant, Role
from storage.services.clock_scan import CLOCKS, DISPOSITION_CLOCKS
from storage.services.digest import crossings, digests_for_day
from tests.conftest import both_backends
from tests.factories import member_values, org_tree

POCKET_DAYS = 90
SUSPENDED_ON = date(2024, 12, 10)
TWO_YEARS = date(2026, 12, 10)  # suspension_ends(SUSPENDED_ON)
WARNING = date(2026, 11, 10)  # 30 days before
DISPOSITION_KEYS = [
    "suspension",
    "suspension_soon",
    "correction",
    "extended_probation",
    "retention",
]
VOTES = {"present": 9, "votes_for": 8, "votes_against": 1, "votes_abstain": 0}


@pytest.fixture
async def orgs(session):
    return await org_tree(session, {"示例党委": ("一支部", "二支部")})


async def _member(session, branch_id: int, i: int, **values) -> int:  # type: ignore[no-untyped-def]
    async with write_tx(session):
        m = Member(branch_id=branch_id, **member_values(i, **values))
        session.add(m)
        await session.flush()
        return m.id


async def _search(session, member_id: int, kind: str) -> None:  # type: ignore[no-untyped-def]
    async with write_tx(session):
        session.add(SearchOutcome(member_id=member_id, kind=kind, decided_on=date(2024, 11, 1)))


async def _grant(session, user_id: int, role: Role, org_id: int) -> None:  # type: ignore[no-untyped-def]
    async with write_tx(session):
        session.add(User(id=user_id, full_name=""))
        await session.flush()
        session.add(RoleGrant(user_id=user_id, role=role.value, org_id=org_id))


async def _row(  # type: ignore[no-untyped-def]
    session,
    member_id: int,
    outcome: Outcome,
    status: Status,
    effective_on: date | None,
    ends_on: date | None,
) -> int:
    """A disposition written as rows (its events only sketched: the scan reads
    the cached status and ``ends_on``)."""
    async with write_tx(session):
        d = Disposition(
            member_id=member_id,
            outcome=outcome.value,
            opened_on=effective_on or date(2024, 1, 1),
            opened_by=11,
            status=status.value,
            position=0,
            effective_on=effective_on,
            ends_on=ends_on,
        )
        session.add(d)
        await session.flush()
        session.add(
            DispositionEvent(
                disposition_id=d.id,
                seq=1,
                kind="recorded",
                step="record",
                on=effective_on or date(2024, 1, 1),
                by=11,
                facts={},
            )
        )
        return d.id


async def _scan(session, since: date, today: date) -> list[tuple[int, str, date, date | None]]:  # type: ignore[no-untyped-def]
    got = await crossings(session, since=since, today=today, pocket_days=POCKET_DAYS)
    return [(c.member_id, c.clock, c.crossed_on, c.ends_on) for c in got]


async def _day(session, day: date) -> list[tuple[int, str, date, date | None]]:  # type: ignore[no-untyped-def]
    return await _scan(session, day - timedelta(days=1), day)


def test_one_list_of_clocks_in_the_digests_order():
    assert list(CLOCKS) == ["lost", "mobile", "pocket", "probation", *DISPOSITION_KEYS]
    assert [c.clock.value for c in DISPOSITION_CLOCKS] == DISPOSITION_KEYS
    assert set(AHEAD_DAYS) == {c.clock for c in DISPOSITION_CLOCKS}
    assert AHEAD_DAYS[Clock.SUSPENSION_SOON] == SUSPENSION_WARNING_DAYS == 30
    assert suspension_ends(SUSPENDED_ON) == TWO_YEARS
    # An end date on 10 December is warned of on 10 November, and only then.
    assert ends_window(date(2026, 11, 9), date(2026, 11, 10), 30).first == TWO_YEARS
    assert ends_window(date(2026, 11, 9), date(2026, 11, 10), 30).last == TWO_YEARS


# ---- through the service, as the chat records them ---------------------------------------------


@both_backends
async def test_suspension_warns_then_says_lapse_by_procedure_R_SUSPEND_2Y(session, orgs):
    """停止党籍 walked through ``storage.services.dispositions``: 30 days before
    the two years the secretary is warned; on the day, told that 自行脱党除名
    may be proposed; once 自行脱党除名 is done, nothing more."""
    one = orgs["一支部"]
    sec = Actor(11, (Grant(Role.SECRETARY, one),))
    staff = Actor(21, (Grant(Role.COMMITTEE, orgs["示例党委"]),))
    member = await _member(session, one, 1)
    await _search(session, member, "unreachable")
    view = await dispositions.open_case(session, sec, member, Outcome.SUSPEND, date(2024, 12, 1))
    case = view.disposition.id
    facts = {**VOTES, "signed": False, "unsigned_reason": "本人无法取得联系，未能签字"}
    await dispositions.record_step(
        session, sec, case, Step.RESOLUTION, date(2024, 12, 5), facts, date(2024, 12, 5)
    )
    await dispositions.decide_step(
        session, staff, case, approve=True, expected=1, reason="", today=SUSPENDED_ON
    )
    # In procedure (报上一级备案 not yet recorded): no clock is told yet.
    assert await _day(session, WARNING) == []
    view = await dispositions.record_step(
        session,
        staff,
        case,
        Step.UPPER_FILING,
        date(2024, 12, 20),
        {"document_no": "示组〔2024〕3号"},
        date(2024, 12, 20),
    )
    assert view.disposition.status == "done" and view.disposition.ends_on == TWO_YEARS

    assert await _day(session, WARNING - timedelta(days=1)) == []
    assert await _day(session, WARNING) == [(member, "suspension_soon", WARNING, TWO_YEARS)]
    assert await _scan(session, WARNING, TWO_YEARS - timedelta(days=1)) == []
    assert await _day(session, TWO_YEARS) == [(member, "suspension", TWO_YEARS, TWO_YEARS)]
    assert await _day(session, TWO_YEARS + timedelta(days=1)) == []
    # Nothing happened by itself: the member is still only suspended.
    assert [v.outcome for v in await dispositions.member_cases(session, sec, member)] == [
        Outcome.SUSPEND
    ]

    # 自行脱党除名, by procedure: the member has left, the clock is not told again.
    lapse = await dispositions.open_case(session, sec, member, Outcome.LAPSE, TWO_YEARS)
    case = lapse.disposition.id
    await dispositions.record_step(session, sec, case, Step.RESOLUTION, TWO_YEARS, facts, TWO_YEARS)
    await dispositions.decide_step(
        session, staff, case, approve=True, expected=1, reason="", today=TWO_YEARS
    )
    await dispositions.record_step(
        session,
        staff,
        case,
        Step.UPPER_FILING,
        TWO_YEARS,
        {"document_no": "示组〔2026〕9号"},
        TWO_YEARS,
    )
    assert await _day(session, TWO_YEARS) == []
    assert await _day(session, WARNING) == []


@both_backends
async def test_correction_deadline_until_the_end_review_R_DEADLINE_CORRECT(session, orgs):
    """限期改正: from the 基层党委's approval the deadline runs; on it the branch
    is told to record 期满评定; once recorded, the case is done and not told."""
    one = orgs["一支部"]
    sec = Actor(11, (Grant(Role.SECRETARY, one),))
    staff = Actor(21, (Grant(Role.COMMITTEE, orgs["示例党委"]),))
    member = await _member(session, one, 2)
    await _search(session, member, "found")
    day = date(2026, 6, 1)
    deadline = date(2026, 12, 1)
    view = await dispositions.open_case(session, sec, member, Outcome.CORRECT, day)
    case = view.disposition.id
    verify = {"material": "谈话记录一份", "opinion": "限期改正"}
    await dispositions.record_step(session, sec, case, Step.VERIFY, day, verify, day)
    await dispositions.decide_step(
        session, staff, case, approve=True, expected=1, reason="", today=day
    )
    resolution = {**VOTES, "signed": True, "deadline": deadline}
    await dispositions.record_step(session, sec, case, Step.RESOLUTION, day, resolution, day)
    # Deadline set, not yet approved: no clock runs.
    assert await _day(session, deadline) == []
    view = await dispositions.decide_step(
        session, staff, case, approve=True, expected=3, reason="", today=day
    )
    assert view.disposition.status == "in_progress" and view.disposition.ends_on == deadline

    assert await _day(session, deadline - timedelta(days=1)) == []
    assert await _day(session, deadline) == [(member, "correction", deadline, deadline)]
    await dispositions.record_step(
        session,
        sec,
        case,
        Step.EDUCATION,
        day,
        {"notified_on": day, "measures": "每月谈心一次"},
        day,
    )
    assert await _day(session, deadline) == [(member, "correction", deadline, deadline)]
    await dispositions.record_step(
        session, sec, case, Step.END_REVIEW, deadline, {"corrected": True}, deadline
    )
    assert await _day(session, deadline) == []


# ---- as rows: what ends a clock --------------------------------------------------------------


@both_backends
async def test_restore_and_leaving_end_the_suspension_clock_R_SUSPEND_2Y(session, orgs):
    one = orgs["一支部"]
    ends = TWO_YEARS
    restored = await _member(session, one, 1)
    await _row(session, restored, Outcome.SUSPEND, Status.DONE, SUSPENDED_ON, ends)
    await _row(session, restored, Outcome.RESTORE, Status.DONE, date(2025, 3, 1), None)
    restoring = await _member(session, one, 2)  # 恢复党籍 applied for, not yet approved
    await _row(session, restoring, Outcome.SUSPEND, Status.DONE, SUSPENDED_ON, ends)
    await _row(session, restoring, Outcome.RESTORE, Status.IN_PROGRESS, None, None)
    again = await _member(session, one, 3)  # restored once, suspended again later
    await _row(session, again, Outcome.SUSPEND, Status.DONE, date(2022, 1, 5), date(2024, 1, 5))
    await _row(session, again, Outcome.RESTORE, Status.DONE, date(2022, 6, 1), None)
    await _row(session, again, Outcome.SUSPEND, Status.DONE, SUSPENDED_ON, ends)
    left = await _member(session, one, 4)  # left by another way (除名 is in LEAVING)
    await _row(session, left, Outcome.SUSPEND, Status.DONE, SUSPENDED_ON, ends)
    await _row(session, left, Outcome.REMOVE, Status.DONE, date(2025, 5, 1), None)
    withdrawn = await _member(session, one, 5)
    await _row(session, withdrawn, Outcome.SUSPEND, Status.WITHDRAWN, None, None)
    pending = await _member(session, one, 6)  # approved, 备案 not recorded: in procedure
    await _row(session, pending, Outcome.SUSPEND, Status.IN_PROGRESS, SUSPENDED_ON, ends)

    assert {m for m, *_ in await _day(session, ends)} == {restoring, again}
    assert {m for m, *_ in await _day(session, WARNING)} == {restoring, again}


@both_backends
async def test_extended_probation_and_retention_ends_R_PROBATION_R_ABROAD_RETAIN(session, orgs):
    one, two = orgs["一支部"], orgs["二支部"]
    end = date(2026, 12, 1)
    extended = await _member(session, one, 1, member_type="预备", joined="2025-05-20")
    await _row(session, extended, Outcome.EXTEND_PROBATION, Status.DONE, date(2026, 6, 1), end)
    already_full = await _member(session, one, 2, member_type="正式", joined="2025-05-20")
    await _row(session, already_full, Outcome.EXTEND_PROBATION, Status.DONE, date(2026, 6, 1), end)
    cancelled = await _member(session, one, 3, member_type="预备", joined="2025-05-20")
    await _row(session, cancelled, Outcome.EXTEND_PROBATION, Status.DONE, date(2026, 6, 1), end)
    await _row(session, cancelled, Outcome.CANCEL_PROBATION, Status.DONE, date(2026, 9, 1), None)
    abroad = await _member(session, two, 4)
    await _row(session, abroad, Outcome.RETAIN_ABROAD, Status.DONE, date(2026, 6, 1), end)
    renewed = await _member(session, two, 5)  # a later 保留 replaces the end
    await _row(session, renewed, Outcome.RETAIN_ABROAD, Status.DONE, date(2026, 6, 1), end)
    later_end = date(2027, 6, 1)
    await _row(session, renewed, Outcome.RETAIN_ABROAD, Status.DONE, date(2026, 10, 1), later_end)
    open_ended = await _member(session, two, 6)  # 三年以上 with no date: no clock
    await _row(session, open_ended, Outcome.RETAIN_ABROAD, Status.DONE, date(2026, 6, 1), None)

    assert await _day(session, end) == [
        (extended, "extended_probation", end, end),
        (abroad, "retention", end, end),
    ]
    assert await _day(session, later_end) == [(renewed, "retention", later_end, later_end)]
    got = await crossings(
        session,
        since=end - timedelta(days=1),
        today=end,
        pocket_days=POCKET_DAYS,
        branch_ids=[two],
    )
    assert [c.member_id for c in got] == [abroad]


# ---- who is told, once ---------------------------------------------------------------------------


@both_backends
async def test_secretary_gets_the_names_and_staff_the_counts_once(session, orgs):
    one, two = orgs["一支部"], orgs["二支部"]
    a = await _member(session, one, 1)
    await _row(session, a, Outcome.SUSPEND, Status.DONE, SUSPENDED_ON, TWO_YEARS)
    b = await _member(session, two, 2)
    await _row(session, b, Outcome.SUSPEND, Status.DONE, SUSPENDED_ON, TWO_YEARS)
    c = await _member(session, two, 3)
    await _row(session, c, Outcome.CORRECT, Status.IN_PROGRESS, date(2026, 6, 1), TWO_YEARS)
    lost = await _member(session, one, 4, last_dues=date(2026, 6, 9))  # lost from today
    await _grant(session, 11, Role.SECRETARY, one)
    await _grant(session, 12, Role.SECRETARY, two)
    await _grant(session, 21, Role.COMMITTEE, orgs["示例党委"])

    digests = await digests_for_day(session, today=TWO_YEARS, pocket_days=POCKET_DAYS)
    by = {d.recipient: d for d in digests}
    assert set(by) == {11, 12, 21}
    assert [(x.member_id, x.clock) for x in by[11].crossings] == [(lost, "lost"), (a, "suspension")]
    assert [(x.member_id, x.clock) for x in by[12].crossings] == [
        (b, "suspension"),
        (c, "correction"),
    ]
    assert [(x.branch_id, x.counts) for x in by[21].branches] == [
        (one, (("lost", 1), ("suspension", 1))),
        (two, (("suspension", 1), ("correction", 1))),
    ]
    # The next day, with today's digest sent: nothing new, nothing sent.
    sent = dict.fromkeys((11, 12, 21), TWO_YEARS)
    tomorrow = TWO_YEARS + timedelta(days=1)
    assert not await digests_for_day(
        session, today=tomorrow, since_by_recipient=sent, pocket_days=POCKET_DAYS
    )
    # The warning was told a month before, to the same people, once.
    before = await digests_for_day(session, today=WARNING, pocket_days=POCKET_DAYS)
    assert {d.recipient: [x.clock for x in d.crossings] for d in before if d.kind == "branch"} == {
        11: ["suspension_soon"],
        12: ["suspension_soon"],
    }
    sent = dict.fromkeys((11, 12, 21), WARNING)
    assert not await digests_for_day(
        session,
        today=TWO_YEARS - timedelta(days=1),
        since_by_recipient=sent,
        pocket_days=POCKET_DAYS,
    )


# ---- the scan against the rules, member by member --------------------------------------------

TODAY = date(2026, 12, 1)


async def _random_cases(session, branch_id: int, count: int, seed: int) -> None:  # type: ignore[no-untyped-def]
    """Members with the dispositions the rules allow one after another, their
    clocks ending around TODAY."""
    rnd = random.Random(seed)

    def near(days: int = 75) -> date:
        return TODAY + timedelta(days=rnd.randrange(-days, days))

    for i in range(count):
        probationary = rnd.random() < 0.5
        m = await _member(
            session,
            branch_id,
            seed * 1000 + i,
            member_type="预备" if probationary else "正式",
            joined="2025-03-01",
        )
        kind = rnd.randrange(9)
        if kind <= 3:  # 停止党籍, then perhaps 恢复 or 自行脱党除名
            ends = near(110)
            start = ends - timedelta(days=731)
            while suspension_ends(start) < ends:
                start += timedelta(days=1)
            ends = suspension_ends(start)
            status = Status.DONE if rnd.random() < 0.85 else Status.IN_PROGRESS
            if kind == 3:  # an older suspension restored before this one
                await _row(session, m, Outcome.SUSPEND, Status.DONE, date(2021, 3, 1), None)
                await _row(session, m, Outcome.RESTORE, Status.DONE, date(2021, 9, 1), None)
            await _row(session, m, Outcome.SUSPEND, status, start, ends)
            if kind == 1:
                restore = rnd.choice([Status.DONE, Status.IN_PROGRESS, Status.WITHDRAWN])
                await _row(session, m, Outcome.RESTORE, restore, start + timedelta(days=90), None)
            if kind == 2:
                lapse = rnd.choice([Status.DONE, Status.IN_PROGRESS])
                await _row(session, m, Outcome.LAPSE, lapse, ends, None)
        elif kind == 4:  # 限期改正 in procedure, done or withdrawn
            status = rnd.choice([Status.IN_PROGRESS, Status.DONE, Status.WITHDRAWN])
            effective = None if rnd.random() < 0.1 else TODAY - timedelta(days=200)
            await _row(
                session, m, Outcome.CORRECT, status, effective, near() if effective else None
            )
        elif kind == 5:  # 延长预备期
            effective = near() - timedelta(days=180)
            months = rnd.choice([6, 9, 12])
            ends = probation_extended_to(effective, months)
            await _row(session, m, Outcome.EXTEND_PROBATION, Status.DONE, effective, ends)
            if rnd.random() < 0.3:
                await _row(session, m, Outcome.CANCEL_PROBATION, Status.DONE, effective, None)
        else:  # 保留组织关系, perhaps renewed, perhaps left after
            effective = near() - timedelta(days=183)
            await _row(
                session,
                m,
                Outcome.RETAIN_ABROAD,
                Status.DONE,
                effective,
                retention_ends(effective, "6m"),
            )
            if kind == 7:
                again = effective + timedelta(days=rnd.randrange(10, 150))
                await _row(
                    session,
                    m,
                    Outcome.RETAIN_ABROAD,
                    rnd.choice([Status.DONE, Status.IN_PROGRESS]),
                    again,
                    retention_ends(again, "1y"),
                )
            if kind == 8:
                await _row(session, m, Outcome.WITHDRAW, Status.DONE, effective, None)


async def _expected(session, branch_id: int, since: date, today: date) -> set[tuple]:  # type: ignore[no-untyped-def]
    """The oracle: the suspension in force as the chat's rules see it
    (``dispositions.case_facts``), and each other clock by replaying the
    member's dispositions in order."""
    out: set[tuple] = set()
    members = await session.scalars(
        select(Member).where(Member.branch_id == branch_id).order_by(Member.id)
    )
    for m in members.all():
        facts = await dispositions.case_facts(session, m, today)
        ds = (
            await session.scalars(
                select(Disposition).where(Disposition.member_id == m.id).order_by(Disposition.id)
            )
        ).all()

        def hit(clock: str, crossed: date, ends: date) -> None:
            if since < crossed <= today:
                out.add((m.id, clock, crossed, ends))  # noqa: B023

        if facts.left_by is not None:
            assert facts.left_by in LEAVING
            continue
        if facts.suspended_on is not None:
            ends = suspension_ends(facts.suspended_on)
            hit("suspension", ends, ends)
            hit("suspension_soon", ends - timedelta(days=30), ends)
        for k, d in enumerate(ds):
            later = [x for x in ds[k + 1 :] if x.status == "done"]
            if d.ends_on is None:
                continue
            if d.outcome == "correct" and d.status == "in_progress":
                hit("correction", d.ends_on, d.ends_on)
            if d.status != "done" or any(x.outcome == d.outcome for x in later):
                continue
            if d.outcome == "extend_probation" and m.member_type == "预备":
                hit("extended_probation", d.ends_on, d.ends_on)
            if d.outcome == "retain_abroad":
                hit("retention", d.ends_on, d.ends_on)
    return out


@both_backends
async def test_scan_agrees_with_the_cases_member_by_member_R_SUSPEND_2Y_R_DEADLINE_CORRECT(
    session, orgs
):
    await _random_cases(session, orgs["一支部"], 120, seed=16)
    days = [TODAY + timedelta(days=k) for k in range(-90, 120, 11)]
    hits = 0
    keys = set(DISPOSITION_KEYS)
    for today in days:
        for gap in (1, 3, 31):
            since = today - timedelta(days=gap)
            got = {
                (c.member_id, c.clock, c.crossed_on, c.ends_on)
                for c in await crossings(session, since=since, today=today, pocket_days=POCKET_DAYS)
                if c.clock in keys
            }
            assert got == await _expected(session, orgs["一支部"], since, today), (since, today)
            hits += len(got)
    assert hits > 50  # the data did exercise the clocks
