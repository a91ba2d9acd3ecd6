"""Closing a search (查找结论): 经查找取得联系, or 经查找仍然无法取得联系 — the
latter only when every channel group was tried or recorded as impossible
(R-EXHAUSTED), because the 2017 review undoes decisions made on thin records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.channels import ChannelGroup, missing_groups
from domain.errors import N_, InvalidInput
from storage.db import write_tx
from storage.models import ContactAttempt, ImpossibleChannel, Member, SearchOutcome
from storage.services import audit
from storage.services.access import Actor, require_member
from storage.services.search import check_day

OUTCOME_KEYS = {
    "decided_on",
    "lost_reason",
    "lost_reason_note",
    "occupation",
    "org_category",
    "had_misconduct",
    "misconduct_check",
    "misconduct_note",
    "attitude",
    "is_pocket",
    "note",
}


@dataclass(frozen=True)
class Exhaustion:
    """Where the search stands against R-EXHAUSTED."""

    is_pocket: bool
    covered: frozenset[ChannelGroup]
    impossible: dict[ChannelGroup, str]
    missing: tuple[ChannelGroup, ...]

    @property
    def complete(self) -> bool:
        return not self.missing


async def exhaustion(
    session: AsyncSession, actor: Actor, member_id: int, today: date
) -> Exhaustion:
    member = await require_member(session, actor, member_id)
    covered = frozenset(
        ChannelGroup(g)
        for g in await session.scalars(
            select(ContactAttempt.channel_group).where(
                ContactAttempt.member_id == member_id, ContactAttempt.superseded_by_id.is_(None)
            )
        )
    )
    impossible = {
        ChannelGroup(row.channel_group): row.reason
        for row in await session.scalars(
            select(ImpossibleChannel).where(ImpossibleChannel.member_id == member_id)
        )
    }
    # A letter out without a receipt makes the receiving organisation a channel
    # to try (group 4), whether or not the pocket period has run out yet.
    is_pocket = bool(member.transfer_letter_date and not member.transfer_receipt_date)
    missing = missing_groups(covered, impossible.keys(), is_pocket)
    return Exhaustion(is_pocket, covered, impossible, missing)


async def mark_impossible(
    session: AsyncSession, actor: Actor, member_id: int, group: ChannelGroup, reason: str
) -> None:
    reason = reason.strip()
    if not 4 <= len(reason) <= 300:
        raise InvalidInput(N_("请写明为什么这个渠道无法查找（4到300个字）。"))
    async with write_tx(session):
        member = await require_member(session, actor, member_id, write=True)
        session.add(
            ImpossibleChannel(
                member_id=member.id,
                channel_group=int(group),
                reason=reason,
                recorded_by=actor.user_id,
            )
        )
        audit.record(
            session,
            actor_id=actor.user_id,
            entity="channel",
            entity_id=int(group),
            action="impossible",
            field=str(int(group)),
            new=reason,
            member_id=member.id,
            org_id=member.branch_id,
        )


async def _record(
    session: AsyncSession,
    actor: Actor,
    member: Member,
    kind: str,
    values: Mapping[str, Any],
    today: date,
) -> SearchOutcome:
    unknown = set(values) - OUTCOME_KEYS
    if unknown:
        raise ValueError(sorted(unknown))
    check_day(values["decided_on"], today, member)
    previous = list(
        await session.scalars(
            select(SearchOutcome).where(
                SearchOutcome.member_id == member.id, SearchOutcome.superseded_by_id.is_(None)
            )
        )
    )
    outcome = SearchOutcome(member_id=member.id, kind=kind, recorded_by=actor.user_id, **values)
    session.add(outcome)
    await session.flush()
    for old in previous:
        old.superseded_by_id = outcome.id
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="outcome",
        entity_id=outcome.id,
        action=kind,
        new=values["decided_on"],
        member_id=member.id,
        org_id=member.branch_id,
    )
    return outcome


async def record_found(
    session: AsyncSession, actor: Actor, member_id: int, values: Mapping[str, Any], *, today: date
) -> SearchOutcome:
    """经查找取得联系: the contact date counts as contact from now on."""
    async with write_tx(session):
        member = await require_member(session, actor, member_id, write=True)
        return await _record(session, actor, member, "found", values, today)


async def record_unreachable(
    session: AsyncSession, actor: Actor, member_id: int, values: Mapping[str, Any], *, today: date
) -> SearchOutcome:
    """经查找仍然无法取得联系: refused until R-EXHAUSTED holds."""
    state = await exhaustion(session, actor, member_id, today)
    if state.missing:
        names = "、".join(g.label for g in state.missing)
        raise InvalidInput(
            N_(
                "还不能认定“仍然无法取得联系”：以下渠道还没有查找，也没有记录无法查找的原因：{groups}。"
            ),
            groups=names,
        )
    async with write_tx(session):
        member = await require_member(session, actor, member_id, write=True)
        return await _record(session, actor, member, "unreachable", values, today)
