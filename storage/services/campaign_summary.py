"""The campaign at a glance (/summary, issue 15 item 6): per branch, how far
the sweep has come and where the search for lost members stands.

Every figure comes from the records (SPEC §2a), counted by SQL aggregates
grouped by branch: a committee may hold 500 branches and 100,000 members, so
no Python loop walks the members. The per-member test of “lost now” mirrors
``domain.clocks.situation`` in SQL as ``storage.services.clock_scan`` does
(R-LOST-6M, R-POCKET, seed 001 附件4 note 6).

Who counts where (one row of ``BranchFigures``):

- 在册 ``members``: every member of the branch (排查前在册党员人数 counts all).
- 已核查 ``checked``: all five checks answered in the campaign (R-SWEEP;
  待完善 counts as answered); ``pending`` the open 待完善 answers.
- 失联 ``lost``: lost now (R-LOST-6M) or with a search outcome in force — a
  member reached by the search counts as lost at the search's start, so that,
  once every search ends, 失联 = 取得联系 + 仍无法取得联系 (seed 001 附件7).
- 取得联系 ``reached`` / 仍无法取得联系 ``unreachable``: the outcome in force.
- 查找中 ``searching``: lost now, no outcome yet, attempts logged;
  未开始查找 (``not_started``) the rest of the lost.
- 已处置 ``settled``: a lost member (search outcome in force) with a
  disposition done (处置已办结, SPEC §5: every step of its procedure recorded
  and approved); one withdrawn, not adopted or still in procedure does not
  count.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.campaigns import Direction
from domain.clocks import Standing
from domain.dispositions import Status
from domain.sweep import Check
from domain.thresholds import lost_before, pocket_before
from storage.models import (
    Campaign,
    CampaignBranch,
    ContactAttempt,
    Disposition,
    Member,
    MobileRecord,
    Organisation,
    SearchOutcome,
)
from storage.services import exports
from storage.services.access import AccessDenied, Actor, Role, require_branch, require_committee
from storage.services.campaigns import visible_campaigns
from storage.services.situations import branch_situations
from storage.services.submissions import StageDue, deadlines
from storage.services.sweep import answer_counts

# The chat table shows this many branches, those with the most lost first.
TOP_BRANCHES = 30


@dataclass(frozen=True)
class BranchFigures:
    """One branch's row (see the module note for who counts where)."""

    branch_id: int
    name: str
    members: int = 0  # 在册
    checked: int = 0  # 已核查 (all five checks answered)
    pending: int = 0  # open 待完善 answers
    lost: int = 0  # 失联
    reached: int = 0  # 取得联系
    unreachable: int = 0  # 仍无法取得联系
    searching: int = 0  # 查找中 (attempts logged, no outcome yet)
    settled: int = 0  # 已处置: a disposition done

    @property
    def not_started(self) -> int:
        """Lost now with no attempt logged and no outcome."""
        return self.lost - self.reached - self.unreachable - self.searching


_COUNTS = [f.name for f in fields(BranchFigures)][2:]


def total(rows: list[BranchFigures]) -> BranchFigures:
    """The 合计 row."""
    sums = {name: sum(getattr(r, name) for r in rows) for name in _COUNTS}
    return BranchFigures(0, "合计", **sums)


@dataclass(frozen=True)
class CommitteeSummary:
    campaign: Campaign
    committee_name: str
    rows: list[BranchFigures]  # every branch in scope, most lost first
    total: BranchFigures

    def top(self, limit: int = TOP_BRANCHES) -> tuple[list[BranchFigures], int]:
        """The rows the chat shows and how many are left out (see /export)."""
        return self.rows[:limit], max(0, len(self.rows) - limit)


@dataclass(frozen=True)
class BranchSummary:
    branch: Organisation
    campaign: Campaign | None
    standings: Counter[Standing]  # 正常/失联/流动/口袋/待完善 today
    figures: BranchFigures
    due: list[StageDue]  # stages ahead in campaigns covering the branch


def _later(a: Any, b: Any) -> ColumnElement[Any]:
    """The later of two nullable dates (as clock_scan: SQLite's MAX(a, b) is
    NULL if either is, PostgreSQL's GREATEST ignores NULLs)."""
    return case((a.is_(None), b), (b.is_(None), a), (a > b, a), else_=b)


def _per_branch(
    branches: ColumnElement[bool], campaign_id: int | None, today: date, pocket_days: int
) -> Any:
    """One statement: the figures of every branch matching ``branches``."""
    outcome = (
        select(
            SearchOutcome.member_id.label("member_id"),
            func.max(case((SearchOutcome.kind == "found", SearchOutcome.decided_on))).label(
                "found_on"
            ),
            func.max(case((SearchOutcome.kind == "found", 1), else_=0)).label("found"),
            func.max(case((SearchOutcome.kind == "unreachable", 1), else_=0)).label("unreachable"),
        )
        .where(SearchOutcome.superseded_by_id.is_(None))
        .group_by(SearchOutcome.member_id)
        .subquery("outcome")
    )
    contact = _later(_later(Member.last_org_life, Member.last_dues), outcome.c.found_on)
    pocket_now = and_(
        Member.transfer_letter_date.is_not(None),
        Member.transfer_receipt_date.is_(None),
        Member.transfer_letter_date <= pocket_before(today, pocket_days),
    )
    mobile = exists(
        select(MobileRecord.id).where(
            MobileRecord.member_id == Member.id, MobileRecord.ended_on.is_(None)
        )
    )
    attempted = exists(
        select(ContactAttempt.id).where(
            ContactAttempt.member_id == Member.id, ContactAttempt.superseded_by_id.is_(None)
        )
    )
    # Standing.LOST as domain.clocks.situation decides it.
    lost_now = and_(
        contact <= lost_before(today),
        not_(pocket_now),
        not_(and_(Member.transfer_letter_date.is_(None), mobile)),
    )
    settled = exists(
        select(Disposition.id).where(
            Disposition.member_id == Member.id, Disposition.status == Status.DONE.value
        )
    )
    found = func.coalesce(outcome.c.found, 0) == 1
    unreachable = and_(not_(found), func.coalesce(outcome.c.unreachable, 0) == 1)
    has_outcome = outcome.c.member_id.is_not(None)

    def count(condition: ColumnElement[bool]) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    columns: list[Any] = [Organisation.id, Organisation.name, func.count(Member.id)]
    if campaign_id is not None:
        per_member = answer_counts(campaign_id)
        columns += [
            count(per_member.c.answered >= len(Check)),
            func.coalesce(func.sum(per_member.c.pending), 0),
        ]
    else:
        columns += [literal(0), literal(0)]  # no campaign: no sweep to count
    columns += [
        count(or_(has_outcome, lost_now)),
        count(found),
        count(unreachable),
        count(and_(lost_now, not_(has_outcome), attempted)),
        count(and_(has_outcome, settled)),
    ]
    query = (
        select(*columns)
        .select_from(Organisation)
        .outerjoin(Member, Member.branch_id == Organisation.id)
        .outerjoin(outcome, outcome.c.member_id == Member.id)
    )
    if campaign_id is not None:
        query = query.outerjoin(per_member, per_member.c.member_id == Member.id)
    return (
        query.where(Organisation.kind == "branch", branches)
        .group_by(Organisation.id, Organisation.name)
        .order_by(Organisation.name, Organisation.id)
    )


async def branch_figures(
    session: AsyncSession,
    branches: ColumnElement[bool],
    campaign_id: int | None,
    today: date,
    pocket_days: int,
) -> list[BranchFigures]:
    """No access check: callers check first (``committee_summary``, ``branch_summary``)."""
    rows = await session.execute(_per_branch(branches, campaign_id, today, pocket_days))
    # SUM is Decimal on PostgreSQL.
    return [BranchFigures(row[0], row[1], *(int(v or 0) for v in row[2:])) for row in rows]


def _most_lost_first(row: BranchFigures) -> tuple[int, int, str]:
    return (-row.lost, -row.members, row.name)


async def committee_campaigns(session: AsyncSession, actor: Actor) -> list[Campaign]:
    """Open campaigns of the committees the actor staffs."""
    mine = actor.orgs(Role.COMMITTEE)
    return [c for c in await visible_campaigns(session, actor) if c.committee_id in mine]


async def committee_summary(
    session: AsyncSession, actor: Actor, campaign_id: int, today: date, pocket_days: int
) -> CommitteeSummary:
    """Every branch in the campaign's scope (all the committee's branches when
    the campaign names none), most lost first, and the 合计."""
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise AccessDenied
    committee = await require_committee(session, actor, campaign.committee_id)
    scoped = select(CampaignBranch.branch_id).where(CampaignBranch.campaign_id == campaign.id)
    has_scope = await session.scalar(scoped.limit(1)) is not None
    where = Organisation.id.in_(scoped) if has_scope else Organisation.parent_id == committee.id
    rows = await branch_figures(session, where, campaign.id, today, pocket_days)
    rows.sort(key=_most_lost_first)
    return CommitteeSummary(campaign, committee.name, rows, total(rows))


async def branch_summary(
    session: AsyncSession, actor: Actor, branch_id: int, today: date, pocket_days: int
) -> BranchSummary:
    """One branch: standings today, the search, the sweep of the campaign in
    force (if any) and the deadlines ahead with their 已报送 marks."""
    branch = await require_branch(session, actor, branch_id)
    campaign = await exports.current_campaign(session, branch)
    standings: Counter[Standing] = Counter(
        item.situation.standing
        for item in await branch_situations(
            session, actor, branch_id, today, pocket_days=pocket_days
        )
    )
    (figures,) = await branch_figures(
        session,
        Organisation.id == branch.id,
        campaign.id if campaign else None,
        today,
        pocket_days,
    )
    covering = set(
        await session.scalars(
            select(CampaignBranch.campaign_id).where(CampaignBranch.branch_id == branch.id)
        )
    )
    due = [
        d
        for d in await deadlines(session, actor, today)
        if d.campaign_id in covering
        and (
            d.direction is Direction.internal
            or (
                d.direction is Direction.branch_to_committee
                and any(o.org_id == branch.id for o in d.own)
            )
        )
    ]
    return BranchSummary(branch, campaign, standings, figures, due)
