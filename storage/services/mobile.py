"""流出党员登记 (mobile members, R-MOBILE-6M; seed 003): register, and end."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import N_, InvalidInput
from storage.db import write_tx
from storage.models import MobileRecord
from storage.services import audit
from storage.services.access import Actor, require_member
from storage.services.search import check_day

MOBILE_KEYS = {
    "left_on",
    "destination",
    "region",
    "direction",
    "reason",
    "reason_note",
    "occupation",
    "work_unit",
    "unit_has_org",
    "org_type",
    "certificate_no",
    "reported_branch",
    "reported_contact",
    "reported_post",
    "reported_phone",
    "transferred_in_campaign",
}


async def active_record(session: AsyncSession, member_id: int) -> MobileRecord | None:
    return await session.scalar(
        select(MobileRecord).where(
            MobileRecord.member_id == member_id, MobileRecord.ended_on.is_(None)
        )
    )


async def register_mobile(
    session: AsyncSession, actor: Actor, member_id: int, values: Mapping[str, Any], *, today: date
) -> MobileRecord:
    """A new registration replaces (ends) the one in force, so the history stays."""
    if set(values) - MOBILE_KEYS:
        raise ValueError(sorted(set(values) - MOBILE_KEYS))
    if values.get("left_on"):
        check_day(values["left_on"], today)
    async with write_tx(session):
        member = await require_member(session, actor, member_id, write=True)
        current = await active_record(session, member.id)
        if current is not None:
            current.ended_on = today
        record = MobileRecord(
            member_id=member.id,
            registered_on=today,
            recorded_by=actor.user_id,
            **{k: v for k, v in values.items() if v is not None},
        )
        session.add(record)
        await session.flush()
        audit.record(
            session,
            actor_id=actor.user_id,
            entity="mobile",
            entity_id=record.id,
            action="register",
            new=values.get("destination"),
            member_id=member.id,
            org_id=member.branch_id,
        )
    return record


async def end_mobile(session: AsyncSession, actor: Actor, member_id: int, *, today: date) -> None:
    async with write_tx(session):
        member = await require_member(session, actor, member_id, write=True)
        current = await active_record(session, member.id)
        if current is None:
            raise InvalidInput(N_("该党员不是登记在册的流动党员。"))
        current.ended_on = today
        audit.record(
            session,
            actor_id=actor.user_id,
            entity="mobile",
            entity_id=current.id,
            action="end",
            member_id=member.id,
            org_id=member.branch_id,
        )
