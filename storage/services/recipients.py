"""Who is told about a case, and by what name (处置的通知对象).

The chat tells a branch's secretaries what the committee decided and names who
did a step; these are the two look-ups it needs. Only ids and names leave
here: the handler renders the text in each recipient's own locale.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import RoleGrant, User
from storage.services.access import Role


async def branch_secretaries(session: AsyncSession, branch_id: int) -> list[int]:
    """The branch's secretaries with a grant in force who have not blocked the bot."""
    return await _holders(session, branch_id, Role.SECRETARY)


async def _holders(session: AsyncSession, org_id: int, role: Role) -> list[int]:
    rows = await session.scalars(
        select(RoleGrant.user_id)
        .join(User, User.id == RoleGrant.user_id)
        .where(
            RoleGrant.org_id == org_id,
            RoleGrant.role == role.value,
            RoleGrant.revoked_at.is_(None),
            User.blocked_at.is_(None),
        )
        .order_by(RoleGrant.user_id)
    )
    return list(dict.fromkeys(rows))


async def committee_staff(session: AsyncSession, committee_id: int) -> list[int]:
    """The committee's staff (组织员) with a grant in force who have not blocked
    the bot: who approves a step of a case in one of its branches."""
    return await _holders(session, committee_id, Role.COMMITTEE)


async def people(
    session: AsyncSession, user_ids: Iterable[int]
) -> dict[int, tuple[str, str | None]]:
    """user id → (name as the bot knows it, locale). A user the bot has no
    name for is named by id, as the dossier does."""
    ids = set(user_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(User.id, User.full_name, User.username, User.locale).where(User.id.in_(ids))
    )
    found = {
        uid: (name or (f"@{username}" if username else str(uid)), locale)
        for uid, name, username, locale in rows
    }
    return {uid: found.get(uid, (str(uid), None)) for uid in ids}
