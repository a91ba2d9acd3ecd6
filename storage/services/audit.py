"""Audit events (审计日志): every change to a member, role or invitation.

Values are written as text; the audit table is confidential like the register
and is never written to the process log (R-CONFIDENTIAL).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent


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
