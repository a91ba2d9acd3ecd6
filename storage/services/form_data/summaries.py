"""The summaries' figures (汇总表 / 统计表): counted from the records with SQL
aggregates, one row per branch in ``ctx.branches`` order.

Public figure functions (stable names, data only; the .docx 综合情况报告 uses
them too): ``lost_figures``, ``mobile_figures``, ``outflow_figures``,
``pocket_figures``, ``disposal_figures``. Each returns one frozen row per branch;
``Row.total(rows)`` is the 合计 row. The collectors in ``COLLECTORS`` check the
relations of the forms' notes (``domain.form_checks``) and hand the rows to
``reports.forms.summaries``.

What counts:
- the search outcome in force is a member's newest one not superseded
  (``SearchOutcome.superseded_by_id`` is None);
- 失联 (lost) = 经查找取得联系 + 经查找仍然无法取得联系 (seed 001 附件9 note 2);
  members lost today with no outcome yet are ``searching`` (正在查找), shown
  beside the table, not inside its 合计;
- 排查前在册党员人数 counts every member of the branch (note 2: not only the
  lost) but those whose transfer out was complete before the campaign began;
- 口袋党员 is R-POCKET as of ``ctx.today`` (介绍信 issued, no 回执, the period
  ``ctx.pocket_days`` run out);
- a disposition (处置, SPEC §5) counts once it is done (``Disposition.status``
  "done", in force by ``ctx.today``), for the members on the two registers
  (a search outcome in force, seed 001 附件9 note 3), each member once a
  column: see ``disposition_counts``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date
from typing import Any, Self, TypeVar

from sqlalchemy import ColumnElement, and_, case, exists, extract, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain.clocks import Standing
from domain.codes import (
    Education,
    FlowDirection,
    FoundOrgCategory,
    Gender,
    LostContactReason,
    LostOccupation,
    MobileIndustry,
    MobileOccupation,
    MobileRegion,
    UnreachableOrgCategory,
)
from domain.dispositions import Outcome, Status
from domain.errors import N_, DataCheckFailed, InvalidInput
from domain.form_checks import (
    AGE_LIMITS,
    DURATION_LIMITS,
    age_cutoff,
    disposal_problems,
    lost_problems,
    management_problems,
    missing_line,
    outflow_problems,
    relation_problems,
)
from domain.sweep import Check
from domain.thresholds import lost_before, pocket_before
from reports.forms.summaries import TOTAL, org_line, render_outflow, render_summary
from storage.models import Disposition, Escalation, Member, MobileRecord, SearchOutcome
from storage.services import categories
from storage.services.form_data import Collector, ExportContext, RenderJob
from storage.services.situations import branch_situations
from storage.services.sweep import answer_counts
from storage.services.sweep_stats import COUNTED, CategoryRow, category_summary


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, tuple):
        return tuple(_add(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int) and not isinstance(a, bool):
        return a + b
    if hasattr(a, "__dataclass_fields__"):
        return a.plus(b)
    return a


class _Summable:
    """Rows and breakdowns add field by field (ints, tuples of ints, nested rows)."""

    def plus(self, other: Self) -> Self:
        return replace(
            self,  # type: ignore[type-var]
            **{
                f.name: _add(getattr(self, f.name), getattr(other, f.name))
                for f in fields(self)  # type: ignore[arg-type]
                if f.name not in ("branch_id", "branch", "notes")
            },
        )


_R = TypeVar("_R", bound="_Summable")


@dataclass(frozen=True)
class Breakdown(_Summable):
    """The members of one outcome kind, broken down as the registers code them.

    ``org_category`` follows the kind's list: nine codes for 取得联系 (附件5),
    eight for 仍然无法取得联系 (附件6, no 街道社区)."""

    count: int
    gender: tuple[int, int]  # 男, 女
    age: tuple[int, int, int]  # form_checks.AGE_BANDS, as of ctx.today
    duration: tuple[int, int, int, int]  # form_checks.DURATION_BANDS, contact → decided_on
    reason: tuple[int, ...]  # 失去联系情形 ①–⑦
    occupation: tuple[int, ...]  # 职业 ①–⑧ (LostOccupation)
    org_category: tuple[int, ...]
    pocket: int  # outcomes marked “口袋”党员 (备注)


@dataclass(frozen=True)
class LostRow(_Summable):
    """与党组织失去联系党员情况汇总表, one branch (seed 001 附件7, seed 000 附件3)."""

    branch_id: int | None
    branch: str
    members: int  # 排查前在册党员人数: every member on the roll before the campaign (note 2)
    found: Breakdown  # 经查找取得联系
    unreachable: Breakdown  # 经查找仍然无法取得联系
    searching: int  # lost today, no outcome in force yet (正在查找; not in ``lost``)
    pocket: int  # 补充资料：“口袋”党员人数 today (R-POCKET, note 4)

    @property
    def lost(self) -> int:
        """与党组织失去联系党员 合计 = 取得联系 + 仍然无法取得联系 (附件9 note 2)."""
        return self.found.count + self.unreachable.count

    @classmethod
    def total(cls, rows: Iterable[LostRow]) -> LostRow:
        return _total(cls, rows)


@dataclass(frozen=True)
class MobileRow(_Summable):
    """外出流动党员情况汇总表, one branch (seed 001 附件8, seed 000 附件6): the
    members known mobile during the campaign up to the form's date (note 2,
    累积数), each by their latest registration."""

    branch_id: int | None
    branch: str
    count: int  # 累积数
    still_away: int  # registration still in force on the form's date
    female: int
    occupation: tuple[int, ...]  # ①–⑤ (MobileOccupation)
    direction: tuple[int, ...]  # ①–⑥ (FlowDirection)
    certificate: int  # 持《中国共产党流动党员活动证》
    reported: int  # 已向流入地党组织报到

    @classmethod
    def total(cls, rows: Iterable[MobileRow]) -> MobileRow:
        return _total(cls, rows)


@dataclass(frozen=True)
class OutflowRow(_Summable):
    """流出党员有关情况统计表, one branch (seed 003 附件2), columns A–Z."""

    branch_id: int | None
    branch: str
    a: int  # 流出党员人数 (active registrations, not Y)
    gender: tuple[int, int]  # B 男, C 女
    age: tuple[int, int, int]  # D–F as of the form's date
    education: tuple[int, int, int]  # G–I
    industry: tuple[int, ...]  # J–U
    region: tuple[int, int, int]  # V–X
    y: int  # 在集中排查中经督促已转移正式组织关系 (not in A)
    z: int  # 已向流入地党组织报到
    notes: tuple[tuple[str, int], ...] = ()  # U 其他: (情形, 人数), most first

    @classmethod
    def total(cls, rows: Iterable[OutflowRow]) -> OutflowRow:
        rows = list(rows)
        merged: dict[str, int] = {}
        for row in rows:
            for text, n in row.notes:
                merged[text] = merged.get(text, 0) + n
        return replace(_total(cls, rows), notes=_ordered_notes(merged))

    @property
    def letters(self) -> tuple[int, ...]:
        """A … X in the form's order (without the 备注), then Y, Z."""
        return (
            self.a,
            *self.gender,
            *self.age,
            *self.education,
            *self.industry,
            *self.region,
            self.y,
            self.z,
        )


@dataclass(frozen=True)
class PocketRow(_Summable):
    """“口袋”党员情况汇总表, one branch (seed 000 附件8)."""

    branch_id: int | None
    branch: str
    unreceipted: int  # 介绍信 issued, no 回执 yet (any age)
    pocket: int  # of them past the period: “口袋”党员 (R-POCKET)
    found: int  # of the pocket members: 经查找取得联系
    unreachable: int  # 经查找仍然无法取得联系
    searching: int  # no outcome yet
    settled: int  # 回执 came back during the campaign (组织关系已落实)

    @classmethod
    def total(cls, rows: Iterable[PocketRow]) -> PocketRow:
        return _total(cls, rows)


@dataclass(frozen=True)
class Dispositions(_Summable):
    """The columns a disposition decides (规范管理 / 组织处置), each the members
    with such a disposition done; see ``disposition_counts``."""

    normal: int = 0  # 纳入原所在党组织正常管理 (a part of 纳入组织管理)
    retransferred: int = 0  # 补转组织关系: 转移组织关系, 重开介绍信
    retained: int = 0  # 保留组织关系
    probation_extended: int = 0  # 延长预备期
    probation_cancelled: int = 0  # 取消预备党员资格
    deadline_correct: int = 0  # 限期改正
    persuaded: int = 0  # 劝退
    removed: int = 0  # 除名: 除名, 自行脱党除名, 退党 (宣布除名)
    suspended: int = 0  # 停止党籍 in force: not since restored or removed


# Which outcomes each column of ``Dispositions`` counts.
COLUMN_OUTCOMES: dict[str, tuple[Outcome, ...]] = {
    "normal": (Outcome.NORMAL,),
    "retransferred": (Outcome.TRANSFER, Outcome.REISSUE),
    "retained": (Outcome.RETAIN_ABROAD,),
    "probation_extended": (Outcome.EXTEND_PROBATION,),
    "probation_cancelled": (Outcome.CANCEL_PROBATION,),
    "deadline_correct": (Outcome.CORRECT,),
    "persuaded": (Outcome.PERSUADE,),
    # 自行脱党除名 is a 除名; 党员要求退党的，经支部大会讨论后宣布除名 (党章第九条).
    "removed": (Outcome.REMOVE, Outcome.LAPSE, Outcome.WITHDRAW),
    "suspended": (Outcome.SUSPEND,),
}
# A suspension ends when membership is restored or the member removed as 自行脱党.
SUSPENSION_ENDED_BY = (Outcome.RESTORE, Outcome.LAPSE)


@dataclass(frozen=True)
class DisposalRow(_Summable):
    """与党组织失去联系党员管理及处置情况汇总表, one branch (seed 001 附件9, seed 000
    附件4)."""

    branch_id: int | None
    branch: str
    found: int
    unreachable: int
    # 纳入组织管理 (note 4): reached, then transferred out or brought back under
    # normal management; never a member whose relation was 补转. Once each.
    managed: int
    transferred: int  # of those, their relation transferred out (转出组织关系)
    discipline: int  # 纪律处分: referred to 纪检/公安 (Escalation or disposition)
    decided: Dispositions

    @property
    def lost(self) -> int:
        return self.found + self.unreachable

    @classmethod
    def total(cls, rows: Iterable[DisposalRow]) -> DisposalRow:
        return _total(cls, rows)


def _total(cls: type[_R], rows: Iterable[_R]) -> _R:
    rows = list(rows)
    if not rows:
        raise ValueError("no rows to add up")
    result = rows[0]
    for row in rows[1:]:
        result = result.plus(row)
    return replace(result, branch_id=None, branch=TOTAL)  # type: ignore[type-var]


def _ordered_notes(counts: dict[str, int]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


# ---------------------------------------------------------------- SQL pieces


def _n(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _later(a: Any, b: Any) -> ColumnElement[Any]:
    """The later of two nullable dates (as ``clock_scan``: portable CASE)."""
    return case((a.is_(None), b), (b.is_(None), a), (a > b, a), else_=b)


def _whole_years(start: Any, end: Any) -> ColumnElement[int]:
    """``domain.form_checks.whole_years`` in SQL (NULL when either is)."""
    mmdd_start = extract("month", start) * 100 + extract("day", start)
    mmdd_end = extract("month", end) * 100 + extract("day", end)
    return extract("year", end) - extract("year", start) - case((mmdd_end < mmdd_start, 1), else_=0)


def _age_bands(birth: Any, today: date) -> list[ColumnElement[bool]]:
    """One condition per ``AGE_BANDS`` entry: text comparisons of the stored
    birth (``form_checks.age_cutoff``), so the bands are index-free and portable."""
    young, old = (age_cutoff(today, limit) for limit in AGE_LIMITS)
    return [birth > young, and_(birth <= young, birth > old), birth <= old]


def _duration_bands(years: ColumnElement[int]) -> list[ColumnElement[bool]]:
    first, second, third = DURATION_LIMITS
    return [
        years < first,
        and_(years >= first, years < second),
        and_(years >= second, years < third),
        years >= third,
    ]


def _in_force() -> Any:
    """Each member's outcome in force: the newest not superseded."""
    return (
        select(SearchOutcome.member_id, func.max(SearchOutcome.id).label("outcome_id"))
        .where(SearchOutcome.superseded_by_id.is_(None))
        .group_by(SearchOutcome.member_id)
        .subquery("in_force")
    )


def _pocket_today(ctx: ExportContext) -> ColumnElement[bool]:
    return and_(
        Member.transfer_letter_date.is_not(None),
        Member.transfer_receipt_date.is_(None),
        Member.transfer_letter_date <= pocket_before(ctx.today, ctx.pocket_days),
    )


def _on_roll(ctx: ExportContext) -> ColumnElement[bool]:
    """排查前在册: every member of the branch (not only the lost, note 2), less
    those whose transfer out was complete (回执 back) before the campaign began
    (before the form's date when there is no campaign); a 口袋 member is still
    on the roll, the campaign searches for them."""
    start = ctx.campaign.starts if ctx.campaign is not None else ctx.today
    return or_(Member.transfer_receipt_date.is_(None), Member.transfer_receipt_date >= start)


def _mobile_registered() -> ColumnElement[bool]:
    return exists(
        select(MobileRecord.id).where(
            MobileRecord.member_id == Member.id, MobileRecord.ended_on.is_(None)
        )
    )


def _codes(column: Any, codes: Iterable[Any]) -> list[ColumnElement[bool]]:
    return [column == str(code) for code in codes]


def _ints(values: Sequence[Any]) -> tuple[int, ...]:
    return tuple(int(v or 0) for v in values)


# ---------------------------------------------------------------- 失联


async def lost_figures(session: AsyncSession, ctx: ExportContext) -> list[LostRow]:
    """Per branch: 排查前在册党员, the found and unreachable (each broken down by
    性别, 年龄, 失联时间, 失去联系情形, 职业, 党组织类别, 口袋 mark), the lost still
    being searched, and today's 口袋 members. One GROUP BY (branch, outcome kind)."""
    in_force = _in_force()
    outcome = aliased(SearchOutcome, name="outcome")
    contact = _later(Member.last_org_life, Member.last_dues)
    years = _whole_years(contact, outcome.decided_on)
    conditions: list[ColumnElement[bool]] = [
        *_codes(Member.gender, Gender),
        *_age_bands(Member.birth, ctx.today),
        *_duration_bands(years),
        *_codes(outcome.lost_reason, LostContactReason),
        *_codes(outcome.occupation, LostOccupation),
        *_codes(outcome.org_category, FoundOrgCategory),
        outcome.is_pocket.is_(True),
    ]
    pocket = _pocket_today(ctx)
    searching = and_(
        outcome.id.is_(None),
        contact <= lost_before(ctx.today),
        not_(pocket),
        not_(and_(Member.transfer_letter_date.is_(None), _mobile_registered())),
    )
    statement = (
        select(
            Member.branch_id,
            outcome.kind,
            func.count(Member.id),
            _n(_on_roll(ctx)),
            _n(searching),
            _n(pocket),
            *(_n(c) for c in conditions),
        )
        .select_from(Member)
        .outerjoin(in_force, in_force.c.member_id == Member.id)
        .outerjoin(outcome, outcome.id == in_force.c.outcome_id)
        .where(Member.branch_id.in_(ctx.branch_ids))
        .group_by(Member.branch_id, outcome.kind)
    )
    per: dict[int, dict[str, Any]] = {
        b.id: {
            "members": 0,
            "searching": 0,
            "pocket": 0,
            "found": _empty_breakdown(),
            "unreachable": _empty_breakdown(found=False),
        }
        for b in ctx.branches
    }
    for branch_id, kind, count, on_roll, n_searching, n_pocket, *counts in await session.execute(
        statement
    ):
        slot = per[branch_id]
        slot["members"] += int(on_roll)
        slot["searching"] += int(n_searching)
        slot["pocket"] += int(n_pocket)
        if kind in ("found", "unreachable"):
            slot[kind] = _breakdown(int(count), _ints(counts), kind)
    return [LostRow(branch_id=b.id, branch=b.name, **per[b.id]) for b in ctx.branches]


def _empty_breakdown(found: bool = True) -> Breakdown:
    return Breakdown(
        0,
        (0, 0),
        (0, 0, 0),
        (0, 0, 0, 0),
        (0,) * len(LostContactReason),
        (0,) * len(LostOccupation),
        (0,) * len(FoundOrgCategory if found else UnreachableOrgCategory),
        0,
    )


def _breakdown(count: int, counts: tuple[int, ...], kind: str) -> Breakdown:
    parts = iter(counts)

    def take(n: int) -> tuple[int, ...]:
        return tuple(next(parts) for _ in range(n))

    gender = take(2)
    age = take(3)
    duration = take(4)
    reason = take(len(LostContactReason))
    occupation = take(len(LostOccupation))
    category = take(len(FoundOrgCategory))
    pocket = next(parts)
    if kind == "unreachable":  # the 附件6 list: codes ①–⑧ as stored
        category = category[: len(UnreachableOrgCategory)]
    return Breakdown(count, gender, age, duration, reason, occupation, category, pocket)  # type: ignore[arg-type]


async def lost_missing(session: AsyncSession, ctx: ExportContext) -> dict[str, list[str]]:
    """The unreachable (and found) members whose register entry lacks what the
    summary counts by: field label → names. Run when a relation fails."""
    in_force = _in_force()
    outcome = aliased(SearchOutcome, name="outcome")
    contact = _later(Member.last_org_life, Member.last_dues)
    checks = {
        "性别": not_(Member.gender.in_([str(g) for g in Gender])),
        "最近一次参加组织生活或交纳党费日期（失联时间）": or_(
            contact.is_(None), contact > outcome.decided_on
        ),
        "失去联系情形": or_(
            outcome.lost_reason.is_(None),
            not_(outcome.lost_reason.in_([str(c) for c in LostContactReason])),
        ),
        "职业": or_(
            outcome.occupation.is_(None),
            not_(outcome.occupation.in_([str(c) for c in LostOccupation])),
        ),
    }
    found: dict[str, list[str]] = {}
    for label, condition in checks.items():
        names = list(
            await session.scalars(
                select(Member.name)
                .join(in_force, in_force.c.member_id == Member.id)
                .join(outcome, outcome.id == in_force.c.outcome_id)
                .where(
                    Member.branch_id.in_(ctx.branch_ids),
                    outcome.kind == "unreachable",
                    condition,
                )
                .order_by(Member.name)
            )
        )
        if names:
            found[label] = names
    return found


# ---------------------------------------------------------------- 外出流动


def _latest_mobile(ctx: ExportContext) -> Any:
    """Each member's latest registration known by the form's date (and still in
    force at the campaign's start or registered since, when there is one);
    members whose relation was transferred are not mobile (SPEC §3)."""
    conditions: list[ColumnElement[bool]] = [MobileRecord.registered_on <= ctx.today]
    if ctx.campaign is not None:
        conditions.append(
            or_(MobileRecord.ended_on.is_(None), MobileRecord.ended_on >= ctx.campaign.starts)
        )
    return (
        select(MobileRecord.member_id, func.max(MobileRecord.id).label("record_id"))
        .where(*conditions)
        .group_by(MobileRecord.member_id)
        .subquery("latest_mobile")
    )


async def mobile_figures(session: AsyncSession, ctx: ExportContext) -> list[MobileRow]:
    """Per branch: the 外出流动党员 known up to the form's date (累积数), by 职业
    ①–⑤ and 外出流向 ①–⑥, with who is still away, holds the 活动证 and has
    reported where they went. One GROUP BY."""
    latest = _latest_mobile(ctx)
    record = aliased(MobileRecord, name="record")
    conditions: list[ColumnElement[bool]] = [
        or_(record.ended_on.is_(None), record.ended_on > ctx.today),
        Member.gender == Gender.FEMALE.value,
        *_codes(record.occupation, MobileOccupation),
        *_codes(record.direction, FlowDirection),
        func.coalesce(record.certificate_no, "") != "",
        func.coalesce(record.reported_branch, "") != "",
    ]
    statement = (
        select(Member.branch_id, func.count(Member.id), *(_n(c) for c in conditions))
        .select_from(latest)
        .join(record, record.id == latest.c.record_id)
        .join(Member, Member.id == record.member_id)
        .where(Member.branch_id.in_(ctx.branch_ids), record.transferred_in_campaign.is_(False))
        .group_by(Member.branch_id)
    )
    counted = {row[0]: _ints(row[1:]) for row in await session.execute(statement)}
    rows = []
    n_occ, n_dir = len(MobileOccupation), len(FlowDirection)
    for branch in ctx.branches:
        values = counted.get(branch.id, (0,) * (5 + n_occ + n_dir))
        count, away, female, *rest = values
        rows.append(
            MobileRow(
                branch_id=branch.id,
                branch=branch.name,
                count=count,
                still_away=away,
                female=female,
                occupation=tuple(rest[:n_occ]),
                direction=tuple(rest[n_occ : n_occ + n_dir]),
                certificate=rest[n_occ + n_dir],
                reported=rest[n_occ + n_dir + 1],
            )
        )
    return rows


async def mobile_missing(session: AsyncSession, ctx: ExportContext) -> dict[str, list[str]]:
    latest = _latest_mobile(ctx)
    record = aliased(MobileRecord, name="record")
    checks = {
        "职业": or_(
            record.occupation.is_(None),
            not_(record.occupation.in_([str(c) for c in MobileOccupation])),
        ),
        "外出流向": or_(
            record.direction.is_(None),
            not_(record.direction.in_([str(c) for c in FlowDirection])),
        ),
    }
    return await _names(
        session,
        checks,
        lambda condition: (
            select(Member.name)
            .select_from(latest)
            .join(record, record.id == latest.c.record_id)
            .join(Member, Member.id == record.member_id)
            .where(
                Member.branch_id.in_(ctx.branch_ids),
                record.transferred_in_campaign.is_(False),
                condition,
            )
            .order_by(Member.name)
        ),
    )


async def _names(
    session: AsyncSession, checks: dict[str, ColumnElement[bool]], query: Any
) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for label, condition in checks.items():
        names = list(await session.scalars(query(condition)))
        if names:
            found[label] = names
    return found


# ---------------------------------------------------------------- 流出 A–Z


def outflow_statement(ctx: ExportContext) -> Any:
    """The one GROUP BY of the 流出党员有关情况统计表, per (branch, transferred in
    the campaign, 备注 note): the rows not transferred are the registrations in
    force (A–X, Z), the transferred ones are Y (not counted in A, note 2); the
    note splits out the cases of U 其他. Grouping by the transferred flag keeps
    each count a single comparison. Ages as of ``ctx.today``."""
    counted = and_(MobileRecord.ended_on.is_(None), MobileRecord.transferred_in_campaign.is_(False))
    transferred: ColumnElement[bool] = MobileRecord.transferred_in_campaign.is_(True)
    if ctx.campaign is not None:
        transferred = and_(
            transferred,
            or_(MobileRecord.ended_on.is_(None), MobileRecord.ended_on >= ctx.campaign.starts),
        )
    parts: list[ColumnElement[bool]] = [
        *_codes(Member.gender, Gender),
        *_age_bands(Member.birth, ctx.today),
        *_codes(Member.education, Education),
        *_codes(MobileRecord.reason, MobileIndustry),
        *_codes(MobileRecord.region, MobileRegion),
        func.coalesce(MobileRecord.reported_branch, "") != "",
    ]
    return (
        select(
            Member.branch_id,
            MobileRecord.transferred_in_campaign,
            MobileRecord.reason_note,
            func.count(),
            *(func.sum(case((c, 1), else_=0)) for c in parts),
        )
        .select_from(MobileRecord)
        .join(Member, Member.id == MobileRecord.member_id)
        # Not a bare ``branch_id IN …``: SQLite (no statistics) would then walk
        # every member of the scope by the branch index and probe each for a
        # registration; through COALESCE it walks the registrations — a few
        # per cent of the members — and looks each member up by id
        # (bench/export.py: 2.8× → about 1× a plain GROUP BY over 1,000,000).
        .where(func.coalesce(Member.branch_id, 0).in_(ctx.branch_ids), or_(counted, transferred))
        .group_by(Member.branch_id, MobileRecord.transferred_in_campaign, MobileRecord.reason_note)
    )


_OUTFLOW_WIDTH = 1 + 2 + 3 + 3 + len(MobileIndustry) + 3 + 1  # A, B–X, Z


async def outflow_figures(session: AsyncSession, ctx: ExportContext) -> list[OutflowRow]:
    """Per branch, columns A–Z of seed 003 附件2 and the 备注 of U (the cases
    of 其他 as recorded in ``MobileRecord.reason_note``, with their counts)."""
    sums: dict[int, list[int]] = {b.id: [0] * _OUTFLOW_WIDTH for b in ctx.branches}
    ys: dict[int, int] = dict.fromkeys(sums, 0)
    notes: dict[int, dict[str, int]] = {b: {} for b in sums}
    u_at = 1 + 2 + 3 + 3 + len(MobileIndustry) - 1  # U within the counts
    for branch_id, moved, note, count, *counts in await session.execute(outflow_statement(ctx)):
        if moved:
            ys[branch_id] += int(count)
            continue
        values = [int(count), *_ints(counts)]
        total = sums[branch_id]
        for k, v in enumerate(values):
            total[k] += v
        if values[u_at]:
            label = (note or "").strip() or "未注明"
            slot = notes[branch_id]
            slot[label] = slot.get(label, 0) + values[u_at]
    rows = []
    for branch in ctx.branches:
        v = sums[branch.id]
        rows.append(
            OutflowRow(
                branch_id=branch.id,
                branch=branch.name,
                a=v[0],
                gender=(v[1], v[2]),
                age=(v[3], v[4], v[5]),
                education=(v[6], v[7], v[8]),
                industry=tuple(v[9:21]),
                region=(v[21], v[22], v[23]),
                y=ys[branch.id],
                z=v[24],
                notes=_ordered_notes(notes[branch.id]),
            )
        )
    return rows


async def outflow_missing(session: AsyncSession, ctx: ExportContext) -> dict[str, list[str]]:
    """The 流出党员 counted in A whose record lacks what a breakdown counts by."""
    checks = {
        "性别": not_(Member.gender.in_([str(g) for g in Gender])),
        "文化程度": or_(
            Member.education.is_(None),
            not_(Member.education.in_([str(e) for e in Education])),
        ),
        "从事行业或流动原因": or_(
            MobileRecord.reason.is_(None),
            not_(MobileRecord.reason.in_([str(c) for c in MobileIndustry])),
        ),
        "流向区域": or_(
            MobileRecord.region.is_(None),
            not_(MobileRecord.region.in_([str(c) for c in MobileRegion])),
        ),
    }
    return await _names(
        session,
        checks,
        lambda condition: (
            select(Member.name)
            .join(MobileRecord, MobileRecord.member_id == Member.id)
            .where(
                Member.branch_id.in_(ctx.branch_ids),
                MobileRecord.ended_on.is_(None),
                MobileRecord.transferred_in_campaign.is_(False),
                condition,
            )
            .order_by(Member.name)
        ),
    )


# ---------------------------------------------------------------- 口袋


async def pocket_figures(session: AsyncSession, ctx: ExportContext) -> list[PocketRow]:
    """Per branch: transfers without a 回执, the “口袋”党员 among them (R-POCKET
    as of the form's date) by how their search stands, and the receipts that
    came back during the campaign. One GROUP BY."""
    in_force = _in_force()
    outcome = aliased(SearchOutcome, name="outcome")
    pocket = _pocket_today(ctx)
    unreceipted = and_(
        Member.transfer_letter_date.is_not(None), Member.transfer_receipt_date.is_(None)
    )
    settled: ColumnElement[bool] = Member.transfer_receipt_date.is_not(None)
    if ctx.campaign is not None:
        settled = and_(settled, Member.transfer_receipt_date >= ctx.campaign.starts)
    settled = and_(settled, Member.transfer_receipt_date <= ctx.today)
    conditions = [
        unreceipted,
        pocket,
        and_(pocket, outcome.kind == "found"),
        and_(pocket, outcome.kind == "unreachable"),
        and_(pocket, outcome.id.is_(None)),
        settled,
    ]
    statement = (
        select(Member.branch_id, *(_n(c) for c in conditions))
        .select_from(Member)
        .outerjoin(in_force, in_force.c.member_id == Member.id)
        .outerjoin(outcome, outcome.id == in_force.c.outcome_id)
        .where(Member.branch_id.in_(ctx.branch_ids), Member.transfer_letter_date.is_not(None))
        .group_by(Member.branch_id)
    )
    counted = {row[0]: _ints(row[1:]) for row in await session.execute(statement)}
    return [
        PocketRow(b.id, b.name, *counted.get(b.id, (0,) * len(conditions))) for b in ctx.branches
    ]


# ---------------------------------------------------------------- 管理及处置


def _effective(disposition: Any, ctx: ExportContext) -> ColumnElement[bool]:
    """Done and in force by the form's date."""
    return and_(
        disposition.status == Status.DONE.value,
        func.coalesce(disposition.effective_on, disposition.opened_on) <= ctx.today,
    )


def _has_done(ctx: ExportContext, outcomes: Iterable[Outcome]) -> ColumnElement[bool]:
    """The member (``Member.id``) has a disposition of ``outcomes`` done."""
    done = aliased(Disposition, name="done")
    return exists(
        select(done.id).where(
            done.member_id == Member.id,
            done.outcome.in_([o.value for o in outcomes]),
            _effective(done, ctx),
        )
    )


async def disposition_counts(session: AsyncSession, ctx: ExportContext) -> dict[int, Dispositions]:
    """规范管理 and 组织处置 per branch (``COLUMN_OUTCOMES``): one GROUP BY over
    the dispositions done of the members on the two registers (a search outcome
    in force, note 3), each member counted once a column (COUNT DISTINCT). A
    member may count in several columns (限期改正, then 劝退; a 纪律处分 beside
    any, note 6). 停止党籍 counts the suspensions in force: none restored or
    ended by 自行脱党除名 since."""
    in_force = _in_force()
    later = aliased(Disposition, name="later")
    ended = exists(
        select(later.id).where(
            later.member_id == Disposition.member_id,
            later.id > Disposition.id,
            later.outcome.in_([o.value for o in SUSPENSION_ENDED_BY]),
            _effective(later, ctx),
        )
    )
    columns = []
    for name, outcomes in COLUMN_OUTCOMES.items():
        condition: ColumnElement[bool] = Disposition.outcome.in_([o.value for o in outcomes])
        if name == "suspended":
            condition = and_(condition, not_(ended))
        columns.append(func.count(case((condition, Disposition.member_id)).distinct()))
    statement = (
        select(Member.branch_id, *columns)
        .select_from(Disposition)
        .join(Member, Member.id == Disposition.member_id)
        .join(in_force, in_force.c.member_id == Member.id)
        .where(Member.branch_id.in_(ctx.branch_ids), _effective(Disposition, ctx))
        .group_by(Member.branch_id)
    )
    counted = {
        row[0]: dict(zip(COLUMN_OUTCOMES, _ints(row[1:]), strict=True))
        for row in await session.execute(statement)
    }
    return {b.id: Dispositions(**counted.get(b.id, {})) for b in ctx.branches}


async def disposal_figures(session: AsyncSession, ctx: ExportContext) -> list[DisposalRow]:
    """Per branch: the lost (取得联系 / 仍无法取得联系, outcome in force); 纳入组织管理,
    the reached whose relation was then transferred out (转出组织关系: a 介绍信
    on or after the contact date) or brought back under normal management (a
    纳入组织正常管理 done), less those whose relation was 补转 (note 4); the lost
    referred for 纪律处分 (Escalation kind “discipline”, in the campaign when
    there is one, or a 移交纪律处分 done); and the dispositions."""
    in_force = _in_force()
    outcome = aliased(SearchOutcome, name="outcome")
    referral = select(Escalation.id).where(
        Escalation.member_id == Member.id, Escalation.kind == "discipline"
    )
    if ctx.campaign is not None:
        referral = referral.where(Escalation.campaign_id == ctx.campaign.id)
    found = outcome.kind == "found"
    retransferred = _has_done(ctx, COLUMN_OUTCOMES["retransferred"])
    transferred_out = Member.transfer_letter_date >= outcome.decided_on
    normal = _has_done(ctx, COLUMN_OUTCOMES["normal"])
    statement = (
        select(
            Member.branch_id,
            _n(found),
            _n(outcome.kind == "unreachable"),
            _n(and_(found, or_(transferred_out, normal), not_(retransferred))),
            _n(and_(found, transferred_out, not_(retransferred))),
            _n(or_(exists(referral), _has_done(ctx, (Outcome.DISCIPLINE,)))),
        )
        .select_from(Member)
        .join(in_force, in_force.c.member_id == Member.id)
        .join(outcome, outcome.id == in_force.c.outcome_id)
        .where(Member.branch_id.in_(ctx.branch_ids))
        .group_by(Member.branch_id)
    )
    counted = {row[0]: _ints(row[1:]) for row in await session.execute(statement)}
    decided = await disposition_counts(session, ctx)
    return [
        DisposalRow(b.id, b.name, *counted.get(b.id, (0,) * 5), decided=decided[b.id])  # type: ignore[arg-type, misc]
        for b in ctx.branches
    ]


# ---------------------------------------------------------------- collectors


def _header(ctx: ExportContext, colon: str = "：") -> tuple[str, ...]:
    return org_line(ctx.org_name, committee=ctx.is_committee, colon=colon)


def _with_total(rows: list[_R], cls: Any, ctx: ExportContext) -> list[_R]:
    """One row per branch, and the 合计 row for a committee's export."""
    return [*rows, cls.total(rows)] if ctx.is_committee and rows else rows


def _missing_problems(who: str, missing: dict[str, list[str]]) -> list[str]:
    return [missing_line(who, what, names) for what, names in missing.items()]


async def _check(
    problems: list[str], who: str, missing: Callable[[], Awaitable[dict[str, list[str]]]]
) -> None:
    """DataCheckFailed when a relation fails: the members whose records lack a
    counted value first (what to fix), else the relations that failed."""
    if not problems:
        return
    named = _missing_problems(who, await missing())
    raise DataCheckFailed(named or problems)


def lost_values(row: LostRow) -> list[object]:
    """A 失联 汇总表 row in the columns of ``reports.forms.summaries.lost_columns``."""
    u = row.unreachable
    return [
        row.branch,
        row.members,
        row.lost,
        row.found.count,
        u.count,
        *u.gender,
        *u.age,
        *u.duration,
        *u.reason,
        *u.occupation,
        row.pocket,
        row.searching,
    ]


def lost_check(row: LostRow) -> list[str]:
    u = row.unreachable
    return lost_problems(
        row.branch,
        row.lost,
        row.found.count,
        u.count,
        u.gender,
        u.age,
        u.duration,
        u.reason,
        u.occupation,
    )


async def collect_lost(session: AsyncSession, ctx: ExportContext) -> RenderJob:
    rows = _with_total(await lost_figures(session, ctx), LostRow, ctx)
    problems = [p for row in rows for p in lost_check(row)]
    await _check(problems, "经查找仍然无法取得联系党员", lambda: lost_missing(session, ctx))
    return RenderJob(
        render_summary,
        ("lost_summary", _header(ctx), [lost_values(r) for r in rows], ctx.today, ctx.stamp),
    )


def mobile_values(row: MobileRow) -> list[object]:
    return [
        row.branch,
        row.count,
        row.female,
        row.still_away,
        *row.occupation,
        *row.direction,
        row.certificate,
        row.reported,
    ]


async def collect_mobile(session: AsyncSession, ctx: ExportContext) -> RenderJob:
    rows = _with_total(await mobile_figures(session, ctx), MobileRow, ctx)
    problems = [
        p
        for r in rows
        for p in relation_problems(
            r.branch, "外出流动党员", r.count, (("职业", r.occupation), ("外出流向", r.direction))
        )
    ]
    await _check(problems, "外出流动党员", lambda: mobile_missing(session, ctx))
    return RenderJob(
        render_summary,
        ("mobile_summary", _header(ctx), [mobile_values(r) for r in rows], ctx.today, ctx.stamp),
    )


def pocket_values(row: PocketRow) -> list[object]:
    return [
        row.branch,
        row.unreceipted,
        row.pocket,
        row.found,
        row.unreachable,
        row.searching,
        row.settled,
    ]


async def collect_pocket(session: AsyncSession, ctx: ExportContext) -> RenderJob:
    rows = _with_total(await pocket_figures(session, ctx), PocketRow, ctx)
    problems = [
        p
        for r in rows
        for p in relation_problems(
            r.branch,
            "“口袋”党员",
            r.pocket,
            (
                (
                    "经查找取得联系、仍然无法取得联系与正在查找",
                    (r.found, r.unreachable, r.searching),
                ),
            ),
        )
    ]
    if problems:  # cannot happen on stored data: the three are disjoint and cover all
        raise DataCheckFailed(problems)
    return RenderJob(
        render_summary,
        ("pocket_summary", _header(ctx), [pocket_values(r) for r in rows], ctx.today, ctx.stamp),
    )


def disposal_values(row: DisposalRow) -> list[object]:
    d = row.decided
    return [
        row.branch,
        row.lost,
        row.found,
        row.unreachable,
        row.managed,
        row.transferred,
        d.retransferred,
        d.retained,
        d.probation_extended,
        d.probation_cancelled,
        d.deadline_correct,
        d.persuaded,
        d.removed,
        d.suspended,
        row.discipline,
    ]


def disposal_check(row: DisposalRow) -> list[str]:
    d = row.decided
    return disposal_problems(
        row.branch,
        row.lost,
        row.found,
        row.unreachable,
        row.managed,
        row.transferred,
        (
            ("纳入组织管理", row.managed),
            ("补转组织关系", d.retransferred),
            ("保留组织关系", d.retained),
            ("延长预备期", d.probation_extended),
            ("取消预备党员资格", d.probation_cancelled),
            ("限期改正", d.deadline_correct),
            ("劝退", d.persuaded),
            ("除名", d.removed),
            ("停止党籍", d.suspended),
            ("纪律处分", row.discipline),
        ),
    ) + management_problems(row.branch, row.found, row.managed, d.retransferred)


async def collect_disposal(session: AsyncSession, ctx: ExportContext) -> RenderJob:
    rows = _with_total(await disposal_figures(session, ctx), DisposalRow, ctx)
    problems = [p for r in rows for p in disposal_check(r)]
    if problems:
        raise DataCheckFailed(problems)
    return RenderJob(
        render_summary,
        (
            "disposal_summary",
            _header(ctx),
            [disposal_values(r) for r in rows],
            ctx.today,
            ctx.stamp,
        ),
    )


def outflow_values(row: OutflowRow, *, with_org: bool) -> list[object]:
    remark = "；".join(f"{text}{n}人" for text, n in row.notes) or None
    values: list[object] = [
        row.a,
        *row.gender,
        *row.age,
        *row.education,
        *row.industry,
        remark,
        *row.region,
        row.y,
        row.z,
    ]
    return [row.branch, *values] if with_org else values


def outflow_check(row: OutflowRow) -> list[str]:
    return outflow_problems(
        row.branch, row.a, row.gender, row.age, row.education, row.industry, row.region
    )


async def collect_outflow(session: AsyncSession, ctx: ExportContext) -> RenderJob:
    """流出党员有关情况统计表: R-TABLE-SUMS checked on every row before rendering."""
    rows = _with_total(await outflow_figures(session, ctx), OutflowRow, ctx)
    problems = [p for row in rows for p in outflow_check(row)]
    await _check(problems, "流出党员", lambda: outflow_missing(session, ctx))
    with_org = ctx.is_committee
    return RenderJob(
        render_outflow,
        (
            _header(ctx, colon=":"),
            [outflow_values(r, with_org=with_org) for r in rows],
            ctx.today,
            ctx.stamp,
            with_org,
        ),
    )


# ---------------------------------------------------------------- 摸底核查


def survey_values(row: CategoryRow) -> list[object]:
    return [
        row.category or "未填写人员类别",
        row.members,
        row.checked,
        row.pending,
        row.problems,
        row.standings[Standing.LOST],
        row.standings[Standing.MOBILE],
        row.standings[Standing.POCKET],
    ]


async def collect_survey(session: AsyncSession, ctx: ExportContext) -> RenderJob:
    """党员摸底核查情况统计表 (seed 000 附件9) by 人员类别, from the sweep of the
    campaign: the committee's table (``sweep_stats.category_summary``), or for
    a branch's export the same counts over that branch alone."""
    if ctx.campaign is None:
        raise InvalidInput(N_("党员摸底核查情况统计表按排查工作统计，请先选择或开展一次集中排查。"))
    if ctx.is_committee:
        _, rows, total = await category_summary(
            session, ctx.actor, ctx.campaign.id, ctx.today, ctx.pocket_days
        )
    else:
        rows, total = await _branch_categories(session, ctx)
    values = [survey_values(r) for r in rows if r.members or r.category is not None]
    values.append([TOTAL, *survey_values(total)[1:]])
    return RenderJob(render_summary, ("survey_stats", _header(ctx), values, ctx.today, ctx.stamp))


async def _branch_categories(
    session: AsyncSession, ctx: ExportContext
) -> tuple[list[CategoryRow], CategoryRow]:
    """``category_summary`` for the branches of a branch's export."""
    assert ctx.campaign is not None
    rows: dict[str | None, CategoryRow] = {}
    for branch in ctx.branches:
        for name in await categories.names_for_branch(session, branch.id):
            rows.setdefault(name, CategoryRow(name))
    per_member = answer_counts(ctx.campaign.id)
    statement = (
        select(
            Member.category,
            func.count(Member.id),
            func.sum(case((per_member.c.answered >= len(Check), 1), else_=0)),
            func.sum(per_member.c.pending),
            func.sum(per_member.c.problems),
        )
        .outerjoin(per_member, per_member.c.member_id == Member.id)
        .where(Member.branch_id.in_(ctx.branch_ids))
        .group_by(Member.category)
    )
    for category, members, checked, pending, problems in await session.execute(statement):
        row = rows.setdefault(category, CategoryRow(category))
        row.members, row.checked = int(members), int(checked or 0)
        row.pending, row.problems = int(pending or 0), int(problems or 0)
    for branch in ctx.branches:
        for item in await branch_situations(
            session, ctx.actor, branch.id, ctx.today, pocket_days=ctx.pocket_days
        ):
            standing = item.situation.standing
            if standing in COUNTED:
                category = item.member.category
                rows.setdefault(category, CategoryRow(category)).standings[standing] += 1
    ordered = sorted(rows.values(), key=lambda r: r.category is None)
    total = CategoryRow(None)
    for row in ordered:
        total.add(row)
    return ordered, total


COLLECTORS: dict[str, Collector] = {
    "lost_summary": collect_lost,
    "mobile_summary": collect_mobile,
    "pocket_summary": collect_pocket,
    "disposal_summary": collect_disposal,
    "outflow_stats": collect_outflow,
    "survey_stats": collect_survey,
}
