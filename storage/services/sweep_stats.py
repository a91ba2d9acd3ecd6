"""The sweep counted by 人员类别 for a committee (党员摸底核查情况统计表, seed 000
附件9: “按教职工和学生分类填写”). The workbook comes with the forms; these are
its figures, built from records, never typed (SPEC §2a)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.clocks import Standing
from domain.sweep import Check
from storage.models import Campaign, CampaignBranch, Member
from storage.services import categories
from storage.services.access import AccessDenied, Actor, require_committee
from storage.services.situations import branch_situations
from storage.services.sweep import answer_counts

COUNTED = (Standing.LOST, Standing.MOBILE, Standing.POCKET)


@dataclass
class CategoryRow:
    """One row of the table; ``category`` None is 未填写人员类别."""

    category: str | None
    members: int = 0
    checked: int = 0  # all five checks answered (R-SWEEP)
    pending: int = 0  # open 待完善 answers
    problems: int = 0  # open ✘ answers
    standings: Counter[Standing] = field(default_factory=Counter)

    def add(self, other: CategoryRow) -> None:
        self.members += other.members
        self.checked += other.checked
        self.pending += other.pending
        self.problems += other.problems
        self.standings.update(other.standings)


async def category_summary(
    session: AsyncSession, actor: Actor, campaign_id: int, today: date, pocket_days: int
) -> tuple[Campaign, list[CategoryRow], CategoryRow]:
    """Rows in the committee's list order (then 未填写), and the total."""
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise AccessDenied
    await require_committee(session, actor, campaign.committee_id)
    rows = {
        name: CategoryRow(name) for name in await categories.names(session, campaign.committee_id)
    }
    for category, members, checked, pending, problems in await session.execute(
        _sweep_counts(campaign_id)
    ):
        row = rows.setdefault(category, CategoryRow(category))
        row.members, row.checked = int(members), int(checked or 0)
        row.pending, row.problems = int(pending or 0), int(problems or 0)
    branch_ids = await session.scalars(
        select(CampaignBranch.branch_id).where(CampaignBranch.campaign_id == campaign_id)
    )
    for branch_id in list(branch_ids):
        for item in await branch_situations(
            session, actor, branch_id, today, pocket_days=pocket_days
        ):
            standing = item.situation.standing
            if standing in COUNTED:
                rows.setdefault(item.member.category, CategoryRow(item.member.category)).standings[
                    standing
                ] += 1
    ordered = sorted(rows.values(), key=lambda r: r.category is None)
    total = CategoryRow(None)
    for row in ordered:
        total.add(row)
    return campaign, ordered, total


def _sweep_counts(campaign_id: int) -> Select[Any]:
    """members, fully checked, open 待完善 and ✘, grouped by 人员类别, in one query."""
    per_member = answer_counts(campaign_id)
    return (
        select(
            Member.category,
            func.count(Member.id),
            func.sum(case((per_member.c.answered >= len(Check), 1), else_=0)),
            func.sum(per_member.c.pending),
            func.sum(per_member.c.problems),
        )
        .select_from(CampaignBranch)
        .join(Member, Member.branch_id == CampaignBranch.branch_id)
        .outerjoin(per_member, per_member.c.member_id == Member.id)
        .where(CampaignBranch.campaign_id == campaign_id)
        .group_by(Member.category)
    )
