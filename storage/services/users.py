"""Users (用户) and the roles they hold; language choice."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import N_, InvalidInput
from storage.db import read_alone, utc, write_tx
from storage.models import Organisation, RoleGrant, User
from storage.services import audit
from storage.services.access import AccessDenied, Actor, Grant, Role, load_actor

# Built once: this runs for every update, and building costs more than running it.
_USER_AND_GRANTS = (
    select(
        User.full_name,
        User.username,
        User.locale,
        User.blocked_at,
        RoleGrant.role,
        RoleGrant.org_id,
    )
    .outerjoin(RoleGrant, (RoleGrant.user_id == User.id) & RoleGrant.revoked_at.is_(None))
    .where(User.id == bindparam("user_id"))
)


async def see_user(
    session: AsyncSession, user_id: int, full_name: str, username: str | None, locale: str
) -> Actor:
    """The Actor behind an update; the user row is written only when new,
    renamed, or marked as having blocked the bot (a 403): writing again is
    what lifts that mark (issue 14), at no cost for everyone else.

    This runs for every update, so the user and their roles come in one query,
    read on its own (no transaction to begin and end) unless the session is
    already in one."""
    params = {"user_id": user_id}
    if session.in_transaction():
        rows = (await session.execute(_USER_AND_GRANTS, params)).all()
    else:
        rows = await read_alone(
            session.get_bind(), lambda c: list(c.execute(_USER_AND_GRANTS, params).all())
        )
    if rows and (rows[0].full_name, rows[0].username, rows[0].blocked_at) == (
        full_name,
        username,
        None,
    ):
        grants = tuple(Grant(Role(r.role), r.org_id) for r in rows if r.role is not None)
        return Actor(user_id=user_id, grants=grants, locale=rows[0].locale or locale)
    async with write_tx(session):
        user = await session.get(User, user_id)
        if user is None:
            user = User(id=user_id, full_name=full_name, username=username)
            session.add(user)
        else:
            user.full_name, user.username, user.blocked_at = full_name, username, None
    return await load_actor(session, user_id, user.locale or locale)


async def set_locale(session: AsyncSession, user_id: int, locale: str) -> None:
    async with write_tx(session):
        await session.execute(update(User).where(User.id == user_id).values(locale=locale))


async def grant_role(
    session: AsyncSession, *, user_id: int, role: Role, org_id: int | None, granted_by: int | None
) -> RoleGrant:
    """Give a role (inside the caller's write transaction); idempotent."""
    existing = await session.scalar(
        select(RoleGrant).where(
            RoleGrant.user_id == user_id,
            RoleGrant.role == role.value,
            RoleGrant.org_id.is_(None) if org_id is None else RoleGrant.org_id == org_id,
            RoleGrant.revoked_at.is_(None),
        )
    )
    if existing:
        return existing
    if await session.get(User, user_id) is None:
        session.add(User(id=user_id, full_name=""))
        await session.flush()  # no ORM relationship orders this insert before the grant
    grant = RoleGrant(user_id=user_id, role=role.value, org_id=org_id, granted_by=granted_by)
    session.add(grant)
    await session.flush()
    audit.record(
        session,
        actor_id=granted_by,
        entity="role",
        entity_id=grant.id,
        action="grant",
        field=role.value,
        new=user_id,
        org_id=org_id,
    )
    return grant


async def ensure_admins(session: AsyncSession, admin_ids: list[int]) -> None:
    """PAICHA_ADMIN_IDS are admins from the start."""
    if not admin_ids:
        return
    async with write_tx(session):
        for user_id in admin_ids:
            await grant_role(
                session, user_id=user_id, role=Role.ADMIN, org_id=None, granted_by=None
            )


@dataclass(frozen=True)
class GrantLine:
    """One active role grant as /revoke lists it: no phone, no member data."""

    grant_id: int
    user_id: int
    user_name: str
    role: Role
    org_name: str | None


def _may_revoke(actor: Actor, grant: RoleGrant, org: Organisation | None) -> bool:
    """Who may take a role back: whoever may give it (SPEC §1, as /invite):
    an admin any grant; committee staff a secretary's grant in a branch under
    their committee. Nobody their own grant (an admin cannot lock themselves out)."""
    if grant.user_id == actor.user_id:
        return False
    if actor.is_admin:
        return True
    return (
        grant.role == Role.SECRETARY.value
        and org is not None
        and org.kind == "branch"
        and org.parent_id in actor.orgs(Role.COMMITTEE)
    )


def _fixed(grant: RoleGrant, fixed_admins: Collection[int]) -> None:
    """An admin named in PAICHA_ADMIN_IDS is granted again at every start:
    revoking here would not last, so it is refused with the way that does."""
    if grant.role == Role.ADMIN.value and grant.user_id in fixed_admins:
        raise InvalidInput(
            N_("这位管理员由配置项 PAICHA_ADMIN_IDS 指定：请从配置中删除并重启，才能收回。")
        )


def _revocable_query(
    actor: Actor, fixed_admins: Collection[int] = ()
) -> Select[tuple[RoleGrant, str | None, str | None]] | None:
    query = (
        select(RoleGrant, User.full_name, Organisation.name)
        .join(User, User.id == RoleGrant.user_id)
        .outerjoin(Organisation, Organisation.id == RoleGrant.org_id)
        .where(RoleGrant.revoked_at.is_(None), RoleGrant.user_id != actor.user_id)
    )
    if actor.is_admin:
        if fixed_admins:
            query = query.where(
                ~((RoleGrant.role == Role.ADMIN.value) & RoleGrant.user_id.in_(fixed_admins))
            )
        return query
    committees = actor.orgs(Role.COMMITTEE)
    if not committees:
        return None
    return query.where(
        RoleGrant.role == Role.SECRETARY.value,
        Organisation.kind == "branch",
        Organisation.parent_id.in_(committees),
    )


async def revocable_grants(
    session: AsyncSession,
    actor: Actor,
    *,
    offset: int = 0,
    limit: int = 10,
    fixed_admins: Collection[int] = (),
) -> tuple[list[GrantLine], int]:
    """The active grants this actor may revoke, a page of them and how many in
    all; ``fixed_admins`` (PAICHA_ADMIN_IDS) are left out."""
    query = _revocable_query(actor, fixed_admins)
    if query is None:
        return [], 0
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(
        query.order_by(Organisation.name, RoleGrant.role, User.full_name, RoleGrant.id)
        .offset(offset)
        .limit(limit)
    )
    lines = [
        GrantLine(g.id, g.user_id, name or "", Role(g.role), org_name) for g, name, org_name in rows
    ]
    return lines, total


async def revocable_grant(
    session: AsyncSession, actor: Actor, grant_id: int, fixed_admins: Collection[int] = ()
) -> GrantLine:
    """One grant the actor may revoke (for the confirmation); AccessDenied otherwise,
    without saying whether it exists (R-ACL-BRANCH)."""
    grant = await session.get(RoleGrant, grant_id)
    if grant is None:
        raise AccessDenied
    org = await session.get(Organisation, grant.org_id) if grant.org_id is not None else None
    if not _may_revoke(actor, grant, org):
        raise AccessDenied
    _fixed(grant, fixed_admins)
    if grant.revoked_at is not None:
        raise InvalidInput(N_("这个角色已经收回了。"))
    user = await session.get(User, grant.user_id)
    return GrantLine(
        grant.id, grant.user_id, user.full_name if user else "", Role(grant.role), org and org.name
    )


async def revoke_role(
    session: AsyncSession,
    actor: Actor,
    grant_id: int,
    now: datetime,
    fixed_admins: Collection[int] = (),
) -> GrantLine | None:
    """Take a role back at once: the Actor is read afresh on every update and
    counts only grants not revoked, so the user's next command or button is
    refused. Returns the grant when it was revoked now, None when it already
    was (a replayed confirmation: nothing changes, nobody is told twice).
    AccessDenied when the actor may not revoke it (R-ACL-BRANCH)."""
    async with write_tx(session):
        grant = await session.get(RoleGrant, grant_id)
        if grant is None:
            raise AccessDenied
        org = await session.get(Organisation, grant.org_id) if grant.org_id is not None else None
        if not _may_revoke(actor, grant, org):
            raise AccessDenied
        _fixed(grant, fixed_admins)
        if grant.revoked_at is not None:
            return None
        grant.revoked_at = utc(now)
        audit.record(
            session,
            actor_id=actor.user_id,
            entity="role",
            entity_id=grant.id,
            action="revoke",
            field=grant.role,
            old=grant.user_id,
            org_id=grant.org_id,
        )
        user = await session.get(User, grant.user_id)
        return GrantLine(
            grant.id,
            grant.user_id,
            user.full_name if user else "",
            Role(grant.role),
            org.name if org else None,
        )


async def user_locale(session: AsyncSession, user_id: int) -> str | None:
    return await session.scalar(select(User.locale).where(User.id == user_id))
