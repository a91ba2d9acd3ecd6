"""The prose reports (.docx) rendered from invented figures and read back with
python-docx: the seeds' section headings (seed 000 二(六), seed 004 二(二)2 and
检查总结), the figures in their tables, the prose left as headed blanks, and
the marking 内部资料 注意保密 in the page header with who exported it in the
footer and the file's properties (R-CONFIDENTIAL). Pure: no database
(tests/storage/test_form_prose.py goes through the collectors)."""

from __future__ import annotations

import io
import pickle
from datetime import date

from docx import Document

from reports import prose as p
from reports.builder import MARKING

TODAY = date(2026, 12, 4)
STAMP = "测试员 2026-12-04 09:00 导出"
HEAD = p.Masthead(
    p.REPORT_TITLE, "示例党委", TODAY, STAMP, "2026年党员组织关系集中排查", date(2026, 2, 1), TODAY
)


def split(labels: tuple[str, ...], *pairs: tuple[int, int]) -> tuple[p.Split, ...]:
    return tuple(p.Split(label, f, u) for label, (f, u) in zip(labels, pairs, strict=True))


FIGURES = p.Figures(
    reason=split(
        (
            "①外出务工经商",
            "②单位改制或破产",
            "③毕业后去向不明",
            "④工作单位改变",
            "⑤出国（境）",
            "⑥居住地改变",
            "⑦其他",
        ),
        (2, 1),
        (0, 0),
        (0, 1),
        (0, 0),
        (0, 0),
        (1, 0),
        (0, 0),
    ),
    gender=split(("男", "女"), (2, 1), (1, 1)),
    age=split(("35岁以下", "35岁至59岁", "60岁及以上"), (1, 0), (2, 2), (0, 0)),
    duration=split(
        ("不满1年", "1年至不满3年", "3年至不满5年", "5年及以上"), (1, 0), (2, 1), (0, 1), (0, 0)
    ),
    occupation=split(("①a", "②b"), (3, 0), (0, 2)),
    mobile=4,
    mobile_away=3,
    mobile_certificate=1,
    mobile_reported=2,
    direction=(("①县域范围内流动", 1), ("④跨省流动", 3)),
    mobile_occupation=(("④外出务工人员", 4),),
    outflow=3,
    region=(("V 市州内", 1), ("W 市外省内", 1), ("X 省外", 1)),
    unreceipted=2,
    pocket=1,
    pocket_found=0,
    pocket_unreachable=0,
    pocket_searching=1,
    receipts_back=1,
)
LINES = (
    p.BranchLine("一支部", 40, 38, 2, 1, "核查完成", 2, 1, 1, 1, 3, 2),
    p.BranchLine("二支部", 25, 20, 0, 3, "未核查", 1, 1, 0, 0, 1, 1),
)


def read(data: bytes):  # type: ignore[no-untyped-def]
    return Document(io.BytesIO(data))


def headings(doc) -> list[str]:  # type: ignore[no-untyped-def]
    return [x.text for x in doc.paragraphs if x.style.name.startswith("Heading")]


def table_by_caption(doc, caption: str):  # type: ignore[no-untyped-def]
    """The table right after the bold caption paragraph that starts with ``caption``."""
    body = doc.element.body
    found = False
    for child in body.iterchildren():
        if child.tag.endswith("}p") and "".join(child.itertext()).startswith(caption):
            found = True
        elif found and child.tag.endswith("}tbl"):
            return next(t for t in doc.tables if t._tbl is child)
    raise AssertionError(caption)


def rows(table) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return [[c.text for c in r.cells] for r in table.rows]


def test_report_headings_seed_000_and_seed_004() -> None:
    """综合情况报告: 排查工作开展情况、“失联”党员的数量结构分布和原因、成效和经验、
    存在的问题、下一步工作打算, each prose section a headed blank."""
    doc = read(p.render_report(HEAD, LINES, FIGURES))
    assert doc.paragraphs[0].text == "党员组织关系集中排查综合情况报告"
    assert headings(doc) == list(p.REPORT_HEADINGS)
    blanks = [x.text for x in doc.paragraphs if x.text.startswith("（请填写：")]
    assert len(blanks) >= 5
    assert any("“失联”原因" in b for b in blanks)


def test_report_figures_and_totals() -> None:
    doc = read(p.render_report(HEAD, LINES, FIGURES))
    branches = rows(table_by_caption(doc, "表2"))
    assert branches[0] == list(p.BRANCH_HEADERS)
    assert branches[1][:6] == ["一支部", "40", "3", "2", "1", "1"]
    assert branches[-1][:6] == ["合计", "65", "5", "3", "2", "1"]
    reason = rows(table_by_caption(doc, "表3"))
    assert reason[1] == ["①外出务工经商", "2", "1", "3", "60.0%"]
    assert reason[-1] == ["合计", "3", "2", "5", "100%"]
    sweep = rows(table_by_caption(doc, "表1"))
    assert sweep[-1][:5] == ["合计", "65", "58", "2", "4"]
    text = "\n".join(x.text for x in doc.paragraphs)
    assert "排查前在册党员65名" in text and "经查找取得联系3名" in text
    assert "主要情形是①外出务工经商（3名）" in text
    direction = rows(table_by_caption(doc, "表8"))
    assert direction[2] == ["④跨省流动", "3", "75.0%"]


def test_marking_in_header_and_stamp_in_footer_and_properties_R_CONFIDENTIAL() -> None:
    doc = read(p.render_report(HEAD, LINES, FIGURES))
    section = doc.sections[0]
    assert section.header.paragraphs[0].text == MARKING
    assert STAMP in section.footer.paragraphs[0].text
    props = doc.core_properties
    assert props.author == STAMP and STAMP in props.comments and MARKING in props.comments
    assert props.title == p.REPORT_TITLE
    assert round(section.page_width.cm, 1) == 21.0  # A4


def report_of(line: p.BranchLine) -> p.BranchReport:
    return p.BranchReport(
        line=line,
        figures=FIGURES,
        checks=(p.CheckLine("1. 名册/信息库", 38, 1, 1, 0),),
        findings=(("赵测一", "入党材料缺转正申请书", "待整改"),),
        open_items=(("钱示二", "3. 党费和组织生活", "待完善", "党费记录待补"),),
        lost=(("孙样三", "正在查找", "2025年3月10日", "1年8个月", 4, "部门协查"),),
        mobile=(("李例四", "跨省流动", "某省某市", "未报到"),),
        pocket=(("周虚五", "2026年1月5日", "某虚构单位党委", "正在查找"),),
    )


def test_branch_report_seed_004_sections_and_names() -> None:
    """核查情况报告: 落实流动党员管理措施、理顺“空挂”党员组织关系、寻找“失联”党员的途径办法、
    处理“失联”党员的初步建议 (seed 004 二(二)2)."""
    head = p.Masthead(p.BRANCH_REPORT_TITLE, "一支部", TODAY, STAMP)
    doc = read(p.render_branch_report(head, [report_of(LINES[0])]))
    assert headings(doc) == list(p.BRANCH_HEADINGS)
    assert rows(table_by_caption(doc, "表7"))[1] == [
        "孙样三",
        "正在查找",
        "2025年3月10日",
        "1年8个月",
        "4",
        "部门协查",
    ]
    assert rows(table_by_caption(doc, "表1"))[1] == ["1. 名册/信息库", "38", "1", "1", "0"]
    assert rows(table_by_caption(doc, "表2"))[1][0] == "赵测一"
    assert doc.sections[0].header.paragraphs[0].text == MARKING


def test_branch_report_of_a_committee_has_each_branch() -> None:
    head = p.Masthead(p.BRANCH_REPORT_TITLE, "示例党委", TODAY, STAMP)
    doc = read(p.render_branch_report(head, [report_of(LINES[0]), report_of(LINES[1])]))
    assert headings(doc).count(p.B_BASICS) == 2
    titles = [x.text for x in doc.paragraphs if x.style.name == "Title"]
    assert titles == [p.BRANCH_REPORT_TITLE] * 2
    text = [x.text for x in doc.paragraphs]
    assert "一支部" in text and "二支部" in text


def test_render_jobs_pickle() -> None:
    args = (HEAD, LINES, FIGURES)
    assert pickle.loads(pickle.dumps((p.render_report, args)))[1] == args
