"""Collectors for the prose reports (see the package note): the 综合情况报告
(``report``) of a committee and the 核查情况报告 (``branch_report``) of a branch.

The lost, mobile, outflow and pocket figures are the summaries' own
(``storage.services.form_data.summaries``: one GROUP BY each, so the report and
the 汇总表 never disagree). What is counted here is what only the reports
show: the sweep's progress per branch and per check, the working group's
marks and findings (BranchReview), and for a branch's report the names behind
its figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.channels import ChannelGroup, missing_groups
from domain.clocks import Standing, last_contact, lost_duration
from domain.codes import (
    FlowDirection,
    Gender,
    LostContactReason,
    LostOccupation,
    MobileOccupation,
    MobileRegion,
)
from domain.dates import PartialDate
from domain.errors import N_, InvalidInput
from domain.form_checks import AGE_BANDS, DURATION_BANDS
from domain.sweep import Answer, Check
from reports import prose
from reports.catalogue import find
from storage.models import (
    BranchReview,
    ContactAttempt,
    ImpossibleChannel,
    Member,
    MobileRecord,
    SearchOutcome,
    SweepAnswer,
)
from storage.services.form_data import BranchRef, Collector, ExportContext, RenderJob
from storage.services.form_data import summaries as s
from storage.services.review import review_marks
from storage.services.situations import branch_situations
from storage.services.sweep import answer_counts

CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩"
REVIEW_STATES = {"complete": "核查完成", "returned": "退回整改"}
NOT_REVIEWED = "未核查"
OUTCOME_TEXT = {"found": "经查找取得联系", "unreachable": "经查找仍然无法取得联系"}
SEARCHING = "正在查找"


def _coded(number: int, text: str) -> str:
    return (CIRCLED[number] if number < len(CIRCLED) else f"{number + 1}.") + text


def _splits(
    labels: Sequence[str], found: Sequence[int], unreachable: Sequence[int]
) -> tuple[prose.Split, ...]:
    return tuple(
        prose.Split(label, f, u) for label, f, u in zip(labels, found, unreachable, strict=False)
    )


def figures_of(
    lost: s.LostRow, mobile: s.MobileRow, outflow: s.OutflowRow, pocket: s.PocketRow
) -> prose.Figures:
    """The summaries' rows (one branch's, or their 合计) as the report's breakdowns."""
    f, u = lost.found, lost.unreachable
    return prose.Figures(
        reason=_splits(
            [_coded(k, c.label) for k, c in enumerate(LostContactReason)], f.reason, u.reason
        ),
        gender=_splits([g.label for g in Gender], f.gender, u.gender),
        age=_splits(AGE_BANDS, f.age, u.age),
        duration=_splits(DURATION_BANDS, f.duration, u.duration),
        occupation=_splits(
            [_coded(k, c.label) for k, c in enumerate(LostOccupation)], f.occupation, u.occupation
        ),
        mobile=mobile.count,
        mobile_away=mobile.still_away,
        mobile_certificate=mobile.certificate,
        mobile_reported=mobile.reported,
        direction=tuple(
            (_coded(k, c.label), n)
            for (k, c), n in zip(enumerate(FlowDirection), mobile.direction, strict=False)
        ),
        mobile_occupation=tuple(
            (_coded(k, c.label), n)
            for (k, c), n in zip(enumerate(MobileOccupation), mobile.occupation, strict=False)
        ),
        outflow=outflow.a,
        region=tuple(
            (f"{c.value} {c.label}", n) for c, n in zip(MobileRegion, outflow.region, strict=False)
        ),
        unreceipted=pocket.unreceipted,
        pocket=pocket.pocket,
        pocket_found=pocket.found,
        pocket_unreachable=pocket.unreachable,
        pocket_searching=pocket.searching,
        receipts_back=pocket.settled,
    )


async def _sweep_counts(
    session: AsyncSession, ctx: ExportContext
) -> dict[int, tuple[int, int, int]]:
    """Per branch: members with all five checks answered, 待完善 and ✘ answers
    standing (the same per-member aggregate as the committee's progress)."""
    if ctx.campaign is None:
        return {}
    per_member = answer_counts(ctx.campaign.id)
    rows = await session.execute(
        select(
            Member.branch_id,
            func.coalesce(func.sum(case((per_member.c.answered >= len(Check), 1), else_=0)), 0),
            func.coalesce(func.sum(per_member.c.pending), 0),
            func.coalesce(func.sum(per_member.c.problems), 0),
        )
        .select_from(Member)
        .join(per_member, per_member.c.member_id == Member.id)
        .where(Member.branch_id.in_(ctx.branch_ids))
        .group_by(Member.branch_id)
    )
    return {b: (int(c or 0), int(p or 0), int(q or 0)) for b, c, p, q in rows}


async def _review_states(session: AsyncSession, ctx: ExportContext) -> dict[int, str]:
    if ctx.campaign is None:
        return {}
    marks = await review_marks(session, ctx.campaign.id)
    return {branch: REVIEW_STATES.get(row.kind, row.kind) for branch, row in marks.items()}


async def _figures(
    session: AsyncSession, ctx: ExportContext
) -> tuple[list[prose.BranchLine], dict[int, prose.Figures], prose.Figures]:
    """Each branch's line and figures, and the whole scope's figures."""
    if not ctx.branches:
        raise InvalidInput(N_("这个党委下还没有党支部，没有可汇总的数据。"))
    lost = await s.lost_figures(session, ctx)
    mobile = await s.mobile_figures(session, ctx)
    outflow = await s.outflow_figures(session, ctx)
    pocket = await s.pocket_figures(session, ctx)
    sweep = await _sweep_counts(session, ctx)
    reviews = await _review_states(session, ctx)
    lines: list[prose.BranchLine] = []
    per: dict[int, prose.Figures] = {}
    for branch, lo, mo, out, po in zip(ctx.branches, lost, mobile, outflow, pocket, strict=True):
        checked, pending, problems = sweep.get(branch.id, (0, 0, 0))
        campaign = ctx.campaign is not None
        lines.append(
            prose.BranchLine(
                branch=branch.name,
                members=lo.members,
                checked=checked if campaign else None,
                pending=pending if campaign else None,
                problems=problems if campaign else None,
                review=reviews.get(branch.id, NOT_REVIEWED) if campaign else "—",
                found=lo.found.count,
                unreachable=lo.unreachable.count,
                searching=lo.searching,
                pocket=lo.pocket,
                mobile=mo.count,
                outflow=out.a,
            )
        )
        per[branch.id] = figures_of(lo, mo, out, po)
    whole = figures_of(
        s.LostRow.total(lost),
        s.MobileRow.total(mobile),
        s.OutflowRow.total(outflow),
        s.PocketRow.total(pocket),
    )
    return lines, per, whole


def _masthead(ctx: ExportContext, key: str) -> prose.Masthead:
    info = find(key)
    assert info is not None
    return prose.Masthead(
        title=info.title,
        org_name=ctx.org_name,
        today=ctx.today,
        stamp=ctx.stamp,
        campaign=ctx.campaign.name if ctx.campaign else None,
        starts=ctx.campaign.starts if ctx.campaign else None,
        ends=ctx.campaign.ends if ctx.campaign else None,
    )


async def collect_report(session: AsyncSession, ctx: ExportContext) -> RenderJob:
    """党员组织关系集中排查综合情况报告 of ``ctx``'s scope (the committee's branches)."""
    lines, _per, whole = await _figures(session, ctx)
    return RenderJob(prose.render_report, (_masthead(ctx, "report"), lines, whole))


# ---------------------------------------------------------------- 核查情况报告


def _zh(day: date | None) -> str:
    return PartialDate.of(day).zh() if day else "—"


async def _checks(
    session: AsyncSession, ctx: ExportContext
) -> dict[int, dict[int, dict[str, int]]]:
    """branch → check → answer → members (answers in force)."""
    if ctx.campaign is None:
        return {}
    rows = await session.execute(
        select(Member.branch_id, SweepAnswer.check_no, SweepAnswer.answer, func.count())
        .join(Member, Member.id == SweepAnswer.member_id)
        .where(
            SweepAnswer.campaign_id == ctx.campaign.id,
            SweepAnswer.superseded_by_id.is_(None),
            Member.branch_id.in_(ctx.branch_ids),
        )
        .group_by(Member.branch_id, SweepAnswer.check_no, SweepAnswer.answer)
    )
    result: dict[int, dict[int, dict[str, int]]] = {}
    for branch_id, check_no, answer, n in rows:
        result.setdefault(branch_id, {}).setdefault(check_no, {})[answer] = int(n)
    return result


def _check_lines(members: int, counts: dict[int, dict[str, int]]) -> tuple[prose.CheckLine, ...]:
    lines = []
    for check in Check:
        got = counts.get(int(check), {})
        ok, problem = got.get(Answer.ok.value, 0), got.get(Answer.problem.value, 0)
        pending = got.get(Answer.pending.value, 0)
        lines.append(
            prose.CheckLine(
                f"{int(check)}. {check.label}",
                ok,
                problem,
                pending,
                max(0, members - ok - problem - pending),
            )
        )
    return tuple(lines)


async def _findings(
    session: AsyncSession, ctx: ExportContext
) -> dict[int, list[tuple[str, str, str]]]:
    """The working group's findings per branch, oldest first; a finding is open
    until the branch is next marked 核查完成 (as the review view counts it)."""
    if ctx.campaign is None:
        return {}
    rows = await session.execute(
        select(BranchReview, Member.name)
        .outerjoin(Member, Member.id == BranchReview.member_id)
        .where(
            BranchReview.campaign_id == ctx.campaign.id,
            BranchReview.branch_id.in_(ctx.branch_ids),
        )
        .order_by(BranchReview.id)
    )
    marks = list(rows)
    last_complete: dict[int, int] = {}
    for row, _name in marks:
        if row.kind == "complete":
            last_complete[row.branch_id] = row.id
    found: dict[int, list[tuple[str, str, str]]] = {}
    for row, name in marks:
        if row.kind != "finding":
            continue
        state = "已核查完成" if row.id < last_complete.get(row.branch_id, 0) else "待整改"
        found.setdefault(row.branch_id, []).append((name or "全支部", row.text or "", state))
    return found


async def _open_items(
    session: AsyncSession, ctx: ExportContext
) -> dict[int, list[tuple[str, str, str, str]]]:
    if ctx.campaign is None:
        return {}
    rows = await session.execute(
        select(
            Member.branch_id,
            Member.name,
            SweepAnswer.check_no,
            SweepAnswer.answer,
            SweepAnswer.note,
        )
        .join(Member, Member.id == SweepAnswer.member_id)
        .where(
            SweepAnswer.campaign_id == ctx.campaign.id,
            SweepAnswer.superseded_by_id.is_(None),
            SweepAnswer.answer.in_([Answer.pending.value, Answer.problem.value]),
            Member.branch_id.in_(ctx.branch_ids),
        )
        .order_by(Member.branch_id, Member.name, Member.id, SweepAnswer.check_no)
    )
    items: dict[int, list[tuple[str, str, str, str]]] = {}
    for branch_id, name, check_no, answer, note in rows:
        check = Check(check_no)
        items.setdefault(branch_id, []).append(
            (name, f"{int(check)}. {check.label}", Answer.of(answer).label, note or "")
        )
    return items


async def _people(
    session: AsyncSession, ctx: ExportContext, branch: BranchRef
) -> tuple[
    tuple[tuple[str, str, str, str, int, str], ...],
    tuple[tuple[str, str, str, str], ...],
    tuple[tuple[str, str, str, str], ...],
]:
    """The names behind a branch's figures: the lost (with their search), the
    mobile (where they went) and the pocket members."""
    people = await branch_situations(
        session, ctx.actor, branch.id, ctx.today, pocket_days=ctx.pocket_days
    )
    ids = [p.member.id for p in people]
    newest = (
        select(SearchOutcome.member_id, func.max(SearchOutcome.id).label("id"))
        .where(SearchOutcome.member_id.in_(ids), SearchOutcome.superseded_by_id.is_(None))
        .group_by(SearchOutcome.member_id)
        .subquery()
    )
    outcomes = {
        m: (kind, day, bool(pocket))
        for m, kind, day, pocket in await session.execute(
            select(
                SearchOutcome.member_id,
                SearchOutcome.kind,
                SearchOutcome.decided_on,
                SearchOutcome.is_pocket,
            ).join(newest, newest.c.id == SearchOutcome.id)
        )
    }
    covered = await _groups(session, ContactAttempt, ids)
    impossible = await _groups(session, ImpossibleChannel, ids)
    records = {
        r.member_id: r
        for r in await session.scalars(
            select(MobileRecord)
            .where(MobileRecord.member_id.in_(ids), MobileRecord.ended_on.is_(None))
            .order_by(MobileRecord.id)
        )
    }
    lost, mobile, pocket = [], [], []
    for p in sorted(people, key=lambda p: (p.member.name, p.member.id)):
        m, standing = p.member, p.situation.standing
        outcome = outcomes.get(m.id)
        if standing is Standing.LOST or outcome is not None:
            contact = last_contact(m.last_org_life, m.last_dues)
            end = outcome[1] if outcome else ctx.today
            duration = lost_duration(contact, end).zh() if contact and end >= contact else "—"
            state = OUTCOME_TEXT[outcome[0]] if outcome else SEARCHING
            todo = "—"
            if outcome is None or outcome[0] != "found":
                is_pocket = standing is Standing.POCKET or bool(outcome and outcome[2])
                missing = missing_groups(covered.get(m.id, ()), impossible.get(m.id, ()), is_pocket)
                todo = "、".join(g.label for g in missing) or "已全部查找"
            lost.append((m.name, state, _zh(contact), duration, p.attempts, todo))
        if standing is Standing.MOBILE:
            record = records.get(m.id)
            direction = "—"
            if record is not None and record.direction:
                try:
                    direction = FlowDirection.of(record.direction).label
                except ValueError:
                    direction = record.direction
            mobile.append(
                (
                    m.name,
                    direction,
                    (record.destination if record else None) or "—",
                    (record.reported_branch if record else None) or "未报到",
                )
            )
        if standing is Standing.POCKET:
            state = OUTCOME_TEXT[outcome[0]] if outcome else SEARCHING
            pocket.append((m.name, _zh(m.transfer_letter_date), m.transfer_receiver or "—", state))
    return tuple(lost), tuple(mobile), tuple(pocket)


async def _groups(
    session: AsyncSession, model: type[ContactAttempt] | type[ImpossibleChannel], ids: list[int]
) -> dict[int, set[ChannelGroup]]:
    """member → the channel groups its attempts covered (corrections count as
    the attempt they replace), or recorded as impossible (R-EXHAUSTED)."""
    query = select(model.member_id, model.channel_group).where(model.member_id.in_(ids)).distinct()
    if model is ContactAttempt:
        query = query.where(ContactAttempt.superseded_by_id.is_(None))
    found: dict[int, set[ChannelGroup]] = {}
    for member_id, group in await session.execute(query):
        found.setdefault(member_id, set()).add(ChannelGroup(group))
    return found


async def collect_branch_report(session: AsyncSession, ctx: ExportContext) -> RenderJob:
    """核查情况报告 of the branch (for a committee's export: of each branch in turn)."""
    lines, per, _whole = await _figures(session, ctx)
    checks = await _checks(session, ctx)
    findings = await _findings(session, ctx)
    open_items = await _open_items(session, ctx)
    reports = []
    for branch, line in zip(ctx.branches, lines, strict=True):
        lost, mobile, pocket = await _people(session, ctx, branch)
        reports.append(
            prose.BranchReport(
                line=line,
                figures=per[branch.id],
                checks=_check_lines(line.members, checks.get(branch.id, {}))
                if ctx.campaign is not None
                else (),
                findings=tuple(findings.get(branch.id, ())),
                open_items=tuple(open_items.get(branch.id, ())),
                lost=lost,
                mobile=mobile,
                pocket=pocket,
            )
        )
    return RenderJob(prose.render_branch_report, (_masthead(ctx, "branch_report"), reports))


COLLECTORS: dict[str, Collector] = {
    "report": collect_report,
    "branch_report": collect_branch_report,
}
