"""The committee's review of each branch's sweep (核查, seed 004 “双查”):
findings, sending a branch back with what to correct, and 核查完成."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import N_, InvalidInput
from storage.db import write_tx
from storage.models import BranchReview, Campaign, CampaignBranch, RoleGrant
from storage.services import audit
from storage.services.access import AccessDenied, Actor, require_committee
from storage.services.sweep import branch_progress

KINDS = ("finding", "returned", "complete")


async def record_review(
    session: AsyncSession,
    actor: Actor,
    campaign_id: int,
    branch_id: int,
    *,
    kind: str,
    text: str | None = None,
) -> tuple[BranchReview, list[int]]:
    """Save a review mark; returns the branch's secretaries to tell (on a send-back)."""
    if kind not in KINDS:
        raise ValueError(kind)
    text = (text or "").strip() or None
    if kind != "complete" and not text:
        raise InvalidInput(N_("请写明核查发现或需要整改的内容。"))
    if text and len(text) > 500:
        raise InvalidInput(N_("最多500个字，请精简。"))
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise AccessDenied
    await require_committee(session, actor, campaign.committee_id)
    in_scope = await session.scalar(
        select(CampaignBranch.branch_id).where(
            CampaignBranch.campaign_id == campaign_id, CampaignBranch.branch_id == branch_id
        )
    )
    if in_scope is None:
        raise AccessDenied
    if kind == "complete":
        state = await branch_progress(session, actor, campaign_id, branch_id)
        if not state.complete:
            raise InvalidInput(
                N_("该支部还有{n}名党员没有完成五核查，暂不能标记核查完成。"),
                n=state.in_scope - state.checked,
            )
    async with write_tx(session):
        row = BranchReview(
            campaign_id=campaign_id,
            branch_id=branch_id,
            kind=kind,
            text=text,
            reviewed_by=actor.user_id,
        )
        session.add(row)
        await session.flush()
        audit.record(
            session,
            actor_id=actor.user_id,
            entity="review",
            entity_id=row.id,
            action=kind,
            new=text,
            org_id=branch_id,
        )
        secretaries: list[int] = []
        if kind == "returned":
            secretaries = list(
                await session.scalars(
                    select(RoleGrant.user_id).where(
                        RoleGrant.org_id == branch_id,
                        RoleGrant.role == "secretary",
                        RoleGrant.revoked_at.is_(None),
                    )
                )
            )
    return row, secretaries


async def review_marks(session: AsyncSession, campaign_id: int) -> dict[int, BranchReview]:
    """The latest send-back or 核查完成 per branch (findings do not change the state)."""
    rows = await session.scalars(
        select(BranchReview)
        .where(BranchReview.campaign_id == campaign_id, BranchReview.kind != "finding")
        .order_by(BranchReview.id)
    )
    return {row.branch_id: row for row in rows}
