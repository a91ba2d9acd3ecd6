"""Exports on command (导出): which forms a user may take, for which
organisation, and the file itself (SPEC §7, R-CONFIDENTIAL).

One way in for the bot's /export, a stage's .zip and `paicha export` at a
desk: access is checked here (R-ACL-BRANCH), the campaign in force is found
here, the collector of ``storage.services.form_data`` reads the records, and
the workbook is built in the worker process (``reports.pool``). Every export
is an audit event.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import N_, DataCheckFailed, InvalidInput
from reports import pool
from reports.catalogue import FORMS, FormInfo, find
from storage.db import write_tx
from storage.models import (
    Campaign,
    CampaignBranch,
    CampaignStage,
    Member,
    Organisation,
    StageItem,
    User,
)
from storage.services import audit, export_worker
from storage.services.access import (
    AccessDenied,
    Actor,
    Role,
    require_branch,
    require_committee,
    require_member,
)
from storage.services.form_data import (
    BranchRef,
    CampaignRef,
    Collector,
    ExportContext,
    RenderJob,
    member,
    prose,
    registers,
    summaries,
)

# Collectors by form key; a form without one is not offered.
COLLECTORS: dict[str, Collector] = {
    **registers.COLLECTORS,
    **summaries.COLLECTORS,
    **member.COLLECTORS,
    **prose.COLLECTORS,
}


@dataclass(frozen=True)
class Export:
    form: FormInfo
    filename: str
    content: bytes


def available(form: FormInfo) -> bool:
    return form.key in COLLECTORS


def forms_for(org: Organisation, actor: Actor, *, member_forms: bool = False) -> list[FormInfo]:
    """The forms this user may take for ``org`` (a branch or a committee), in
    the catalogue's order. The one-member forms only from a member's card."""
    committee_view = org.kind == "committee" or (
        org.kind == "branch" and org.parent_id in actor.orgs(Role.COMMITTEE)
    )
    return [
        f
        for f in FORMS
        if available(f)
        and f.per_member == member_forms
        and (committee_view or not f.committee_only)
        and not (org.kind == "committee" and f.key == "branch_report")
    ]


async def export_orgs(session: AsyncSession, actor: Actor) -> list[Organisation]:
    """Where this user may export: their committees first, then their branches."""
    ids = [*actor.orgs(Role.COMMITTEE), *actor.orgs(Role.SECRETARY)]
    if not ids:
        return []
    found = {
        o.id: o for o in await session.scalars(select(Organisation).where(Organisation.id.in_(ids)))
    }
    return [found[i] for i in dict.fromkeys(ids) if i in found]


async def _scope(
    session: AsyncSession, actor: Actor, org_id: int, form: FormInfo
) -> tuple[Organisation, list[Organisation]]:
    org = await session.get(Organisation, org_id)
    if org is None:
        raise AccessDenied
    if org.kind == "committee":
        await require_committee(session, actor, org.id)
        branches = list(
            await session.scalars(
                select(Organisation)
                .where(Organisation.kind == "branch", Organisation.parent_id == org.id)
                .order_by(Organisation.name, Organisation.id)
            )
        )
        return org, branches
    branch = await require_branch(session, actor, org_id)
    if form.committee_only and branch.parent_id not in actor.orgs(Role.COMMITTEE):
        raise AccessDenied
    return branch, [branch]


async def current_campaign(session: AsyncSession, org: Organisation) -> Campaign | None:
    """The campaign in force for ``org``: the latest open one of its committee
    that covers it (a branch outside a campaign's scope is not in it)."""
    committee_id = org.id if org.kind == "committee" else org.parent_id
    query = select(Campaign).where(
        Campaign.committee_id == committee_id, Campaign.closed_at.is_(None)
    )
    if org.kind == "branch":
        scoped = select(CampaignBranch.campaign_id).where(CampaignBranch.branch_id == org.id)
        query = query.where(Campaign.id.in_(scoped))
    return await session.scalar(query.order_by(Campaign.starts.desc(), Campaign.id.desc()))


async def _campaign(
    session: AsyncSession, org: Organisation, campaign_id: int | None
) -> Campaign | None:
    if campaign_id is None:
        return await current_campaign(session, org)
    campaign = await session.get(Campaign, campaign_id)
    committee_id = org.id if org.kind == "committee" else org.parent_id
    if campaign is None or campaign.committee_id != committee_id:
        raise AccessDenied
    return campaign


async def _in_campaign(
    session: AsyncSession, campaign: Campaign | None, branches: list[Organisation]
) -> list[Organisation]:
    """A committee's export covers the campaign's branches where it names them."""
    if campaign is None or len(branches) <= 1:
        return branches
    scoped = set(
        await session.scalars(
            select(CampaignBranch.branch_id).where(CampaignBranch.campaign_id == campaign.id)
        )
    )
    return [b for b in branches if b.id in scoped] if scoped else branches


async def stamp(session: AsyncSession, actor: Actor, now: datetime) -> str:
    user = await session.get(User, actor.user_id)
    who = (user.full_name if user and user.full_name else "") or f"用户{actor.user_id}"
    return f"{who} {now:%Y-%m-%d %H:%M} 导出"


def filename(day: date, org_name: str, title: str, suffix: str, who: str | None = None) -> str:
    parts = [day.isoformat(), org_name, *([who] if who else []), title]
    return _safe("_".join(parts)) + suffix


def _safe(name: str) -> str:
    # Telegram and every desktop keep these names; path separators and the
    # characters Windows refuses would not survive a download.
    return re.sub(r'[\\/:*?"<>|\s]+', "", name)[:120]


Runner = Callable[[RenderJob], Awaitable[bytes]]


async def _run(job: RenderJob) -> bytes:
    return await pool.render(job)


async def export_form(
    session: AsyncSession,
    actor: Actor,
    form_name: str,
    *,
    org_id: int | None = None,
    member_id: int | None = None,
    campaign_id: int | None = None,
    today: date,
    now: datetime,
    pocket_days: int,
    run: Runner = _run,
    who: str | None = None,
    database_url: str | None = None,
) -> Export:
    """The file of one form. Raises AccessDenied (R-ACL-BRANCH), InvalidInput
    (no such form, no campaign where the form needs one) or DataCheckFailed
    (the records fail the form's relations: nothing is sent).

    With ``database_url`` (the bot) the collector runs in the worker process
    too, on its own connection (``export_worker``); without it (the command
    line, tests) it reads through ``session`` and ``run`` builds the file."""
    form = find(form_name)
    if form is None or not available(form):
        raise InvalidInput(N_("没有这张表：{name}。发送 /export 查看可导出的表。"), name=form_name)
    person: Member | None = None
    if form.per_member:
        if member_id is None:
            raise InvalidInput(N_("这张表按人导出：请在党员卡片上点“导出”。"))
        person = await require_member(session, actor, member_id)
        org_id = person.branch_id
    if org_id is None:
        raise InvalidInput(N_("请指定党支部或党委。"))
    org, branches = await _scope(session, actor, org_id, form)
    campaign = await _campaign(session, org, campaign_id)
    branches = await _in_campaign(session, campaign, branches)
    ctx = ExportContext(
        actor=actor,
        org_id=org.id,
        org_name=org.name,
        is_committee=org.kind == "committee",
        branches=tuple(BranchRef(b.id, b.name) for b in branches),
        campaign=CampaignRef(campaign.id, campaign.name, campaign.starts, campaign.ends)
        if campaign
        else None,
        today=today,
        pocket_days=pocket_days,
        stamp=f"{who} {now:%Y-%m-%d %H:%M} 导出" if who else await stamp(session, actor, now),
        member_id=person.id if person else None,
        requested_at=now,
    )
    name = filename(today, org.name, form.title, form.suffix, person.name if person else None)
    member_ref, org_ref = (person.id if person else None), org.id
    if session.in_transaction():
        # Access is checked: no snapshot held open while the file is built.
        await session.commit()
    if database_url is not None:
        # The bot: reading and building both in the worker process.
        content = await pool.render(
            RenderJob(export_worker.collect_and_render, (database_url, form.key, ctx))
        )
    else:
        content = await run(await COLLECTORS[form.key](session, ctx))
    async with write_tx(session):
        audit.record(
            session,
            actor_id=actor.user_id,
            entity="export",
            entity_id=None,
            action="export",
            field=form.key,
            new=name,
            member_id=member_ref,
            org_id=org_ref,
        )
    return Export(form, name, content)


@dataclass(frozen=True)
class StageBundle:
    filename: str
    content: bytes
    included: tuple[str, ...]  # file names in the zip
    skipped: tuple[tuple[str, str], ...]  # (item title, why)


async def stage_forms(
    session: AsyncSession, actor: Actor, stage_id: int, org_id: int
) -> tuple[CampaignStage, list[tuple[StageItem, FormInfo | None]]]:
    """The items a stage names, each with the form the bot builds (None: a
    paper the branch writes itself, e.g. 工作人员名单)."""
    stage = await session.get(CampaignStage, stage_id)
    if stage is None:
        raise AccessDenied
    campaign = await session.get(Campaign, stage.campaign_id)
    org = await session.get(Organisation, org_id)
    if campaign is None or org is None:
        raise AccessDenied
    committee_id = org.id if org.kind == "committee" else org.parent_id
    if campaign.committee_id != committee_id:
        raise AccessDenied
    items = list(
        await session.scalars(
            select(StageItem).where(StageItem.stage_id == stage_id).order_by(StageItem.position)
        )
    )
    return stage, [(i, find(i.form) if i.form else None) for i in items]


async def export_stage(
    session: AsyncSession,
    actor: Actor,
    stage_id: int,
    org_id: int,
    *,
    today: date,
    now: datetime,
    pocket_days: int,
    run: Runner = _run,
    database_url: str | None = None,
) -> StageBundle:
    """Every form a stage names, in one .zip (SPEC §8): a deadline met with one
    command. A form whose records fail its checks is left out and named, with
    the reason, in the answer and in 未生成说明.txt inside the zip."""
    stage, items = await stage_forms(session, actor, stage_id, org_id)
    org = await session.get(Organisation, org_id)
    assert org is not None
    files: list[tuple[str, bytes]] = []
    skipped: list[tuple[str, str]] = []
    for item, form in items:
        if form is None or not available(form) or form.per_member:
            skipped.append((item.title, "需自行准备，机器人不生成"))
            continue
        if form.committee_only and org.kind == "branch":
            skipped.append((item.title, "由党委撰写"))
            continue
        try:
            done = await export_form(
                session,
                actor,
                form.key,
                org_id=org_id,
                campaign_id=stage.campaign_id,
                today=today,
                now=now,
                pocket_days=pocket_days,
                run=run,
                database_url=database_url,
            )
        except DataCheckFailed as failed:
            skipped.append((item.title, "；".join(failed.problems)))
            continue
        except InvalidInput as bad:
            skipped.append((item.title, bad.render()))
            continue
        files.append((done.filename, done.content))
    if not files:
        raise InvalidInput(N_("这个阶段没有机器人能生成的表。"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files:
            archive.writestr(name, content)
        if skipped:
            note = "\n".join(f"{title}：{why}" for title, why in skipped)
            archive.writestr("未生成说明.txt", note + "\n")
    name = filename(today, org.name, stage.title, ".zip")
    return StageBundle(name, buffer.getvalue(), tuple(n for n, _ in files), tuple(skipped))
