"""The organisation tree (组织树): 上级党委 → 基层党委/党总支 → 党支部."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import N_, InvalidInput
from storage.db import write_tx
from storage.models import Member, Organisation
from storage.services import audit
from storage.services.access import Actor, Role, readable_branch_ids

KINDS = {"upper": "上级党委", "committee": "基层党委/党总支", "branch": "党支部"}
# Which kind may sit under which: a branch needs a committee above it.
PARENT_KIND = {"upper": None, "committee": "upper", "branch": "committee"}


@dataclass(frozen=True)
class OrgRow:
    id: int
    name: str
    kind: str
    parent_id: int | None
    members: int = 0


async def create_org(
    session: AsyncSession, *, name: str, kind: str, parent_id: int | None, actor_id: int | None
) -> Organisation:
    name = name.strip()
    if kind not in KINDS:
        raise InvalidInput(N_("组织类型只能是 upper、committee 或 branch。"))
    if not name or len(name) > 100:
        raise InvalidInput(N_("组织名称不能为空，最多100个字。"))
    async with write_tx(session):
        parent = await session.get(Organisation, parent_id) if parent_id is not None else None
        if parent_id is not None and parent is None:
            raise InvalidInput(N_("上级组织{id}不存在。"), id=parent_id)
        wanted = PARENT_KIND[kind]
        if kind == "branch" and parent is None:
            raise InvalidInput(N_("党支部必须建在一个基层党委/党总支之下。"))
        if parent is not None and wanted is not None and parent.kind != wanted:
            raise InvalidInput(
                N_("{kind}的上级应是{parent}。"), kind=KINDS[kind], parent=KINDS[wanted]
            )
        clash = await session.scalar(
            select(Organisation.id).where(
                Organisation.name == name,
                Organisation.parent_id.is_(None)
                if parent_id is None
                else Organisation.parent_id == parent_id,
            )
        )
        if clash is not None:
            raise InvalidInput(N_("同一上级下已有名为“{name}”的组织。"), name=name)
        org = Organisation(name=name, kind=kind, parent_id=parent_id)
        session.add(org)
        await session.flush()
        audit.record(
            session,
            actor_id=actor_id,
            entity="organisation",
            entity_id=org.id,
            action="create",
            new=name,
            org_id=org.id,
        )
    return org


async def list_orgs(session: AsyncSession) -> list[OrgRow]:
    counts = select(Member.branch_id, func.count().label("n")).group_by(Member.branch_id).subquery()
    rows = await session.execute(
        select(Organisation, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.branch_id == Organisation.id)
        .order_by(Organisation.id)
    )
    return [OrgRow(o.id, o.name, o.kind, o.parent_id, n) for o, n in rows]


async def branches_for(
    session: AsyncSession, actor: Actor, *, write: bool = False
) -> list[Organisation]:
    """Branches the actor works on: as secretary (write), or readable ones."""
    ids = set(actor.orgs(Role.SECRETARY)) if write else await readable_branch_ids(session, actor)
    if not ids:
        return []
    rows = await session.scalars(
        select(Organisation).where(Organisation.id.in_(ids)).order_by(Organisation.name)
    )
    return list(rows)


async def invitable_orgs(session: AsyncSession, actor: Actor) -> list[tuple[Organisation, str]]:
    """(organisation, role) pairs this actor may invite into (SPEC §1): admins
    invite committee staff, committee staff invite secretaries of their branches."""
    pairs: list[tuple[Organisation, str]] = []
    if actor.is_admin:
        for org in await session.scalars(
            select(Organisation).where(Organisation.kind == "committee").order_by(Organisation.name)
        ):
            pairs.append((org, Role.COMMITTEE.value))
    committees = actor.orgs(Role.COMMITTEE)
    if actor.is_admin or committees:
        query = select(Organisation).where(Organisation.kind == "branch")
        if not actor.is_admin:
            query = query.where(Organisation.parent_id.in_(committees))
        for org in await session.scalars(query.order_by(Organisation.name)):
            pairs.append((org, Role.SECRETARY.value))
    return pairs
