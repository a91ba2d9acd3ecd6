"""The one permission check (权限检查, R-ACL-BRANCH).

Every id that arrives from Telegram goes through ``require_branch`` /
``require_member`` inside the service, every time. A refusal never says
whether the thing exists: the handler answers only “无权限”.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from storage.models import Member, Organisation, RoleGrant


class Role(StrEnum):
    SECRETARY = "secretary"  # 支部书记 / 支委
    COMMITTEE = "committee"  # 基层党委/党总支 组织员
    ADMIN = "admin"  # 系统管理员


class AccessDenied(Exception):
    """无权限. Carries no detail on purpose (R-ACL-BRANCH)."""


@dataclass(frozen=True)
class Grant:
    role: Role
    org_id: int | None


@dataclass(frozen=True)
class Actor:
    """The Telegram user behind an update, with the roles they hold."""

    user_id: int
    grants: tuple[Grant, ...] = field(default_factory=tuple)
    locale: str = "zh"

    @property
    def is_admin(self) -> bool:
        return any(g.role is Role.ADMIN for g in self.grants)

    @property
    def is_known(self) -> bool:
        return bool(self.grants)

    def orgs(self, role: Role) -> tuple[int, ...]:
        return tuple(g.org_id for g in self.grants if g.role is role and g.org_id is not None)

    def has_role(self, role: Role) -> bool:
        return any(g.role is role for g in self.grants)


async def load_actor(session: AsyncSession, user_id: int, locale: str = "zh") -> Actor:
    rows = await session.execute(
        select(RoleGrant.role, RoleGrant.org_id).where(
            RoleGrant.user_id == user_id, RoleGrant.revoked_at.is_(None)
        )
    )
    grants = tuple(Grant(Role(role), org_id) for role, org_id in rows)
    return Actor(user_id=user_id, grants=grants, locale=locale)


async def readable_branch_ids(session: AsyncSession, actor: Actor) -> set[int]:
    """Branches whose members this actor may read: their own as secretary, and
    every branch under a committee they staff. Admins hold no member data."""
    branches = set(actor.orgs(Role.SECRETARY))
    committees = actor.orgs(Role.COMMITTEE)
    if committees:
        rows = await session.scalars(
            select(Organisation.id).where(
                Organisation.kind == "branch", Organisation.parent_id.in_(committees)
            )
        )
        branches.update(rows)
    return branches


async def require_branch(
    session: AsyncSession, actor: Actor, branch_id: int, *, write: bool = False
) -> Organisation:
    """The branch, if the actor may read it (or change it, with ``write``)."""
    allowed = (
        set(actor.orgs(Role.SECRETARY)) if write else await readable_branch_ids(session, actor)
    )
    if branch_id not in allowed:
        raise AccessDenied
    branch = await session.get(Organisation, branch_id)
    if branch is None or branch.kind != "branch":
        raise AccessDenied
    return branch


async def require_member(
    session: AsyncSession, actor: Actor, member_id: int, *, write: bool = False
) -> Member:
    # The branch comes in the same query, so require_branch finds it in the
    # session instead of asking the database again.
    member = await session.get(Member, member_id, options=[joinedload(Member.branch)])
    if member is None:
        raise AccessDenied
    await require_branch(session, actor, member.branch_id, write=write)
    return member


async def require_org_admin(session: AsyncSession, actor: Actor, org_id: int) -> Organisation:
    """Who may invite into ``org_id``: an admin anywhere; committee staff for
    branches under their committee (SPEC §1)."""
    org = await session.get(Organisation, org_id)
    if org is None:
        raise AccessDenied
    if actor.is_admin:
        return org
    if org.kind == "branch" and org.parent_id in actor.orgs(Role.COMMITTEE):
        return org
    raise AccessDenied


async def require_committee(session: AsyncSession, actor: Actor, committee_id: int) -> Organisation:
    """A committee this actor staffs (组织员)."""
    if committee_id not in actor.orgs(Role.COMMITTEE):
        raise AccessDenied
    org = await session.get(Organisation, committee_id)
    if org is None or org.kind != "committee":
        raise AccessDenied
    return org
