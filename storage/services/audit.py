"""Audit events (审计日志): every change to a member, role or invitation,
every export and every read of a member's card; and what /audit reads back
for committee staff (issue 18 point 4).

Values are written as text; the audit table is confidential like the register
and is never written to the process log (R-CONFIDENTIAL). Views mask the
values (``domain.audit_view``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import write_tx
from storage.models import AuditEvent, Member, Organisation, User
from storage.services.access import AccessDenied, Actor, Role


def as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def record(
    session: AsyncSession,
    *,
    actor_id: int | None,
    entity: str,
    entity_id: int | None,
    action: str,
    field: str | None = None,
    old: Any = None,
    new: Any = None,
    member_id: int | None = None,
    org_id: int | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """``at``: the clock's time where a rule reads it back (the /join limit);
    the database's own time otherwise."""
    event = AuditEvent(
        actor_id=actor_id,
        entity=entity,
        entity_id=entity_id,
        action=action,
        field=field,
        old_value=as_text(old),
        new_value=as_text(new),
        member_id=member_id,
        org_id=org_id,
    )
    if at is not None:
        event.at = at
    session.add(event)
    return event


# ---- reads of a card, and /audit (issue 18 point 4) ------------------------

READ = "read"


async def record_read(session: AsyncSession, *, actor_id: int, member_id: int, org_id: int) -> None:
    """A member's card was shown to ``actor_id``: an event of its own write.

    The member is named in ``entity_id`` (entity "member"), not ``member_id``:
    the 一人一档 lists a member's ``member_id`` events, what was done to the
    member, and would otherwise fill up with views."""
    async with write_tx(session):
        record(
            session,
            actor_id=actor_id,
            entity="member",
            entity_id=member_id,
            action=READ,
            org_id=org_id,
        )


@dataclass(frozen=True)
class AuditRow:
    """One event as /audit shows it: who (their Telegram name), which member
    (their name) and organisation; values still as stored (the view masks)."""

    id: int
    at: datetime
    actor_id: int | None
    actor_name: str | None
    entity: str
    action: str
    field: str | None
    old_value: str | None
    new_value: str | None
    member_id: int | None
    member_name: str | None
    org_name: str | None


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    total: int
    member_name: str | None = None  # the filter's member
    user_name: str | None = None  # the filter's user


# The member an event is about: member_id, or entity_id for a card's read.
_SUBJECT = case(
    (and_(AuditEvent.entity == "member", AuditEvent.action == READ), AuditEvent.entity_id),
    else_=AuditEvent.member_id,
)


async def scope_orgs(session: AsyncSession, actor: Actor) -> list[int]:
    """The committees this actor staffs and their branches: whose events
    they may read. AccessDenied for anyone else (admins hold no member data)."""
    committees = list(actor.orgs(Role.COMMITTEE))
    if not committees:
        raise AccessDenied
    branches = await session.scalars(
        select(Organisation.id).where(
            Organisation.kind == "branch", Organisation.parent_id.in_(committees)
        )
    )
    return committees + list(branches)


def _query(orgs: list[int], member_id: int | None, user_id: int | None) -> Select[Any]:
    query = (
        select(AuditEvent, User.full_name, Member.name, Organisation.name)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .outerjoin(Member, Member.id == _SUBJECT)
        .outerjoin(Organisation, Organisation.id == AuditEvent.org_id)
        .where(AuditEvent.org_id.in_(orgs))
    )
    if member_id is not None:
        query = query.where(
            or_(
                AuditEvent.member_id == member_id,
                and_(AuditEvent.entity == "member", AuditEvent.entity_id == member_id),
            )
        )
    if user_id is not None:
        query = query.where(AuditEvent.actor_id == user_id)
    return query


def _row(
    event: AuditEvent, actor_name: str | None, member: str | None, org: str | None
) -> AuditRow:
    return AuditRow(
        id=event.id,
        at=event.at,
        actor_id=event.actor_id,
        actor_name=actor_name,
        entity=event.entity,
        action=event.action,
        field=event.field,
        old_value=event.old_value,
        new_value=event.new_value,
        member_id=event.member_id if event.action != READ else event.entity_id,
        member_name=member,
        org_name=org,
    )


async def _filters(
    session: AsyncSession, orgs: list[int], member_id: int | None, user_id: int | None
) -> tuple[str | None, str | None]:
    """The filter's names; a member outside the scope is refused (R-ACL-BRANCH)."""
    member_name = user_name = None
    if member_id is not None:
        member = await session.get(Member, member_id)
        if member is None or member.branch_id not in orgs:
            raise AccessDenied
        member_name = member.name
    if user_id is not None:
        user = await session.get(User, user_id)
        user_name = (user.full_name if user else None) or str(user_id)
    return member_name, user_name


async def events(
    session: AsyncSession,
    actor: Actor,
    *,
    member_id: int | None = None,
    user_id: int | None = None,
    offset: int = 0,
    limit: int = 10,
) -> AuditPage:
    """The latest events in the committee's scope, newest first, a page of them."""
    orgs = await scope_orgs(session, actor)
    member_name, user_name = await _filters(session, orgs, member_id, user_id)
    query = _query(orgs, member_id, user_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(
        query.order_by(AuditEvent.id.desc()).offset(max(0, offset)).limit(limit)
    )
    return AuditPage([_row(*r) for r in rows], total, member_name, user_name)


EXPORT_LIMIT = 100_000


async def all_events(
    session: AsyncSession,
    actor: Actor,
    *,
    member_id: int | None = None,
    user_id: int | None = None,
    limit: int = EXPORT_LIMIT,
) -> AuditPage:
    """Every event of the filter, oldest first, for the workbook (at most ``limit``, the latest)."""
    page = await events(session, actor, member_id=member_id, user_id=user_id, limit=limit)
    return AuditPage(list(reversed(page.rows)), page.total, page.member_name, page.user_name)


async def actors(session: AsyncSession, actor: Actor, limit: int = 20) -> list[tuple[int, str]]:
    """Who acted in the scope, the most recently active first: (user id, name)."""
    orgs = await scope_orgs(session, actor)
    latest = func.max(AuditEvent.id)
    rows = await session.execute(
        select(AuditEvent.actor_id, User.full_name)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(AuditEvent.org_id.in_(orgs), AuditEvent.actor_id.is_not(None))
        .group_by(AuditEvent.actor_id, User.full_name)
        .order_by(latest.desc())
        .limit(limit)
    )
    return [(uid, name or str(uid)) for uid, name in rows]


async def find_members(
    session: AsyncSession, actor: Actor, text: str, limit: int = 10
) -> list[tuple[int, str, str]]:
    """Members in the scope whose name holds ``text``: (id, name, branch)."""
    orgs = await scope_orgs(session, actor)
    like = "%" + text.strip().replace("%", "").replace("_", "") + "%"
    rows = await session.execute(
        select(Member.id, Member.name, Organisation.name)
        .join(Organisation, Organisation.id == Member.branch_id)
        .where(Member.branch_id.in_(orgs), Member.name.like(like))
        .order_by(Member.name, Member.id)
        .limit(limit)
    )
    return [(mid, name, branch) for mid, name, branch in rows]
