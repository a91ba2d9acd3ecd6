"""人员类别 (SPEC §2): the short list each committee sets (a school: 教职工 /
学生), and the check that a member's category is on it."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import N_, InvalidInput
from storage.db import write_tx
from storage.models import Member, MemberCategory, Organisation
from storage.services import audit
from storage.services.access import Actor, require_committee

MAX_CATEGORIES = 12  # a drop-down and a row of buttons, and the 统计表's columns
# One tap for the lists the notices name (seed 000: 按教职工和学生分类填写).
PRESETS: tuple[tuple[str, ...], ...] = (("教职工", "学生"), ("在职", "离退休"))


async def names(session: AsyncSession, committee_id: int) -> list[str]:
    rows = await session.scalars(
        select(MemberCategory.name)
        .where(MemberCategory.committee_id == committee_id)
        .order_by(MemberCategory.position, MemberCategory.id)
    )
    return list(rows)


async def names_for_branch(session: AsyncSession, branch_id: int) -> list[str]:
    """The list of the committee over ``branch_id`` (empty when it set none)."""
    parent = await session.scalar(
        select(Organisation.parent_id).where(Organisation.id == branch_id)
    )
    return await names(session, parent) if parent is not None else []


def check(value: str | None, allowed: list[str]) -> None:
    """Refuse a category the committee has not set; blank is always allowed."""
    if not value or value in allowed:
        return
    if not allowed:
        raise InvalidInput(
            N_("上级党委还没有设置人员类别，请先不填，或请党委在 /categories 设置。")
        )
    raise InvalidInput(N_("“人员类别”只能是：{options}。"), options="、".join(allowed))


async def add(session: AsyncSession, actor: Actor, committee_id: int, *new: str) -> list[str]:
    """Add one or more names at the end of the committee's list."""
    cleaned = [n.strip() for n in new if n.strip()]
    if not cleaned:
        raise InvalidInput(N_("请输入人员类别名称，例如：教职工。"))
    for name in cleaned:
        if len(name) > 20:
            raise InvalidInput(N_("人员类别最多20个字，请精简。"))
    async with write_tx(session):
        await require_committee(session, actor, committee_id)
        current = await names(session, committee_id)
        fresh = [n for n in dict.fromkeys(cleaned) if n not in current]
        if not fresh:
            raise InvalidInput(N_("这个人员类别已经有了。"))
        if len(current) + len(fresh) > MAX_CATEGORIES:
            raise InvalidInput(N_("人员类别最多{max}个。"), max=MAX_CATEGORIES)
        for offset, name in enumerate(fresh):
            row = MemberCategory(
                committee_id=committee_id, name=name, position=len(current) + offset
            )
            session.add(row)
            await session.flush()
            audit.record(
                session,
                actor_id=actor.user_id,
                entity="category",
                entity_id=row.id,
                action="create",
                new=name,
                org_id=committee_id,
            )
    return [*current, *fresh]


async def in_use(session: AsyncSession, committee_id: int, name: str) -> int:
    branches = select(Organisation.id).where(Organisation.parent_id == committee_id)
    count = await session.scalar(
        select(func.count())
        .select_from(Member)
        .where(Member.branch_id.in_(branches), Member.category == name)
    )
    return int(count or 0)


async def remove(session: AsyncSession, actor: Actor, committee_id: int, name: str) -> list[str]:
    """Take a name off the list; refused while members still carry it, so
    that no register holds a category the 统计表 has no column for."""
    async with write_tx(session):
        await require_committee(session, actor, committee_id)
        row = await session.scalar(
            select(MemberCategory).where(
                MemberCategory.committee_id == committee_id, MemberCategory.name == name
            )
        )
        if row is None:
            raise InvalidInput(N_("没有这个人员类别。"))
        used = await in_use(session, committee_id, name)
        if used:
            raise InvalidInput(
                N_("还有{n}名党员的人员类别是“{name}”，请先在党员卡片上改掉再删除。"),
                n=used,
                name=name,
            )
        await session.delete(row)
        audit.record(
            session,
            actor_id=actor.user_id,
            entity="category",
            entity_id=row.id,
            action="delete",
            old=name,
            org_id=committee_id,
        )
    return await names(session, committee_id)
