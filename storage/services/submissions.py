"""What is due, and by whom (报送事项和已报送, issue 14 point 3), and what the
scheduler owes on a day: reminders to whoever has not marked an item
submitted and escalations to committee staff (R-REMIND, point 4).

Who owes a stage's items follows its direction: 党支部报党委 — every branch in
the campaign's scope, its secretaries responsible; 党委报上级 — the committee,
its staff responsible. 工作安排 stages owe nothing. Marks are rows that are
never deleted while their stage lives: undoing sets ``undone_at``, marking
again adds a row, and the audit records both.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.campaigns import (
    ESCALATE_AFTER,
    ESCALATE_BEFORE,
    OFFSET_MAX,
    Direction,
    days_left,
    escalation_offset,
    offsets_of,
    reminder_offset,
)
from domain.errors import N_, InvalidInput
from storage.db import utc, write_tx
from storage.models import (
    Campaign,
    CampaignBranch,
    CampaignStage,
    ItemSubmission,
    Organisation,
    RoleGrant,
    StageItem,
    User,
)
from storage.services import audit
from storage.services.access import AccessDenied, Actor, Role
from storage.services.campaigns import visible_campaigns

_B = Direction.branch_to_committee.value
_C = Direction.committee_to_upper.value


# ---- what the chat shows -----------------------------------------------------


@dataclass(frozen=True)
class ItemState:
    id: int
    title: str
    form: str | None
    done: bool


@dataclass(frozen=True)
class OrgItems:
    """What one organisation owes in a stage, and what it marked 已报送."""

    org_id: int
    org_name: str
    items: tuple[ItemState, ...]

    @property
    def missing(self) -> tuple[ItemState, ...]:
        return tuple(i for i in self.items if not i.done)


@dataclass(frozen=True)
class StageDue:
    """One stage as an actor sees it: ``own`` holds what the actor reports for
    (their branch, or their committee's upward items); ``branches`` every
    branch in scope, for committee staff on a 党支部报党委 stage, else None."""

    campaign_id: int
    campaign_name: str
    stage_id: int
    title: str
    what: str
    due: date
    approximate: bool
    direction: Direction
    closed: bool
    own: tuple[OrgItems, ...]
    branches: tuple[OrgItems, ...] | None

    @property
    def missing_branches(self) -> tuple[OrgItems, ...]:
        return tuple(b for b in self.branches or () if b.missing)


async def _owed(
    session: AsyncSession, stages: Sequence[tuple[CampaignStage, Campaign]]
) -> dict[int, list[OrgItems]]:
    """Per stage id, every responsible organisation with its items' states:
    four statements whatever the number of stages."""
    ids = [s.id for s, _c in stages]
    result: dict[int, list[OrgItems]] = {i: [] for i in ids}
    if not ids:
        return result
    items: dict[int, list[StageItem]] = defaultdict(list)
    for item in await session.scalars(
        select(StageItem)
        .where(StageItem.stage_id.in_(ids))
        .order_by(StageItem.stage_id, StageItem.position, StageItem.id)
    ):
        items[item.stage_id].append(item)
    marks = await session.execute(
        select(ItemSubmission.item_id, ItemSubmission.org_id)
        .join(StageItem, StageItem.id == ItemSubmission.item_id)
        .where(StageItem.stage_id.in_(ids), ItemSubmission.undone_at.is_(None))
    )
    done = {(item_id, org_id) for item_id, org_id in marks}
    branch_stage = {c.id for s, c in stages if s.direction == _B}
    scope: dict[int, list[tuple[int, str]]] = defaultdict(list)
    if branch_stage:
        rows = await session.execute(
            select(CampaignBranch.campaign_id, Organisation.id, Organisation.name)
            .join(Organisation, Organisation.id == CampaignBranch.branch_id)
            .where(CampaignBranch.campaign_id.in_(branch_stage))
            .order_by(Organisation.name, Organisation.id)
        )
        for campaign_id, org_id, name in rows:
            scope[campaign_id].append((org_id, name))
    committees = {c.committee_id for s, c in stages if s.direction == _C}
    names: dict[int, str] = {}
    if committees:
        rows2 = await session.execute(
            select(Organisation.id, Organisation.name).where(Organisation.id.in_(committees))
        )
        names = dict(rows2.all())
    for stage, campaign in stages:
        if stage.direction == _B:
            orgs = scope[campaign.id]
        elif stage.direction == _C:
            orgs = [(campaign.committee_id, names.get(campaign.committee_id, ""))]
        else:
            continue
        for org_id, name in orgs:
            states = tuple(
                ItemState(i.id, i.title, i.form, (i.id, org_id) in done) for i in items[stage.id]
            )
            if states:
                result[stage.id].append(OrgItems(org_id, name, states))
    return result


def _as_due(
    actor: Actor, stage: CampaignStage, campaign: Campaign, owed: list[OrgItems]
) -> StageDue:
    staff = campaign.committee_id in actor.orgs(Role.COMMITTEE)
    if stage.direction == _B:
        mine = set(actor.orgs(Role.SECRETARY))
        own = tuple(o for o in owed if o.org_id in mine)
        branches: tuple[OrgItems, ...] | None = tuple(owed) if staff else None
    else:
        own = tuple(owed) if staff else ()
        branches = None
    return StageDue(
        campaign_id=campaign.id,
        campaign_name=campaign.name,
        stage_id=stage.id,
        title=stage.title,
        what=stage.what or "",
        due=stage.due,
        approximate=stage.approximate,
        direction=Direction.of(stage.direction),
        closed=campaign.closed_at is not None,
        own=own,
        branches=branches,
    )


async def deadlines(session: AsyncSession, actor: Actor, today: date) -> list[StageDue]:
    """Stages not yet past in every open campaign the actor sees, soonest
    first, with what the actor reports and (committee staff) who has not."""
    visible = {c.id: c for c in await visible_campaigns(session, actor)}
    if not visible:
        return []
    rows = await session.scalars(
        select(CampaignStage)
        .where(CampaignStage.campaign_id.in_(visible), CampaignStage.due >= today)
        .order_by(CampaignStage.due, CampaignStage.campaign_id, CampaignStage.id)
    )
    stages = [(s, visible[s.campaign_id]) for s in rows]
    owed = await _owed(session, stages)
    return [_as_due(actor, s, c, owed[s.id]) for s, c in stages]


async def _stage(session: AsyncSession, stage_id: int) -> tuple[CampaignStage, Campaign]:
    stage = await session.get(CampaignStage, stage_id)
    if stage is None:
        raise AccessDenied
    campaign = await session.get(Campaign, stage.campaign_id)
    assert campaign is not None
    return stage, campaign


async def stage_view(session: AsyncSession, actor: Actor, stage_id: int) -> StageDue:
    """One stage for committee staff: every branch in scope and what each
    marked. Anyone else is refused (R-ACL-BRANCH)."""
    stage, campaign = await _stage(session, stage_id)
    if campaign.committee_id not in actor.orgs(Role.COMMITTEE):
        raise AccessDenied
    owed = await _owed(session, [(stage, campaign)])
    return _as_due(actor, stage, campaign, owed[stage.id])


def _may_mark(actor: Actor, stage: CampaignStage, campaign: Campaign, org_id: int) -> bool:
    """Who answers for ``org_id``'s items: its secretary and the committee's
    staff for a branch; the committee's staff for the committee's own."""
    staff = campaign.committee_id in actor.orgs(Role.COMMITTEE)
    if stage.direction == _B:
        return staff or org_id in actor.orgs(Role.SECRETARY)
    if stage.direction == _C:
        return staff and org_id == campaign.committee_id
    return False


async def org_items(
    session: AsyncSession, actor: Actor, stage_id: int, org_id: int
) -> tuple[StageDue, OrgItems]:
    """One organisation's items in a stage, for whoever may mark them."""
    stage, campaign = await _stage(session, stage_id)
    if not _may_mark(actor, stage, campaign, org_id):
        raise AccessDenied
    owed = await _owed(session, [(stage, campaign)])
    found = [o for o in owed[stage.id] if o.org_id == org_id]
    if not found:  # a branch outside the campaign's scope (forged or removed)
        raise AccessDenied
    return _as_due(actor, stage, campaign, owed[stage.id]), found[0]


async def _checked_item(
    session: AsyncSession, actor: Actor, item_id: int, org_id: int
) -> tuple[StageItem, CampaignStage, Campaign]:
    item = await session.get(StageItem, item_id)
    if item is None:
        raise AccessDenied
    stage, campaign = await _stage(session, item.stage_id)
    if not _may_mark(actor, stage, campaign, org_id):
        raise AccessDenied
    if stage.direction == _B:
        in_scope = await session.get(CampaignBranch, (campaign.id, org_id))
        if in_scope is None:
            raise AccessDenied
    if campaign.closed_at is not None:
        raise InvalidInput(N_("这次排查已经结束，不能再修改。"))
    return item, stage, campaign


async def _active(session: AsyncSession, item_id: int, org_id: int) -> list[ItemSubmission]:
    rows = await session.scalars(
        select(ItemSubmission).where(
            ItemSubmission.item_id == item_id,
            ItemSubmission.org_id == org_id,
            ItemSubmission.undone_at.is_(None),
        )
    )
    return list(rows)


async def mark(
    session: AsyncSession, actor: Actor, item_id: int, org_id: int, *, now: datetime
) -> bool:
    """已报送: ``org_id`` submitted the item. False when it already was (a
    second tap changes nothing)."""
    async with write_tx(session):
        item, _stage_row, _campaign = await _checked_item(session, actor, item_id, org_id)
        if await _active(session, item_id, org_id):
            return False
        session.add(
            ItemSubmission(
                item_id=item.id, org_id=org_id, marked_by=actor.user_id, marked_at=utc(now)
            )
        )
        audit.record(
            session,
            actor_id=actor.user_id,
            entity="stage_item",
            entity_id=item.id,
            action="mark",
            field="submitted",
            new=item.title,
            org_id=org_id,
        )
    return True


async def undo(
    session: AsyncSession, actor: Actor, item_id: int, org_id: int, *, now: datetime
) -> bool:
    """Take back 已报送; False when the item was not marked."""
    async with write_tx(session):
        item, _stage_row, _campaign = await _checked_item(session, actor, item_id, org_id)
        active = await _active(session, item_id, org_id)
        if not active:
            return False
        for row in active:
            row.undone_by, row.undone_at = actor.user_id, utc(now)
        audit.record(
            session,
            actor_id=actor.user_id,
            entity="stage_item",
            entity_id=item.id,
            action="undo",
            field="submitted",
            old=item.title,
            org_id=org_id,
        )
    return True


async def missing_by_org(
    session: AsyncSession, actor: Actor, stage_id: int
) -> dict[int, list[int]]:
    """Per organisation that owes the stage, the ids of the items it has not
    marked (organisations with nothing missing left out). Committee staff only."""
    view = await stage_view(session, actor, stage_id)
    orgs = view.branches if view.branches is not None else view.own
    return {o.org_id: [i.id for i in o.missing] for o in orgs if o.missing}


# ---- what the scheduler owes (R-REMIND) -------------------------------------


@dataclass(frozen=True)
class Reminder:
    """One reminder: a responsible user of ``org_id`` has not marked ``items``
    of a stage submitted. The ledger key is (``subject``, recipient, ``due``,
    ``offset_days``); ``days_left`` is the real count for today's text."""

    stage_id: int
    org_id: int
    recipient: int
    locale: str | None
    due: date
    offset_days: int
    days_left: int
    campaign_name: str
    stage_title: str
    items: tuple[str, ...]
    # The same items' ids (for the 已报送 buttons) and the organisation's name.
    item_ids: tuple[int, ...] = ()
    org_name: str = ""

    @property
    def subject(self) -> str:
        return f"stage:{self.stage_id}:org:{self.org_id}"


@dataclass(frozen=True)
class EscalationNotice:
    """To committee staff: branches still missing items of a 党支部报党委 stage,
    three days before its deadline (``offset_days`` 3) or the day after (-1)."""

    stage_id: int
    committee_id: int
    recipient: int
    locale: str | None
    due: date
    offset_days: int
    days_left: int
    campaign_name: str
    stage_title: str
    branches: tuple[str, ...]  # names of the branches still missing, by name
    missing_items: tuple[int, ...]  # how many items each of them lacks, same order
    total: int  # branches in the campaign's scope

    @property
    def subject(self) -> str:
        return f"stage:{self.stage_id}:committee:{self.committee_id}"


async def _open_stages(
    session: AsyncSession, *, first: date, last: date, directions: Iterable[str]
) -> list[tuple[CampaignStage, Campaign]]:
    rows = await session.execute(
        select(CampaignStage, Campaign)
        .join(Campaign, Campaign.id == CampaignStage.campaign_id)
        .where(
            Campaign.closed_at.is_(None),
            CampaignStage.direction.in_(list(directions)),
            CampaignStage.due >= first,
            CampaignStage.due <= last,
        )
        .order_by(CampaignStage.due, CampaignStage.id)
    )
    return [(s, c) for s, c in rows]


async def _responsible(
    session: AsyncSession, wanted: set[tuple[str, int]]
) -> dict[tuple[str, int], list[tuple[int, str | None]]]:
    """(role, org id) → the users holding it, not blocked: (user id, locale)."""
    result: dict[tuple[str, int], list[tuple[int, str | None]]] = defaultdict(list)
    if not wanted:
        return result
    by_role: dict[str, set[int]] = defaultdict(set)
    for role, org_id in wanted:
        by_role[role].add(org_id)
    rows = await session.execute(
        select(RoleGrant.role, RoleGrant.org_id, User.id, User.locale)
        .join(User, User.id == RoleGrant.user_id)
        .where(
            RoleGrant.revoked_at.is_(None),
            User.blocked_at.is_(None),
            or_(
                *(
                    (RoleGrant.role == role) & RoleGrant.org_id.in_(orgs)
                    for role, orgs in by_role.items()
                )
            ),
        )
        .order_by(User.id)
    )
    seen: set[tuple[str, int, int]] = set()
    for role, held, user_id, locale in rows:
        if held is None or (role, held, user_id) in seen:
            continue
        seen.add((role, held, user_id))
        result[(role, held)].append((user_id, locale))
    return result


def _role_for(direction: str) -> str:
    return Role.SECRETARY.value if direction == _B else Role.COMMITTEE.value


async def due_reminders(session: AsyncSession, *, today: date) -> list[Reminder]:
    """Every reminder owed on ``today`` (R-REMIND): open campaigns, stages with
    items due today or later whose offset is owed (``reminder_offset``), one
    per stage, responsible organisation and responsible user who is not
    blocked, listing the items that organisation has not marked."""
    stages = [
        (s, c)
        for s, c in await _open_stages(
            session, first=today, last=today + timedelta(days=OFFSET_MAX), directions=(_B, _C)
        )
        if reminder_offset(days_left(s.due, today), offsets_of(c.remind_offsets)) is not None
    ]
    owed = await _owed(session, stages)
    users = await _responsible(
        session,
        {(_role_for(s.direction), o.org_id) for s, _c in stages for o in owed[s.id] if o.missing},
    )
    result = []
    for stage, campaign in stages:
        left = days_left(stage.due, today)
        offset = reminder_offset(left, offsets_of(campaign.remind_offsets))
        assert offset is not None
        for org in owed[stage.id]:
            missing = org.missing
            if not missing:
                continue
            for user_id, locale in users.get((_role_for(stage.direction), org.org_id), []):
                result.append(
                    Reminder(
                        stage_id=stage.id,
                        org_id=org.org_id,
                        recipient=user_id,
                        locale=locale,
                        due=stage.due,
                        offset_days=offset,
                        days_left=left,
                        campaign_name=campaign.name,
                        stage_title=stage.title,
                        items=tuple(i.title for i in missing),
                        item_ids=tuple(i.id for i in missing),
                        org_name=org.org_name,
                    )
                )
    return result


async def due_escalations(session: AsyncSession, *, today: date) -> list[EscalationNotice]:
    """Every escalation owed on ``today``: to each committee staff member, per
    党支部报党委 stage of an open campaign three days before the deadline
    (caught up until the day) and on the day after it passed, the branches
    still missing items. Nothing when every branch submitted."""
    stages = [
        (s, c)
        for s, c in await _open_stages(
            session,
            first=today - timedelta(days=-ESCALATE_AFTER),
            last=today + timedelta(days=ESCALATE_BEFORE),
            directions=(_B,),
        )
    ]
    owed = await _owed(session, stages)
    late = {s.id: [o for o in owed[s.id] if o.missing] for s, _c in stages}
    users = await _responsible(
        session, {(Role.COMMITTEE.value, c.committee_id) for s, c in stages if late[s.id]}
    )
    result = []
    for stage, campaign in stages:
        left = days_left(stage.due, today)
        offset = escalation_offset(left)
        if offset is None or not late[stage.id]:
            continue
        for user_id, locale in users.get((Role.COMMITTEE.value, campaign.committee_id), []):
            result.append(
                EscalationNotice(
                    stage_id=stage.id,
                    committee_id=campaign.committee_id,
                    recipient=user_id,
                    locale=locale,
                    due=stage.due,
                    offset_days=offset,
                    days_left=left,
                    campaign_name=campaign.name,
                    stage_title=stage.title,
                    branches=tuple(o.org_name for o in late[stage.id]),
                    missing_items=tuple(len(o.missing) for o in late[stage.id]),
                    total=len(owed[stage.id]),
                )
            )
    return result
