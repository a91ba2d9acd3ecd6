"""The one-member forms: the 党员基本信息表 (seed 001 附件1) and the 一人一档
workbook (R-DOSSIER, issue 15 item 4).

The 党员基本信息表 is a label/value sheet laid out as the paper form (the
builder's ``Form(grid=True)``): the basic information, the 流动信息 block (blank
for a member who is not mobile, note 6), the 出国（境）情况 block (note 7) and the
家庭主要成员及重要社会关系 rows (note 8). The 一人一档 puts that sheet first, then
every search attempt (附件3's columns; corrected attempts stay, marked), the
search outcomes, every audit event in order, and the 处置情况 (sheet 处置决定):
each disposition's opening, every step with its facts (votes, signature or
why it is missing, 文号, deadline…), 批准 / 退回 with the reason, withdrawal,
not adopted, appeals and their review, each with its day and who.

Module-level ``render_*`` functions of plain, picklable data: the collectors in
``storage.services.form_data.member`` read the database, a worker process
builds the file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from domain.audit_words import (
    ACTIONS,
    DATED_ACTIONS,
    STATUS,
    disposition_subject,
    facts_text,
    outcome_label,
    step_label,
)
from domain.channels import AttemptResult, Channel, ChannelGroup
from domain.clocks import is_lost, last_contact, lost_duration
from domain.codes import (
    CodeList,
    FlowDirection,
    FoundOrgCategory,
    LostContactReason,
    LostOccupation,
    MisconductCheck,
    MobileIndustry,
    UnreachableOrgCategory,
)
from domain.dates import PartialDate
from domain.member_fields import FIELD_BY_KEY
from domain.sweep import Answer, Check
from reports.builder import Column, Form, Line, Span, build_workbook

MEMBER_INFO_TITLE = "党员基本信息表"
DOSSIER_TITLE = "一人一档"
CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩"
NONE = "暂无"

SHEET_INFO = "基本信息"
SHEET_ATTEMPTS = "查找记录"
SHEET_OUTCOMES = "查找结果"
SHEET_EVENTS = "全部记录"
SHEET_DECISIONS = "处置决定"

MOBILE_BLOCK = "流动信息（非流动党员不填写）"
ABROAD_BLOCK = "出国（境）情况"
FAMILY_BLOCK = "家庭主要成员及重要社会关系"
SUPERSEDED = "已更正"


# ---------------------------------------------------------------- the data


@dataclass(frozen=True)
class MobileInfo:
    """The mobile registration in force (MobileRecord), raw codes."""

    direction: str | None  # FlowDirection code
    reason: str | None  # MobileIndustry code (J–U)
    reason_note: str | None
    certificate_no: str | None
    work_unit: str | None  # 流入单位
    destination: str | None
    left_on: date | None
    reported_branch: str | None
    reported_contact: str | None
    reported_post: str | None
    reported_phone: str | None


@dataclass(frozen=True)
class Relative:
    relation: str
    name: str
    work_unit: str | None
    phone: str | None


@dataclass(frozen=True)
class MemberInfo:
    """One member's record: ``values`` are ``domain.member_fields`` keys and the
    stored values (ISO month text, dates, bools, codes)."""

    branch: str
    today: date
    values: tuple[tuple[str, Any], ...]
    mobile: MobileInfo | None = None
    family: tuple[Relative, ...] = ()
    stamp: str | None = None

    def get(self, key: str) -> Any:
        return dict(self.values).get(key)


@dataclass(frozen=True)
class AttemptRow:
    """One ContactAttempt, corrected ones included (R-DOSSIER)."""

    id: int
    attempted_on: date
    channel: str  # Channel code
    contact_person: str | None
    result: str  # AttemptResult code
    note: str | None
    recorded_by: str | None  # the recorder's name
    recorded_at: datetime | None  # local time
    evidence: int
    replaces_id: int | None = None
    superseded_by_id: int | None = None


@dataclass(frozen=True)
class OutcomeRow:
    """One SearchOutcome (附件5/6), the superseded ones too."""

    kind: str  # found | unreachable
    decided_on: date
    lost_reason: str | None
    lost_reason_note: str | None
    occupation: str | None
    org_category: str | None
    had_misconduct: bool | None
    misconduct_note: str | None
    misconduct_check: str | None
    attitude: str | None
    is_pocket: bool
    note: str | None
    recorded_by: str | None
    recorded_at: datetime | None
    superseded: bool = False


@dataclass(frozen=True)
class CaseStep:
    """One thing that happened in a disposition (处置): its opening, a step
    recorded, 批准 / 退回, withdrawn, not adopted, an appeal or its review.
    ``action`` is the audit action (``domain.audit_words.ACTIONS``)."""

    on: date
    action: str
    step: str | None  # domain.dispositions.Step code
    facts: tuple[tuple[str, Any], ...]  # as recorded (dates as ISO text)
    who: str | None


@dataclass(frozen=True)
class CaseRow:
    """One disposition of the member with everything that happened in it, in order."""

    outcome: str  # domain.dispositions.Outcome code
    status: str  # domain.dispositions.Status value
    opened_on: date
    effective_on: date | None
    ends_on: date | None
    steps: tuple[CaseStep, ...]


@dataclass(frozen=True)
class EventRow:
    """One AuditEvent about the member."""

    at: datetime | None  # local time
    who: str | None
    entity: str
    action: str
    field: str | None
    old: str | None
    new: str | None


# ---------------------------------------------------------------- wording

# The dossier's wording: the one table the card's 档案 view uses too.
SYSTEM = "系统"

ATTEMPT_FIELDS = {
    "channel": "查找方式",
    "result": "查找结果",
    "attempted_on": "查找日期",
    "note": "情况记录",
    "contact_person": "联系对象",
}


def circled(code: str | None) -> str:
    if not code:
        return ""
    try:
        number = int(code)
    except ValueError:
        return code
    return CIRCLED[number - 1] if 1 <= number <= len(CIRCLED) else str(number)


def coded(codes: type[CodeList], code: str | None) -> str | None:
    """A numeric code as the forms write it with its words: "6" → "⑥居住地改变"."""
    if not code:
        return None
    try:
        return circled(code) + codes.of(code).label
    except ValueError:
        return code


def label_of(codes: type[CodeList], code: str | None) -> str | None:
    if not code:
        return None
    try:
        return codes.of(code).label
    except ValueError:
        return code


def day_text(day: date | None) -> str | None:
    return PartialDate.of(day).zh() if day else None


def time_text(at: datetime | None) -> str | None:
    return at.strftime("%Y-%m-%d %H:%M") if at else None


def yes_no(value: bool | None, yes: str = "是", no: str = "否") -> str | None:
    return None if value is None else (yes if value else no)


def field_label(event: EventRow) -> str | None:
    """The event's field in words."""
    field = event.field or ""
    if not field:
        return None
    if event.entity == "member":
        spec = FIELD_BY_KEY.get(field)
        return spec.label if spec else field
    if event.entity == "sweep" and field.isdigit():
        try:
            check = Check(int(field))
        except ValueError:
            return field
        return f"{int(check)}. {check.label}"
    if event.entity == "attempt" and event.action == "correct":
        return ATTEMPT_FIELDS.get(field, field)
    if event.entity == "attempt":
        return label_of(Channel, field)
    if event.entity == "channel" and field.isdigit():
        try:
            return ChannelGroup(int(field)).label
        except ValueError:
            return field
    if event.entity == "export":
        return None  # the file's name says which form
    if event.entity == "disposition":
        return outcome_label(field)
    return field


def value_text(event: EventRow, value: str | None) -> str | None:
    """An old or new value in words (codes → labels)."""
    if value is None or value == "":
        return None
    if event.entity == "disposition":
        return value if event.action in DATED_ACTIONS else step_label(value)
    if event.entity == "sweep":
        return label_of(Answer, value)
    if event.entity == "attempt" and event.action == "correct":
        if event.field == "channel":
            return label_of(Channel, value)
        if event.field == "result":
            return label_of(AttemptResult, value)
    if event.entity == "member" and event.field:
        spec = FIELD_BY_KEY.get(event.field)
        if spec is not None:
            try:
                return spec.display(_stored(spec.kind.value, value))
            except (ValueError, KeyError):
                return value
    return value


def _stored(kind: str, text: str) -> Any:
    """An audit value (text) back to what ``FieldSpec.display`` takes."""
    if kind == "day":
        return date.fromisoformat(text[:10])
    if kind == "yes_no":
        return text in ("True", "true", "1", "是")
    return text


def describe(event: EventRow) -> str:
    """The event in one line, worded as the card's 档案 view words it."""
    what = ACTIONS.get((event.entity, event.action), f"{event.entity}:{event.action}")
    if event.entity == "disposition":
        subject = disposition_subject(event.action, event.field, event.new)
        when = f"（{event.new}）" if event.action in DATED_ACTIONS and event.new else ""
        return f"{what} {subject}{when}".strip()
    if event.entity == "member" and event.action == "update":
        old = value_text(event, event.old) or "—"
        new = value_text(event, event.new) or "—"
        return f"{what} {field_label(event) or ''}：{old} → {new}"
    if event.entity == "sweep" and (event.field or "").isdigit():
        before = f"（原为{value_text(event, event.old)}）" if event.old else ""
        return f"{what} {field_label(event)}：{value_text(event, event.new) or '—'}{before}"
    if event.entity == "attempt" and event.action == "correct":
        old = value_text(event, event.old) or "—"
        new = value_text(event, event.new) or "—"
        return f"{what} {field_label(event) or ''}：{old} → {new}"
    if event.entity == "family" and event.action == "delete":
        return f"{what} {event.old or ''}".strip()
    return f"{what} {event.new or ''}".strip()


# ---------------------------------------------------------------- 党员基本信息表


def _v(info: MemberInfo, key: str) -> str:
    spec = FIELD_BY_KEY[key]
    value = info.get(key)
    if value is None or value == "":
        return ""
    return spec.display(value)


def _pair(label: str, value: Any, across: int = 1) -> list[Span]:
    return [Span(label, label=True), Span(value if value not in (None, "") else "", across)]


def _block(title: str) -> list[Span]:
    return [Span(title, across=GRID_WIDTH, label=True)]


GRID_WIDTH = 6
GRID_COLUMNS = (
    Column("", 16),
    Column("", 20),
    Column("", 16),
    Column("", 20),
    Column("", 18),
    Column("", 20),
)


def info_rows(info: MemberInfo) -> list[list[Span]]:
    """The paper form's grid, row by row (6 columns: label, value × 3)."""
    v = lambda key: _v(info, key)  # noqa: E731
    rows: list[list[Span]] = [
        _pair("姓名", v("name")) + _pair("性别", v("gender")) + _pair("出生年月", v("birth")),
        _pair("民族", v("ethnicity")) + _pair("身份证号", v("id_number"), 3),
        _pair("入党时间", v("joined"))
        + _pair("转正时间", v("full_member_since"))
        + _pair("党员类别", v("member_type")),
        _pair("婚姻状况", v("marital_status"))
        + _pair("参加工作时间", v("work_start"))
        + _pair("人员类别", v("category")),
        _pair("文化程度", v("education"))
        + _pair("学历", v("academic"))
        + _pair("学位", v("degree")),
        _pair("毕业院校", v("school"), 3) + _pair("现任党内职务", v("party_post")),
        _pair("现工作（学习）单位", v("work_unit"), 3)
        + _pair("单位是否建有党组织", v("work_unit_has_org")),
        _pair("现居住地", v("residence"), 3) + _pair("联系电话", v("phone")),
        _pair("最近一次参加组织生活日期", v("last_org_life"))
        + _pair("最近一次交纳党费日期", v("last_dues"))
        + _pair("所在党支部", info.branch),
        _pair("组织关系介绍信开出日期", v("transfer_letter_date"))
        + _pair("接收单位", v("transfer_receiver"))
        + _pair("回执收到日期", v("transfer_receipt_date")),
    ]
    m = info.mobile
    reason = None
    if m is not None:
        reason = label_of(MobileIndustry, m.reason)
        if m.reason_note:
            reason = f"{reason}（{m.reason_note}）" if reason else m.reason_note
    rows += [
        _block(MOBILE_BLOCK),
        _pair("外出流向", label_of(FlowDirection, m.direction) if m else None)
        + _pair("外出原因", reason)
        + _pair("流动党员活动证编号", m.certificate_no if m else None),
        _pair("流入单位", m.work_unit if m else None, 3)
        + _pair("外出时间", day_text(m.left_on) if m else None),
        _pair("流入地", m.destination if m else None, 3)
        + _pair("报到党支部", m.reported_branch if m else None),
        _pair(
            "报到党支部联系人及职务", _joined(m.reported_contact, m.reported_post) if m else None, 3
        )
        + _pair("报到党支部联系电话", m.reported_phone if m else None),
    ]
    # 出国日期 from the record; a mobile registration 流向 出国（境） dates it when
    # the record has none (the day the member left, 附件4).
    abroad_on = v("abroad_date") or (
        day_text(m.left_on) if m is not None and m.direction == FlowDirection.ABROAD.value else None
    )
    rows += [
        _block(ABROAD_BLOCK),
        _pair("出国日期", abroad_on)
        + _pair("出国原因", v("abroad_reason"))
        + _pair("出国后与组织联系情况", v("abroad_contact")),
        _pair("党籍处理方式", v("abroad_party_status"))
        + _pair("回国日期", v("return_date"))
        + _pair("恢复组织生活情况", v("org_life_restored")),
        _block(FAMILY_BLOCK),
        [
            Span("称谓", label=True),
            Span("姓名", label=True),
            Span("工作单位及职务", across=3, label=True),
            Span("联系电话", label=True),
        ],
    ]
    for relative in info.family or (Relative("", "", None, None),):
        rows.append(
            [
                Span(relative.relation),
                Span(relative.name),
                Span(relative.work_unit or "", across=3),
                Span(relative.phone or ""),
            ]
        )
    rows.append(_pair("备注", v("remarks"), 5))
    return rows


def _joined(*parts: str | None) -> str | None:
    text = " ".join(p for p in parts if p)
    return text or None


def signature_line(today: date) -> Line:
    return ("审核领导：", "填表人：", "联系电话：", f"填表日期：{PartialDate.of(today).zh()}")


def info_form(info: MemberInfo, *, sheet_name: str = MEMBER_INFO_TITLE) -> Form:
    return Form(
        title=MEMBER_INFO_TITLE,
        header_lines=(
            (f"党支部名称：{info.branch}", f"填表日期：{PartialDate.of(info.today).zh()}"),
        ),
        columns=GRID_COLUMNS,
        footer_lines=(signature_line(info.today),),
        sheet_name=sheet_name,
        landscape=False,
        stamp=info.stamp,
        grid=True,
    )


def render_member_info(info: MemberInfo) -> bytes:
    """党员基本信息表 (seed 001 附件1) of one member, print-ready (A4 portrait)."""
    return build_workbook(info_form(info), info_rows(info))


# ---------------------------------------------------------------- 一人一档

ATTEMPT_COLUMNS = (
    Column("序号", 6),
    Column("查找日期", 12),
    Column("查找渠道", 16, wrap=True),
    Column("查找方式", 14),
    Column("联系对象", 12),
    Column("查找结果", 10),
    Column("情况记录", 30, wrap=True),
    Column("凭证（份）", 8),
    Column("记录人", 10),
    Column("记录时间", 16),
    Column("更正情况", 22, wrap=True),
)

OUTCOME_COLUMNS = (
    Column("序号", 6),
    Column("查找结论", 18, wrap=True),
    Column("日期", 12),
    Column("失去联系情形", 16, wrap=True),
    Column("职业", 18, wrap=True),
    Column("党组织类别", 12, wrap=True),
    Column("失联期间有无不合格表现或违纪违法行为", 14, wrap=True),
    Column("情况说明", 20, wrap=True),
    Column("核实方式", 12),
    Column("本人态度", 18, wrap=True),
    Column("“口袋”党员", 8),
    Column("备注", 16, wrap=True),
    Column("记录人", 10),
    Column("记录时间", 16),
    Column("状态", 10),
)

EVENT_COLUMNS = (
    Column("序号", 6),
    Column("时间", 16),
    Column("操作人", 10),
    Column("事项", 18, wrap=True),
    Column("项目", 16, wrap=True),
    Column("原值", 18, wrap=True),
    Column("新值", 18, wrap=True),
    Column("摘要", 40, wrap=True),
)

DECISION_COLUMNS = (
    Column("序号", 6),
    Column("日期", 12),
    Column("处置方式", 14, wrap=True),
    Column("步骤", 16, wrap=True),
    Column("事项", 14, wrap=True),
    Column("情况记录", 44, wrap=True),
    Column("经办人", 10),
)
CASES_TITLE = "处置情况"
OUTCOME_KINDS = {"found": "经查找取得联系", "unreachable": "经查找仍然无法取得联系"}


def lost_line(info: MemberInfo, outcomes: Sequence[OutcomeRow]) -> Line:
    """与党组织失去联系时间 and 原因 (附件3 notes 2–3), from the outcome in force."""
    current = next((o for o in reversed(outcomes) if not o.superseded), None)
    contact = last_contact(info.get("last_org_life"), info.get("last_dues"))
    duration = "—"
    if contact is not None and (current is not None or is_lost(contact, info.today)):
        end = current.decided_on if current is not None else info.today
        if end >= contact:
            duration = lost_duration(contact, end).zh()
    reason = "—"
    if current is not None and current.lost_reason:
        reason = coded(LostContactReason, current.lost_reason) or "—"
        if current.lost_reason == LostContactReason.OTHER.value and current.lost_reason_note:
            reason += f"（{current.lost_reason_note}）"
    return (f"与党组织失去联系时间：{duration}", f"与党组织失去联系原因：{reason}")


def attempt_rows(attempts: Sequence[AttemptRow]) -> Iterator[list[Any]]:
    """附件3's columns, corrected attempts kept and marked (R-DOSSIER)."""
    number = {a.id: k for k, a in enumerate(attempts, 1)}
    for k, a in enumerate(attempts, 1):
        notes = []
        if a.superseded_by_id is not None:
            by = number.get(a.superseded_by_id)
            notes.append(f"{SUPERSEDED}（见第{by}条）" if by else SUPERSEDED)
        if a.replaces_id is not None:
            was = number.get(a.replaces_id)
            notes.append(f"更正第{was}条" if was else "更正记录")
        try:
            group: ChannelGroup | None = Channel.of(a.channel).group
        except ValueError:
            group = None
        # As the 附件3 register words it: a call, message or visit reached 本人.
        whom = a.contact_person or ("本人" if group is ChannelGroup.SELF else None)
        yield [
            k,
            a.attempted_on.isoformat(),
            group.label if group is not None else None,
            label_of(Channel, a.channel),
            whom,
            label_of(AttemptResult, a.result),
            a.note,
            a.evidence,
            a.recorded_by,
            time_text(a.recorded_at),
            "；".join(notes) or None,
        ]


def outcome_rows(outcomes: Sequence[OutcomeRow]) -> Iterator[list[Any]]:
    for k, o in enumerate(outcomes, 1):
        categories = FoundOrgCategory if o.kind == "found" else UnreachableOrgCategory
        reason = coded(LostContactReason, o.lost_reason)
        if reason and o.lost_reason == LostContactReason.OTHER.value and o.lost_reason_note:
            reason += f"（{o.lost_reason_note}）"
        yield [
            k,
            OUTCOME_KINDS.get(o.kind, o.kind),
            o.decided_on.isoformat(),
            reason,
            coded(LostOccupation, o.occupation),
            coded(categories, o.org_category),
            yes_no(o.had_misconduct, "有", "无"),
            o.misconduct_note,
            label_of(MisconductCheck, o.misconduct_check),
            o.attitude,
            "是" if o.is_pocket else "否",
            o.note,
            o.recorded_by,
            time_text(o.recorded_at),
            SUPERSEDED if o.superseded else "现行",
        ]


def event_rows(events: Sequence[EventRow]) -> Iterator[list[Any]]:
    for k, e in enumerate(events, 1):
        yield [
            k,
            time_text(e.at),
            e.who or SYSTEM,
            ACTIONS.get((e.entity, e.action), f"{e.entity}:{e.action}"),
            field_label(e),
            value_text(e, e.old),
            value_text(e, e.new),
            describe(e),
        ]


def case_line(k: int, case: CaseRow) -> str:
    """“1. 停止党籍：已办结（2026-11-20生效，至2028-11-20）”."""
    status = STATUS.get(case.status, case.status)
    dates = []
    if case.effective_on is not None:
        dates.append(f"{case.effective_on.isoformat()}生效")
    if case.ends_on is not None:
        dates.append(f"至{case.ends_on.isoformat()}")
    when = f"（{'，'.join(dates)}）" if dates else f"（{case.opened_on.isoformat()}启动）"
    return f"{k}. {outcome_label(case.outcome)}：{status}{when}"


def case_rows(cases: Sequence[CaseRow]) -> Iterator[list[Any]]:
    """Every case in the order it was opened, each in the order things
    happened in it (R-DOSSIER, R-PROCEDURE): day, outcome, step, what, facts, who."""
    k = 0
    for case in cases:
        outcome = outcome_label(case.outcome)
        for step in case.steps:
            k += 1
            what = ACTIONS.get(("disposition", step.action), step.action)
            yield [
                k,
                step.on.isoformat(),
                outcome,
                step_label(step.step) or None,
                what,
                facts_text(dict(step.facts)) or None,
                step.who or SYSTEM,
            ]


def _table(
    title: str, sheet: str, columns: tuple[Column, ...], info: MemberInfo, *lines: Line
) -> Form:
    name = info.get("name") or ""
    return Form(
        title=f"{title}（{name}）",
        header_lines=((f"党支部名称：{info.branch}", f"姓名：{name}"), *lines),
        columns=columns,
        footer_lines=(signature_line(info.today),),
        sheet_name=sheet,
        freeze_columns=2,
        stamp=info.stamp,
    )


def _or_none(rows: list[list[Any]], width: int) -> list[list[Any]]:
    return rows or [[None, NONE, *([None] * (width - 2))]]


def render_dossier(
    info: MemberInfo,
    attempts: Sequence[AttemptRow],
    outcomes: Sequence[OutcomeRow],
    events: Sequence[EventRow],
    cases: Sequence[CaseRow] = (),
) -> bytes:
    """一人一档 (R-DOSSIER): 基本信息 (附件1), 查找记录 (附件3, corrections kept),
    查找结果, 全部记录 (every audit event in order, with who and when), and the
    处置情况 on the sheet 处置决定 (each case's state above its table)."""
    first = replace(
        info_form(info, sheet_name=SHEET_INFO), title=f"{DOSSIER_TITLE}·{MEMBER_INFO_TITLE}"
    )
    more = [
        (
            _table(
                "查找联系失联党员情况记录表",
                SHEET_ATTEMPTS,
                ATTEMPT_COLUMNS,
                info,
                lost_line(info, outcomes),
            ),
            _or_none(list(attempt_rows(attempts)), len(ATTEMPT_COLUMNS)),
        ),
        (
            _table("查找结果", SHEET_OUTCOMES, OUTCOME_COLUMNS, info),
            _or_none(list(outcome_rows(outcomes)), len(OUTCOME_COLUMNS)),
        ),
        (
            _table("全部记录", SHEET_EVENTS, EVENT_COLUMNS, info),
            _or_none(list(event_rows(events)), len(EVENT_COLUMNS)),
        ),
        (
            _table(
                CASES_TITLE,
                SHEET_DECISIONS,
                DECISION_COLUMNS,
                info,
                *((case_line(k, c),) for k, c in enumerate(cases, 1)),
            ),
            _or_none(list(case_rows(cases)), len(DECISION_COLUMNS)),
        ),
    ]
    return build_workbook(first, info_rows(info), more=more)
