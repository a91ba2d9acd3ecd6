"""Single-use invitation codes (邀请码) with an expiry."""

from __future__ import annotations

import math
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import N_, InvalidInput
from storage.db import utc, write_tx
from storage.models import AuditEvent, Invitation, Organisation
from storage.services import audit
from storage.services.access import AccessDenied, Actor, Role, require_org_admin
from storage.services.users import grant_role

# No 0/O/1/I/L: codes are read aloud and typed on phones.
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10


def new_code() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH))


def _role_fits(role: str, org: Organisation) -> bool:
    return (role, org.kind) in {
        (Role.COMMITTEE.value, "committee"),
        (Role.SECRETARY.value, "branch"),
    }


async def create_invitation(
    session: AsyncSession,
    *,
    actor: Actor | None,
    org_id: int,
    role: str,
    now: datetime,
    days: int = 7,
) -> Invitation:
    """``actor`` None means the desk CLI (`paicha admin invite`), trusted."""
    async with write_tx(session):
        if actor is None:
            org = await session.get(Organisation, org_id)
            if org is None:
                raise InvalidInput(N_("组织{id}不存在。"), id=org_id)
        else:
            org = await require_org_admin(session, actor, org_id)
            if role == Role.COMMITTEE.value and not actor.is_admin:
                raise AccessDenied
        if not _role_fits(role, org):
            raise InvalidInput(N_("委员会人员只能邀请到党委/党总支，支部书记只能邀请到党支部。"))
        invitation = Invitation(
            code=new_code(),
            role=role,
            org_id=org_id,
            created_by=actor.user_id if actor else None,
            created_at=utc(now),
            expires_at=utc(now) + timedelta(days=days),
        )
        session.add(invitation)
        await session.flush()
        audit.record(
            session,
            actor_id=invitation.created_by,
            entity="invitation",
            entity_id=invitation.id,
            action="create",
            field=role,
            org_id=org_id,
        )
    return invitation


def _normalise(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "")


# /join attempts (issue 18 point 5): after JOIN_LIMIT refused codes within
# JOIN_WINDOW a user is refused for JOIN_LOCK without the code being looked at,
# so 31^10 codes cannot be guessed. Counted from the audit events, so the limit
# holds across restarts and across several workers (no schema of its own).
JOIN_LIMIT = 5
JOIN_WINDOW = timedelta(minutes=15)
JOIN_LOCK = timedelta(minutes=15)
JOIN_FAILED = "join_failed"


async def join_locked_until(session: AsyncSession, user_id: int, now: datetime) -> datetime | None:
    """When this user may try a code again, if they may not now: the end of
    the lock that follows the latest run of JOIN_LIMIT refusals within
    JOIN_WINDOW."""
    since = utc(now) - JOIN_WINDOW - JOIN_LOCK
    stamps = sorted(
        utc(at)
        for at in await session.scalars(
            select(AuditEvent.at).where(
                AuditEvent.entity == "invitation",
                AuditEvent.action == JOIN_FAILED,
                AuditEvent.actor_id == user_id,
                AuditEvent.at >= since,
            )
        )
    )
    until: datetime | None = None
    for i in range(JOIN_LIMIT - 1, len(stamps)):
        if stamps[i] - stamps[i - JOIN_LIMIT + 1] <= JOIN_WINDOW:
            until = stamps[i] + JOIN_LOCK
    return until if until is not None and until > utc(now) else None


async def redeem(session: AsyncSession, *, user_id: int, code: str, now: datetime) -> Organisation:
    """The role the code gives, once. A refused code (wrong, used, expired) is
    an audit event ``join_failed`` of this user; too many of them lock /join
    for a while (JOIN_LIMIT) before any code is looked at."""
    refusal: InvalidInput | None = None
    async with write_tx(session):
        until = await join_locked_until(session, user_id, now)
        if until is not None:
            minutes = max(1, math.ceil((until - utc(now)).total_seconds() / 60))
            raise InvalidInput(
                N_(
                    "邀请码输错次数过多，为防止猜测，请{minutes}分钟后再试。"
                    "请向邀请人核对邀请码，或索取新的邀请码。"
                ),
                minutes=minutes,
            )
        invitation = await session.scalar(
            select(Invitation).where(Invitation.code == _normalise(code))
        )
        if invitation is None:
            refusal = InvalidInput(N_("邀请码不对，请核对后再发，或向邀请人索取新的邀请码。"))
        elif invitation.redeemed_at is not None:
            refusal = InvalidInput(
                N_("这个邀请码已经用过了，每个邀请码只能用一次。请向邀请人索取新的。")
            )
        elif utc(invitation.expires_at) < utc(now):
            refusal = InvalidInput(N_("这个邀请码已过期，请向邀请人索取新的邀请码。"))
        if refusal is not None:
            # Kept (committed): the refusal counts towards the limit.
            audit.record(
                session,
                actor_id=user_id,
                entity="invitation",
                entity_id=invitation.id if invitation else None,
                action=JOIN_FAILED,
                org_id=invitation.org_id if invitation else None,
                at=utc(now),
            )
        else:
            assert invitation is not None
            invitation.redeemed_by, invitation.redeemed_at = user_id, utc(now)
            org = await session.get(Organisation, invitation.org_id)
            assert org is not None
            await grant_role(
                session,
                user_id=user_id,
                role=Role(invitation.role),
                org_id=org.id,
                granted_by=invitation.created_by,
            )
            audit.record(
                session,
                actor_id=user_id,
                entity="invitation",
                entity_id=invitation.id,
                action="redeem",
                field=invitation.role,
                org_id=org.id,
            )
    if refusal is not None:
        raise refusal
    return org
