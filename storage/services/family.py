"""家庭主要成员及重要社会关系 on the member's record (seed 001 附件1 note 8):
list, add, remove, each an event in the member's dossier (R-DOSSIER)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import N_, InvalidInput
from domain.family import MAX_ROWS, Relative
from storage.db import write_tx
from storage.models import FamilyMember
from storage.services import audit
from storage.services.access import AccessDenied, Actor, require_member


async def rows_of(session: AsyncSession, member_id: int) -> list[FamilyMember]:
    """The member's rows, in order; the caller has already checked access to the member."""
    rows = await session.scalars(
        select(FamilyMember)
        .where(FamilyMember.member_id == member_id)
        .order_by(FamilyMember.position, FamilyMember.id)
    )
    return list(rows)


async def relative_of(session: AsyncSession, member_id: int, relative_id: int) -> FamilyMember:
    """One of the member's rows; any other id (forged callback data) is 无权限."""
    row = await session.get(FamilyMember, relative_id)
    if row is None or row.member_id != member_id:
        raise AccessDenied
    return row


def _record(
    session: AsyncSession,
    actor: Actor,
    member_id: int,
    branch_id: int,
    row: FamilyMember,
    action: str,
) -> None:
    line = Relative(row.relation, row.name, row.work_unit, row.phone).line()
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="family",
        entity_id=row.id,
        action=action,
        old=line if action == "delete" else None,
        new=line if action == "create" else None,
        member_id=member_id,
        org_id=branch_id,
    )


async def add_relative(
    session: AsyncSession, actor: Actor, member_id: int, relative: Relative
) -> FamilyMember:
    async with write_tx(session):
        member = await require_member(session, actor, member_id, write=True)
        count = await session.scalar(
            select(func.count()).where(FamilyMember.member_id == member.id)
        )
        if (count or 0) >= MAX_ROWS:
            raise InvalidInput(N_("家庭成员最多登记{max}人。"), max=MAX_ROWS)
        row = FamilyMember(
            member_id=member.id,
            relation=relative.relation,
            name=relative.name,
            work_unit=relative.work_unit,
            phone=relative.phone,
            position=count or 0,
        )
        session.add(row)
        await session.flush()
        _record(session, actor, member.id, member.branch_id, row, "create")
    return row


async def remove_relative(session: AsyncSession, actor: Actor, relative_id: int) -> int:
    """Returns the member's id; a row of another branch's member is 无权限."""
    async with write_tx(session):
        row = await session.get(FamilyMember, relative_id)
        if row is None:
            raise InvalidInput(N_("这条家庭成员记录已经删除了。"))
        member = await require_member(session, actor, row.member_id, write=True)
        _record(session, actor, member.id, member.branch_id, row, "delete")
        await session.delete(row)
    return member.id


async def replace_for(
    session: AsyncSession, actor: Actor, member_id: int, branch_id: int, new: Sequence[Relative]
) -> bool:
    """Put ``new`` in place of the member's rows (the roster import's 家庭成员
    sheet). The caller holds the write transaction and has checked access.
    Returns whether anything changed."""
    old = await rows_of(session, member_id)
    if [Relative(r.relation, r.name, r.work_unit, r.phone) for r in old] == list(new):
        return False
    for row in old:
        _record(session, actor, member_id, branch_id, row, "delete")
    await session.execute(delete(FamilyMember).where(FamilyMember.member_id == member_id))
    for position, relative in enumerate(new):
        row = FamilyMember(member_id=member_id, position=position, **vars(relative))
        session.add(row)
        await session.flush()
        _record(session, actor, member_id, branch_id, row, "create")
    return True
