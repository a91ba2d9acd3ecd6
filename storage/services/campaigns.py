"""Campaigns and their deadlines (排查工作安排): started from a notice's template,
edited by committee staff, listed with days left for everyone in scope."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.campaigns import (
    Direction,
    Item,
    Stage,
    TemplateKey,
    default_span,
    format_offsets,
    owed_items,
    parse_offsets,
    stages_for,
    validate_plan,
)
from domain.errors import N_, InvalidInput
from storage.db import utc, write_tx
from storage.models import (
    Campaign,
    CampaignBranch,
    CampaignStage,
    ItemSubmission,
    Member,
    Organisation,
    StageItem,
    SweepAnswer,
)
from storage.services import audit
from storage.services.access import AccessDenied, Actor, Role, require_committee


class ConfirmRemoval(Exception):
    """Branches leaving the scope already hold sweep answers: ask first.

    The answers are kept either way (R-SWEEP); putting the branch back in
    scope shows them again."""

    def __init__(self, branches: list[Organisation]) -> None:
        super().__init__(len(branches))
        # Plain values: the rollback that follows expires the rows.
        self.branches: list[tuple[int, str]] = [(b.id, b.name) for b in branches]


@dataclass(frozen=True)
class Deadline:
    """One stage due, as a user in scope sees it (截止时间)."""

    campaign: Campaign
    stage: CampaignStage


def _item_rows(stage_id: int, items: Iterable[Item]) -> list[StageItem]:
    return [
        StageItem(stage_id=stage_id, position=n, title=item.title, form=item.form)
        for n, item in enumerate(items)
    ]


async def _add_stage_rows(
    session: AsyncSession, campaign_id: int, stages: Iterable[Stage]
) -> list[CampaignStage]:
    """The stages and the items each owes (none for 工作安排)."""
    rows = [(s, _stage_row(campaign_id, s)) for s in stages]
    session.add_all(row for _s, row in rows)
    await session.flush()
    session.add_all(item for s, row in rows for item in _item_rows(row.id, owed_items(s)))
    return [row for _s, row in rows]


def _stage_row(campaign_id: int, stage: Stage) -> CampaignStage:
    return CampaignStage(
        campaign_id=campaign_id,
        key=stage.key,
        title=stage.title,
        starts=stage.starts,
        due=stage.due,
        what=stage.what,
        direction=stage.direction,
        approximate=stage.approximate,
    )


async def create_campaign(
    session: AsyncSession,
    actor: Actor,
    committee_id: int,
    *,
    template: str,
    name: str,
    year: int,
    branch_ids: Iterable[int] | None = None,
) -> Campaign:
    key = TemplateKey.of(template)
    stages = stages_for(key, year)
    starts, ends = default_span(key, year)
    plan = validate_plan(name, starts, ends, stages)
    async with write_tx(session):
        await require_committee(session, actor, committee_id)
        under = {b.id for b in await _branches_under(session, committee_id)}
        if not under:
            raise InvalidInput(N_("这个党委下还没有党支部，无法开展排查。"))
        scope = under if branch_ids is None else _checked_scope(under, branch_ids)
        campaign = Campaign(
            committee_id=committee_id,
            name=plan.name,
            template=key.value,
            starts=plan.starts,
            ends=plan.ends,
            created_by=actor.user_id,
        )
        session.add(campaign)
        await session.flush()
        await _add_stage_rows(session, campaign.id, plan.stages)
        session.add_all(CampaignBranch(campaign_id=campaign.id, branch_id=b) for b in sorted(scope))
        audit.record(
            session,
            actor_id=actor.user_id,
            entity="campaign",
            entity_id=campaign.id,
            action="create",
            field=key.value,
            new=plan.name,
            org_id=committee_id,
        )
        _record_scope(session, actor, campaign, old=set(), new=scope)
    return campaign


async def _branches_under(session: AsyncSession, committee_id: int) -> list[Organisation]:
    rows = await session.scalars(
        select(Organisation)
        .where(Organisation.parent_id == committee_id, Organisation.kind == "branch")
        .order_by(Organisation.name, Organisation.id)
    )
    return list(rows)


def _checked_scope(under: set[int], branch_ids: Iterable[int]) -> set[int]:
    """A chosen scope: only branches under the committee (R-ACL-BRANCH), never empty."""
    scope = set(branch_ids)
    if not scope <= under:
        raise AccessDenied
    if not scope:
        raise InvalidInput(N_("请至少选择一个党支部。"))
    return scope


def _ids_text(ids: set[int]) -> str | None:
    return ",".join(str(i) for i in sorted(ids)) or None


def _record_scope(
    session: AsyncSession, actor: Actor, campaign: Campaign, *, old: set[int], new: set[int]
) -> None:
    """Every scope setting is one audit event: the branch ids before and after."""
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="campaign",
        entity_id=campaign.id,
        action="scope",
        field="branches",
        old=_ids_text(old),
        new=_ids_text(new),
        org_id=campaign.committee_id,
    )


async def scope_choices(
    session: AsyncSession, actor: Actor, committee_id: int, ticked: Iterable[int] = ()
) -> list[Organisation]:
    """The branches a committee may put in a campaign's scope. Refuses (无权限)
    when ``ticked`` names a branch outside the committee: forged callback data
    (R-ACL-BRANCH)."""
    await require_committee(session, actor, committee_id)
    branches = await _branches_under(session, committee_id)
    if not set(ticked) <= {b.id for b in branches}:
        raise AccessDenied
    return branches


async def scope_of(
    session: AsyncSession, actor: Actor, campaign_id: int
) -> tuple[Campaign, set[int]]:
    """An open campaign of the actor's committee and the branch ids in its scope."""
    campaign = await _campaign_for_change(session, actor, campaign_id)
    ids = await session.scalars(
        select(CampaignBranch.branch_id).where(CampaignBranch.campaign_id == campaign_id)
    )
    return campaign, set(ids)


async def set_scope(
    session: AsyncSession,
    actor: Actor,
    campaign_id: int,
    branch_ids: Iterable[int],
    *,
    confirmed: bool = False,
) -> tuple[set[int], set[int]]:
    """Change an open campaign's scope; returns the branch ids (added, removed).

    Removing a branch whose members already have sweep answers in this campaign
    raises ``ConfirmRemoval`` unless ``confirmed``; the answers are never
    deleted, only the branch leaves the scope."""
    async with write_tx(session):
        campaign, current = await scope_of(session, actor, campaign_id)
        under = {b.id for b in await _branches_under(session, campaign.committee_id)}
        scope = _checked_scope(under, branch_ids)
        added, removed = scope - current, current - scope
        if removed and not confirmed:
            answered = await _with_answers(session, campaign_id, removed)
            if answered:
                raise ConfirmRemoval(answered)
        if not added and not removed:
            return added, removed
        if removed:
            await session.execute(
                delete(CampaignBranch).where(
                    CampaignBranch.campaign_id == campaign_id,
                    CampaignBranch.branch_id.in_(removed),
                )
            )
        session.add_all(CampaignBranch(campaign_id=campaign_id, branch_id=b) for b in sorted(added))
        _record_scope(session, actor, campaign, old=current, new=scope)
    return added, removed


async def _with_answers(
    session: AsyncSession, campaign_id: int, branch_ids: set[int]
) -> list[Organisation]:
    """Of ``branch_ids``, those whose members have answers in this campaign."""
    answered = (
        select(Member.branch_id)
        .join(SweepAnswer, SweepAnswer.member_id == Member.id)
        .where(SweepAnswer.campaign_id == campaign_id, Member.branch_id.in_(branch_ids))
    )
    rows = await session.scalars(
        select(Organisation).where(Organisation.id.in_(answered)).order_by(Organisation.name)
    )
    return list(rows)


async def _campaign_for_change(session: AsyncSession, actor: Actor, campaign_id: int) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise AccessDenied
    await require_committee(session, actor, campaign.committee_id)
    if campaign.closed_at is not None:
        raise InvalidInput(N_("这次排查已经结束，不能再修改。"))
    return campaign


async def _stages(session: AsyncSession, campaign_id: int) -> list[CampaignStage]:
    rows = await session.scalars(
        select(CampaignStage)
        .where(CampaignStage.campaign_id == campaign_id)
        .order_by(CampaignStage.due, CampaignStage.id)
    )
    return list(rows)


def _as_stage(row: CampaignStage) -> Stage:
    return Stage(
        key=row.key,
        title=row.title,
        starts=row.starts,
        due=row.due,
        what=row.what or "",
        direction=Direction.of(row.direction),
        approximate=row.approximate,
    )


async def move_stage(
    session: AsyncSession, actor: Actor, stage_id: int, *, due: date, starts: date | None = None
) -> CampaignStage:
    """A new date for a stage, checked against the whole plan before saving."""
    async with write_tx(session):
        row = await session.get(CampaignStage, stage_id)
        if row is None:
            raise AccessDenied
        campaign = await _campaign_for_change(session, actor, row.campaign_id)
        others = [_as_stage(s) for s in await _stages(session, campaign.id) if s.id != row.id]
        moved = Stage(
            key=row.key,
            title=row.title,
            starts=starts if starts is not None else row.starts,
            due=due,
            what=row.what or "",
            direction=Direction.of(row.direction),
            approximate=False,
        )
        validate_plan(campaign.name, campaign.starts, campaign.ends, (*others, moved))
        old = row.due
        row.due, row.starts, row.approximate = moved.due, moved.starts, False
        audit.record(
            session,
            actor_id=actor.user_id,
            entity="stage",
            entity_id=row.id,
            action="move",
            field="due",
            old=old,
            new=due,
            org_id=campaign.committee_id,
        )
    return row


async def add_stage(
    session: AsyncSession, actor: Actor, campaign_id: int, *, title: str, due: date, what: str = ""
) -> CampaignStage:
    async with write_tx(session):
        campaign = await _campaign_for_change(session, actor, campaign_id)
        taken = {s.key for s in await _stages(session, campaign.id)}
        key = next(f"extra{n}" for n in range(1, len(taken) + 2) if f"extra{n}" not in taken)
        stage = Stage(
            key=key,
            title=title.strip(),
            starts=None,
            due=due,
            what=what.strip(),
            direction=Direction.branch_to_committee,
            approximate=False,
        )
        if not stage.title or len(stage.title) > 60:
            raise InvalidInput(N_("阶段名称不能为空，最多60个字。"))
        existing = [_as_stage(s) for s in await _stages(session, campaign.id)]
        validate_plan(campaign.name, campaign.starts, campaign.ends, (*existing, stage))
        (row,) = await _add_stage_rows(session, campaign.id, [stage])
        audit.record(
            session,
            actor_id=actor.user_id,
            entity="stage",
            entity_id=row.id,
            action="add",
            new=f"{stage.title} {due}",
            org_id=campaign.committee_id,
        )
    return row


async def remove_stage(session: AsyncSession, actor: Actor, stage_id: int) -> None:
    async with write_tx(session):
        row = await session.get(CampaignStage, stage_id)
        if row is None:
            raise AccessDenied
        campaign = await _campaign_for_change(session, actor, row.campaign_id)
        items = select(StageItem.id).where(StageItem.stage_id == row.id)
        marks = await session.execute(
            delete(ItemSubmission).where(ItemSubmission.item_id.in_(items))
        )
        await session.execute(delete(StageItem).where(StageItem.stage_id == row.id))
        await session.execute(delete(CampaignStage).where(CampaignStage.id == row.id))
        # The marks go with the stage; the audit keeps every mark and undo
        # (storage/services/submissions.py) and counts what was removed here.
        audit.record(
            session,
            actor_id=actor.user_id,
            entity="stage",
            entity_id=row.id,
            action="remove",
            field="marks",
            old=f"{row.title} {row.due}",
            new=getattr(marks, "rowcount", None),
            org_id=campaign.committee_id,
        )


async def set_offsets(
    session: AsyncSession, actor: Actor, campaign_id: int, text: str
) -> tuple[int, ...]:
    """Committee staff set the days before each deadline that reminders go out
    (R-REMIND), typed as “7 3 1 0”; returns the offsets saved."""
    offsets = parse_offsets(text)
    async with write_tx(session):
        campaign = await _campaign_for_change(session, actor, campaign_id)
        old = campaign.remind_offsets
        campaign.remind_offsets = format_offsets(offsets)
        audit.record(
            session,
            actor_id=actor.user_id,
            entity="campaign",
            entity_id=campaign.id,
            action="offsets",
            field="remind_offsets",
            old=old,
            new=campaign.remind_offsets,
            org_id=campaign.committee_id,
        )
    return offsets


async def close_campaign(
    session: AsyncSession, actor: Actor, campaign_id: int, now: datetime
) -> None:
    async with write_tx(session):
        campaign = await _campaign_for_change(session, actor, campaign_id)
        campaign.closed_at = utc(now)
        audit.record(
            session,
            actor_id=actor.user_id,
            entity="campaign",
            entity_id=campaign.id,
            action="close",
            org_id=campaign.committee_id,
        )


async def visible_campaigns(
    session: AsyncSession, actor: Actor, *, open_only: bool = True
) -> list[Campaign]:
    """Campaigns of the actor's committees, and those with the actor's branches in scope."""
    committees = actor.orgs(Role.COMMITTEE)
    branches = actor.orgs(Role.SECRETARY)
    if not committees and not branches:
        return []
    in_branch = select(CampaignBranch.campaign_id).where(CampaignBranch.branch_id.in_(branches))
    query = select(Campaign).where(
        or_(Campaign.committee_id.in_(committees), Campaign.id.in_(in_branch))
    )
    if open_only:
        query = query.where(Campaign.closed_at.is_(None))
    return list(await session.scalars(query.order_by(Campaign.starts, Campaign.id)))


async def campaign_detail(
    session: AsyncSession, actor: Actor, campaign_id: int
) -> tuple[Campaign, list[CampaignStage], list[Organisation]]:
    visible = {c.id for c in await visible_campaigns(session, actor, open_only=False)}
    if campaign_id not in visible:
        raise AccessDenied
    campaign = await session.get(Campaign, campaign_id)
    assert campaign is not None
    branches = list(
        await session.scalars(
            select(Organisation)
            .join(CampaignBranch, CampaignBranch.branch_id == Organisation.id)
            .where(CampaignBranch.campaign_id == campaign_id)
            .order_by(Organisation.name)
        )
    )
    return campaign, await _stages(session, campaign_id), branches


async def deadlines(session: AsyncSession, actor: Actor, today: date) -> list[Deadline]:
    """Stages not yet past, soonest first, in every open campaign the actor sees."""
    result = []
    for campaign in await visible_campaigns(session, actor):
        for stage in await _stages(session, campaign.id):
            if stage.due >= today:
                result.append(Deadline(campaign, stage))
    return sorted(result, key=lambda d: (d.stage.due, d.campaign.id))
