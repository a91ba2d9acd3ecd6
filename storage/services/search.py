"""The search (联系查找): meetings that set last contact, attempts and their
corrections and evidence. Every change is also an audit event on the member,
so the dossier (一人一档) is one ordered list (R-DOSSIER)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.channels import AttemptResult, Channel
from domain.clocks import DEFAULT_POCKET_DAYS
from domain.dates import PartialDate
from domain.errors import N_, InvalidInput
from storage.db import write_tx
from storage.models import AttemptEvidence, ContactAttempt, Meeting, MeetingAttendance, Member
from storage.services import audit, sweep
from storage.services.access import AccessDenied, Actor, require_branch, require_member

MEETING_FIELDS = {
    "org_life": ("last_org_life",),
    "dues": ("last_dues",),
    "both": ("last_org_life", "last_dues"),
}
NOTE_MAX = 500
EVIDENCE_MAX_BYTES = 20 * 1024 * 1024


def check_day(day: date, today: date, member: Member | None = None) -> None:
    if day > today:
        raise InvalidInput(
            N_("日期{date}在今天之后，不能是将来的日期。"), date=PartialDate.of(day).zh()
        )
    if member is not None and member.joined:
        joined = PartialDate.from_iso(member.joined)
        if (day.year, day.month, day.day) < (joined.year, joined.month, joined.day or 1):
            raise InvalidInput(
                N_("日期{date}早于该党员的入党时间{joined}，请检查。"),
                date=PartialDate.of(day).zh(),
                joined=joined.zh(),
            )


async def record_meeting(
    session: AsyncSession,
    actor: Actor,
    branch_id: int,
    *,
    kind: str,
    held_on: date,
    member_ids: Iterable[int],
    today: date,
    pocket_days: int = DEFAULT_POCKET_DAYS,
) -> Meeting:
    """Everyone ticked gets ``held_on`` as last organisation life / dues date,
    unless they already have a later one. A sweep 待完善 for the missing dates
    closes by itself (issue 8)."""
    if kind not in MEETING_FIELDS:
        raise ValueError(kind)
    check_day(held_on, today)
    wanted = set(member_ids)
    if not wanted:
        raise InvalidInput(N_("还没有勾选任何党员。"))
    async with write_tx(session):
        await require_branch(session, actor, branch_id, write=True)
        rows = list(await session.scalars(select(Member).where(Member.id.in_(wanted))))
        if len(rows) != len(wanted) or any(m.branch_id != branch_id for m in rows):
            raise AccessDenied
        before = await sweep.pending_flags(session, wanted, today, pocket_days)
        meeting = Meeting(
            branch_id=branch_id, kind=kind, held_on=held_on, recorded_by=actor.user_id
        )
        session.add(meeting)
        await session.flush()
        session.add_all(MeetingAttendance(meeting_id=meeting.id, member_id=m.id) for m in rows)
        for member in rows:
            for field in MEETING_FIELDS[kind]:
                old = getattr(member, field)
                if old is None or old < held_on:
                    setattr(member, field, held_on)
                    audit.record(
                        session,
                        actor_id=actor.user_id,
                        entity="meeting",
                        entity_id=meeting.id,
                        action="attend",
                        field=field,
                        old=old,
                        new=held_on,
                        member_id=member.id,
                        org_id=branch_id,
                    )
        await sweep.settle_filled(session, actor, before, today, pocket_days)
    return meeting


def _clean_note(note: str | None) -> str | None:
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise InvalidInput(
            N_("备注最多{max}个字，现在是{length}个字，请精简后再发。"),
            max=NOTE_MAX,
            length=len(note),
        )
    return note or None


async def log_attempt(
    session: AsyncSession,
    actor: Actor,
    member_id: int,
    *,
    channel: str,
    result: str,
    attempted_on: date,
    today: date,
    note: str | None = None,
    contact_person: str | None = None,
) -> ContactAttempt:
    chosen, outcome = Channel(channel), AttemptResult(result)
    note = _clean_note(note)
    async with write_tx(session):
        member = await require_member(session, actor, member_id, write=True)
        check_day(attempted_on, today, member)
        attempt = ContactAttempt(
            member_id=member.id,
            channel=chosen.value,
            channel_group=int(chosen.group),
            result=outcome.value,
            attempted_on=attempted_on,
            note=note,
            contact_person=(contact_person or "").strip()[:60] or None,
            recorded_by=actor.user_id,
        )
        session.add(attempt)
        await session.flush()
        audit.record(
            session,
            actor_id=actor.user_id,
            entity="attempt",
            entity_id=attempt.id,
            action="create",
            field=chosen.value,
            new=f"{attempted_on} {chosen.label} {outcome.label}",
            member_id=member.id,
            org_id=member.branch_id,
        )
    return attempt


async def correct_attempt(
    session: AsyncSession, actor: Actor, attempt_id: int, *, today: date, **changes: object
) -> ContactAttempt:
    """A corrected attempt is a new row; the old one stays, marked superseded (R-DOSSIER)."""
    allowed = {"channel", "result", "attempted_on", "note", "contact_person"}
    if set(changes) - allowed:
        raise ValueError(sorted(set(changes) - allowed))
    async with write_tx(session):
        old = await session.get(ContactAttempt, attempt_id)
        if old is None:
            raise AccessDenied
        member = await require_member(session, actor, old.member_id, write=True)
        if old.superseded_by_id is not None:
            raise InvalidInput(N_("这条记录已经被更正过，请更正最新的一条。"))
        values = {k: getattr(old, k) for k in allowed} | changes
        chosen, outcome = Channel(values["channel"]), AttemptResult(values["result"])
        check_day(values["attempted_on"], today, member)  # type: ignore[arg-type]
        new = ContactAttempt(
            member_id=old.member_id,
            channel=chosen.value,
            channel_group=int(chosen.group),
            result=outcome.value,
            attempted_on=values["attempted_on"],
            note=_clean_note(values["note"]),
            contact_person=values["contact_person"],  # type: ignore[arg-type]
            recorded_by=actor.user_id,
            replaces_id=old.id,
        )
        session.add(new)
        await session.flush()
        old.superseded_by_id = new.id
        for key in sorted(changes):
            audit.record(
                session,
                actor_id=actor.user_id,
                entity="attempt",
                entity_id=new.id,
                action="correct",
                field=key,
                old=getattr(old, key),
                new=getattr(new, key),
                member_id=member.id,
                org_id=member.branch_id,
            )
    return new


async def add_evidence(
    session: AsyncSession,
    actor: Actor,
    attempt_id: int,
    *,
    kind: str,
    content: bytes,
    file_name: str | None = None,
    mime_type: str | None = None,
    telegram_file_id: str | None = None,
) -> AttemptEvidence:
    if not content:
        raise InvalidInput(N_("文件是空的。"))
    if len(content) > EVIDENCE_MAX_BYTES:
        raise InvalidInput(N_("文件太大（超过20MB）。"))
    async with write_tx(session):
        attempt = await session.get(ContactAttempt, attempt_id)
        if attempt is None:
            raise AccessDenied
        member = await require_member(session, actor, attempt.member_id, write=True)
        evidence = AttemptEvidence(
            attempt_id=attempt.id,
            kind=kind,
            file_name=(file_name or "")[:200] or None,
            mime_type=mime_type,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            content=content,
            telegram_file_id=telegram_file_id,
            added_by=actor.user_id,
        )
        session.add(evidence)
        await session.flush()
        audit.record(
            session,
            actor_id=actor.user_id,
            entity="evidence",
            entity_id=evidence.id,
            action="create",
            field=kind,
            new=file_name or kind,
            member_id=member.id,
            org_id=member.branch_id,
        )
    return evidence


async def attempts_of(session: AsyncSession, actor: Actor, member_id: int) -> list[ContactAttempt]:
    """The attempts in force (corrections replace what they correct), oldest first."""
    await require_member(session, actor, member_id)
    rows = await session.scalars(
        select(ContactAttempt)
        .where(ContactAttempt.member_id == member_id, ContactAttempt.superseded_by_id.is_(None))
        .order_by(ContactAttempt.attempted_on, ContactAttempt.id)
    )
    return list(rows)


async def get_attempt(
    session: AsyncSession, actor: Actor, attempt_id: int
) -> tuple[ContactAttempt, Member, int]:
    """The attempt, its member (read permission) and how many evidence files it has."""
    attempt = await session.get(ContactAttempt, attempt_id)
    if attempt is None:
        raise AccessDenied
    member = await require_member(session, actor, attempt.member_id)
    evidence = await session.scalar(
        select(func.count())
        .select_from(AttemptEvidence)
        .where(AttemptEvidence.attempt_id == attempt.id)
    )
    return attempt, member, evidence or 0
