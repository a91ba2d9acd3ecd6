"""Settling a case (处置, SPEC §5): open an outcome for a member, record its
steps, 批准 / 退回, withdraw, appeal, and the 回头看 of decisions made.

The rules are ``domain.dispositions``; this module loads what they look at,
checks access (R-ACL-BRANCH) and appends the event they return (R-DOSSIER:
nothing is overwritten; the disposition row keeps only what replaying its
events gives, for queries).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from domain.abroad import AbroadReason, is_abroad
from domain.codes import LostContactReason, MemberType
from domain.dispositions import (
    DATE_FACTS,
    LEAVING,
    PLANS,
    CaseFacts,
    Decide,
    Event,
    EventKind,
    FactValue,
    Outcome,
    Record,
    SearchState,
    Side,
    Standing,
    Status,
    Step,
    StepRule,
    Withdraw,
    decide,
    ends_on,
    refusal,
    standing,
)
from domain.errors import N_, InvalidInput
from storage.db import write_tx
from storage.models import (
    ContactAttempt,
    Disposition,
    DispositionAppeal,
    DispositionEvent,
    Member,
    Organisation,
    SearchOutcome,
)
from storage.services import audit, recipients
from storage.services.access import (
    AccessDenied,
    Actor,
    Role,
    readable_branch_ids,
    require_member,
)

MAX_TEXT = 500


@dataclass(frozen=True)
class CaseView:
    """A disposition as the chat shows it: the row, the member (with branch),
    its events in order, where it stands, and its appeals."""

    disposition: Disposition
    member: Member
    outcome: Outcome
    events: tuple[DispositionEvent, ...]
    standing: Standing
    appeals: tuple[DispositionAppeal, ...] = ()


@dataclass(frozen=True)
class PendingItem:
    view: CaseView
    rule: StepRule


@dataclass(frozen=True)
class RecheckItem:
    """A decision the 回头看 would not pass, with what is wrong."""

    view: CaseView
    problems: tuple[InvalidInput, ...] = field(default_factory=tuple)


# ---- who acts --------------------------------------------------------------------------------


def sides(actor: Actor, member: Member) -> set[Side]:
    """Which sides ``actor`` may act for on the member's cases: the branch's
    secretaries, and committee staff over the branch (R-ACL-BRANCH)."""
    found = set()
    if member.branch_id in actor.orgs(Role.SECRETARY):
        found.add(Side.BRANCH)
    if member.branch is not None and member.branch.parent_id in actor.orgs(Role.COMMITTEE):
        found.add(Side.COMMITTEE)
    return found


# ---- events as the rules see them ------------------------------------------------------------


def _stored(facts: Mapping[str, FactValue]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in facts.items()}


def _loaded(facts: Mapping[str, Any] | None) -> dict[str, FactValue]:
    out: dict[str, FactValue] = {}
    for key, value in (facts or {}).items():
        if key in DATE_FACTS and isinstance(value, str):
            value = date.fromisoformat(value)
        out[key] = value
    return out


def as_event(row: DispositionEvent) -> Event:
    return Event(
        EventKind(row.kind),
        Step.of(row.step) if row.step else None,
        row.on,
        row.by or 0,
        _loaded(row.facts),
    )


async def _events(session: AsyncSession, disposition_id: int) -> list[DispositionEvent]:
    rows = await session.scalars(
        select(DispositionEvent)
        .where(DispositionEvent.disposition_id == disposition_id)
        .order_by(DispositionEvent.seq)
    )
    return list(rows)


async def _view(session: AsyncSession, disposition: Disposition, member: Member) -> CaseView:
    events = await _events(session, disposition.id)
    outcome = Outcome.of(disposition.outcome)
    appeals = await session.scalars(
        select(DispositionAppeal)
        .where(DispositionAppeal.disposition_id == disposition.id)
        .order_by(DispositionAppeal.id)
    )
    return CaseView(
        disposition,
        member,
        outcome,
        tuple(events),
        standing(outcome, [as_event(e) for e in events]),
        tuple(appeals),
    )


async def _load(
    session: AsyncSession, actor: Actor, disposition_id: int, *, lock: bool = False
) -> tuple[Disposition, Member]:
    query = select(Disposition).where(Disposition.id == disposition_id)
    if lock:  # PostgreSQL: one answer at a time (SQLite's BEGIN IMMEDIATE already is)
        query = query.with_for_update()
    disposition = await session.scalar(query)
    if disposition is None:
        raise AccessDenied
    member = await require_member(session, actor, disposition.member_id)
    return disposition, member


# ---- reading ---------------------------------------------------------------------------------


async def case(session: AsyncSession, actor: Actor, disposition_id: int) -> CaseView:
    disposition, member = await _load(session, actor, disposition_id)
    return await _view(session, disposition, member)


async def member_cases(session: AsyncSession, actor: Actor, member_id: int) -> list[CaseView]:
    member = await require_member(session, actor, member_id)
    rows = await session.scalars(
        select(Disposition).where(Disposition.member_id == member_id).order_by(Disposition.id)
    )
    return [await _view(session, d, member) for d in rows]


async def case_facts(session: AsyncSession, member: Member, today: date) -> CaseFacts:
    """What the rules look at before an outcome is opened (``refusal``)."""
    found = (
        await session.execute(
            select(SearchOutcome.kind, SearchOutcome.lost_reason, SearchOutcome.had_misconduct)
            .where(SearchOutcome.member_id == member.id, SearchOutcome.superseded_by_id.is_(None))
            .order_by(SearchOutcome.id.desc())
            .limit(1)
        )
    ).first()
    kind, lost_reason, misconduct = found if found is not None else ("", None, None)
    search = {"found": SearchState.REACHED, "unreachable": SearchState.UNREACHABLE}.get(
        kind, SearchState.OPEN
    )
    rows = list(
        await session.scalars(
            select(Disposition)
            .where(Disposition.member_id == member.id, Disposition.status != Status.WITHDRAWN)
            .order_by(Disposition.id)
        )
    )
    open_outcome = suspended_on = deadline = left_by = None
    for d in rows:
        outcome = Outcome.of(d.outcome)
        if d.status == Status.IN_PROGRESS and outcome is not Outcome.DISCIPLINE:
            open_outcome = outcome
        if d.status != Status.DONE:
            continue
        if outcome is Outcome.SUSPEND:
            suspended_on = d.effective_on
        elif outcome is Outcome.RESTORE:
            suspended_on = None
        elif outcome is Outcome.CORRECT:
            deadline = d.ends_on
        if outcome in LEAVING:
            left_by = outcome
    return CaseFacts(
        search=search,
        probationary=member.member_type == MemberType.PROBATIONARY.value,
        today=today,
        # 出国（境）: the search found it the reason contact was lost, or the
        # record's 出国（境）情况 says the member left and is not back.
        abroad=lost_reason == LostContactReason.ABROAD.value
        or is_abroad(member.abroad_date, member.return_date),
        settled_abroad=is_abroad(member.abroad_date, member.return_date)
        and member.abroad_reason == AbroadReason.SETTLED.value,
        misconduct=misconduct,
        open_outcome=open_outcome,
        suspended_on=suspended_on,
        correction_deadline=deadline,
        left_by=left_by,
    )


async def options(
    session: AsyncSession, actor: Actor, member_id: int, today: date
) -> list[tuple[Outcome, InvalidInput | None]]:
    """Every outcome with why it is refused (None: it may be opened). Only the
    branch proposes a disposition: committee staff see the cases, no options."""
    member = await require_member(session, actor, member_id)
    if Side.BRANCH not in sides(actor, member):
        return []
    facts = await case_facts(session, member, today)
    return [(o, refusal(o, facts)) for o in Outcome]


# ---- changing --------------------------------------------------------------------------------


async def open_case(
    session: AsyncSession, actor: Actor, member_id: int, outcome: Outcome, today: date
) -> CaseView:
    async with write_tx(session):
        member = await require_member(session, actor, member_id, write=True)
        refused = refusal(outcome, await case_facts(session, member, today))
        if refused is not None:
            raise refused
        disposition = Disposition(
            member_id=member.id,
            outcome=outcome.value,
            opened_on=today,
            opened_by=actor.user_id,
            status=Status.IN_PROGRESS.value,
            position=0,
        )
        session.add(disposition)
        await session.flush()
        _audit(session, actor, disposition, member, "open", outcome.value)
        return await _view(session, disposition, member)


@dataclass(frozen=True)
class _Locked:
    """A disposition read for a change, under the writer's lock, with its
    events as the rules see them."""

    disposition: Disposition
    member: Member
    outcome: Outcome
    events: list[Event]

    @property
    def standing(self) -> Standing:
        return standing(self.outcome, self.events)


async def _locked(session: AsyncSession, actor: Actor, disposition_id: int) -> _Locked:
    disposition, member = await _load(session, actor, disposition_id, lock=True)
    rows = await _events(session, disposition.id)
    return _Locked(
        disposition, member, Outcome.of(disposition.outcome), [as_event(r) for r in rows]
    )


async def _append(
    session: AsyncSession,
    actor: Actor,
    case: _Locked,
    event: Event,
) -> CaseView:
    disposition, member, outcome = case.disposition, case.member, case.outcome
    row = DispositionEvent(
        disposition_id=disposition.id,
        seq=len(case.events) + 1,
        kind=event.kind.value,
        step=event.step.value if event.step else None,
        on=event.on,
        by=event.by,
        facts=_stored(event.facts),
    )
    session.add(row)
    events = [*case.events, event]
    now = standing(outcome, events)
    disposition.status = now.status.value
    disposition.position = now.position
    disposition.effective_on = now.effective_on
    disposition.ends_on = ends_on(outcome, now.effective_on, events)
    await session.flush()
    _audit(session, actor, disposition, member, event.kind.value, row.step or "")
    return await _view(session, disposition, member)


def _audit(
    session: AsyncSession,
    actor: Actor,
    disposition: Disposition,
    member: Member,
    action: str,
    new: str,
) -> None:
    audit.record(
        session,
        actor_id=actor.user_id,
        entity="disposition",
        entity_id=disposition.id,
        action=action,
        field=disposition.outcome,
        new=new,
        member_id=member.id,
        org_id=member.branch_id,
    )


async def record_step(
    session: AsyncSession,
    actor: Actor,
    disposition_id: int,
    step: Step,
    on: date,
    facts: Mapping[str, FactValue],
    today: date,
) -> CaseView:
    """The next step, recorded by the side it belongs to (R-PROCEDURE)."""
    async with write_tx(session):
        case = await _locked(session, actor, disposition_id)
        mine = sides(actor, case.member)
        if not mine:
            raise AccessDenied
        rule = case.standing.next
        side = rule.side if rule is not None and rule.side in mine else next(iter(mine))
        command = Record(step, side, on, actor.user_id, facts)
        return await _append(
            session, actor, case, decide(case.outcome, case.events, command, today)
        )


async def decide_step(
    session: AsyncSession,
    actor: Actor,
    disposition_id: int,
    *,
    approve: bool,
    expected: int,
    reason: str,
    today: date,
) -> CaseView:
    """批准 / 退回 by committee staff over the branch. The first answer counts:
    a later or replayed one is told who answered (``expected`` is the position
    the button was made for)."""
    try:
        async with write_tx(session):
            case = await _locked(session, actor, disposition_id)
            if Side.COMMITTEE not in sides(actor, case.member):
                raise AccessDenied
            now = case.standing
            if now.position != expected or now.next is None or not now.next.decision:
                raise await _answered(session, await _events(session, disposition_id))
            command = Decide(now.next.step, approve, today, actor.user_id, expected, reason)
            event = decide(case.outcome, case.events, command, today)
            return await _append(session, actor, case, event)
    except IntegrityError:  # another worker appended the same seq first
        raise await _answered(session, await _events(session, disposition_id)) from None


async def _answered(session: AsyncSession, rows: Sequence[DispositionEvent]) -> InvalidInput:
    last = next(
        (r for r in reversed(rows) if r.kind in (EventKind.APPROVED, EventKind.RETURNED)), None
    )
    if last is None or last.by is None:
        return InvalidInput(N_("这一步已经处理过了，按钮已失效。"))
    name = (await recipients.people(session, [last.by]))[last.by][0]
    template = (
        N_("这一步已由{who}于{on}批准，按钮已失效。")
        if last.kind == EventKind.APPROVED
        else N_("这一步已由{who}于{on}退回，按钮已失效。")
    )
    return InvalidInput(template, who=name, on=last.on.isoformat())


async def withdraw(
    session: AsyncSession, actor: Actor, disposition_id: int, reason: str, today: date
) -> CaseView:
    """The branch withdraws a proposal before it is done."""
    async with write_tx(session):
        case = await _locked(session, actor, disposition_id)
        if Side.BRANCH not in sides(actor, case.member):
            raise AccessDenied
        command = Withdraw(today, actor.user_id, reason[:MAX_TEXT])
        return await _append(
            session, actor, case, decide(case.outcome, case.events, command, today)
        )


def _text(text: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidInput(N_("请写上内容。"))
    if len(text) > MAX_TEXT:
        raise InvalidInput(N_("最多{max}个字"), max=MAX_TEXT)
    return text


async def file_appeal(
    session: AsyncSession, actor: Actor, disposition_id: int, on: date, text: str, today: date
) -> DispositionAppeal:
    """申诉 against a decision that took effect."""
    async with write_tx(session):
        disposition, member = await _load(session, actor, disposition_id)
        if not sides(actor, member):
            raise AccessDenied
        if disposition.status != Status.DONE:
            raise InvalidInput(N_("只有已办结的处置才能登记申诉。"))
        if on > today:
            raise InvalidInput(N_("日期不能是将来的日期。"))
        if disposition.effective_on is not None and on < disposition.effective_on:
            raise InvalidInput(
                N_("申诉日期不能早于处置生效的日期（{date}）。"),
                date=disposition.effective_on.isoformat(),
            )
        appeal = DispositionAppeal(
            disposition_id=disposition.id, filed_on=on, text=_text(text), filed_by=actor.user_id
        )
        session.add(appeal)
        await session.flush()
        _audit(session, actor, disposition, member, "appeal", on.isoformat())
        return appeal


async def review_appeal(
    session: AsyncSession, actor: Actor, appeal_id: int, result: str, on: date, today: date
) -> DispositionAppeal:
    """The committee records the review's result, once."""
    async with write_tx(session):
        appeal = await session.get(DispositionAppeal, appeal_id)
        if appeal is None:
            raise AccessDenied
        disposition, member = await _load(session, actor, appeal.disposition_id)
        if Side.COMMITTEE not in sides(actor, member):
            raise AccessDenied
        if appeal.result is not None:
            raise InvalidInput(N_("这件申诉的复查结果已经记录过了。"))
        if on > today or on < appeal.filed_on:
            raise InvalidInput(
                N_("复查日期要在申诉日期（{date}）之后，且不能是将来的日期。"),
                date=appeal.filed_on.isoformat(),
            )
        appeal.result, appeal.reviewed_on, appeal.reviewed_by = _text(result), on, actor.user_id
        _audit(session, actor, disposition, member, "appeal_review", on.isoformat())
        return appeal


# ---- who waits for whom ----------------------------------------------------------------------


async def approvers(session: AsyncSession, disposition_id: int) -> list[int]:
    """Committee staff over the case's branch (with a grant in force)."""
    branch_parent = await session.scalar(
        select(Organisation.parent_id)
        .join(Member, Member.branch_id == Organisation.id)
        .join(Disposition, Disposition.member_id == Member.id)
        .where(Disposition.id == disposition_id)
    )
    if branch_parent is None:
        return []
    return await recipients.committee_staff(session, branch_parent)


async def _cases_with(
    session: AsyncSession, actor: Actor, status: Sequence[str]
) -> list[tuple[Disposition, Member]]:
    """The dispositions in ``status`` of every branch the actor reads, oldest first."""
    branches = await readable_branch_ids(session, actor)
    if not branches:
        return []
    rows = await session.execute(
        select(Disposition, Member)
        .join(Member, Member.id == Disposition.member_id)
        .options(joinedload(Member.branch))
        .where(Disposition.status.in_(status), Member.branch_id.in_(branches))
        .order_by(Disposition.id)
    )
    return [(d, m) for d, m in rows.unique()]


async def pending(session: AsyncSession, actor: Actor, today: date) -> list[PendingItem]:
    """What waits for this user: the next step of each case in procedure
    that their side does, the oldest first."""
    items = []
    for disposition, member in await _cases_with(session, actor, [Status.IN_PROGRESS.value]):
        view = await _view(session, disposition, member)
        rule = view.standing.next
        if rule is not None and rule.side in sides(actor, member):
            items.append(PendingItem(view, rule))
    items.sort(key=lambda i: i.view.standing.last_on or i.view.disposition.opened_on)
    return items


# ---- 回头看 (seed 002, 厦委组〔2017〕4号) -----------------------------------------------------

# Outcomes taken for members who could not be reached: they rest on the search.
_ON_THE_SEARCH = {Outcome.SUSPEND, Outcome.LAPSE, Outcome.CANCEL_PROBATION}
THIN_RECORD = 3  # fewer attempts than this is a thin record


async def recheck(session: AsyncSession, actor: Actor, today: date) -> list[RecheckItem]:
    """Decisions of the committee's branches that would not pass the review:
    suspension or removal without R-EXHAUSTED, a thin record, missing steps,
    votes or signatures."""
    if not actor.orgs(Role.COMMITTEE):
        raise AccessDenied
    from storage.services import outcomes  # the search's own R-EXHAUSTED check

    items = []
    done = [Status.DONE.value, Status.IN_PROGRESS.value]
    for disposition, member in await _cases_with(session, actor, done):
        if Side.COMMITTEE not in sides(actor, member):
            continue
        view = await _view(session, disposition, member)
        problems = list(_procedure_problems(view))
        if view.outcome in _ON_THE_SEARCH:
            state = await outcomes.exhaustion(session, actor, member.id, today)
            if state.missing:
                problems.append(
                    InvalidInput(
                        N_("查找未穷尽（R-EXHAUSTED），还缺：{groups}"),
                        groups="、".join(g.label for g in state.missing),
                    )
                )
            attempts = await _attempts(session, member.id)
            if attempts < THIN_RECORD:
                problems.append(InvalidInput(N_("查找记录只有{n}次，记录单薄。"), n=attempts))
        if problems:
            items.append(RecheckItem(view, tuple(problems)))
    return items


async def _attempts(session: AsyncSession, member_id: int) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(ContactAttempt)
        .where(ContactAttempt.member_id == member_id, ContactAttempt.superseded_by_id.is_(None))
    )
    return int(count or 0)


def _procedure_problems(view: CaseView) -> list[InvalidInput]:
    problems: list[InvalidInput] = []
    done = {Step.of(e.step) for e in view.events if e.step and e.kind != EventKind.RETURNED}
    if view.standing.status is Status.DONE:
        missing = [r.step.label for r in PLANS[view.outcome] if r.step not in done]
        if missing:
            problems.append(InvalidInput(N_("缺少步骤：{steps}"), steps="、".join(missing)))
    for event in view.events:
        if event.step != Step.RESOLUTION.value:
            continue
        facts = event.facts or {}
        if any(facts.get(k) is None for k in ("present", "votes_for")):
            problems.append(InvalidInput(N_("党员大会决议没有记录表决票数。")))
        if facts.get("signed") is False and not facts.get("unsigned_reason"):
            problems.append(InvalidInput(N_("本人没有签字，也没有注明原因。")))
    return problems
