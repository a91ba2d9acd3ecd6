"""The committee's review of each branch's sweep (核查, seed 004 “双查”):
findings, sending a branch back with what to correct, and 核查完成."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import N_, InvalidInput
from storage.db import write_tx
from storage.models import BranchReview, Campaign, CampaignBranch, Member, Organisation, RoleGrant
from storage.services import audit
from storage.services.access import AccessDenied, Actor, require_branch, require_committee
from storage.services.sweep import branch_progress

KINDS = ("finding", "returned", "complete")


@dataclass(frozen=True)
class Finding:
    """A recorded finding, with the member's name when it is about one member."""

    id: int
    text: str
    member_id: int | None
    member_name: str | None
    open: bool


@dataclass(frozen=True)
class Recorded:
    """What a review mark leaves for the handler to say."""

    row: BranchReview
    secretaries: list[int]  # to tell, on a send-back
    open_findings: list[Finding]  # per-member findings listed in the send-back


async def require_review_scope(
    session: AsyncSession, actor: Actor, campaign_id: int, branch_id: int
) -> Organisation:
    """The branch, if it is in the scope of a campaign of the actor's committee
    (R-ACL-BRANCH)."""
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise AccessDenied
    await require_committee(session, actor, campaign.committee_id)
    in_scope = await session.scalar(
        select(CampaignBranch.branch_id).where(
            CampaignBranch.campaign_id == campaign_id, CampaignBranch.branch_id == branch_id
        )
    )
    branch = await session.get(Organisation, branch_id)
    if in_scope is None or branch is None:
        raise AccessDenied
    return branch


async def require_review_member(
    session: AsyncSession, actor: Actor, campaign_id: int, branch_id: int, member_id: int
) -> Member:
    """A member of that branch, the branch in the campaign's scope; a member of
    any other branch is refused (无权限), whoever may read them otherwise."""
    await require_review_scope(session, actor, campaign_id, branch_id)
    member = await session.get(Member, member_id)
    if member is None or member.branch_id != branch_id:
        raise AccessDenied
    return member


async def record_review(
    session: AsyncSession,
    actor: Actor,
    campaign_id: int,
    branch_id: int,
    *,
    kind: str,
    text: str | None = None,
    member_id: int | None = None,
) -> Recorded:
    """Save a review mark. A finding may name one member of the branch (seed 004:
    核查 per branch and, where needed, per member); it then goes into that
    member's dossier too (R-DOSSIER)."""
    if kind not in KINDS:
        raise ValueError(kind)
    if member_id is not None and kind != "finding":
        raise ValueError(kind)
    text = (text or "").strip() or None
    if kind != "complete" and not text:
        raise InvalidInput(N_("请写明核查发现或需要整改的内容。"))
    if text and len(text) > 500:
        raise InvalidInput(N_("最多500个字，请精简。"))
    if member_id is None:
        await require_review_scope(session, actor, campaign_id, branch_id)
    else:
        await require_review_member(session, actor, campaign_id, branch_id, member_id)
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
            member_id=member_id,
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
            member_id=member_id,
            org_id=branch_id,
        )
        secretaries: list[int] = []
        open_findings: list[Finding] = []
        if kind == "returned":
            open_findings = [
                f
                for f in await _findings(session, campaign_id, branch_id)
                if f.member_id and f.open
            ]
            secretaries = list(
                await session.scalars(
                    select(RoleGrant.user_id).where(
                        RoleGrant.org_id == branch_id,
                        RoleGrant.role == "secretary",
                        RoleGrant.revoked_at.is_(None),
                    )
                )
            )
    return Recorded(row, secretaries, open_findings)


async def _findings(session: AsyncSession, campaign_id: int, branch_id: int) -> list[Finding]:
    """The branch's findings in this campaign, oldest first. A finding stays
    open until the working group next marks the branch 核查完成."""
    last_complete = await session.scalar(
        select(BranchReview.id)
        .where(
            BranchReview.campaign_id == campaign_id,
            BranchReview.branch_id == branch_id,
            BranchReview.kind == "complete",
        )
        .order_by(BranchReview.id.desc())
        .limit(1)
    )
    rows = await session.execute(
        select(BranchReview, Member.name)
        .outerjoin(Member, Member.id == BranchReview.member_id)
        .where(
            BranchReview.campaign_id == campaign_id,
            BranchReview.branch_id == branch_id,
            BranchReview.kind == "finding",
        )
        .order_by(BranchReview.id)
    )
    return [
        Finding(r.id, r.text or "", r.member_id, name, r.id > (last_complete or 0))
        for r, name in rows
    ]


async def branch_findings(
    session: AsyncSession, actor: Actor, campaign_id: int, branch_id: int
) -> tuple[Organisation, list[Finding]]:
    """The branch and its findings, as the committee's review view lists them."""
    branch = await require_review_scope(session, actor, campaign_id, branch_id)
    return branch, await _findings(session, campaign_id, branch_id)


async def open_findings(
    session: AsyncSession, actor: Actor, campaign_id: int, branch_id: int
) -> list[Finding]:
    """The working group's findings not yet closed by 核查完成, for the branch's
    own /todo (the secretary reads them; R-ACL-BRANCH by the branch)."""
    await require_branch(session, actor, branch_id)
    return [f for f in await _findings(session, campaign_id, branch_id) if f.open]


async def review_marks(session: AsyncSession, campaign_id: int) -> dict[int, BranchReview]:
    """The latest send-back or 核查完成 per branch (findings do not change the state)."""
    rows = await session.scalars(
        select(BranchReview)
        .where(BranchReview.campaign_id == campaign_id, BranchReview.kind != "finding")
        .order_by(BranchReview.id)
    )
    return {row.branch_id: row for row in rows}
