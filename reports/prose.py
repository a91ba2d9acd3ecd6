"""The prose reports as Word drafts (.docx, python-docx), SPEC §7:

- ``render_report``: 党员组织关系集中排查综合情况报告 of a committee (seed 000 二(六):
  排查工作开展情况、取得的工作成效和经验总结、存在的问题和下一步工作打算; seed 004
  检查总结: “失联”党员的数量、结构、分布，“失联”原因; seed 001 步骤7);
- ``render_branch_report``: the working group's 核查情况报告 of a branch (seed 004
  二(二)2: 落实流动党员管理措施、理顺“空挂”党员组织关系、寻找“失联”党员的途径办法和
  处理“失联”党员的初步建议).

Every figure and breakdown comes filled in from the records (the collectors in
``storage.services.form_data.prose`` count them); what only people can write
is left as headed blanks “（请填写：……）”. Each page's header carries the
marking 内部资料 注意保密, the footer who exported it and when, and the file's
properties the same (R-CONFIDENTIAL).

Module-level functions of plain, picklable data: they run in a worker process.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from domain.dates import PartialDate
from reports.builder import MARKING

REPORT_TITLE = "党员组织关系集中排查综合情况报告"
BRANCH_REPORT_TITLE = "核查情况报告"
TOTAL = "合计"
BODY_FONT = "宋体"
HEADING_FONT = "黑体"
TITLE_FONT = "方正小标宋简体"
BLANK_COLOUR = RGBColor(0x80, 0x80, 0x80)

# The report's section headings (the seeds' wording).
R_WORK = "一、排查工作开展情况"
R_LOST = "二、“失联”党员的数量、结构、分布和“失联”原因"
R_MOBILE = "三、流动党员和“口袋”党员情况"
R_RESULTS = "四、取得的工作成效和经验总结"
R_PROBLEMS = "五、存在的问题"
R_NEXT = "六、下一步工作打算"
REPORT_HEADINGS = (R_WORK, R_LOST, R_MOBILE, R_RESULTS, R_PROBLEMS, R_NEXT)

B_BASICS = "一、基本情况"
B_FINDINGS = "二、核查发现的问题"
B_MOBILE = "三、落实流动党员管理措施"
B_POCKET = "四、理顺“空挂”党员组织关系"
B_LOST = "五、寻找“失联”党员的途径办法"
B_PROPOSALS = "六、处理“失联”党员的初步建议"
BRANCH_HEADINGS = (B_BASICS, B_FINDINGS, B_MOBILE, B_POCKET, B_LOST, B_PROPOSALS)


# ---------------------------------------------------------------- the data


@dataclass(frozen=True)
class Split:
    """One band of a breakdown of the lost: 取得联系 / 仍然无法取得联系."""

    label: str
    found: int
    unreachable: int

    @property
    def total(self) -> int:
        return self.found + self.unreachable


@dataclass(frozen=True)
class BranchLine:
    """One branch's figures (or the 合计). The sweep counts are None without a
    campaign (no 五核查 to count)."""

    branch: str
    members: int  # 排查前在册党员: every member record
    checked: int | None  # members with all five checks answered
    pending: int | None  # 待完善 answers standing
    problems: int | None  # ✘ answers standing
    review: str  # 核查完成 / 退回整改 / 未核查
    found: int  # 经查找取得联系
    unreachable: int  # 经查找仍然无法取得联系
    searching: int  # lost, search going on
    pocket: int  # “口袋”党员 today
    mobile: int  # 外出流动党员 (累积数)
    outflow: int  # 流出党员 (seed 003 A)

    @property
    def lost(self) -> int:
        return self.found + self.unreachable


@dataclass(frozen=True)
class Figures:
    """The breakdowns of one scope (the committee, or one branch)."""

    reason: tuple[Split, ...]  # 失去联系情形 ①–⑦
    gender: tuple[Split, ...]
    age: tuple[Split, ...]
    duration: tuple[Split, ...]
    occupation: tuple[Split, ...]  # 职业 ①–⑧
    mobile: int
    mobile_away: int
    mobile_certificate: int
    mobile_reported: int
    direction: tuple[tuple[str, int], ...]  # 外出流向 ①–⑥
    mobile_occupation: tuple[tuple[str, int], ...]  # 职业 ①–⑤ (附件4)
    outflow: int
    region: tuple[tuple[str, int], ...]  # 流向区域 V–X
    unreceipted: int
    pocket: int
    pocket_found: int
    pocket_unreachable: int
    pocket_searching: int
    receipts_back: int


@dataclass(frozen=True)
class Masthead:
    title: str
    org_name: str
    today: date
    stamp: str
    campaign: str | None = None
    starts: date | None = None
    ends: date | None = None


@dataclass(frozen=True)
class CheckLine:
    """One of the five checks over a branch: answers standing."""

    check: str  # "1. 名册/信息库"
    ok: int
    problem: int
    pending: int
    unanswered: int


@dataclass(frozen=True)
class BranchReport:
    """Everything the 核查情况报告 of one branch fills in."""

    line: BranchLine
    figures: Figures
    checks: tuple[CheckLine, ...]
    findings: tuple[tuple[str, str, str], ...]  # (党员 or 全支部, 发现, 状态)
    open_items: tuple[tuple[str, str, str, str], ...]  # (姓名, 核查项, 答复, 说明)
    # 姓名, 现状, 最近联系, 失联时间, 查找次数, 尚未查找的渠道 (R-EXHAUSTED)
    lost: tuple[tuple[str, str, str, str, int, str], ...]
    mobile: tuple[tuple[str, str, str, str], ...]  # 姓名, 外出流向, 流入地, 报到党支部
    pocket: tuple[tuple[str, str, str, str], ...]  # 姓名, 介绍信开出日期, 接收单位, 查找情况


# ---------------------------------------------------------------- the document


def _fonts(style_or_run: object, name: str) -> None:
    """Latin and East Asian font: Word picks the CJK face from w:eastAsia."""
    font = style_or_run.font  # type: ignore[attr-defined]
    font.name = name
    element = style_or_run.element  # type: ignore[attr-defined]
    rpr = element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.append(fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia"):
        fonts.set(qn(attr), name)


def _new_document(head: Masthead) -> DocumentObject:
    doc = Document()
    normal = doc.styles["Normal"]
    _fonts(normal, BODY_FONT)
    normal.font.size = Pt(12)
    for level in (1, 2):
        style = doc.styles[f"Heading {level}"]
        _fonts(style, HEADING_FONT)
        style.font.size = Pt(15 if level == 1 else 13)
        style.font.color.rgb = RGBColor(0, 0, 0)
    title = doc.styles["Title"]
    _fonts(title, TITLE_FONT)
    title.font.size = Pt(20)
    title.font.color.rgb = RGBColor(0, 0, 0)

    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Cm(21), Cm(29.7)  # A4
    section.left_margin = section.right_margin = Cm(2.6)
    section.top_margin, section.bottom_margin = Cm(3.2), Cm(2.6)
    marking = section.header.paragraphs[0]
    marking.text = MARKING
    marking.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    marking.runs[0].bold = True
    foot = section.footer.paragraphs[0]
    foot.alignment = WD_ALIGN_PARAGRAPH.CENTER
    foot.add_run("第 ")
    _page_field(foot)
    foot.add_run(f" 页    {head.stamp}")

    props = doc.core_properties
    props.title = head.title
    props.subject = MARKING
    props.keywords = MARKING
    props.author = head.stamp
    props.last_modified_by = head.stamp
    props.comments = f"{MARKING}；{head.stamp}"
    props.category = head.org_name
    props.created = props.modified = datetime(head.today.year, head.today.month, head.today.day)
    return doc


def _page_field(paragraph: object) -> None:
    run = paragraph.add_run()  # type: ignore[attr-defined]
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind:
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), kind)
            run._r.append(char)
        else:
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = text
            run._r.append(instr)


def _title(doc: DocumentObject, head: Masthead, subtitle: str | None = None) -> None:
    title = doc.add_paragraph(head.title, style="Title")
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    lines = [f"{head.org_name}" + (f"（{subtitle}）" if subtitle else "")]
    if head.campaign:
        period = ""
        if head.starts and head.ends:
            period = f"（{_zh(head.starts)}至{_zh(head.ends)}）"
        lines.append(f"{head.campaign}{period}")
    lines.append(_zh(head.today))
    for text in lines:
        p = doc.add_paragraph(text)
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER


def _zh(day: date) -> str:
    return PartialDate.of(day).zh()


def _para(doc: DocumentObject, text: str) -> None:
    p = doc.add_paragraph(text)
    p.paragraph_format.first_line_indent = Pt(24)


def blank(what: str) -> str:
    return f"（请填写：{what}）"


def _blank(doc: DocumentObject, what: str) -> None:
    p = doc.add_paragraph()
    p.paragraph_format.first_line_indent = Pt(24)
    run = p.add_run(blank(what))
    run.italic = True
    run.font.color.rgb = BLANK_COLOUR
    doc.add_paragraph()


def _table(
    doc: DocumentObject,
    caption: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    empty: str = "无",
) -> None:
    cap = doc.add_paragraph()
    cap.add_run(caption).bold = True
    if not rows:
        doc.add_paragraph(empty)
        return
    table = doc.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(table.rows[0].cells, headers, strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(text).bold = True
        cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
    _repeat_header(table.rows[0])
    for row in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=False):
            cell.text = "" if value is None else str(value)
            if isinstance(value, int):
                cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.add_paragraph()


def _repeat_header(row: object) -> None:
    """A long table repeats its header row on each printed page."""
    tr_pr = row._tr.get_or_add_trPr()  # type: ignore[attr-defined]
    mark = OxmlElement("w:tblHeader")
    mark.set(qn("w:val"), "true")
    tr_pr.append(mark)


def _percent(part: int, whole: int) -> str:
    return f"{part * 100 / whole:.1f}%" if whole else "—"


def _splits(doc: DocumentObject, caption: str, band: str, splits: Sequence[Split]) -> None:
    total = sum(s.total for s in splits)
    rows: list[list[object]] = [
        [s.label, s.found, s.unreachable, s.total, _percent(s.total, total)] for s in splits
    ]
    rows.append(
        [
            TOTAL,
            sum(s.found for s in splits),
            sum(s.unreachable for s in splits),
            total,
            "100%" if total else "—",
        ]
    )
    _table(doc, caption, (band, "经查找取得联系", "经查找仍然无法取得联系", "合计", "占比"), rows)


def _counts(
    doc: DocumentObject, caption: str, band: str, counts: Sequence[tuple[str, int]]
) -> None:
    total = sum(n for _, n in counts)
    rows: list[list[object]] = [[label, n, _percent(n, total)] for label, n in counts]
    rows.append([TOTAL, total, "100%" if total else "—"])
    _table(doc, caption, (band, "人数", "占比"), rows)


def _sweep_text(n: int | None) -> object:
    return "—" if n is None else n


def _to_bytes(doc: DocumentObject) -> bytes:
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- 综合情况报告


def branch_total(lines: Sequence[BranchLine]) -> BranchLine:
    def add(name: str) -> int | None:
        values = [getattr(line, name) for line in lines]
        return None if any(v is None for v in values) else sum(values)

    done = sum(1 for line in lines if line.review == "核查完成")
    return BranchLine(
        branch=TOTAL,
        members=sum(line.members for line in lines),
        checked=add("checked"),
        pending=add("pending"),
        problems=add("problems"),
        review=f"核查完成{done}个",
        found=sum(line.found for line in lines),
        unreachable=sum(line.unreachable for line in lines),
        searching=sum(line.searching for line in lines),
        pocket=sum(line.pocket for line in lines),
        mobile=sum(line.mobile for line in lines),
        outflow=sum(line.outflow for line in lines),
    )


def _work_paragraph(head: Masthead, total: BranchLine, branches: int) -> str:
    text = f"本次排查范围内共有党支部{branches}个，排查前在册党员{total.members}名。"
    if total.checked is None:
        return text + "未指定排查活动，暂无五核查记录。"
    text += (
        f"已完成五核查的党员{total.checked}名（{_percent(total.checked, total.members)}），"
        f"尚有待完善事项{total.pending}项、发现问题{total.problems}项。"
    )
    return text


def _lost_paragraph(total: BranchLine, figures: Figures) -> str:
    text = (
        f"排查中与党组织失去联系6个月以上的党员共{total.lost}名，"
        f"占在册党员的{_percent(total.lost, total.members)}；"
        f"其中经查找取得联系{total.found}名，经查找仍然无法取得联系{total.unreachable}名"
    )
    if total.searching:
        text += f"；另有{total.searching}名正在查找，未计入上述合计"
    text += "。"
    top = sorted((s for s in figures.reason if s.total), key=lambda s: -s.total)[:3]
    if top:
        text += "失去联系的主要情形是" + "、".join(f"{s.label}（{s.total}名）" for s in top) + "。"
    return text


def _sweep_rows(lines: Sequence[BranchLine]) -> list[list[object]]:
    return [
        [
            line.branch,
            line.members,
            _sweep_text(line.checked),
            _sweep_text(line.pending),
            _sweep_text(line.problems),
            line.review,
        ]
        for line in lines
    ]


def _branch_rows(lines: Sequence[BranchLine]) -> list[list[object]]:
    return [
        [
            line.branch,
            line.members,
            line.lost,
            line.found,
            line.unreachable,
            line.searching,
            line.mobile,
            line.outflow,
            line.pocket,
        ]
        for line in lines
    ]


BRANCH_HEADERS = (
    "党支部",
    "排查前在册党员",
    "失联党员合计",
    "经查找取得联系",
    "经查找仍然无法取得联系",
    "正在查找",
    "外出流动党员",
    "流出党员",
    "“口袋”党员",
)
SWEEP_HEADERS = ("党支部", "在册党员", "已完成五核查", "待完善事项", "发现问题", "工作组核查")


def _lost_tables(doc: DocumentObject, figures: Figures, number: int = 1) -> int:
    _splits(doc, f"表{number}　失联党员按失去联系情形", "失去联系情形", figures.reason)
    _splits(doc, f"表{number + 1}　失联党员按性别", "性别", figures.gender)
    _splits(doc, f"表{number + 2}　失联党员按年龄", "年龄", figures.age)
    _splits(
        doc, f"表{number + 3}　失联党员按与党组织失去联系时间", "失去联系时间", figures.duration
    )
    _splits(doc, f"表{number + 4}　失联党员按职业", "职业", figures.occupation)
    return number + 5


def _mobile_tables(doc: DocumentObject, figures: Figures, number: int) -> int:
    _para(
        doc,
        f"外出流动党员{figures.mobile}名（累积数），目前仍在外{figures.mobile_away}名，"
        f"持《中国共产党流动党员活动证》{figures.mobile_certificate}名，"
        f"已向流入地党组织报到{figures.mobile_reported}名；流出党员{figures.outflow}名。",
    )
    _counts(doc, f"表{number}　外出流动党员按外出流向", "外出流向", figures.direction)
    _counts(doc, f"表{number + 1}　外出流动党员按职业", "职业", figures.mobile_occupation)
    _counts(doc, f"表{number + 2}　流出党员按流向区域", "流向区域", figures.region)
    return number + 3


def _pocket_paragraph(figures: Figures) -> str:
    return (
        f"组织关系转出后尚未收到回执的党员{figures.unreceipted}名，其中超过期限的“口袋”党员"
        f"{figures.pocket}名（经查找取得联系{figures.pocket_found}名、仍然无法取得联系"
        f"{figures.pocket_unreachable}名、正在查找{figures.pocket_searching}名）；"
        f"排查期间收到回执、落实组织关系{figures.receipts_back}名。"
    )


def render_report(head: Masthead, lines: Sequence[BranchLine], figures: Figures) -> bytes:
    """党员组织关系集中排查综合情况报告 (seed 000 二(六), seed 001 步骤7, seed 004 检查总结)."""
    doc = _new_document(head)
    _title(doc, head)
    total = branch_total(lines)
    with_total = [*lines, total] if len(lines) > 1 else list(lines)

    doc.add_heading(R_WORK, level=1)
    _para(doc, _work_paragraph(head, total, len(lines)))
    _table(doc, "表1　各党支部五核查和工作组核查进度", SWEEP_HEADERS, _sweep_rows(with_total))
    _blank(doc, "组织领导、动员部署、培训、“双查”自查和核查、联系查找等工作开展情况")

    doc.add_heading(R_LOST, level=1)
    _para(doc, _lost_paragraph(total, figures))
    _table(doc, "表2　各党支部排查结果（分布）", BRANCH_HEADERS, _branch_rows(with_total))
    number = _lost_tables(doc, figures, 3)
    _blank(doc, "对“失联”党员数量、结构、分布和“失联”原因的分析")

    doc.add_heading(R_MOBILE, level=1)
    number = _mobile_tables(doc, figures, number)
    _para(doc, _pocket_paragraph(figures))
    _blank(doc, "流动党员管理和“口袋”党员组织关系落实情况的分析")

    doc.add_heading(R_RESULTS, level=1)
    _blank(doc, "排查取得的工作成效、好的做法和经验")
    doc.add_heading(R_PROBLEMS, level=1)
    _blank(doc, "党员日常管理中存在的问题及原因")
    doc.add_heading(R_NEXT, level=1)
    _blank(doc, "下一步工作打算和改进措施")
    _signature(doc, head)
    return _to_bytes(doc)


def _signature(doc: DocumentObject, head: Masthead) -> None:
    doc.add_paragraph()
    for text in (head.org_name, _zh(head.today)):
        p = doc.add_paragraph(text)
        p.alignment = WD_ALIGN_PARAGRAPH.RIGHT


# ---------------------------------------------------------------- 核查情况报告


def _branch_section(doc: DocumentObject, head: Masthead, report: BranchReport) -> None:
    line, figures = report.line, report.figures
    doc.add_heading(B_BASICS, level=1)
    text = f"{line.branch}排查前在册党员{line.members}名。"
    if line.checked is not None:
        text += (
            f"已完成五核查{line.checked}名，尚有待完善事项{line.pending}项、"
            f"发现问题{line.problems}项；工作组核查状态：{line.review}。"
        )
    text += (
        f"与党组织失去联系党员{line.lost}名（经查找取得联系{line.found}名、仍然无法取得联系"
        f"{line.unreachable}名），正在查找{line.searching}名；外出流动党员{line.mobile}名；"
        f"“口袋”党员{line.pocket}名。"
    )
    _para(doc, text)
    _table(
        doc,
        "表1　五核查情况（人数）",
        ("核查项目", "✔ 符合", "✘ 有问题", "待完善", "未答复"),
        [[c.check, c.ok, c.problem, c.pending, c.unanswered] for c in report.checks],
        empty="未指定排查活动，暂无五核查记录。",
    )
    _blank(doc, "党支部自查和工作组逐一核查每名党员的总体情况")

    doc.add_heading(B_FINDINGS, level=1)
    _table(doc, "表2　工作组核查发现", ("党员", "核查发现", "状态"), report.findings)
    _table(
        doc,
        "表3　五核查中待完善和有问题的事项",
        ("姓名", "核查项目", "答复", "说明"),
        report.open_items,
    )
    _blank(doc, "核查发现问题的分析和整改要求")

    doc.add_heading(B_MOBILE, level=1)
    _table(
        doc,
        "表4　外出流动党员",
        ("姓名", "外出流向", "流入地", "报到党支部"),
        report.mobile,
    )
    _counts(doc, "表5　外出流动党员按外出流向", "外出流向", figures.direction)
    _blank(doc, "落实流动党员管理措施的意见（联系方式、组织生活、党费交纳、报到转接等）")

    doc.add_heading(B_POCKET, level=1)
    _para(doc, _pocket_paragraph(figures))
    _table(
        doc,
        "表6　“口袋”党员",
        ("姓名", "介绍信开出日期", "接收单位", "查找情况"),
        report.pocket,
    )
    _blank(doc, "理顺“空挂”党员组织关系的意见（转出、转接、保留组织关系等）")

    doc.add_heading(B_LOST, level=1)
    _table(
        doc,
        "表7　“失联”党员",
        ("姓名", "现状", "最近一次联系", "与党组织失去联系时间", "查找次数", "尚未查找的渠道"),
        report.lost,
    )
    _splits(doc, "表8　失联党员按失去联系情形", "失去联系情形", figures.reason)
    _blank(doc, "寻找“失联”党员的途径办法（本人、知情人、12371、接收单位、部门协查）")

    doc.add_heading(B_PROPOSALS, level=1)
    _blank(doc, "对每名“失联”党员的初步处理建议")


def render_branch_report(head: Masthead, reports: Sequence[BranchReport]) -> bytes:
    """核查情况报告 (seed 004 二(二)2): one branch, or each branch of a
    committee's export in turn, each starting on a new page."""
    doc = _new_document(head)
    for k, report in enumerate(reports):
        if k:
            doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        _title(doc, head if len(reports) == 1 else _for(head, report.line.branch))
        _branch_section(doc, head, report)
        _signature(doc, _for(head, "党（工）委工作组"))
    if not reports:
        _title(doc, head)
        _para(doc, "没有党支部。")
    return _to_bytes(doc)


def _for(head: Masthead, org_name: str) -> Masthead:
    return Masthead(
        head.title, org_name, head.today, head.stamp, head.campaign, head.starts, head.ends
    )
