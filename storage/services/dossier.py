"""一人一档: every event about a member, in order, with who and when (R-DOSSIER).

A 处置 event's audit row names the outcome and the step; what the step
recorded (votes, signature, 文号, deadline…, a 退回's reason, an appeal's
text and review) is in the disposition's own rows. ``dossier`` reads those
for the page's disposition events (``DossierPage.details``), so the card's
档案 view shows each decision with its facts."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit_words import APPEAL_TEXT, REVIEW_RESULT
from domain.dispositions import EventKind
from storage.models import AuditEvent, Disposition, DispositionAppeal, DispositionEvent, User
from storage.services.access import Actor, require_member

PAGE_SIZE = 15
ENTITY = "disposition"
_STEP_ACTIONS = frozenset(k.value for k in EventKind)


@dataclass(frozen=True)
class Detail:
    """What a disposition audit event refers to: the day the step (or the
    appeal, the review) was taken and its facts."""

    on: date | None
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DossierPage:
    events: list[tuple[AuditEvent, str | None]]  # the event and the actor's name
    page: int
    pages: int
    total: int
    details: dict[int, Detail] = field(default_factory=dict)  # audit event id → 处置 detail


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
    events: list[tuple[AuditEvent, str | None]] = [(e, name) for e, name in rows]
    details = await disposition_details(session, member_id, [e for e, _ in events])
    return DossierPage(events, page, pages, total, details)


async def disposition_details(
    session: AsyncSession, member_id: int, events: list[AuditEvent]
) -> dict[int, Detail]:
    """Each disposition audit event among ``events`` → its detail. The service
    writes one audit event per appended DispositionEvent, in the same
    transaction: the k-th step event of a disposition is its event of seq k
    (checked by kind and step; a mismatch shows no facts rather than wrong
    ones). The k-th appeal event is its k-th appeal; a review is the first
    appeal reviewed on the day the audit names, not yet matched."""
    ids = {e.entity_id for e in events if e.entity == ENTITY and e.entity_id is not None}
    if not ids:
        return {}
    audits = await session.execute(
        select(AuditEvent.id, AuditEvent.entity_id, AuditEvent.action, AuditEvent.new_value)
        .where(
            AuditEvent.entity == ENTITY,
            AuditEvent.entity_id.in_(ids),
            AuditEvent.member_id == member_id,
        )
        .order_by(AuditEvent.id)
    )
    cases = {
        d.id: d
        for d in await session.scalars(
            select(Disposition).where(Disposition.id.in_(ids), Disposition.member_id == member_id)
        )
    }
    steps: dict[int, list[DispositionEvent]] = defaultdict(list)
    for row in await session.scalars(
        select(DispositionEvent)
        .where(DispositionEvent.disposition_id.in_(cases))
        .order_by(DispositionEvent.disposition_id, DispositionEvent.seq)
    ):
        steps[row.disposition_id].append(row)
    appeals: dict[int, list[DispositionAppeal]] = defaultdict(list)
    for appeal in await session.scalars(
        select(DispositionAppeal)
        .where(DispositionAppeal.disposition_id.in_(cases))
        .order_by(DispositionAppeal.id)
    ):
        appeals[appeal.disposition_id].append(appeal)

    found: dict[int, Detail] = {}
    seen_steps: dict[int, int] = defaultdict(int)
    seen_appeals: dict[int, int] = defaultdict(int)
    reviewed: dict[int, set[int]] = defaultdict(set)
    for audit_id, case_id, action, new in audits:
        case = cases.get(case_id or 0)
        if case is None:
            continue
        case_id = case.id
        if action == "open":
            found[audit_id] = Detail(case.opened_on)
        elif action in _STEP_ACTIONS:
            k = seen_steps[case_id]
            seen_steps[case_id] += 1
            rows = steps[case_id]
            if k < len(rows) and rows[k].kind == action and (rows[k].step or "") == (new or ""):
                found[audit_id] = Detail(rows[k].on, dict(rows[k].facts or {}))
        elif action == "appeal":
            k = seen_appeals[case_id]
            seen_appeals[case_id] += 1
            if k < len(appeals[case_id]):
                appeal = appeals[case_id][k]
                found[audit_id] = Detail(appeal.filed_on, {APPEAL_TEXT: appeal.text})
        elif action == "appeal_review":
            match = next(
                (
                    a
                    for a in appeals[case_id]
                    if a.result is not None
                    and a.id not in reviewed[case_id]
                    and a.reviewed_on is not None
                    and a.reviewed_on.isoformat() == new
                ),
                None,
            )
            if match is not None:
                reviewed[case_id].add(match.id)
                found[audit_id] = Detail(match.reviewed_on, {REVIEW_RESULT: match.result})
    wanted = {e.id for e in events}
    return {k: v for k, v in found.items() if k in wanted}
