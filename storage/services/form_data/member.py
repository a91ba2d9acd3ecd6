"""Collectors for the one-member forms (see the package note): the 党员基本信息表
(``member_info``, seed 001 附件1) and the 一人一档 (``dossier``, R-DOSSIER, with
its 处置情况: every disposition, step, decision and appeal).

``ctx.member_id`` names the member; the dispatcher has checked access, and the
member is read through ``require_member`` again (R-ACL-BRANCH, every time).
Everything about the member is read here, in a few indexed queries, and
handed to the renderer as plain values; who did what is the user's full name
(user_account.full_name) where the bot knows it.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain.audit_words import APPEAL_TEXT, REVIEW_RESULT
from domain.member_fields import values_of
from reports.forms import member as forms
from storage.models import (
    AttemptEvidence,
    AuditEvent,
    ContactAttempt,
    Disposition,
    DispositionAppeal,
    DispositionEvent,
    Member,
    SearchOutcome,
    User,
)
from storage.services import family, mobile
from storage.services.access import require_member
from storage.services.form_data import Collector, ExportContext, RenderJob


def _member_id(ctx: ExportContext) -> int:
    if ctx.member_id is None:
        raise ValueError("a one-member form needs ctx.member_id")
    return ctx.member_id


def _local(at: datetime | None, tz: tzinfo | None) -> datetime | None:
    """A stored instant as the form's local wall time (naive). SQLite hands
    back naive UTC; PostgreSQL an aware value."""
    if at is None:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(tz or UTC).replace(tzinfo=None)


def _who(name: str | None, user_id: int | None) -> str | None:
    """The user's full name; a user the bot has no name for by their id (as
    the export stamp names them); None for the system."""
    if name:
        return name
    return f"用户{user_id}" if user_id is not None else None


def _tz(ctx: ExportContext) -> tzinfo | None:
    return ctx.requested_at.tzinfo if ctx.requested_at is not None else None


async def member_info(session: AsyncSession, ctx: ExportContext) -> forms.MemberInfo:
    person: Member = await require_member(session, ctx.actor, _member_id(ctx))
    record = await mobile.active_record(session, person.id)
    moving = None
    if record is not None:
        moving = forms.MobileInfo(
            direction=record.direction,
            reason=record.reason,
            reason_note=record.reason_note,
            certificate_no=record.certificate_no,
            work_unit=record.work_unit,
            destination=record.destination,
            left_on=record.left_on,
            reported_branch=record.reported_branch,
            reported_contact=record.reported_contact,
            reported_post=record.reported_post,
            reported_phone=record.reported_phone,
        )
    relatives = tuple(
        forms.Relative(r.relation, r.name, r.work_unit, r.phone)
        for r in await family.rows_of(session, person.id)
    )
    return forms.MemberInfo(
        branch=person.branch.name,
        today=ctx.today,
        values=tuple(values_of(person).items()),
        mobile=moving,
        family=relatives,
        stamp=ctx.stamp,
    )


async def collect_member_info(session: AsyncSession, ctx: ExportContext) -> RenderJob:
    """党员基本信息表 (seed 001 附件1) of ``ctx.member_id``."""
    return RenderJob(forms.render_member_info, (await member_info(session, ctx),))


async def _attempts(
    session: AsyncSession, member_id: int, tz: tzinfo | None
) -> list[forms.AttemptRow]:
    """Every attempt, corrected ones included, with its evidence count."""
    evidence = (
        select(AttemptEvidence.attempt_id, func.count().label("n"))
        .group_by(AttemptEvidence.attempt_id)
        .subquery()
    )
    rows = await session.execute(
        select(ContactAttempt, User.full_name, evidence.c.n)
        .outerjoin(User, User.id == ContactAttempt.recorded_by)
        .outerjoin(evidence, evidence.c.attempt_id == ContactAttempt.id)
        .where(ContactAttempt.member_id == member_id)
        .order_by(ContactAttempt.attempted_on, ContactAttempt.id)
    )
    return [
        forms.AttemptRow(
            id=a.id,
            attempted_on=a.attempted_on,
            channel=a.channel,
            contact_person=a.contact_person,
            result=a.result,
            note=a.note,
            recorded_by=_who(who, a.recorded_by),
            recorded_at=_local(a.created_at, tz),
            evidence=int(n or 0),
            replaces_id=a.replaces_id,
            superseded_by_id=a.superseded_by_id,
        )
        for a, who, n in rows
    ]


async def _outcomes(
    session: AsyncSession, member_id: int, tz: tzinfo | None
) -> list[forms.OutcomeRow]:
    rows = await session.execute(
        select(SearchOutcome, User.full_name)
        .outerjoin(User, User.id == SearchOutcome.recorded_by)
        .where(SearchOutcome.member_id == member_id)
        .order_by(SearchOutcome.id)
    )
    return [
        forms.OutcomeRow(
            kind=o.kind,
            decided_on=o.decided_on,
            lost_reason=o.lost_reason,
            lost_reason_note=o.lost_reason_note,
            occupation=o.occupation,
            org_category=o.org_category,
            had_misconduct=o.had_misconduct,
            misconduct_note=o.misconduct_note,
            misconduct_check=o.misconduct_check,
            attitude=o.attitude,
            is_pocket=bool(o.is_pocket),
            note=o.note,
            recorded_by=_who(who, o.recorded_by),
            recorded_at=_local(o.created_at, tz),
            superseded=o.superseded_by_id is not None,
        )
        for o, who in rows
    ]


async def _events(session: AsyncSession, member_id: int, tz: tzinfo | None) -> list[forms.EventRow]:
    """Every audit event about the member, in the order they were written."""
    actor = aliased(User)
    rows = await session.execute(
        select(AuditEvent, actor.full_name)
        .outerjoin(actor, actor.id == AuditEvent.actor_id)
        .where(AuditEvent.member_id == member_id)
        .order_by(AuditEvent.id)
    )
    return [
        forms.EventRow(
            at=_local(e.at, tz),
            who=_who(who, e.actor_id),
            entity=e.entity,
            action=e.action,
            field=e.field,
            old=e.old_value,
            new=e.new_value,
        )
        for e, who in rows
    ]


async def _cases(session: AsyncSession, member_id: int) -> list[forms.CaseRow]:
    """Every disposition of the member in the order opened, each with its
    opening, its events by seq and its appeals (each followed by its review)."""
    cases = list(
        await session.scalars(
            select(Disposition).where(Disposition.member_id == member_id).order_by(Disposition.id)
        )
    )
    if not cases:
        return []
    ids = [c.id for c in cases]
    events = list(
        await session.scalars(
            select(DispositionEvent)
            .where(DispositionEvent.disposition_id.in_(ids))
            .order_by(DispositionEvent.disposition_id, DispositionEvent.seq)
        )
    )
    appeals = list(
        await session.scalars(
            select(DispositionAppeal)
            .where(DispositionAppeal.disposition_id.in_(ids))
            .order_by(DispositionAppeal.id)
        )
    )
    users = {c.opened_by for c in cases} | {e.by for e in events}
    users |= {a.filed_by for a in appeals} | {a.reviewed_by for a in appeals}
    users.discard(None)
    names: dict[int, str | None] = {}
    if users:
        found = await session.execute(select(User.id, User.full_name).where(User.id.in_(users)))
        names = {uid: name for uid, name in found}

    def who(user_id: int | None) -> str | None:
        return _who(names.get(user_id) if user_id is not None else None, user_id)

    rows = []
    for case in cases:
        steps = [forms.CaseStep(case.opened_on, "open", None, (), who(case.opened_by))]
        steps += [
            forms.CaseStep(e.on, e.kind, e.step, tuple((e.facts or {}).items()), who(e.by))
            for e in events
            if e.disposition_id == case.id
        ]
        for a in appeals:
            if a.disposition_id != case.id:
                continue
            steps.append(
                forms.CaseStep(
                    a.filed_on, "appeal", None, ((APPEAL_TEXT, a.text),), who(a.filed_by)
                )
            )
            if a.result is not None and a.reviewed_on is not None:
                steps.append(
                    forms.CaseStep(
                        a.reviewed_on,
                        "appeal_review",
                        None,
                        ((REVIEW_RESULT, a.result),),
                        who(a.reviewed_by),
                    )
                )
        rows.append(
            forms.CaseRow(
                outcome=case.outcome,
                status=case.status,
                opened_on=case.opened_on,
                effective_on=case.effective_on,
                ends_on=case.ends_on,
                steps=tuple(steps),
            )
        )
    return rows


async def collect_dossier(session: AsyncSession, ctx: ExportContext) -> RenderJob:
    """一人一档 (R-DOSSIER) of ``ctx.member_id``."""
    info = await member_info(session, ctx)
    member_id, tz = _member_id(ctx), _tz(ctx)
    return RenderJob(
        forms.render_dossier,
        (
            info,
            await _attempts(session, member_id, tz),
            await _outcomes(session, member_id, tz),
            await _events(session, member_id, tz),
            await _cases(session, member_id),
        ),
    )


COLLECTORS: dict[str, Collector] = {
    "member_info": collect_member_info,
    "dossier": collect_dossier,
}
