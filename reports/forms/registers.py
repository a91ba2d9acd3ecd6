"""The registers (登记表 / 名册): one row per member (issue 15, SPEC §7).

Each form is a module-level ``render_*`` function of plain, picklable data
(frozen dataclasses, tuples of str/int/date) that returns the .xlsx bytes; the
collectors in ``storage.services.form_data.registers`` read the database and
hand these over to a worker process. Codes are written as the forms' notes
give them: circled numbers (①…) for 附件4/5/6, the label for 附件2 of seed 003.

Where a seed gives only the form's name and notes (附件3–7 of seed 001, 附件7
of seed 000), the columns follow the notes and the member record (SPEC §7).
A committee's export lists every branch: the registers that a clerk sorts
and counts get a 党支部 column after 序号; the 党员名册 and the 流出党员基本信息登记表,
whose columns the importer or the seed fix, get one sheet per branch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.channels import AttemptResult, Channel, ChannelGroup
from domain.clocks import lost_duration
from domain.codes import (
    CodeList,
    FlowDirection,
    FoundOrgCategory,
    Gender,
    LostContactReason,
    LostOccupation,
    MemberType,
    MisconductCheck,
    MobileIndustry,
    MobileOccupation,
    PartyOrgType,
    UnreachableOrgCategory,
)
from domain.dates import PartialDate
from domain.member_fields import FIELDS, Kind
from reports.builder import Column, Form, Line, build_workbook
from reports.forms.roster import TEXT, roster_form

CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩"
BRANCH_COLUMN = "党支部"
POCKET_MARK = "“口袋”党员"


@dataclass(frozen=True)
class Scope:
    """Whose form it is: the branch (or committee) named in the header."""

    org_name: str
    is_committee: bool
    today: date
    stamp: str | None = None


# ---------------------------------------------------------------- helpers


def circled(code: str | None) -> str | None:
    """A stored numeric code as the forms write it: "3" → ③."""
    if code is None or code == "":
        return None
    number = int(code)
    return CIRCLED[number - 1] if 1 <= number <= len(CIRCLED) else str(number)


def coded_choices(codes: type[CodeList]) -> tuple[str, ...]:
    """The drop-down of a coded column: the bare circled numbers the cells hold
    (the labels are printed in the notes under the table)."""
    return tuple(c for c in (circled(item.value) for item in codes) if c)


def code_note(title: str, codes: type[CodeList]) -> str:
    """“职业：按以下代码填写。①…；②…。” — the note's list, printed under the table."""
    return title + "；".join(f"{circled(c.value)}{c.label}" for c in codes) + "。"


def month_text(iso: str | None) -> str | None:
    """ "1978-08" → "1978.08" (the registers), kept as text."""
    if not iso:
        return None
    part = PartialDate.from_iso(iso)
    return f"{part.year:04d}.{part.month:02d}"


def compact_month(iso: str | None) -> str | None:
    """ "1978-08" → "197808", as seed 003 附件1's sample row writes 出生年月."""
    if not iso:
        return None
    part = PartialDate.from_iso(iso)
    return f"{part.year:04d}{part.month:02d}"


def day_text(day: date | None) -> str | None:
    return day.isoformat() if day else None


def age_on(birth_iso: str | None, today: date) -> int | None:
    """Whole years as of ``today`` (the form's date); a month-only birth
    counts from the month's first day."""
    if not birth_iso:
        return None
    born = PartialDate.from_iso(birth_iso).first_day()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def lost_time(last_contact: date | None, end: date) -> str | None:
    """与党组织失去联系时间 (附件3 note 2, 附件5/6 note 3): from the last 组织生活 or
    党费 to the end of the search."""
    if last_contact is None or end < last_contact:
        return None
    return lost_duration(last_contact, end).zh()


def label(codes: type[CodeList], code: str | None) -> str | None:
    if not code:
        return None
    try:
        return codes.of(code).label
    except ValueError:
        return code


def header_lines(scope: Scope, *, leader: str = "负责人姓名及职务：") -> tuple[Line, ...]:
    org = "党组织名称" if scope.is_committee else "党支部名称"
    return ((f"{org}：{scope.org_name}", leader, "联系电话："),)


def signature_line(today: date) -> Line:
    return ("审核领导：", "填表人：", "联系电话：", f"填表日期：{PartialDate.of(today).zh()}")


def _numbered(rows: Iterable[Sequence[Any]]) -> Iterator[list[Any]]:
    for number, row in enumerate(rows, 1):
        yield [number, *row]


def _branch_column(scope: Scope) -> tuple[Column, ...]:
    return (Column(BRANCH_COLUMN, 16),) if scope.is_committee else ()


_SHEET_BAD = str.maketrans({c: "_" for c in "[]:*?/\\"})


def sheet_names(names: Sequence[str]) -> list[str]:
    """Excel sheet names: at most 31 characters, none of []:*?/\\, unique."""
    used: set[str] = set()
    result = []
    for name in names:
        base = (name.translate(_SHEET_BAD).strip("'") or "Sheet")[:31]
        candidate, n = base, 1
        while candidate.lower() in used:
            n += 1
            suffix = f"({n})"
            candidate = base[: 31 - len(suffix)] + suffix
        used.add(candidate.lower())
        result.append(candidate)
    return result


# ---------------------------------------------------------------- 党员名册 (seed 001 附件2)

ROSTER_NOTE = (
    "说明：本表由党支部填写，同时上报机关党组织一份存档，报市委工委组织部一份备案。"
    "外出流动、出国（境）等特殊类型党员应在备注栏注明。"
)

# A member's stored values in ``FIELDS`` order (dates, codes, booleans as stored).
RosterRow = tuple[Any, ...]
# Text format per cell only where a fix typed over the value must stay text
# (the 18-digit ID, as in the roster's error workbook): a styled cell per
# value makes a 100,000-row export about twice as slow as plain write-only.
_ROSTER_TEXT_KINDS = frozenset({Kind.ID_NUMBER})


def _roster_cells(rows: Iterable[RosterRow]) -> Iterator[list[Any]]:
    """Stored values → the text a secretary types, so the importer reads the
    export back as the same record."""
    kinds = [spec.kind for spec in FIELDS]
    choices = [
        {c.value: c.label for c in spec.choices} if spec.choices is not None else None
        for spec in FIELDS
    ]
    for row in rows:
        cells: list[Any] = []
        for value, kind, options in zip(row, kinds, choices, strict=True):
            if value is None or value == "":
                cells.append(None)
            elif options is not None:
                cells.append(options.get(value, value))
            elif kind is Kind.YES_NO:
                cells.append("是" if value else "否")
            elif isinstance(value, date):
                cells.append(value.isoformat())
            else:
                cells.append(str(value))
        yield cells


def render_roster(
    scope: Scope,
    branches: Sequence[str],
    rows_by_branch: Sequence[Sequence[RosterRow]],
    categories: Sequence[str] = (),
) -> bytes:
    """党员名册: one sheet per branch (a committee's export has one for each),
    laid out as the template the importer reads."""
    base = roster_form(
        branches[0] if branches else scope.org_name, scope.today, categories=categories
    )
    columns = tuple(
        c if spec.kind in _ROSTER_TEXT_KINDS else dataclasses.replace(c, number_format=None)
        for c, spec in zip(base.columns, FIELDS, strict=True)
    )
    forms = []
    names = sheet_names(branches) if scope.is_committee and branches else [base.sheet_name]
    for index, sheet in enumerate(names):
        branch = branches[index] if branches else scope.org_name
        head: tuple[Line, ...] = (
            (f"党支部名称：{branch}", "负责人姓名及职务：", "联系电话："),
            (ROSTER_NOTE,),
        )
        if scope.is_committee:
            head = ((f"党组织名称：{scope.org_name}",), *head)
        forms.append(
            dataclasses.replace(
                base,
                columns=columns,
                header_lines=head,
                sheet_name=sheet,
                input_rows=0,
                stamp=scope.stamp,
            )
        )
    if not rows_by_branch:
        rows_by_branch = [()]
    first, *rest = forms
    return build_workbook(
        first,
        _roster_cells(rows_by_branch[0]),
        write_only=True,
        more=[(f, _roster_cells(r)) for f, r in zip(rest, rows_by_branch[1:], strict=True)],
    )


# ---------------------------------------------------------------- 附件3 查找联系失联党员情况记录表

ATTEMPT_LOG_TITLE = "查找联系失联党员情况记录表"
ATTEMPT_GROUP = "联系查找情况"


@dataclass(frozen=True)
class AttemptLine:
    attempted_on: date
    channel: str  # Channel code
    contact_person: str | None
    result: str  # AttemptResult code
    note: str | None
    recorded_by: str | None  # the recorder's name


@dataclass(frozen=True)
class AttemptMember:
    branch: str
    name: str
    last_contact: date | None
    search_end: date  # the outcome's date, or the form's date while the search goes on
    lost_reason: str | None  # LostContactReason code, from the outcome in force
    lost_reason_note: str | None
    checked: str | None  # 调查核实情况
    attempts: tuple[AttemptLine, ...]


def attempt_log_columns(scope: Scope) -> tuple[Column, ...]:
    return (
        Column("序号", 6),
        *_branch_column(scope),
        Column("姓名", 10),
        Column("与党组织失去联系时间", 16, wrap=True),
        Column("与党组织失去联系原因", 18, wrap=True),
        Column("查找日期", 12, group=ATTEMPT_GROUP),
        Column("查找方式", 16, group=ATTEMPT_GROUP),
        Column("联系对象", 12, group=ATTEMPT_GROUP),
        Column("查找结果", 12, group=ATTEMPT_GROUP),
        Column("情况记录", 30, group=ATTEMPT_GROUP, wrap=True),
        Column("记录人", 10, group=ATTEMPT_GROUP),
        Column("调查核实情况", 26, wrap=True),
    )


def lost_reason_text(code: str | None, note: str | None) -> str | None:
    """附件3 note 3: the reason in words; 其他 with the reason given."""
    text = label(LostContactReason, code)
    if text and code == LostContactReason.OTHER.value and note:
        return f"{text}（{note}）"
    return text


def _self_reached(channel: str) -> str | None:
    """联系对象 of a call, message or visit to the member: 本人."""
    try:
        return "本人" if Channel.of(channel).group is ChannelGroup.SELF else None
    except ValueError:
        return None


def _attempt_rows(scope: Scope, members: Sequence[AttemptMember]) -> Iterator[list[Any]]:
    for number, member in enumerate(members, 1):
        head = [
            number,
            *([member.branch] if scope.is_committee else []),
            member.name,
            lost_time(member.last_contact, member.search_end),
            lost_reason_text(member.lost_reason, member.lost_reason_note),
        ]
        blank = [None] * len(head)
        for k, attempt in enumerate(member.attempts):
            yield [
                *(head if k == 0 else blank),
                attempt.attempted_on.isoformat(),
                label(Channel, attempt.channel),
                attempt.contact_person or _self_reached(attempt.channel),
                label(AttemptResult, attempt.result),
                attempt.note,
                attempt.recorded_by,
                member.checked if k == 0 else None,
            ]


def render_attempt_log(scope: Scope, members: Sequence[AttemptMember]) -> bytes:
    """附件3: a member's first attempt row carries the member's columns; the
    rest of their attempts follow below it, in order."""
    form = Form(
        title=ATTEMPT_LOG_TITLE,
        header_lines=header_lines(scope),
        columns=attempt_log_columns(scope),
        footer_lines=(
            (
                "注：与党组织失去联系时间指党员最近一次参加党组织生活或交纳党费日期至联系查找结束时的时间。",
            ),
            signature_line(scope.today),
        ),
        sheet_name=ATTEMPT_LOG_TITLE,
        freeze_columns=3 if scope.is_committee else 2,
        stamp=scope.stamp,
    )
    return build_workbook(form, _attempt_rows(scope, members), write_only=True)


# ---------------------------------------------------------------- 附件4 外出流动党员登记表

MOBILE_TITLE = "外出流动党员登记表"


@dataclass(frozen=True)
class MobileRow:
    branch: str
    name: str
    gender: str
    birth: str
    joined: str
    education: str | None
    occupation: str | None  # MobileOccupation code
    left_on: date | None
    direction: str | None  # FlowDirection code
    reason: str | None  # MobileIndustry code (外出原因)
    reason_note: str | None
    destination: str | None
    work_unit: str | None
    certificate_no: str | None
    phone: str | None
    org_type: str | None = None  # PartyOrgType code (附件4 note 5)


def mobile_columns(scope: Scope) -> tuple[Column, ...]:
    return (
        Column("序号", 6),
        *_branch_column(scope),
        Column("姓名", 10),
        Column("性别", 6),
        Column("出生年月", 10),
        Column("入党时间", 10),
        Column("文化程度", 12),
        Column("职业", 8, choices=coded_choices(MobileOccupation)),
        Column("外出时间", 12),
        Column("外出流向", 8, choices=coded_choices(FlowDirection)),
        Column("外出原因", 16, wrap=True),
        Column("外出地点", 20, wrap=True),
        Column("流入单位", 20, wrap=True),
        Column("流动党员活动证编号", 16, number_format=TEXT),
        Column("联系电话", 14, number_format=TEXT),
        Column("党组织类型", 10, choices=coded_choices(PartyOrgType)),
        Column("备注", 14, wrap=True),
    )


def _reason_text(code: str | None, note: str | None) -> str | None:
    text = label(MobileIndustry, code)
    if note and code in (None, MobileIndustry.OTHER.value):
        return f"{text}（{note}）" if text else note
    return text


def _mobile_rows(scope: Scope, rows: Sequence[MobileRow]) -> Iterator[list[Any]]:
    for number, r in enumerate(rows, 1):
        yield [
            number,
            *([r.branch] if scope.is_committee else []),
            r.name,
            label(Gender, r.gender),
            month_text(r.birth),
            month_text(r.joined),
            r.education,
            circled(r.occupation),
            day_text(r.left_on),
            circled(r.direction),
            _reason_text(r.reason, r.reason_note),
            r.destination,
            r.work_unit,
            r.certificate_no,
            r.phone,
            circled(r.org_type),
            None,
        ]


def render_mobile_register(scope: Scope, rows: Sequence[MobileRow]) -> bytes:
    form = Form(
        title=MOBILE_TITLE,
        header_lines=header_lines(scope),
        columns=mobile_columns(scope),
        footer_lines=(
            (code_note("职业，按以下代码填写：", MobileOccupation),),
            (code_note("外出流向，按以下代码填写：", FlowDirection),),
            (code_note("党组织类型，按以下代码填写：", PartyOrgType),),
            ("此表不包括失联党员。",),
            signature_line(scope.today),
        ),
        sheet_name=MOBILE_TITLE,
        freeze_columns=3 if scope.is_committee else 2,
        stamp=scope.stamp,
    )
    return build_workbook(form, _mobile_rows(scope, rows), write_only=True)


# ---------------------------------------------------------------- 附件5 / 附件6

FOUND_TITLE = "经查找取得联系党员登记表"
UNREACHABLE_TITLE = "经查找仍然无法取得联系党员登记表"
MISCONDUCT_GROUP = "失联期间有无不合格表现或违纪违法行为"


@dataclass(frozen=True)
class OutcomeRow:
    branch: str
    name: str
    gender: str
    birth: str
    joined: str
    member_type: str
    id_number: str | None
    last_contact: date | None
    decided_on: date  # 取得联系时间, or the end of the search
    occupation: str | None  # LostOccupation code
    lost_reason: str | None  # LostContactReason code
    lost_reason_note: str | None
    org_category: str | None  # FoundOrgCategory / UnreachableOrgCategory code
    had_misconduct: bool | None = None
    misconduct_check: str | None = None  # MisconductCheck code
    misconduct_note: str | None = None
    pocket: bool = False
    note: str | None = None


def org_categories(kind: str) -> type[CodeList]:
    """附件5 keeps 街道社区 (⑦); 附件6's list has none (SPEC §6)."""
    return FoundOrgCategory if kind == "found" else UnreachableOrgCategory


def outcome_columns(kind: str, scope: Scope) -> tuple[Column, ...]:
    found = kind == "found"
    middle: tuple[Column, ...] = ()
    if found:
        middle = (
            Column("取得联系时间", 12),
            Column("有无", 6, group=MISCONDUCT_GROUP),
            Column("核实方式", 14, group=MISCONDUCT_GROUP),
            Column("具体情况", 20, group=MISCONDUCT_GROUP, wrap=True),
        )
    return (
        Column("序号", 6),
        *_branch_column(scope),
        Column("姓名", 10),
        Column("性别", 6),
        Column("出生年月", 10),
        Column("入党时间", 10),
        Column("党员类别", 10),
        Column("身份证号", 21, number_format=TEXT),
        Column("与党组织失去联系时间", 14, wrap=True),
        Column("职业", 8, choices=coded_choices(LostOccupation)),
        Column("失去联系情形", 10, choices=coded_choices(LostContactReason)),
        Column("党组织类别", 10, choices=coded_choices(org_categories(kind))),
        *middle,
        Column("备注", 24, wrap=True),
    )


def outcome_remarks(row: OutcomeRow) -> str | None:
    """备注: the reason for 失去联系情形 ⑦ (note 5), “口袋”党员 (note 7), the note."""
    parts = []
    if row.pocket:
        parts.append(POCKET_MARK)
    if row.lost_reason == LostContactReason.OTHER.value and row.lost_reason_note:
        parts.append(f"失去联系情形：{row.lost_reason_note}")
    if row.note:
        parts.append(row.note)
    return "；".join(parts) or None


def outcome_problems(kind: str, rows: Sequence[OutcomeRow]) -> list[str]:
    """What the notes require and the records lack (one line per problem)."""
    categories = org_categories(kind)
    valid = {c.value for c in categories}
    missing: dict[str, list[str]] = {}

    def lack(what: str, name: str) -> None:
        missing.setdefault(what, []).append(name)

    for r in rows:
        if r.last_contact is None:
            lack("最近一次参加组织生活或交纳党费日期未填写（与党组织失去联系时间无从计算）", r.name)
        if not r.lost_reason:
            lack("失去联系情形未填写", r.name)
        elif r.lost_reason == LostContactReason.OTHER.value and not r.lost_reason_note:
            lack("失去联系情形为“其他”但未注明具体原因", r.name)
        if not r.occupation:
            lack("职业未填写", r.name)
        if not r.org_category:
            lack("党组织类别未填写", r.name)
        elif r.org_category not in valid:
            lack(
                f"党组织类别代码{r.org_category}不在本表代码①—{circled(str(len(valid)))}之内",
                r.name,
            )
        if kind == "found" and r.had_misconduct is None:
            lack("失联期间有无不合格表现或违纪违法行为未核实", r.name)
    problems = []
    for what, names in missing.items():
        shown = "、".join(names[:5]) + ("……" if len(names) > 5 else "")
        problems.append(f"{len(names)}名党员的{what}：{shown}，请先在其卡片中补全。")
    return problems


def _outcome_rows(kind: str, scope: Scope, rows: Sequence[OutcomeRow]) -> Iterator[list[Any]]:
    found = kind == "found"
    for number, r in enumerate(rows, 1):
        middle: list[Any] = []
        if found:
            middle = [
                day_text(r.decided_on),
                None if r.had_misconduct is None else ("有" if r.had_misconduct else "无"),
                label(MisconductCheck, r.misconduct_check),
                r.misconduct_note,
            ]
        yield [
            number,
            *([r.branch] if scope.is_committee else []),
            r.name,
            label(Gender, r.gender),
            month_text(r.birth),
            month_text(r.joined),
            label(MemberType, r.member_type),
            r.id_number,
            lost_time(r.last_contact, r.decided_on),
            circled(r.occupation),
            circled(r.lost_reason),
            circled(r.org_category),
            *middle,
            outcome_remarks(r),
        ]


def outcome_form(kind: str, scope: Scope) -> Form:
    found = kind == "found"
    title = FOUND_TITLE if found else UNREACHABLE_TITLE
    return Form(
        title=title,
        header_lines=header_lines(scope),
        columns=outcome_columns(kind, scope),
        footer_lines=(
            (
                "与党组织失去联系时间：指党员最近一次参加党组织生活或交纳党费日期至联系查找结束时的时间。",
            ),
            (code_note("职业：按以下代码填写。", LostOccupation),),
            (
                code_note("失去联系情形：按以下代码填写。", LostContactReason).replace(
                    "⑦其他", "⑦其他（具体原因在备注栏中注明）"
                ),
            ),
            (code_note("党组织类别：按以下代码填写。", org_categories(kind)),),
            ("“口袋”党员在备注栏中注明。",),
            signature_line(scope.today),
        ),
        sheet_name=title,
        freeze_columns=3 if scope.is_committee else 2,
        stamp=scope.stamp,
    )


def render_outcome_register(kind: str, scope: Scope, rows: Sequence[OutcomeRow]) -> bytes:
    """附件5 (``kind="found"``) or 附件6 (``"unreachable"``)."""
    return build_workbook(
        outcome_form(kind, scope), _outcome_rows(kind, scope, rows), write_only=True
    )


# ---------------------------------------------------------------- seed 000 附件7 “口袋”党员登记表

POCKET_TITLE = "“口袋”党员登记表"


@dataclass(frozen=True)
class PocketRow:
    branch: str
    name: str
    gender: str
    birth: str
    joined: str
    id_number: str | None
    phone: str | None
    letter_date: date
    receiver: str | None
    overdue_days: int
    search: str  # 查找情况, in words


def pocket_columns(scope: Scope) -> tuple[Column, ...]:
    return (
        Column("序号", 6),
        *_branch_column(scope),
        Column("姓名", 10),
        Column("性别", 6),
        Column("出生年月", 10),
        Column("入党时间", 10),
        Column("身份证号", 21, number_format=TEXT),
        Column("联系电话", 14, number_format=TEXT),
        Column("介绍信开出日期", 13, group="组织关系转出"),
        Column("接收单位", 22, group="组织关系转出", wrap=True),
        Column("超过回执期限天数", 10),
        Column("查找情况", 30, wrap=True),
        Column("备注", 14, wrap=True),
    )


def _pocket_rows(scope: Scope, rows: Sequence[PocketRow]) -> Iterator[list[Any]]:
    for number, r in enumerate(rows, 1):
        yield [
            number,
            *([r.branch] if scope.is_committee else []),
            r.name,
            label(Gender, r.gender),
            month_text(r.birth),
            month_text(r.joined),
            r.id_number,
            r.phone,
            day_text(r.letter_date),
            r.receiver,
            r.overdue_days,
            r.search,
            None,
        ]


def render_pocket_register(scope: Scope, rows: Sequence[PocketRow], pocket_days: int) -> bytes:
    form = Form(
        title=POCKET_TITLE,
        header_lines=header_lines(scope),
        columns=pocket_columns(scope),
        footer_lines=(
            (
                "“口袋”党员是指组织关系转出后，没有在规定期限内到接收单位党组织报到落实组织关系的党员"
                f"（介绍信开出{pocket_days}天仍未收到回执）。",
            ),
            signature_line(scope.today),
        ),
        sheet_name="口袋党员登记表",
        freeze_columns=3 if scope.is_committee else 2,
        stamp=scope.stamp,
    )
    return build_workbook(form, _pocket_rows(scope, rows), write_only=True)


# ---------------------------------------------------------------- seed 003 附件1 流出党员基本信息登记表

OUTFLOW_TITLE = "流出党员基本信息登记表"
OUTFLOW_UNIT_GROUP = "现工作（学习）单位"
OUTFLOW_BRANCH_GROUP = "在流入地报到的党支部"
OUTFLOW_NOTE = "注：从事行业或流动原因参照附件 2《流出党员有关情况统计表》中的相关情形填写。"
OUTFLOW_HEADERS = (
    "序号",
    "姓名",
    "性别",
    "民族",
    "出生年月",
    "年龄",
    "入党时间",
    "身份证号",
    "文化程度",
    "单位名称",
    "是否建立党组织",
    "现居住地（流入地）",
    "本人联系电话",
    "从事行业或流动原因",
    "党支部名称",
    "联系人姓名及职务",
    "联系电话",
)


@dataclass(frozen=True)
class OutflowRow:
    name: str
    gender: str
    ethnicity: str | None
    birth: str
    joined: str
    id_number: str | None
    education: str | None
    work_unit: str | None
    unit_has_org: bool | None
    residence: str | None
    phone: str | None
    reason: str | None  # MobileIndustry J–U
    reason_note: str | None
    reported_branch: str | None
    reported_contact: str | None
    reported_post: str | None
    reported_phone: str | None


def outflow_columns() -> tuple[Column, ...]:
    widths = (6, 10, 6, 8, 10, 6, 10, 21, 14, 20, 10, 24, 14, 20, 20, 16, 14)
    groups: dict[int, str] = {9: OUTFLOW_UNIT_GROUP, 10: OUTFLOW_UNIT_GROUP}
    groups.update({14: OUTFLOW_BRANCH_GROUP, 15: OUTFLOW_BRANCH_GROUP, 16: OUTFLOW_BRANCH_GROUP})
    text_columns = {4, 6, 7, 12, 16}  # 197808 must stay text, as must the numbers
    return tuple(
        Column(
            header,
            widths[i],
            group=groups.get(i),
            number_format=TEXT if i in text_columns else None,
            wrap=i in (9, 11, 14),
        )
        for i, header in enumerate(OUTFLOW_HEADERS)
    )


def outflow_reason(code: str | None, note: str | None) -> str | None:
    """附件2's wording (J–U); for U 其他 the case in words."""
    text = label(MobileIndustry, code)
    if code == MobileIndustry.OTHER.value and note:
        return f"{text}（{note}）"
    return text


def _outflow_rows(rows: Sequence[OutflowRow], today: date) -> Iterator[list[Any]]:
    for number, r in enumerate(rows, 1):
        contact = " ".join(p for p in (r.reported_contact, r.reported_post) if p) or None
        yield [
            number,
            r.name,
            label(Gender, r.gender),
            r.ethnicity,
            compact_month(r.birth),
            age_on(r.birth, today),
            compact_month(r.joined),
            r.id_number,
            r.education,
            r.work_unit,
            None if r.unit_has_org is None else ("是" if r.unit_has_org else "否"),
            r.residence,
            r.phone,
            outflow_reason(r.reason, r.reason_note),
            r.reported_branch,
            contact,
            r.reported_phone,
        ]


def outflow_form(branch: str, scope: Scope, sheet_name: str = OUTFLOW_TITLE) -> Form:
    return Form(
        title=OUTFLOW_TITLE,
        header_lines=(
            *(((f"党组织名称：{scope.org_name}",),) if scope.is_committee else ()),
            (f"党支部名称：{branch}",),
            ("党支部负责人姓名及职务：",),
            ("联系电话：",),
        ),
        columns=outflow_columns(),
        footer_lines=((OUTFLOW_NOTE,), signature_line(scope.today)),
        sheet_name=sheet_name,
        freeze_columns=2,
        stamp=scope.stamp,
    )


def render_outflow_register(
    scope: Scope, branches: Sequence[str], rows_by_branch: Sequence[Sequence[OutflowRow]]
) -> bytes:
    """Seed 003 附件1: one sheet per 党支部 (the form is a branch's 台账); a
    committee's export has a sheet for each of its branches."""
    if not branches:
        branches, rows_by_branch = [scope.org_name], [()]
    names = sheet_names(branches) if scope.is_committee else [OUTFLOW_TITLE]
    forms = [outflow_form(b, scope, n) for b, n in zip(branches, names, strict=True)]
    parts = [_outflow_rows(rows, scope.today) for rows in rows_by_branch]
    return build_workbook(
        forms[0], parts[0], write_only=True, more=list(zip(forms[1:], parts[1:], strict=True))
    )
