"""The summary forms' layout (reports.forms.summaries) from invented rows: the
seed's titles and header wording, the merged group headers, codes as the notes
write them (①…), the A–Z letter row of seed 003 附件2, the footer, the marking;
read back with openpyxl and python-calamine."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import openpyxl
from python_calamine import CalamineWorkbook

from reports.builder import MARKING
from reports.forms.summaries import (
    DISPOSAL_TITLE,
    LOST_TITLE,
    OUTFLOW_LETTERS,
    OUTFLOW_TITLE,
    disposal_columns,
    lost_columns,
    mobile_columns,
    org_line,
    pocket_columns,
    render_outflow,
    render_summary,
    survey_columns,
)

TODAY = date(2026, 12, 4)
STAMP = "测试员 2026-12-04 09:00 导出"

# seed 003 附件2, as printed (its half-width punctuation kept).
SEED_003_GROUPS = ["性别", "年龄", "文化程度", "从事行业或流动原因", "流向区域"]
SEED_003_COLUMNS = [
    "男",
    "女",
    "35岁以下",
    "35岁至59岁",
    "60岁及以上",
    "高中(中专)以下",
    "大专",
    "本科及以上",
    "个体经商",
    "在工程、建筑行业务工",
    "两新组织员工(职工)",
    "单位(公司)派驻外地工作",
    "快递员",
    "外卖送餐员",
    "网约车司机",
    "货车司机",
    "照顾家庭或异地居住",
    "灵活就业",
    "已毕业但尚未就业",
    "其他",
    "备注(如存在U栏情况, 请注明主要情形及相应人数)",
    "市州内",
    "市外省内",
    "省外",
]
SEED_003_SINGLE = [
    "流出党员人数",
    "在集中排查中, 经督促已转移正式组织关系的党员人数",
    "已向流入地党组织报到的党员人数",
]


def _read(content: bytes) -> tuple[Any, list[list[Any]]]:
    book = openpyxl.load_workbook(io.BytesIO(content))
    assert book.properties.subject == MARKING
    calamine = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0)
    return book.worksheets[0], calamine.to_python()


def test_outflow_stats_branch_layout_is_the_seeds() -> None:
    """seed 003 附件2 for one branch: 党支部名称: header, A–Z exactly (no name
    column), the letter row, the group merges, the notes and the footer."""
    row = [3, 2, 1, 1, 1, 1, 0, 2, 1, *([0] * 11), 2, "照看孙辈2人", 1, 1, 1, 0, 1]
    content = render_outflow(
        org_line("一支部", committee=False, colon=":"), [row], TODAY, STAMP, False
    )
    sheet, values = _read(content)
    assert values[0][0] == OUTFLOW_TITLE
    assert values[1][0] == "党支部名称:一支部"
    assert "负责人姓名及职务:" in values[1] and "联系电话:" in values[1]
    heads, subs, letters = values[2], values[3], values[4]
    assert [h for h in heads if h] == [SEED_003_SINGLE[0], *SEED_003_GROUPS, *SEED_003_SINGLE[1:]]
    assert subs[1:25] == SEED_003_COLUMNS
    assert letters == list(OUTFLOW_LETTERS) == [*"ABCDEFGHIJKLMNOPQRSTU", "", *"VWXYZ"]
    assert len(letters) == 27
    merged = {str(r) for r in sheet.merged_cells.ranges}
    assert {"A3:A4", "B3:C3", "D3:F3", "G3:I3", "J3:V3", "W3:Y3", "Z3:Z4", "AA3:AA4"} <= merged
    assert values[5][21] == "照看孙辈2人"
    assert sheet.freeze_panes == "A5"
    texts = [str(c) for r in values[6:] for c in r if c]
    assert any(t.startswith("注: 1.表间关系: A=B+C=D+E+F=G+H+I=J+") for t in texts)
    assert any("(Y项) 不统计在流出党员人数中" in t for t in texts)
    assert {"审核领导:", "填表人:", "联系电话:", "填表日期：2026年12月4日"} <= set(texts)


def test_lost_summary_headers_from_the_notes() -> None:
    """seed 001 附件7 / seed 000 附件3: 排查前在册党员人数 (note 2), the lost split
    (附件9 note 2), 失去联系情形 ①–⑦ and 职业 ①–⑧ as 附件5/6 word them, 补充资料
    “口袋”党员人数 (note 4)."""
    columns = lost_columns()
    headers = [c.header for c in columns]
    assert headers[:5] == [
        "党组织名称",
        "排查前在册党员人数",
        "合计",
        "经查找取得联系党员",
        "经查找仍然无法取得联系党员",
    ]
    assert [h for h in headers if h[0] in "①②③④⑤⑥⑦"][:7] == [
        "①外出务工经商",
        "②单位改制或破产",
        "③毕业后去向不明",
        "④工作单位改变",
        "⑤出国（境）",
        "⑥居住地改变",
        "⑦其他",
    ]
    assert "⑦组织关系在人才中心人员" in headers and "⑧其他" in headers
    assert "“口袋”党员人数" in headers
    width = len(columns)
    rows = [["一支部", *range(1, width)], ["合计", *range(1, width)]]
    sheet, values = _read(
        render_summary("lost_summary", org_line("示例党委", committee=True), rows, TODAY, STAMP)
    )
    assert values[0][0] == LOST_TITLE
    assert values[1][0] == "党组织名称：示例党委"
    assert values[2][2] == "与党组织失去联系党员"
    assert {"A3:A4", "B3:B4", "C3:E3", "F3:G3"} <= {str(r) for r in sheet.merged_cells.ranges}
    assert [values[4][0], values[5][0]] == ["一支部", "合计"]
    notes = [str(c) for r in values[6:] for c in r if c]
    assert any("各栏统计经查找仍然无法取得联系党员" in t and "不仅仅指失联党员" in t for t in notes)


def test_other_summaries_word_their_codes_as_the_notes() -> None:
    """附件8 (外出流动: 职业 ①–⑤, 外出流向 ①–⑥ of 附件4), 附件9 (管理及处置: notes
    4–6), seed 000 附件8 (口袋) and 附件9 (摸底核查, by 人员类别)."""
    mobile = [c.header for c in mobile_columns()]
    assert "①企业解除劳动关系人员" in mobile and "⑤其他" in mobile
    assert "①县域范围内流动" in mobile and "⑥无固定地点" in mobile
    disposal = disposal_columns()
    groups = {c.group for c in disposal}
    assert {"与党组织失去联系党员", "规范管理", "组织处置"} <= groups
    assert [c.header for c in disposal if c.group == "组织处置"] == [
        "限期改正",
        "劝退",
        "除名",
        "停止党籍",
    ]
    assert disposal[-1].header == "纪律处分" and disposal[-1].group is None
    assert pocket_columns()[2].group == "“口袋”党员"
    assert survey_columns()[0].header == "人员类别"
    width = len(disposal)
    _sheet, values = _read(
        render_summary(
            "disposal_summary",
            org_line("一支部", committee=False),
            [["一支部", *([0] * (width - 1))]],
            TODAY,
            STAMP,
        )
    )
    assert values[0][0] == DISPOSAL_TITLE
    assert values[1][0] == "党支部名称：一支部"
    assert any("“组织处置”和“纪律处分”可以有交叉" in str(c) for r in values for c in r)
