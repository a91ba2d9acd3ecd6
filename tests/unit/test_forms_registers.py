"""The registers (登记表 / 名册) rendered from invented data, read back with
openpyxl and python-calamine: title, merged group headers, header wording as
the seeds give it, codes as the notes write them (①…), and the forms'
relations. Pure: no database (tests/storage/test_form_registers.py goes
through it)."""

from __future__ import annotations

import io
from datetime import date

from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

from domain.member_fields import FIELDS
from domain.roster import find_header, parse_rows
from reports.builder import layout
from reports.forms import registers as r
from tests import factories

TODAY = date(2026, 12, 4)
BRANCH = r.Scope("第一测试党支部", False, TODAY, "测试员 2026-12-04 09:00 导出")
COMMITTEE = r.Scope("测试党委", True, TODAY, "测试员 2026-12-04 09:00 导出")


def calamine(data: bytes, index: int = 0) -> list[list[object]]:
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return book.get_sheet_by_index(index).to_python()


def sheet(data: bytes, index: int = 0):  # type: ignore[no-untyped-def]
    return load_workbook(io.BytesIO(data)).worksheets[index]


def merged(data: bytes, index: int = 0) -> set[str]:
    return {str(m) for m in sheet(data, index).merged_cells.ranges}


def header_texts(data: bytes, form_top: int, index: int = 0) -> list[str]:
    """Column labels: the lower header row where a group sits above."""
    rows = calamine(data, index)
    top, bottom = rows[form_top - 1], rows[form_top]
    return [str(b or t) for t, b in zip(top, bottom, strict=False)]


def person(i: int) -> dict[str, object]:
    return factories.member_values(i)


def outcome(i: int, **kw: object) -> r.OutcomeRow:
    v = person(i)
    values: dict[str, object] = {
        "branch": "第一测试党支部",
        "name": v["name"],
        "gender": v["gender"],
        "birth": v["birth"],
        "joined": v["joined"],
        "member_type": "正式",
        "id_number": v["id_number"],
        "last_contact": date(2025, 3, 10),
        "decided_on": date(2026, 11, 20),
        "occupation": "3",
        "lost_reason": "1",
        "lost_reason_note": None,
        "org_category": "7",
        "had_misconduct": False,
        "misconduct_check": "self",
    }
    values.update(kw)
    return r.OutcomeRow(**values)  # type: ignore[arg-type]


# ---------------------------------------------------------------- 附件5 / 附件6


def test_found_register_seed_001_attachment_5_codes_and_headers() -> None:
    rows = [outcome(1), outcome(2, lost_reason="7", lost_reason_note="随子女迁居", pocket=True)]
    data = r.render_outcome_register("found", BRANCH, rows)
    cells = calamine(data)
    assert cells[0][0] == "经查找取得联系党员登记表"
    assert cells[1][0] == "党支部名称：第一测试党支部"
    at = layout(r.outcome_form("found", BRANCH))
    heads = header_texts(data, at.header_top)
    assert heads[:12] == [
        "序号", "姓名", "性别", "出生年月", "入党时间", "党员类别", "身份证号",
        "与党组织失去联系时间", "职业", "失去联系情形", "党组织类别", "取得联系时间",
    ]  # fmt: skip
    assert "有无" in heads and "核实方式" in heads and heads[-1] == "备注"
    # the group header 失联期间有无不合格表现或违纪违法行为 spans its three columns
    assert cells[at.header_top - 1][12] == r.MISCONDUCT_GROUP
    assert f"M{at.header_top}:O{at.header_top}" in merged(data)
    first = cells[at.first_data_row - 1]
    assert first[0] == 1 and first[8] == "③" and first[9] == "①" and first[10] == "⑦"
    assert first[7] == "1年8个月又10天"  # 2025-03-10 → 2026-11-20 (附件5 note 3)
    assert first[6] == rows[0].id_number  # text, all 18 digits
    assert first[11] == "2026-11-20" and first[12] == "无" and first[13] == "本人情况说明"
    second = cells[at.first_data_row]
    assert second[9] == "⑦" and "“口袋”党员" in second[-1] and "随子女迁居" in second[-1]
    texts = [str(c) for row in cells for c in row if c]
    assert any("⑦街道社区" in t for t in texts)  # 附件5's list keeps 街道社区
    assert texts[-1].startswith("填表日期：2026年12月4日")


def test_unreachable_register_seed_001_attachment_6_has_no_street_community() -> None:
    """附件6 note 6: the list without 街道社区 — ⑦ is 社会组织 there (SPEC §6)."""
    data = r.render_outcome_register("unreachable", BRANCH, [outcome(3, org_category="7")])
    cells = calamine(data)
    assert cells[0][0] == "经查找仍然无法取得联系党员登记表"
    note = next(str(row[0]) for row in cells if str(row[0]).startswith("党组织类别："))
    assert note == (
        "党组织类别：按以下代码填写。①国有企业；②非公有制企业；③农村；④党政机关；⑤学校；"
        "⑥其他事业单位；⑦社会组织；⑧其他。"
    )
    at = layout(r.outcome_form("unreachable", BRANCH))
    heads = header_texts(data, at.header_top)
    assert "取得联系时间" not in heads and r.MISCONDUCT_GROUP not in heads
    ws = sheet(data)
    choices = [dv.formula1 for dv in ws.data_validations.dataValidation]
    assert '"①,②,③,④,⑤,⑥,⑦,⑧"' in choices and '"①,②,③,④,⑤,⑥,⑦,⑧,⑨"' not in choices


def test_outcome_register_refuses_missing_codes_naming_members() -> None:
    rows = [
        outcome(1, lost_reason=None),
        outcome(2, lost_reason=None),
        outcome(3, org_category="9"),
        outcome(4, lost_reason="7"),
        outcome(5, last_contact=None),
    ]
    problems = r.outcome_problems("unreachable", rows)
    assert any(p.startswith("2名党员的失去联系情形未填写：") for p in problems)
    assert any("党组织类别代码9" in p and rows[2].name in p for p in problems)
    assert any("其他" in p and rows[3].name in p for p in problems)
    assert any("无从计算" in p and rows[4].name in p for p in problems)
    assert r.outcome_problems("found", [outcome(3, org_category="9")]) == []


def test_outcome_register_committee_lists_branch_column() -> None:
    data = r.render_outcome_register("found", COMMITTEE, [outcome(1, branch="第二测试党支部")])
    cells = calamine(data)
    assert cells[1][0] == "党组织名称：测试党委"
    at = layout(r.outcome_form("found", COMMITTEE))
    assert header_texts(data, at.header_top)[:3] == ["序号", "党支部", "姓名"]
    assert cells[at.first_data_row - 1][1] == "第二测试党支部"


# ---------------------------------------------------------------- 附件3


def test_attempt_log_seed_001_attachment_3_one_row_per_attempt() -> None:
    attempts = (
        r.AttemptLine(date(2026, 11, 2), "phone", None, "not_reached", "空号", "测试员"),
        r.AttemptLine(date(2026, 11, 5), "relative", "吴示例", "lead", None, "测试员"),
    )
    member = r.AttemptMember(
        "第一测试党支部", "孙测三", date(2025, 1, 31), TODAY, "7", "长期照顾老人", None, attempts
    )
    data = r.render_attempt_log(BRANCH, [member])
    cells = calamine(data)
    assert cells[0][0] == "查找联系失联党员情况记录表"
    top = 3  # title, header block, then the headers
    heads = header_texts(data, top)
    assert heads == [
        "序号", "姓名", "与党组织失去联系时间", "与党组织失去联系原因",
        "查找日期", "查找方式", "联系对象", "查找结果", "情况记录", "记录人", "调查核实情况",
    ]  # fmt: skip
    assert cells[top - 1][4] == r.ATTEMPT_GROUP and f"E{top}:J{top}" in merged(data)
    assert "A3:A4" in merged(data)  # 序号 spans both header rows
    first, second = cells[top + 1], cells[top + 2]
    assert first[:4] == [1, "孙测三", "1年10个月又4天", "其他（长期照顾老人）"]
    assert first[4:8] == ["2026-11-02", "打电话", "本人", "未取得联系"]
    assert second[:4] == ["", "", "", ""] and second[5:8] == ["亲属", "吴示例", "获得线索"]


# ---------------------------------------------------------------- 附件4


def test_mobile_register_seed_001_attachment_4_codes() -> None:
    row = r.MobileRow(
        "第一测试党支部", "赵测一", "男", "1978-08", "2003-08", "大专", "4",
        date(2026, 3, 1), "3", "M", None, "示范省示范市", "示范工程公司", "LD0001",
        "13900000001",
    )  # fmt: skip
    data = r.render_mobile_register(BRANCH, [row])
    cells = calamine(data)
    assert cells[0][0] == "外出流动党员登记表"
    heads = [str(c) for c in cells[2]]  # one header row: no group headers on 附件4
    assert heads[:8] == [
        "序号",
        "姓名",
        "性别",
        "出生年月",
        "入党时间",
        "文化程度",
        "职业",
        "外出时间",
    ]
    assert "外出流向" in heads and "党组织类型" in heads
    line = cells[3]
    assert line[heads.index("职业")] == "④" and line[heads.index("外出流向")] == "③"
    assert line[heads.index("出生年月")] == "1978.08"
    texts = " ".join(str(c) for row in cells for c in row if c)
    assert "⑩其他" in texts and "⑥无固定地点" in texts and "此表不包括失联党员" in texts


# ---------------------------------------------------------------- seed 000 附件7


def test_pocket_register_seed_000_attachment_7() -> None:
    row = r.PocketRow(
        "第一测试党支部", "周测五", "女", "1990-02", "2015-06", None, None,
        date(2026, 1, 5), "示范街道党工委", 243, "尚未查找",
    )  # fmt: skip
    data = r.render_pocket_register(BRANCH, [row], 90)
    cells = calamine(data)
    assert cells[0][0] == "“口袋”党员登记表"
    heads = header_texts(data, 3)
    assert cells[2][heads.index("介绍信开出日期")] == "组织关系转出"
    assert cells[3][heads.index("接收单位")] == "接收单位"
    assert {"H3:I3", "A3:A4", "K3:K4"} <= merged(data)  # 组织关系转出 over its two columns
    line = cells[4]
    assert line[heads.index("介绍信开出日期")] == "2026-01-05"
    assert line[heads.index("超过回执期限天数")] == 243
    assert line[heads.index("查找情况")] == "尚未查找"


# ---------------------------------------------------------------- seed 003 附件1


def outflow(i: int, **kw: object) -> r.OutflowRow:
    v = person(i)
    values: dict[str, object] = {
        "name": v["name"],
        "gender": v["gender"],
        "ethnicity": "汉族",
        "birth": "1978-08",
        "joined": "2003-08",
        "id_number": v["id_number"],
        "education": "大专",
        "work_unit": "示范工程公司",
        "unit_has_org": True,
        "residence": "示范省示范市示范县示范街道示范社区",
        "phone": "13900000002",
        "reason": "K",
        "reason_note": None,
        "reported_branch": "示范社区党支部",
        "reported_contact": "冯示例",
        "reported_post": "书记",
        "reported_phone": "13900000099",
    }
    values.update(kw)
    return r.OutflowRow(**values)  # type: ignore[arg-type]


def test_outflow_register_seed_003_attachment_1_columns_exactly() -> None:
    data = r.render_outflow_register(
        BRANCH, ["第一测试党支部"], [[outflow(1), outflow(2, reason="U", reason_note="陪读")]]
    )
    cells = calamine(data)
    assert cells[0][0] == "流出党员基本信息登记表"
    assert [cells[1][0], cells[2][0], cells[3][0]] == [
        "党支部名称：第一测试党支部",
        "党支部负责人姓名及职务：",
        "联系电话：",
    ]
    top, bottom = cells[4], cells[5]
    assert top == [
        "序号", "姓名", "性别", "民族", "出生年月", "年龄", "入党时间", "身份证号", "文化程度",
        "现工作（学习）单位", "", "现居住地（流入地）", "本人联系电话", "从事行业或流动原因",
        "在流入地报到的党支部", "", "",
    ]  # fmt: skip
    assert bottom[9:11] == ["单位名称", "是否建立党组织"]
    assert bottom[14:17] == ["党支部名称", "联系人姓名及职务", "联系电话"]
    assert {"J5:K5", "O5:Q5", "A5:A6", "L5:L6"} <= merged(data)
    row = cells[6]
    assert row[4] == "197808" and row[6] == "200308"  # as the seed's sample row
    assert row[5] == 48  # 1978-08 → 2026-12-04
    assert row[10] == "是" and row[13] == "在工程、建筑行业务工"
    assert row[15] == "冯示例 书记"
    assert cells[7][13] == "其他（陪读）"
    texts = [str(c) for line in cells for c in line if c]
    assert r.OUTFLOW_NOTE in texts


def test_outflow_register_committee_one_sheet_per_branch() -> None:
    data = r.render_outflow_register(
        COMMITTEE, ["一支部", "二支部"], [[outflow(1)], [outflow(2), outflow(3)]]
    )
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["一支部", "二支部"]
    second = calamine(data, 1)
    assert second[1][0] == "党组织名称：测试党委" and second[2][0] == "党支部名称：二支部"
    assert [line[0] for line in second[7:9]] == [1, 2]


def test_age_is_as_of_the_form_date() -> None:
    assert r.age_on("1978-12", date(2026, 12, 4)) == 48
    assert r.age_on("1978-12-05", date(2026, 12, 4)) == 47
    assert r.age_on(None, TODAY) is None


# ---------------------------------------------------------------- 党员名册 (seed 001 附件2)


def roster_row(i: int) -> tuple[object, ...]:
    v = person(i)
    stored = {
        **v,
        "phone": factories.phone(i),
        "last_dues": date(2026, 10, 1),
        "work_unit_has_org": True,
    }
    return tuple(stored.get(spec.key) for spec in FIELDS)


def test_roster_export_reads_back_through_the_importer() -> None:
    rows = [roster_row(i) for i in range(3)]
    data = r.render_roster(BRANCH, ["第一测试党支部"], [rows])
    cells = calamine(data)
    assert cells[0][0] == "党员名册"
    assert cells[3][23] == "组织关系转出" and "X4:Z4" in merged(data)  # 介绍信/接收单位/回执
    header = find_header(cells[:10])
    parsed = parse_rows(enumerate(cells, 1), header, today=TODAY)
    assert not parsed.errors and not header.unknown
    assert [p.values["name"] for p in parsed.rows] == [row[0] for row in rows]
    first = parsed.rows[0].values
    assert first["id_number"] == rows[0][5] and first["last_dues"] == date(2026, 10, 1)
    assert first["member_type"] == "正式" and first["work_unit_has_org"] is True


def test_roster_committee_export_one_sheet_per_branch() -> None:
    data = r.render_roster(
        COMMITTEE, ["一支部", "二支部"], [[roster_row(1)], [roster_row(2), roster_row(3)]]
    )
    assert load_workbook(io.BytesIO(data)).sheetnames == ["一支部", "二支部"]
    second = calamine(data, 1)
    assert second[1][0] == "党组织名称：测试党委" and second[2][0] == "党支部名称：二支部"
    header = find_header(second[:10])
    parsed = parse_rows(enumerate(second, 1), header, today=TODAY)
    assert len(parsed.rows) == 2 and not parsed.errors


def test_sheet_names_are_legal_and_unique() -> None:
    names = r.sheet_names(["a/b", "a:b", "x" * 40])
    assert names[0] == "a_b" and names[1] == "a_b(2)" and len(names[2]) == 31
