"""Who is lost, mobile or pocket (失联 / 流动 / 口袋): computed from stored dates
every time (R-LOST-6M, R-MOBILE-6M, R-POCKET), never from a typed flag."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.clocks import MemberFacts, Situation, Standing, mobile_suspected, situation
from storage.models import ContactAttempt, Member, MobileRecord, SearchOutcome
from storage.services.access import Actor, require_branch


@dataclass(frozen=True)
class MemberSituation:
    member: Member
    situation: Situation
    attempts: int


# Looked up beside each member in branch_situations' one query.
_ATTEMPTS = (
    select(func.count())
    .where(ContactAttempt.member_id == Member.id, ContactAttempt.superseded_by_id.is_(None))
    .correlate(Member)
    .scalar_subquery()
)
_MOBILE = (
    exists()
    .where(MobileRecord.member_id == Member.id, MobileRecord.ended_on.is_(None))
    .correlate(Member)
)
_FOUND_ON = (
    select(func.max(SearchOutcome.decided_on))
    .where(
        SearchOutcome.member_id == Member.id,
        SearchOutcome.kind == "found",
        SearchOutcome.superseded_by_id.is_(None),
    )
    .correlate(Member)
    .scalar_subquery()
)


async def branch_situations(
    session: AsyncSession, actor: Actor, branch_id: int, today: date, *, pocket_days: int = 90
) -> list[MemberSituation]:
    """Every member of the branch with their situation and attempt count, in
    one query: each member's attempts, open mobile registration and latest
    finding are looked up beside it (a round trip each cost /log a quarter
    of a worker's CPU, bench/load.py), and no list of ids is sent back (a
    large branch would pass the drivers' limit on parameters)."""
    await require_branch(session, actor, branch_id)
    rows = await session.execute(
        select(Member, _ATTEMPTS, _MOBILE, _FOUND_ON).where(Member.branch_id == branch_id)
    )
    result = []
    for m, attempts, mobile, found_on in rows:
        facts = MemberFacts(
            last_org_life=m.last_org_life,
            last_dues=m.last_dues,
            transfer_letter_date=m.transfer_letter_date,
            transfer_receipt_date=m.transfer_receipt_date,
            is_mobile_registered=bool(mobile),
            relation_transferred=m.transfer_letter_date is not None,
            found_on=found_on,
        )
        result.append(MemberSituation(m, situation(facts, today, pocket_days), attempts))
    return result


def longest_first(rows: list[MemberSituation], standing: Standing) -> list[MemberSituation]:
    """The ones with this standing, the longest without contact first."""
    chosen = [r for r in rows if r.situation.standing is standing]
    return sorted(chosen, key=lambda r: (r.situation.last_contact or date.min, r.member.name))


def mobile_suspects(rows: list[MemberSituation], today: date) -> list[MemberSituation]:
    """R-MOBILE-6M: still in contact (dues paid) but six months without offline
    organisation life — the branch should decide whether to manage them as
    mobile members (seed 003 一). A suggestion, never a standing."""
    return [
        r
        for r in rows
        if r.situation.standing is Standing.NORMAL
        and mobile_suspected(r.member.last_org_life, today)
    ]
