"""The summary forms (汇总表 / 统计表, SPEC §7): one row per branch, then 合计
for a committee's export.

Where a seed gives a form's name and notes only (the 汇总表 of seed 001
附件7–9, seed 000 附件3/4/6/8/9), the columns are built from the notes and the
registers' code lists, written as the notes write them (①外出务工经商 …). The
流出党员有关情况统计表 (seed 003 附件2) has its columns exactly as the seed
prints them, the letter row A–Z under the headers.

Render functions are module-level and take plain values (the dispatcher runs
them in a worker process): the organisation line, the rows as lists of the
first column's text and the counts in column order, the form's date and the
export stamp.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from domain.codes import (
    CodeList,
    Education,
    FlowDirection,
    LostContactReason,
    LostOccupation,
    MobileIndustry,
    MobileOccupation,
    MobileRegion,
)
from domain.dates import PartialDate
from domain.form_checks import AGE_BANDS, DURATION_BANDS
from reports.builder import Column, Form, Line, build_workbook

CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩"
TOTAL = "合计"

LOST_TITLE = "与党组织失去联系党员情况汇总表"
MOBILE_TITLE = "外出流动党员情况汇总表"
POCKET_TITLE = "“口袋”党员情况汇总表"
DISPOSAL_TITLE = "与党组织失去联系党员管理及处置情况汇总表"
SURVEY_TITLE = "党员摸底核查情况统计表"
OUTFLOW_TITLE = "流出党员有关情况统计表"

ORG_COLUMN = "党组织名称"
UNREACHABLE = "经查找仍然无法取得联系党员"


def coded(codes: Iterable[CodeList]) -> tuple[str, ...]:
    """Code-list headers as the notes write them: ①外出务工经商, ②单位改制或破产 …"""
    return tuple(f"{CIRCLED[k]}{c.label}" for k, c in enumerate(codes))


def _n(header: str, group: str | None = None, width: float = 9.0) -> Column:
    return Column(header=header, width=width, group=group)


def _org(header: str = ORG_COLUMN) -> Column:
    return Column(header=header, width=18)


def _footer(today: date, *notes: str, colon: str = "：") -> tuple[Line, ...]:
    lines: list[Line] = [(note,) for note in notes]
    lines.append(
        (
            f"审核领导{colon}",
            f"填表人{colon}",
            f"联系电话{colon}",
            f"填表日期：{PartialDate.of(today).zh()}",
        )
    )
    return tuple(lines)


def org_line(org_name: str, *, committee: bool, colon: str = "：") -> Line:
    """The header block: 党支部名称 for a branch's export, 党组织名称 for a committee's."""
    label = "党组织名称" if committee else "党支部名称"
    return (f"{label}{colon}{org_name}", f"负责人姓名及职务{colon}", f"联系电话{colon}")


# ---------------------------------------------------------------- the forms


def lost_columns() -> tuple[Column, ...]:
    """seed 001 附件7 / seed 000 附件3, from its notes: 排查前在册党员人数 (note 2),
    the lost split as 附件9 note 2 splits them, the 仍然无法取得联系 broken down as
    their register (附件6) codes them (``LOST_NOTES`` says so on the form), and
    the 补充资料 (note 4)."""
    lost = "与党组织失去联系党员"
    return (
        _org(),
        _n("排查前在册党员人数", width=11),
        _n("合计", lost),
        _n("经查找取得联系党员", lost, 11),
        _n(UNREACHABLE, lost, 13),
        *(_n(g, "性别", 6) for g in ("男", "女")),
        *(_n(a, "年龄", 9) for a in AGE_BANDS),
        *(_n(d, "与党组织失去联系时间", 9) for d in DURATION_BANDS),
        *(_n(r, "失去联系情形", 11) for r in coded(LostContactReason)),
        *(_n(o, "职业", 12) for o in coded(LostOccupation)),
        _n("“口袋”党员人数", "补充资料", 10),
        _n("正在查找的失联党员（不计入合计）", "补充资料", 16),
    )


LOST_NOTES = (
    "注：1.“排查前在册党员人数”指所有正式组织关系在本党组织的党员人数（不仅仅指失联党员）。"
    "2.性别、年龄、与党组织失去联系时间、失去联系情形、职业各栏统计经查找仍然无法取得联系党员"
    "（年龄按填表日期计算；失去联系时间自最近一次参加党组织生活或交纳党费日期至联系查找结束时）。"
    "3.补充资料“口袋”党员是指组织关系转出后，没有在规定期限内到接收单位党组织报到落实组织关系的党员。"
)


def mobile_columns() -> tuple[Column, ...]:
    """seed 001 附件8 / seed 000 附件6: the 累积数 (note 2) by the register's
    (附件4) 职业 and 外出流向 codes."""
    group = "外出流动党员"
    return (
        _org(),
        _n("合计", group),
        _n("其中：女", group),
        _n("其中：目前仍在外出", group, 11),
        *(_n(o, "职业", 12) for o in coded(MobileOccupation)),
        *(_n(d, "外出流向", 11) for d in coded(FlowDirection)),
        _n("持《中国共产党流动党员活动证》", None, 14),
        _n("已向流入地党组织报到", None, 12),
    )


def pocket_columns() -> tuple[Column, ...]:
    """seed 000 附件8: “口袋”党员 as seed 001 附件5 note 7 defines them, and how
    their search stands."""
    group = "“口袋”党员"
    return (
        _org(),
        _n("正式组织关系转出后未收到回执的党员人数", None, 14),
        _n("合计", group),
        _n("经查找取得联系", group, 10),
        _n("经查找仍然无法取得联系", group, 12),
        _n("正在查找", group),
        _n("排查中收到回执、已落实组织关系", None, 14),
    )


def disposal_columns() -> tuple[Column, ...]:
    """seed 001 附件9 / seed 000 附件4: notes 2 and 4–6."""
    lost, manage, dispose = "与党组织失去联系党员", "规范管理", "组织处置"
    return (
        _org(),
        _n("合计", lost),
        _n("经查找取得联系", lost, 10),
        _n("经查找仍然无法取得联系", lost, 12),
        _n("纳入组织管理", manage, 10),
        _n("其中：转出组织关系", manage, 10),
        _n("补转组织关系", manage, 10),
        _n("保留组织关系", manage, 10),
        _n("延长预备期", manage),
        _n("取消预备党员资格", manage, 10),
        _n("限期改正", dispose),
        _n("劝退", dispose),
        _n("除名", dispose),
        _n("停止党籍", dispose),
        _n("纪律处分", None),
    )


DISPOSAL_NOTES = (
    "注：1.与党组织失去联系党员包括经查找取得联系党员和经查找仍然无法取得联系党员。"
    "2.“纳入组织管理”指失联后经排查取得联系的党员中，转出组织关系和纳入原所在党组织正常管理的党员，"
    "不包括补转组织关系的党员。"
    "3.“取消预备党员资格”统计失联后经排查取得联系和确实无法取得联系的预备党员中，被取消预备党员资格的人数。"
    "4.“组织处置”和“纪律处分”可以有交叉。"
)


def survey_columns() -> tuple[Column, ...]:
    """seed 000 附件9, by 人员类别 (“按教职工和学生分类填写”): the five checks of
    the sweep (SPEC §2a) and what they found."""
    sweep, found = "摸底核查", "其中"
    return (
        Column(header="人员类别", width=14),
        _n("党员人数"),
        _n("五项核查均已完成", sweep, 11),
        _n("待完善", sweep),
        _n("发现问题", sweep),
        _n("与党组织失去联系党员", found, 12),
        _n("外出流动党员", found, 10),
        _n("“口袋”党员", found, 10),
    )


# 流出党员有关情况统计表 (seed 003 附件2): headers as the seed prints them.
OUTFLOW_REMARK = "备注(如存在U栏情况, 请注明主要情形及相应人数)"
OUTFLOW_Y = "在集中排查中, 经督促已转移正式组织关系的党员人数"
OUTFLOW_Z = "已向流入地党组织报到的党员人数"
OUTFLOW_NOTES = (
    "注: 1.表间关系: A=B+C=D+E+F=G+H+I=J+K+L+M+N+O+P+Q+R+S+T+U=V+W+X",
    "2.在集中排查中, 经督促已转移正式组织关系的党员人数(Y项) 不统计在流出党员人数中",
)
OUTFLOW_LETTERS = (*"ABCDEFGHIJKLMNOPQRSTU", "", *"VWXYZ")


def outflow_columns(*, with_org: bool) -> tuple[Column, ...]:
    industry = "从事行业或流动原因"
    columns = (
        _n("流出党员人数", None, 9),
        *(_n(g, "性别", 6) for g in ("男", "女")),
        *(_n(a, "年龄", 9) for a in ("35岁以下", "35岁至59岁", "60岁及以上")),
        *(_n(e.label, "文化程度", 9) for e in Education),
        *(_n(i.label, industry, 11 if len(i.label) > 8 else 9) for i in MobileIndustry),
        Column(header=OUTFLOW_REMARK, width=22, group=industry, wrap=True),
        *(_n(r.label, "流向区域", 8) for r in MobileRegion),
        _n(OUTFLOW_Y, None, 14),
        _n(OUTFLOW_Z, None, 12),
    )
    return (_org("党支部名称"), *columns) if with_org else columns


# ---------------------------------------------------------------- render


def _form(
    title: str,
    columns: tuple[Column, ...],
    header: Line,
    today: date,
    stamp: str,
    *notes: str,
    colon: str = "：",
    freeze_columns: int = 1,
) -> Form:
    return Form(
        title=title,
        header_lines=(header,),
        columns=columns,
        footer_lines=_footer(today, *notes, colon=colon),
        sheet_name=title.strip("“”")[:31],
        freeze_columns=freeze_columns,
        stamp=stamp,
    )


FORMS = {
    "lost_summary": (LOST_TITLE, lost_columns, (LOST_NOTES,)),
    "mobile_summary": (MOBILE_TITLE, mobile_columns, ()),
    "pocket_summary": (POCKET_TITLE, pocket_columns, ()),
    "disposal_summary": (DISPOSAL_TITLE, disposal_columns, (DISPOSAL_NOTES,)),
    "survey_stats": (SURVEY_TITLE, survey_columns, ()),
}


def summary_form(key: str, header: Line, today: date, stamp: str) -> Form:
    title, columns, notes = FORMS[key]
    return _form(title, columns(), header, today, stamp, *notes)


def render_summary(
    key: str, header: Line, rows: Sequence[Sequence[object]], today: date, stamp: str
) -> bytes:
    """A 汇总表 of ``FORMS``: ``rows`` are [name, counts…] in column order."""
    return build_workbook(summary_form(key, header, today, stamp), rows)


def outflow_form(header: Line, today: date, stamp: str, *, with_org: bool) -> Form:
    return _form(
        OUTFLOW_TITLE,
        outflow_columns(with_org=with_org),
        header,
        today,
        stamp,
        *OUTFLOW_NOTES,
        colon=":",
        freeze_columns=1 if with_org else 0,
    )


def render_outflow(
    header: Line, rows: Sequence[Sequence[object]], today: date, stamp: str, with_org: bool
) -> bytes:
    """流出党员有关情况统计表: the letter row, then ``rows`` (A … U, 备注, V … Z;
    preceded by the 党支部名称 when ``with_org``)."""
    letters: list[object] = [None, *OUTFLOW_LETTERS] if with_org else list(OUTFLOW_LETTERS)
    return build_workbook(outflow_form(header, today, stamp, with_org=with_org), [letters, *rows])
