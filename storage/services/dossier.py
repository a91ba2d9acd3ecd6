"""一人一档: every event about a member, in order, with who and when (R-DOSSIER)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent, User
from storage.services.access import Actor, require_member

PAGE_SIZE = 15


@dataclass(frozen=True)
class DossierPage:
    events: list[tuple[AuditEvent, str | None]]  # the event and the actor's name
    page: int
    pages: int
    total: int


async def dossier(
    session: AsyncSession, actor: Actor, member_id: int, page: int | None = None
) -> DossierPage:
    """Oldest first; without a page, the last page (the newest events)."""
    await require_member(session, actor, member_id)
    where = AuditEvent.member_id == member_id
    total = await session.scalar(select(func.count()).select_from(AuditEvent).where(where)) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = pages - 1 if page is None else min(max(page, 0), pages - 1)
    rows = await session.execute(
        select(AuditEvent, User.full_name)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(where)
        .order_by(AuditEvent.id)
        .offset(page * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return DossierPage([(e, name) for e, name in rows], page, pages, total)
