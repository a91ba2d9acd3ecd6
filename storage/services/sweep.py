"""The first sweep (集中摸排, SPEC §2a): the five checks for every member in a
campaign's scope, answered by the branch, with the bot's own findings first."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, Subquery, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.clocks import MemberFacts
from domain.errors import N_, InvalidInput
from domain.member_fields import values_of
from domain.sweep import (
    COMPUTED,
    Answer,
    Check,
    CheckState,
    Finding,
    SweepProgress,
    computed_findings,
    progress,
)
from storage.db import write_tx
from storage.models import (
    Campaign,
    CampaignBranch,
    Escalation,
    Member,
    MobileRecord,
    Organisation,
    RoleGrant,
    SweepAnswer,
)
from storage.services import audit
from storage.services.access import (
    AccessDenied,
    Actor,
    require_branch,
    require_committee,
    require_member,
)


@dataclass(frozen=True)
class MemberSweep:
    """One member as the walk shows them: findings and answers so far."""

    member: Member
    findings: dict[Check, list[Finding]]
    answers: dict[Check, Answer]


async def _require_in_campaign(session: AsyncSession, campaign_id: int, branch_id: int) -> None:
    found = await session.scalar(
        select(CampaignBranch.branch_id).where(
            CampaignBranch.campaign_id == campaign_id, CampaignBranch.branch_id == branch_id
        )
    )
    if found is None:
        raise InvalidInput(N_("该党员不在本次排查范围内。"))


async def _answers(
    session: AsyncSession, campaign_id: int, member_ids: list[int]
) -> dict[int, dict[Check, Answer]]:
    rows = await session.scalars(
        select(SweepAnswer).where(
            SweepAnswer.campaign_id == campaign_id,
            SweepAnswer.member_id.in_(member_ids),
            SweepAnswer.superseded_by_id.is_(None),
        )
    )
    result: dict[int, dict[Check, Answer]] = {}
    for row in rows:
        result.setdefault(row.member_id, {})[Check(row.check_no)] = Answer.of(row.answer)
    return result


async def branch_progress(
    session: AsyncSession, actor: Actor, campaign_id: int, branch_id: int
) -> SweepProgress:
    await require_branch(session, actor, branch_id)
    await _require_in_campaign(session, campaign_id, branch_id)
    ids = list(await session.scalars(select(Member.id).where(Member.branch_id == branch_id)))
    answers = await _answers(session, campaign_id, ids)
    return progress([CheckState(m, a) for m, a in answers.items()], ids)


async def member_facts(session: AsyncSession, member: Member) -> MemberFacts:
    mobile = await session.scalar(
        select(MobileRecord.id).where(
            MobileRecord.member_id == member.id, MobileRecord.ended_on.is_(None)
        )
    )
    return MemberFacts(
        last_org_life=member.last_org_life,
        last_dues=member.last_dues,
        transfer_letter_date=member.transfer_letter_date,
        transfer_receipt_date=member.transfer_receipt_date,
        is_mobile_registered=mobile is not None,
        # SPEC §3: a member whose relation was transferred out is not mobile.
        relation_transferred=member.transfer_letter_date is not None,
    )


async def flagged_checks(
    session: AsyncSession, member: Member, today: date, pocket_days: int
) -> set[Check]:
    """The computed checks (1, 3, 4) where the bot still finds something."""
    facts = await member_facts(session, member)
    found = computed_findings(values_of(member), facts, today, pocket_days)
    return {check for check in COMPUTED if found[check]}


_CHUNK = 500


def _open_pending(member_ids: Iterable[int]) -> Select[tuple[SweepAnswer]]:
    """Standing 待完善 answers on computed checks, in campaigns still open."""
    return (
        select(SweepAnswer)
        .join(Campaign, Campaign.id == SweepAnswer.campaign_id)
        .where(
            SweepAnswer.member_id.in_(list(member_ids)),
            SweepAnswer.superseded_by_id.is_(None),
            SweepAnswer.answer == Answer.pending.value,
            SweepAnswer.check_no.in_([int(c) for c in COMPUTED]),
            Campaign.closed_at.is_(None),
        )
    )


async def pending_flags(
    session: AsyncSession, member_ids: Iterable[int], today: date, pocket_days: int
) -> dict[int, set[Check]]:
    """Before a change: for each member with an open computed 待完善, what the
    bot flags now. Most members have none, so a bulk change costs one query."""
    wanted, ids = list(member_ids), set()
    for start in range(0, len(wanted), _CHUNK):  # IN lists within the drivers' limits
        chunk = wanted[start : start + _CHUNK]
        ids.update(a.member_id for a in await session.scalars(_open_pending(chunk)))
    if not ids:
        return {}
    people = await session.scalars(select(Member).where(Member.id.in_(ids)))
    return {m.id: await flagged_checks(session, m, today, pocket_days) for m in people}


async def settle_filled(
    session: AsyncSession,
    actor: Actor,
    before: dict[int, set[Check]],
    today: date,
    pocket_days: int,
) -> int:
    """A 待完善 closes by itself once the missing thing is filled in (issue 8):
    only where the bot's findings for that check were there before the change
    (``pending_flags``) and are gone after, so a 待完善 the secretary set for
    reasons of their own stays. Runs inside the caller's write transaction;
    returns how many answers it closed."""
    if not before:
        return 0
    await session.flush()
    people = await session.scalars(
        select(Member).where(Member.id.in_(before)).execution_options(populate_existing=True)
    )
    cleared = {
        m.id: (m, before[m.id] - await flagged_checks(session, m, today, pocket_days))
        for m in people
    }
    settled = 0
    for old in list(await session.scalars(_open_pending(before))):
        member, checks = cleared[old.member_id]
        check = Check(old.check_no)
        if check in checks:
            await _record_answer(
                session, actor, member, old.campaign_id, check, Answer.ok, AUTO_NOTE, old
            )
            settled += 1
    return settled


AUTO_NOTE = "已补填，自动关闭待完善"


async def member_sweep(
    session: AsyncSession,
    actor: Actor,
    campaign_id: int,
    member_id: int,
    today: date,
    pocket_days: int = 90,
) -> MemberSweep:
    member = await require_member(session, actor, member_id)
    await _require_in_campaign(session, campaign_id, member.branch_id)
    facts = await member_facts(session, member)
    findings = computed_findings(values_of(member), facts, today, pocket_days)
    answers = (await _answers(session, campaign_id, [member.id])).get(member.id, {})
    return MemberSweep(member, findings, answers)


async def next_member(
    session: AsyncSession,
    actor: Actor,
    campaign_id: int,
    branch_id: int,
    *,
    after: int | None = None,
) -> int | None:
    """The next member (by name) not yet through all five checks; the walk
    resumes here after a restart because the answers are in the database."""
    await require_branch(session, actor, branch_id)
    await _require_in_campaign(session, campaign_id, branch_id)
    members = list(
        await session.execute(
            select(Member.id, Member.name)
            .where(Member.branch_id == branch_id)
            .order_by(Member.name, Member.id)
        )
    )
    answers = await _answers(session, campaign_id, [m.id for m in members])
    todo = [m.id for m in members if len(answers.get(m.id, {})) < len(Check)]
    if after in todo:
        later = todo[todo.index(after) + 1 :]
        return later[0] if later else (todo[0] if todo[0] != after else None)
    return todo[0] if todo else None


async def answer_checks(
    session: AsyncSession,
    actor: Actor,
    campaign_id: int,
    member_id: int,
    answers: dict[Check, Answer],
    note: str | None = None,
) -> None:
    """Record answers (one or all five) in one transaction; a changed answer
    supersedes the old one, which stays (R-DOSSIER)."""
    note = (note or "").strip() or None
    if note and len(note) > 300:
        raise InvalidInput(N_("说明最多300个字。"))
    if Answer.problem in answers.values() and not note:
        raise InvalidInput(N_("标记“有问题”时请写明问题。"))
    async with write_tx(session):
        member = await require_member(session, actor, member_id, write=True)
        await _require_in_campaign(session, campaign_id, member.branch_id)
        current = {
            Check(row.check_no): row
            for row in await session.scalars(
                select(SweepAnswer).where(
                    SweepAnswer.campaign_id == campaign_id,
                    SweepAnswer.member_id == member.id,
                    SweepAnswer.superseded_by_id.is_(None),
                )
            )
        }
        for check, answer in sorted(answers.items()):
            old = current.get(check)
            if old is not None and old.answer == answer.value and old.note == note:
                continue
            await _record_answer(session, actor, member, campaign_id, check, answer, note, old)


async def _record_answer(
    session: AsyncSession,
    actor: Actor,
    member: Member,
    campaign_id: int,
    check: Check,
    answer: Answer,
    note: str | None,
    old: SweepAnswer | None,
) -> SweepAnswer:
    """Add the answer; the one it replaces stays, marked superseded (R-DOSSIER)."""
    row = SweepAnswer(
        campaign_id=campaign_id,
        member_id=member.id,
        check_no=int(check),
        answer=answer.value,
        note=note,
        answered_by=actor.user_id,
    )
    session.add(row)
    await session.flush()
    if old is not None:
        old.superseded_by_id = row.id
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="sweep",
        entity_id=row.id,
        action="answer",
        field=str(int(check)),
        old=old.answer if old else None,
        new=answer.value,
        member_id=member.id,
        org_id=member.branch_id,
    )
    return row


@dataclass(frozen=True)
class OpenItem:
    """A 待完善 or ✘ answer still standing (R-SWEEP: listed until resolved)."""

    member_id: int
    name: str
    check: Check
    answer: Answer
    note: str | None


async def open_items(
    session: AsyncSession, actor: Actor, campaign_id: int, branch_id: int
) -> list[OpenItem]:
    await require_branch(session, actor, branch_id)
    await _require_in_campaign(session, campaign_id, branch_id)
    rows = await session.execute(
        select(SweepAnswer, Member.name)
        .join(Member, Member.id == SweepAnswer.member_id)
        .where(
            SweepAnswer.campaign_id == campaign_id,
            Member.branch_id == branch_id,
            SweepAnswer.superseded_by_id.is_(None),
            SweepAnswer.answer.in_([Answer.pending.value, Answer.problem.value]),
        )
        .order_by(Member.name, Member.id, SweepAnswer.check_no)
    )
    return [
        OpenItem(a.member_id, name, Check(a.check_no), Answer.of(a.answer), a.note)
        for a, name in rows
    ]


@dataclass(frozen=True)
class BranchProgress:
    """One row of the committee's progress message (核查进度)."""

    branch_id: int
    name: str
    members: int
    checked: int
    pending: int
    problems: int


def answer_counts(campaign_id: int) -> Subquery:
    """Per member: standing answers, open 待完善 and open ✘ — the one aggregate
    every sweep count is built on (progress, 统计表)."""
    return (
        select(
            SweepAnswer.member_id.label("member_id"),
            func.count().label("answered"),
            func.sum(case((SweepAnswer.answer == Answer.pending.value, 1), else_=0)).label(
                "pending"
            ),
            func.sum(case((SweepAnswer.answer == Answer.problem.value, 1), else_=0)).label(
                "problems"
            ),
        )
        .where(SweepAnswer.campaign_id == campaign_id, SweepAnswer.superseded_by_id.is_(None))
        .group_by(SweepAnswer.member_id)
        .subquery()
    )


async def committee_progress(
    session: AsyncSession, actor: Actor, campaign_id: int
) -> tuple[Campaign, list[BranchProgress]]:
    """Every branch of the campaign in one pass of SQL aggregates (a committee
    may have hundreds of branches): members, fully checked, open items."""
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise AccessDenied
    await require_committee(session, actor, campaign.committee_id)
    per_member = answer_counts(campaign_id)
    rows = await session.execute(
        select(
            Organisation.id,
            Organisation.name,
            func.count(Member.id),
            func.coalesce(func.sum(case((per_member.c.answered >= len(Check), 1), else_=0)), 0),
            func.coalesce(func.sum(per_member.c.pending), 0),
            func.coalesce(func.sum(per_member.c.problems), 0),
        )
        .select_from(CampaignBranch)
        .join(Organisation, Organisation.id == CampaignBranch.branch_id)
        .outerjoin(Member, Member.branch_id == Organisation.id)
        .outerjoin(per_member, per_member.c.member_id == Member.id)
        .where(CampaignBranch.campaign_id == campaign_id)
        .group_by(Organisation.id, Organisation.name)
        .order_by(Organisation.name)
    )
    return campaign, [BranchProgress(*map(_int_or_str, row)) for row in rows]


def _int_or_str(value: object) -> object:
    # SUM over an empty join is NULL on some engines and Decimal on PostgreSQL.
    return value if isinstance(value, str) else int(value or 0)  # type: ignore[call-overload]


ESCALATION_KINDS = {"identity": Check.file, "discipline": Check.conduct}


async def escalate(
    session: AsyncSession,
    actor: Actor,
    campaign_id: int,
    member_id: int,
    *,
    kind: str,
    referred_to: str,
    note: str | None = None,
) -> tuple[Escalation, list[int]]:
    """Record the case and return the committee users to tell (identity cases).

    A suspected 违纪违法 is only recorded as handed on (SPEC §5: 纪律处分 happens
    outside the bot); a suspected 违规入党 goes to the committee over the branch."""
    if kind not in ESCALATION_KINDS:
        raise ValueError(kind)
    referred_to = referred_to.strip()
    if not referred_to or len(referred_to) > 100:
        raise InvalidInput(N_("请写明移交给谁（最多100个字），例如：纪检监察机关。"))
    async with write_tx(session):
        member = await require_member(session, actor, member_id, write=True)
        await _require_in_campaign(session, campaign_id, member.branch_id)
        row = Escalation(
            campaign_id=campaign_id,
            member_id=member.id,
            kind=kind,
            referred_to=referred_to,
            note=(note or "").strip()[:300] or None,
            recorded_by=actor.user_id,
        )
        session.add(row)
        await session.flush()
        audit.record(
            session,
            actor_id=actor.user_id,
            entity="escalation",
            entity_id=row.id,
            action=kind,
            new=referred_to,
            member_id=member.id,
            org_id=member.branch_id,
        )
        branch = await session.get(Organisation, member.branch_id)
        staff: list[int] = []
        if kind == "identity" and branch is not None and branch.parent_id is not None:
            staff = list(
                await session.scalars(
                    select(RoleGrant.user_id).where(
                        RoleGrant.org_id == branch.parent_id,
                        RoleGrant.role == "committee",
                        RoleGrant.revoked_at.is_(None),
                    )
                )
            )
    return row, staff
