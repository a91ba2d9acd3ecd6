"""Who crossed a clock of SPEC §3 in (since, today] (issue 14's daily scan).

One SQL statement of date ranges over indexed columns: each clock is inverted
in ``domain.thresholds`` into the window of start dates whose crossing falls
in (since, today]. Who counts mirrors ``domain.clocks.situation`` as /lost,
/mobile and /pocket apply it (``storage.services.situations``);
tests/storage/test_digest.py checks the two agree member by member.

The clocks a disposition starts (SPEC §5) are read the same way, from the
indexed ``disposition.ends_on`` that replaying its events gives
(``domain.dispositions.ends_on``): 停止党籍满2年 and the warning before it
(R-SUSPEND-2Y), 限期改正期满 (R-DEADLINE-CORRECT), the end of an extended
probation (R-PROBATION) and of 保留组织关系 (R-ABROAD-RETAIN). Who counts mirrors
``storage.services.dispositions.case_facts``; tests/storage/test_digest_dispositions.py
checks the two agree.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from operator import attrgetter
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    union,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain.codes import MemberType
from domain.dispositions import LEAVING, Outcome, Status
from domain.thresholds import (
    AHEAD_DAYS,
    Clock,
    ends_crossing,
    ends_window,
    iso_text_range,
    lost_before,
    lost_crossing,
    lost_window,
    mobile_crossing,
    mobile_window,
    pocket_before,
    pocket_crossing,
    pocket_window,
    probation_crossing,
    probation_start,
    probation_window,
)
from storage.models import Disposition, Member, MobileRecord, SearchOutcome

CLOCKS = tuple(c.value for c in Clock)  # the order a digest lists them in
_CHUNK = 500  # rows turned into Crossings between two yields to the event loop


@dataclass(frozen=True)
class Crossing:
    member_id: int
    branch_id: int
    name: str
    clock: str  # a ``Clock`` value
    crossed_on: date
    # A disposition's clock: the day it runs out (``disposition.ends_on``);
    # after ``crossed_on`` for a warning ahead of it.
    ends_on: date | None = None


@dataclass(frozen=True)
class _DispositionClock:
    """Which dispositions run a clock: the outcome, the status its clock runs in
    (限期改正 stays in procedure until the branch's 期满评定, which waits for
    the deadline), and the outcomes that end it when taken later."""

    clock: Clock
    outcome: Outcome
    status: Status
    ended_by: tuple[Outcome, ...] = ()


DISPOSITION_CLOCKS = (
    # R-SUSPEND-2Y: a later 恢复党籍 ends the suspension; 自行脱党除名 (or any
    # other way out of the Party, ``LEAVING``) ends the member's case altogether.
    _DispositionClock(Clock.SUSPENSION, Outcome.SUSPEND, Status.DONE, (Outcome.RESTORE,)),
    _DispositionClock(Clock.SUSPENSION_SOON, Outcome.SUSPEND, Status.DONE, (Outcome.RESTORE,)),
    # R-DEADLINE-CORRECT: once the 期满评定 is recorded the case is done: nothing to tell.
    _DispositionClock(Clock.CORRECTION, Outcome.CORRECT, Status.IN_PROGRESS),
    # R-PROBATION, R-ABROAD-RETAIN: a later one of the same replaces the end.
    _DispositionClock(
        Clock.EXTENDED_PROBATION,
        Outcome.EXTEND_PROBATION,
        Status.DONE,
        (Outcome.EXTEND_PROBATION,),
    ),
    _DispositionClock(
        Clock.RETENTION, Outcome.RETAIN_ABROAD, Status.DONE, (Outcome.RETAIN_ABROAD,)
    ),
)
_LEAVING = sorted(o.value for o in LEAVING)


def _later(a: Any, b: Any) -> ColumnElement[Any]:
    """The later of two nullable dates (GREATEST ignores NULLs on PostgreSQL
    only, and SQLite's MAX(a, b) returns NULL if either is: so a CASE)."""
    return case((a.is_(None), b), (b.is_(None), a), (a > b, a), else_=b)


def _found_subquery() -> Any:
    """The day a search reached each member (经查找取得联系, the outcome in force):
    contact like any other (``MemberFacts.found_on``)."""
    return (
        select(
            SearchOutcome.member_id.label("member_id"),
            func.max(SearchOutcome.decided_on).label("found_on"),
        )
        .where(SearchOutcome.kind == "found", SearchOutcome.superseded_by_id.is_(None))
        .group_by(SearchOutcome.member_id)
        .subquery("found")
    )


def _mobile_registered() -> ColumnElement[bool]:
    """A 流出党员登记 in force (``MemberFacts.is_mobile_registered``)."""
    return exists(
        select(MobileRecord.id).where(
            MobileRecord.member_id == Member.id, MobileRecord.ended_on.is_(None)
        )
    )


def _pocket_today(today: date, pocket_days: int) -> ColumnElement[bool]:
    """R-POCKET today (``clocks.is_pocket``): the standing that wins over all others."""
    return and_(
        Member.transfer_letter_date.is_not(None),
        Member.transfer_receipt_date.is_(None),
        Member.transfer_letter_date <= pocket_before(today, pocket_days),
    )


def _ended(clock: _DispositionClock) -> ColumnElement[bool]:
    """The disposition's clock no longer runs: the member left the Party (a
    ``LEAVING`` outcome done), or a later disposition ended it (``ended_by``)."""
    later = aliased(Disposition, name="later")
    ending: ColumnElement[bool] = later.outcome.in_(_LEAVING)
    if clock.ended_by:
        ending = or_(
            ending,
            and_(later.outcome.in_([o.value for o in clock.ended_by]), later.id > Disposition.id),
        )
    return exists(
        select(later.id).where(
            later.member_id == Disposition.member_id,
            later.status == Status.DONE.value,
            ending,
        )
    )


def _disposition_parts(since: date, today: date, scope: Sequence[ColumnElement[bool]]) -> list[Any]:
    """One leg per disposition clock: a range on the indexed ``ends_on``."""
    parts = []
    for clock in DISPOSITION_CLOCKS:
        window = ends_window(since, today, AHEAD_DAYS[clock.clock])
        if window.empty:
            continue
        extra = []
        if clock.clock is Clock.EXTENDED_PROBATION:
            # Already 正式 in the register: the 转正 was discussed, nothing to tell.
            extra.append(Member.member_type == MemberType.PROBATIONARY.value)
        parts.append(
            select(
                Member.id,
                Member.branch_id,
                Member.name,
                literal(clock.clock.value).label("clock"),
                Disposition.ends_on.label("start"),
                cast(null(), String).label("start_text"),
            )
            .select_from(Disposition)
            .join(Member, Member.id == Disposition.member_id)
            .where(
                Disposition.ends_on.between(window.first, window.last),
                Disposition.outcome == clock.outcome.value,
                # Not a bare ``status =``: SQLite, without statistics, would
                # walk ix_disposition_status (every done case) instead of the
                # day's range of ``ends_on`` (as the mobile leg above).
                func.coalesce(Disposition.status, "") == clock.status.value,
                not_(_ended(clock)),
                *extra,
                *scope,
            )
        )
    return parts


def _scan(
    *, since: date, today: date, pocket_days: int, branch_ids: Sequence[int] | None
) -> Any | None:
    """The one statement: (member id, branch id, name, clock, start date, start
    text) for each clock whose window is not empty; None when all are."""
    parts = []
    scope = [Member.branch_id.in_(list(branch_ids))] if branch_ids is not None else []
    no_text = cast(null(), String)
    found = _found_subquery()
    contact = _later(_later(Member.last_org_life, Member.last_dues), found.c.found_on)

    lost = lost_window(since, today)
    if not lost.empty:
        # R-LOST-6M as /lost: the later contact date crossed; not pocket (that
        # standing wins) and not a registered mobile member whose relation is
        # still here (seed 001 附件4 note 6). Candidates come from the indexed
        # columns, so each leg of the UNION is an index range.
        candidates = union(
            select(Member.id).where(Member.last_org_life.between(lost.first, lost.last)),
            select(Member.id).where(Member.last_dues.between(lost.first, lost.last)),
            select(found.c.member_id).where(found.c.found_on.between(lost.first, lost.last)),
        )
        parts.append(
            select(
                Member.id,
                Member.branch_id,
                Member.name,
                literal(Clock.LOST.value).label("clock"),
                contact.label("start"),
                no_text.label("start_text"),
            )
            .outerjoin(found, found.c.member_id == Member.id)
            .where(
                Member.id.in_(candidates),
                contact.between(lost.first, lost.last),
                not_(_pocket_today(today, pocket_days)),
                not_(and_(Member.transfer_letter_date.is_(None), _mobile_registered())),
                *scope,
            )
        )

    mobile = mobile_window(since, today)
    if not mobile.empty:
        # R-MOBILE-6M as /mobile suggests it: six months without offline 组织生活,
        # still in contact (not lost), not registered mobile already, and not
        # transferred out (SPEC §3: members who transferred are not mobile).
        parts.append(
            select(
                Member.id,
                Member.branch_id,
                Member.name,
                literal(Clock.MOBILE.value).label("clock"),
                Member.last_org_life.label("start"),
                no_text.label("start_text"),
            )
            .outerjoin(found, found.c.member_id == Member.id)
            .where(
                Member.last_org_life.between(mobile.first, mobile.last),
                # Not a bare IS NULL: SQLite has no statistics (nothing runs
                # ANALYZE) and would walk the 介绍信 index for it — nearly every
                # member — instead of the 组织生活 range (bench/scan.py: 5×).
                func.coalesce(Member.transfer_letter_date, None).is_(None),
                contact > lost_before(today),
                not_(_mobile_registered()),
                *scope,
            )
        )

    pocket = pocket_window(since, today, pocket_days)
    if not pocket.empty:
        # R-POCKET as /pocket: 介绍信 issued, no 回执, the period just ran out.
        parts.append(
            select(
                Member.id,
                Member.branch_id,
                Member.name,
                literal(Clock.POCKET.value).label("clock"),
                Member.transfer_letter_date.label("start"),
                no_text.label("start_text"),
            ).where(
                Member.transfer_letter_date.between(pocket.first, pocket.last),
                Member.transfer_receipt_date.is_(None),
                *scope,
            )
        )

    probation = probation_window(since, today)
    if not probation.empty:
        # R-PROBATION: a 预备党员's year is up. 入党时间 is ISO text that may stop at
        # the month ("2025-03"); ``iso_text_range`` keeps text order = date order.
        # A member whose transfer out is complete (回执 back) is the receiving
        # branch's to 转正. ``joined`` has no index (see the bench).
        low, high = iso_text_range(probation)
        parts.append(
            select(
                Member.id,
                Member.branch_id,
                Member.name,
                literal(Clock.PROBATION.value).label("clock"),
                cast(null(), Date).label("start"),
                Member.joined.label("start_text"),
            ).where(
                Member.member_type == MemberType.PROBATIONARY.value,
                Member.joined.between(low, high),
                Member.transfer_receipt_date.is_(None),
                *scope,
            )
        )
    parts += _disposition_parts(since, today, scope)
    if not parts:
        return None
    return union_all(*parts)


def _crossed_on(clock: str, start: date | None, start_text: str | None, pocket_days: int) -> date:
    ahead = AHEAD_DAYS.get(Clock(clock))
    if ahead is not None:
        assert start is not None
        return ends_crossing(start, ahead)
    if clock == Clock.PROBATION:
        assert start_text is not None
        return probation_crossing(probation_start(start_text))
    assert start is not None
    if clock == Clock.LOST:
        return lost_crossing(start)
    if clock == Clock.MOBILE:
        return mobile_crossing(start)
    return pocket_crossing(start, pocket_days)


async def crossings(
    session: AsyncSession,
    *,
    since: date,
    today: date,
    pocket_days: int,
    branch_ids: Sequence[int] | None = None,
) -> list[Crossing]:
    """Every member whose clock crossed in (since, today], by clock, then date
    and name. No access check: the scheduler calls it for everyone and
    ``digests_for_day`` gives each recipient only their own branches."""
    statement = _scan(since=since, today=today, pocket_days=pocket_days, branch_ids=branch_ids)
    if statement is None:
        return []
    rows = (await session.execute(statement)).all()
    # A day's window holds a handful of distinct start dates per clock: work
    # each crossing date out once.
    crossed: dict[tuple[str, date | None, str | None], date] = {}
    by_clock: dict[str, list[Crossing]] = {c: [] for c in CLOCKS}
    for first in range(0, len(rows), _CHUNK):
        if first:
            # A big day (thousands crossing) must not hold the bot's event
            # loop while the rows become Crossings: let other updates in.
            await asyncio.sleep(0)
        for member_id, branch_id, name, clock, start, text in rows[first : first + _CHUNK]:
            key = (clock, start, text)
            day = crossed.get(key)
            if day is None:
                day = crossed[key] = _crossed_on(clock, start, text, pocket_days)
            ends = start if clock in AHEAD_DAYS else None
            by_clock[clock].append(Crossing(member_id, branch_id, name, clock, day, ends))
    result: list[Crossing] = []
    for clock in CLOCKS:
        result += sorted(by_clock[clock], key=_BY_DAY_AND_NAME)
    return result


_BY_DAY_AND_NAME = attrgetter("crossed_on", "name", "member_id")
