"""Collectors for the registers (登记表 / 名册, see the package note): one row
per member, read in a few statements per form (no query per member), handed
to ``reports.forms.registers`` as plain data."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import and_, bindparam, case, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.channels import ChannelGroup
from domain.codes import MisconductCheck
from domain.errors import DataCheckFailed
from domain.member_fields import FIELDS
from domain.thresholds import pocket_before
from reports.forms import registers as forms
from storage.models import (
    AuditEvent,
    ContactAttempt,
    Member,
    MemberCategory,
    MobileRecord,
    Organisation,
    SearchOutcome,
    User,
)
from storage.services.form_data import Collector, ExportContext, RenderJob

_ROSTER_PAGE = 500
_UNSHARED = frozenset({"name", "id_number", "phone"})  # one per member: nothing to share


def _scope(ctx: ExportContext) -> forms.Scope:
    return forms.Scope(ctx.org_name, ctx.is_committee, ctx.today, ctx.stamp)


def _order(ctx: ExportContext) -> dict[int, tuple[int, str]]:
    """Branch id → (display position, name)."""
    return {b.id: (i, b.name) for i, b in enumerate(ctx.branches)}


def _by_branch(ctx: ExportContext, rows: Iterable[tuple[int, Any]]) -> list[list[Any]]:
    """(branch id, item) pairs → one list per branch of the scope, in order."""
    order = _order(ctx)
    grouped: list[list[Any]] = [[] for _ in ctx.branches]
    for branch_id, item in rows:
        grouped[order[branch_id][0]].append(item)
    return grouped


async def _outcomes_in_force(session: AsyncSession, member_filter: Any) -> dict[int, SearchOutcome]:
    """The outcome in force per member: the newest recorded (highest id) that is
    not superseded, as the summaries pick it."""
    rows = await session.scalars(
        select(SearchOutcome)
        .join(Member, Member.id == SearchOutcome.member_id)
        .where(SearchOutcome.superseded_by_id.is_(None), member_filter)
        .order_by(SearchOutcome.member_id, SearchOutcome.id)
    )
    return {o.member_id: o for o in rows}


def _unreachable_in_force() -> Any:
    return exists(
        select(SearchOutcome.id).where(
            SearchOutcome.member_id == Member.id,
            SearchOutcome.superseded_by_id.is_(None),
            SearchOutcome.kind == "unreachable",
        )
    )


def _pocket_now(ctx: ExportContext) -> Any:
    """R-POCKET today, as ``clock_scan`` writes it."""
    return and_(
        Member.transfer_letter_date.is_not(None),
        Member.transfer_receipt_date.is_(None),
        Member.transfer_letter_date <= pocket_before(ctx.today, ctx.pocket_days),
    )


async def _contact_before(
    session: AsyncSession, wanted: dict[int, tuple[date | None, date | None, date]]
) -> dict[int, date | None]:
    """The last contact (组织生活 or 党费) on or before the end of each member's
    search: member id → (last_org_life, last_dues, end) as stored now.

    A member reached and brought back to organisation life has a later date
    stored now; the one before the search is then read from the audit trail
    (R-DOSSIER keeps each old value), so 与党组织失去联系时间 still spans the loss."""
    result: dict[int, date | None] = {}
    later: list[int] = []
    for member_id, (org_life, dues, end) in wanted.items():
        known = [d for d in (org_life, dues) if d is not None]
        if known and max(known) <= end:
            result[member_id] = max(known)
        else:
            result[member_id] = max((d for d in known if d <= end), default=None)
            later.append(member_id)
    for first in range(0, len(later), 500):
        chunk = later[first : first + 500]
        events = await session.execute(
            select(AuditEvent.member_id, AuditEvent.old_value, AuditEvent.new_value).where(
                AuditEvent.member_id.in_(chunk),
                AuditEvent.field.in_(("last_org_life", "last_dues")),
            )
        )
        for mid, old, new in events:
            assert mid is not None
            end = wanted[mid][2]
            for text in (old, new):
                try:
                    day = date.fromisoformat(text[:10]) if text else None
                except ValueError:
                    day = None
                if day is not None and day <= end:
                    current = result.get(mid)
                    result[mid] = day if current is None else max(current, day)
    return result


# ---------------------------------------------------------------- 党员名册


async def collect_roster(session: AsyncSession, ctx: ExportContext) -> RenderJob:
    """Every member of the scope, branch by branch, in pages of ``_ROSTER_PAGE``
    rows (keyset: the ids after the last page's, read off the branch index);
    values that repeat across members (dates, 汉族, the work unit …) are kept
    once per column, so 100,000 rows stay small here and in the pickle a worker
    receives.

    Pages, not one statement under ``yield_per``: when this was written
    ``storage.db`` handed a SQLite statement's rows over all at once (about
    170 MB for 100,000 members); it streams them now, but a small page is also
    read in place within ``storage.db``'s time budget, with no trip to the
    connection's thread: of 100 to 10,000 rows, 250 to 500 read fastest."""
    columns = [getattr(Member, spec.key) for spec in FIELDS]
    page_of = (
        select(Member.id, *columns)
        .where(Member.branch_id == bindparam("branch"), Member.id > bindparam("after"))
        .order_by(Member.id)
        .limit(_ROSTER_PAGE)
    )
    # A value met again is the one kept the first time (per column: True == 1).
    kept: list[dict[Any, Any] | None] = [None if spec.key in _UNSHARED else {} for spec in FIELDS]
    connection = await session.connection()  # Core rows: no ORM loading per row
    grouped: list[list[tuple[Any, ...]]] = []
    for ref in ctx.branches:
        rows: list[tuple[Any, ...]] = []
        after = 0
        while True:
            page = (await connection.execute(page_of, {"branch": ref.id, "after": after})).all()
            if not page:
                break
            ids, *values = zip(*page, strict=True)
            shared = (
                column if seen is None else map(seen.setdefault, column, column)
                for column, seen in zip(values, kept, strict=True)
            )
            rows.extend(zip(*shared, strict=True))
            if len(page) < _ROSTER_PAGE:
                break
            after = ids[-1]
        grouped.append(rows)
    committee_id = ctx.org_id
    if not ctx.is_committee:
        committee_id = await session.scalar(
            select(Organisation.parent_id).where(Organisation.id == ctx.org_id)
        )
    categories: list[str] = []
    if committee_id is not None:
        categories = list(
            await session.scalars(
                select(MemberCategory.name)
                .where(MemberCategory.committee_id == committee_id)
                .order_by(MemberCategory.position, MemberCategory.id)
            )
        )
    names = [b.name for b in ctx.branches]
    return RenderJob(forms.render_roster, (_scope(ctx), names, grouped, categories))


# ---------------------------------------------------------------- 附件3


def _checked(outcome: SearchOutcome | None) -> str | None:
    """调查核实情况 (seed 001 step 2): what the search found out."""
    if outcome is None:
        return None
    if outcome.kind == "unreachable":
        return f"{outcome.decided_on.isoformat()}经多方努力仍无法取得联系"
    parts = [f"{outcome.decided_on.isoformat()}取得联系"]
    if outcome.had_misconduct is not None:
        parts.append(
            "失联期间" + ("有" if outcome.had_misconduct else "无") + "不合格表现或违纪违法行为"
        )
    if outcome.misconduct_check:
        parts.append("核实方式：" + (forms.label(MisconductCheck, outcome.misconduct_check) or ""))
    if outcome.misconduct_note:
        parts.append(outcome.misconduct_note)
    if outcome.attitude:
        parts.append("本人态度：" + outcome.attitude)
    return "；".join(parts)


async def collect_attempt_log(session: AsyncSession, ctx: ExportContext) -> RenderJob:
    """Every member of the scope with attempts; corrected attempts show their
    replacement only (superseded rows stay in the dossier, R-DOSSIER)."""
    in_scope = Member.branch_id.in_(ctx.branch_ids)
    attempts = await session.execute(
        select(
            ContactAttempt.member_id,
            ContactAttempt.attempted_on,
            ContactAttempt.channel,
            ContactAttempt.contact_person,
            ContactAttempt.result,
            ContactAttempt.note,
            User.full_name,
        )
        .join(Member, Member.id == ContactAttempt.member_id)
        .outerjoin(User, User.id == ContactAttempt.recorded_by)
        .where(in_scope, ContactAttempt.superseded_by_id.is_(None))
        .order_by(ContactAttempt.member_id, ContactAttempt.attempted_on, ContactAttempt.id)
    )
    lines: dict[int, list[forms.AttemptLine]] = {}
    for member_id, on, channel, person, result, note, recorder in attempts:
        lines.setdefault(member_id, []).append(
            forms.AttemptLine(on, channel, person, result, note, recorder or None)
        )
    searched = Member.id.in_(
        select(ContactAttempt.member_id).where(ContactAttempt.superseded_by_id.is_(None))
    )
    people = list(
        await session.execute(
            select(Member.id, Member.branch_id, Member.name, Member.last_org_life, Member.last_dues)
            .where(in_scope, searched)
            .order_by(Member.id)
        )
    )
    outcomes = await _outcomes_in_force(session, and_(in_scope, searched))
    ends = {
        mid: (org_life, dues, outcomes[mid].decided_on if mid in outcomes else ctx.today)
        for mid, _, _, org_life, dues in people
    }
    contact = await _contact_before(session, ends)
    order = _order(ctx)
    members = []
    for member_id, branch_id, name, _, _ in people:
        outcome = outcomes.get(member_id)
        members.append(
            (
                order[branch_id][0],
                forms.AttemptMember(
                    branch=order[branch_id][1],
                    name=name,
                    last_contact=contact[member_id],
                    search_end=ends[member_id][2],
                    lost_reason=outcome.lost_reason if outcome else None,
                    lost_reason_note=outcome.lost_reason_note if outcome else None,
                    checked=_checked(outcome),
                    attempts=tuple(lines.get(member_id, ())),
                ),
            )
        )
    members.sort(key=lambda pair: pair[0])
    return RenderJob(forms.render_attempt_log, (_scope(ctx), [m for _, m in members]))


# ---------------------------------------------------------------- 附件4 外出流动党员登记表


async def collect_mobile_register(session: AsyncSession, ctx: ExportContext) -> RenderJob:
    """Registered mobile members in force (R-MOBILE-6M) whose relation is still
    here (not transferred out, so not pocket either); note 6: no 失联党员, so a
    member declared 经查找仍然无法取得联系 is left out."""
    result = await session.execute(
        select(
            Member.branch_id,
            Member.name,
            Member.gender,
            Member.birth,
            Member.joined,
            Member.education,
            MobileRecord.occupation,
            MobileRecord.left_on,
            MobileRecord.direction,
            MobileRecord.reason,
            MobileRecord.reason_note,
            MobileRecord.destination,
            MobileRecord.work_unit,
            MobileRecord.certificate_no,
            Member.phone,
            MobileRecord.org_type,
        )
        .join(Member, Member.id == MobileRecord.member_id)
        .where(
            Member.branch_id.in_(ctx.branch_ids),
            MobileRecord.ended_on.is_(None),
            MobileRecord.transferred_in_campaign.is_(False),
            Member.transfer_letter_date.is_(None),
            ~_unreachable_in_force(),
        )
        .order_by(Member.id)
    )
    order = _order(ctx)
    rows = [(order[r[0]][0], forms.MobileRow(order[r[0]][1], *r[1:])) for r in result]
    rows.sort(key=lambda pair: pair[0])
    return RenderJob(forms.render_mobile_register, (_scope(ctx), [r for _, r in rows]))


# ---------------------------------------------------------------- 附件5 / 附件6


async def _outcome_rows(
    session: AsyncSession, ctx: ExportContext, kind: str
) -> list[forms.OutcomeRow]:
    in_scope = Member.branch_id.in_(ctx.branch_ids)
    outcomes = await _outcomes_in_force(session, in_scope)
    chosen = {mid: o for mid, o in outcomes.items() if o.kind == kind}
    if not chosen:
        return []
    people = list(
        await session.scalars(
            select(Member)
            .where(
                in_scope,
                Member.id.in_(
                    select(SearchOutcome.member_id).where(
                        SearchOutcome.kind == kind, SearchOutcome.superseded_by_id.is_(None)
                    )
                ),
            )
            .order_by(Member.id)
        )
    )
    people = [m for m in people if m.id in chosen]
    contact = await _contact_before(
        session, {m.id: (m.last_org_life, m.last_dues, chosen[m.id].decided_on) for m in people}
    )
    order = _order(ctx)
    rows = []
    for m in people:
        o = chosen[m.id]
        rows.append(
            (
                order[m.branch_id][0],
                forms.OutcomeRow(
                    branch=order[m.branch_id][1],
                    name=m.name,
                    gender=m.gender,
                    birth=m.birth,
                    joined=m.joined,
                    member_type=m.member_type,
                    id_number=m.id_number,
                    last_contact=contact[m.id],
                    decided_on=o.decided_on,
                    occupation=o.occupation,
                    lost_reason=o.lost_reason,
                    lost_reason_note=o.lost_reason_note,
                    org_category=o.org_category,
                    had_misconduct=o.had_misconduct,
                    misconduct_check=o.misconduct_check,
                    misconduct_note=o.misconduct_note,
                    # note 7, as recorded with the outcome (the summaries count the same mark)
                    pocket=bool(o.is_pocket),
                    note=o.note,
                ),
            )
        )
    rows.sort(key=lambda pair: pair[0])
    return [r for _, r in rows]


async def _outcome_register(session: AsyncSession, ctx: ExportContext, kind: str) -> RenderJob:
    rows = await _outcome_rows(session, ctx, kind)
    problems = forms.outcome_problems(kind, rows)
    if problems:
        raise DataCheckFailed(problems)
    return RenderJob(forms.render_outcome_register, (kind, _scope(ctx), rows))


async def collect_found_register(session: AsyncSession, ctx: ExportContext) -> RenderJob:
    return await _outcome_register(session, ctx, "found")


async def collect_unreachable_register(session: AsyncSession, ctx: ExportContext) -> RenderJob:
    return await _outcome_register(session, ctx, "unreachable")


# ---------------------------------------------------------------- seed 000 附件7


def _search_text(
    outcome: SearchOutcome | None, count: int, latest: date | None, asked_receiver: bool
) -> str:
    if outcome is not None:
        what = "经查找取得联系" if outcome.kind == "found" else "经查找仍然无法取得联系"
        return f"{what}（{outcome.decided_on.isoformat()}）"
    if not count:
        return "尚未查找"
    text = f"已查找{count}次，最近一次{latest.isoformat() if latest else ''}"
    if not asked_receiver:
        text += "；尚未联系接收单位党组织"
    return text


async def collect_pocket_register(session: AsyncSession, ctx: ExportContext) -> RenderJob:
    """口袋党员 today (R-POCKET, ``ctx.pocket_days``), with how their search stands."""
    in_scope = and_(Member.branch_id.in_(ctx.branch_ids), _pocket_now(ctx))
    people = list(
        await session.execute(
            select(
                Member.id,
                Member.branch_id,
                Member.name,
                Member.gender,
                Member.birth,
                Member.joined,
                Member.id_number,
                Member.phone,
                Member.transfer_letter_date,
                Member.transfer_receiver,
            )
            .where(in_scope)
            .order_by(Member.id)
        )
    )
    stats: dict[int, tuple[int, date | None, bool]] = {}
    if people:
        result = await session.execute(
            select(
                ContactAttempt.member_id,
                func.count(),
                func.max(ContactAttempt.attempted_on),
                func.sum(
                    case((ContactAttempt.channel_group == int(ChannelGroup.RECEIVER), 1), else_=0)
                ),
            )
            .join(Member, Member.id == ContactAttempt.member_id)
            .where(in_scope, ContactAttempt.superseded_by_id.is_(None))
            .group_by(ContactAttempt.member_id)
        )
        stats = {mid: (n, latest, bool(asked)) for mid, n, latest, asked in result}
    outcomes = await _outcomes_in_force(session, in_scope) if people else {}
    order = _order(ctx)
    rows = []
    for mid, branch_id, name, gender, birth, joined, id_no, phone, letter, receiver_name in people:
        count, latest, asked = stats.get(mid, (0, None, False))
        assert letter is not None  # R-POCKET: selected by its 介绍信 date
        overdue = (ctx.today - letter).days - ctx.pocket_days
        rows.append(
            (
                order[branch_id][0],
                forms.PocketRow(
                    branch=order[branch_id][1],
                    name=name,
                    gender=gender,
                    birth=birth,
                    joined=joined,
                    id_number=id_no,
                    phone=phone,
                    letter_date=letter,
                    receiver=receiver_name,
                    overdue_days=overdue,
                    search=_search_text(outcomes.get(mid), count, latest, asked),
                ),
            )
        )
    rows.sort(key=lambda pair: pair[0])
    return RenderJob(
        forms.render_pocket_register, (_scope(ctx), [r for _, r in rows], ctx.pocket_days)
    )


# ---------------------------------------------------------------- seed 003 附件1


async def collect_outflow_register(session: AsyncSession, ctx: ExportContext) -> RenderJob:
    """流出党员 (seed 003 一): a 流出党员登记 in force; those who moved their
    relation during the campaign (Y of 附件2) are not counted as 流出."""
    result = await session.execute(
        select(
            Member.branch_id,
            Member.name,
            Member.gender,
            Member.ethnicity,
            Member.birth,
            Member.joined,
            Member.id_number,
            Member.education,
            func.coalesce(MobileRecord.work_unit, Member.work_unit),
            MobileRecord.work_unit,
            MobileRecord.unit_has_org,
            Member.work_unit_has_org,
            # 去向 or else 现居住地, chosen below: the residence is encrypted,
            # so SQL cannot coalesce it (storage/crypto.py).
            MobileRecord.destination,
            Member.residence,
            Member.phone,
            MobileRecord.reason,
            MobileRecord.reason_note,
            MobileRecord.reported_branch,
            MobileRecord.reported_contact,
            MobileRecord.reported_post,
            MobileRecord.reported_phone,
        )
        .join(Member, Member.id == MobileRecord.member_id)
        .where(
            Member.branch_id.in_(ctx.branch_ids),
            MobileRecord.ended_on.is_(None),
            MobileRecord.transferred_in_campaign.is_(False),
        )
        .order_by(Member.id)
    )
    pairs = []
    for r in result:
        (branch_id, name, gender, ethnicity, birth, joined, id_no, education, unit) = r[:9]
        record_unit, record_has_org, member_has_org = r[9:12]
        destination, residence = r[12:14]
        where = destination if destination is not None else residence
        pairs.append(
            (
                branch_id,
                forms.OutflowRow(
                    name,
                    gender,
                    ethnicity,
                    birth,
                    joined,
                    id_no,
                    education,
                    unit,
                    record_has_org if record_unit else member_has_org,
                    where,
                    *r[14:],
                ),
            )
        )
    grouped = _by_branch(ctx, pairs)
    names = [b.name for b in ctx.branches]
    return RenderJob(forms.render_outflow_register, (_scope(ctx), names, grouped))


COLLECTORS: dict[str, Collector] = {
    "roster": collect_roster,
    "attempt_log": collect_attempt_log,
    "mobile_register": collect_mobile_register,
    "found_register": collect_found_register,
    "unreachable_register": collect_unreachable_register,
    "pocket_register": collect_pocket_register,
    "outflow_register": collect_outflow_register,
}
