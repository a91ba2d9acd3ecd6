"""Users (用户) and the roles they hold; language choice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import read_alone, write_tx
from storage.models import RoleGrant, User
from storage.services import audit
from storage.services.access import Actor, Grant, Role, load_actor

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


async def revoke_role(session: AsyncSession, actor: Actor, grant_id: int, now: datetime) -> None:
    async with write_tx(session):
        grant = await session.get(RoleGrant, grant_id)
        if grant is None or grant.revoked_at is not None:
            return
        grant.revoked_at = now
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
