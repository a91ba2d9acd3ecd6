"""The one-member forms rendered from invented data and read back with openpyxl
and python-calamine: the 党员基本信息表 (seed 001 附件1) as the paper form's
label/value grid, and the 一人一档 workbook (R-DOSSIER). Pure: no database
(tests/storage/test_form_member.py goes through the collectors)."""

from __future__ import annotations

import io
import pickle
from datetime import date, datetime

from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

from reports.builder import MARKING, Column, Form, Span, build_workbook, layout
from reports.forms import member as m
from tests import factories

TODAY = date(2026, 12, 4)
STAMP = "测试员 2026-12-04 09:00 导出"


def calamine(data: bytes, index: int = 0) -> list[list[object]]:
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return book.get_sheet_by_index(index).to_python()


def sheet_names(data: bytes) -> list[str]:
    return CalamineWorkbook.from_filelike(io.BytesIO(data)).sheet_names


def texts(rows: list[list[object]]) -> list[str]:
    return [str(c) for row in rows for c in row if c not in (None, "")]


def info(**kw: object) -> m.MemberInfo:
    values = factories.member_values(
        3,
        ethnicity="汉族",
        marital_status="已婚",
        phone=factories.phone(3),
        last_org_life=date(2025, 3, 10),
        work_unit_has_org=True,
        remarks="虚构人员",
    )
    base: dict[str, object] = {
        "branch": "第一测试党支部",
        "today": TODAY,
        "values": tuple(values.items()),
        "mobile": None,
        "family": (m.Relative("配偶", "钱示二", "某虚构公司", factories.phone(4)),),
        "stamp": STAMP,
    }
    base.update(kw)
    return m.MemberInfo(**base)  # type: ignore[arg-type]


def pairs(rows: list[list[object]]) -> dict[str, object]:
    """Label → the value cell right of it, over the whole grid (openpyxl reads
    merged value cells as the top-left cell)."""
    found: dict[str, object] = {}
    for row in rows:
        for k, cell in enumerate(row[:-1]):
            if isinstance(cell, str) and cell and cell not in found:
                found[cell] = row[k + 1]
    return found


# ---------------------------------------------------------------- builder: grid


def test_builder_grid_merges_spans_and_has_no_header_row() -> None:
    """The builder's label/value sheet (党员基本信息表): Span cells merge across
    columns, labels are bold; no freeze panes or repeated header rows."""
    form = Form(
        title="示例",
        header_lines=(("党支部名称：测试",),),
        columns=(Column("", 10), Column("", 10), Column("", 10)),
        footer_lines=(("填表人：",),),
        grid=True,
        stamp=STAMP,
    )
    assert layout(form).first_data_row == 3
    data = build_workbook(form, [[Span("姓名", label=True), Span("赵测一", 2)], ["a", "b", "c"]])
    ws = load_workbook(io.BytesIO(data)).active
    assert {str(r) for r in ws.merged_cells.ranges} >= {"A1:C1", "B3:C3"}
    assert ws["A3"].value == "姓名" and ws["A3"].font.b and ws["B3"].value == "赵测一"
    assert [c.value for c in ws[4]] == ["a", "b", "c"]
    assert ws.freeze_panes is None and ws.print_title_rows is None
    assert ws.oddHeader.right.text == MARKING and ws.oddFooter.right.text == STAMP
    assert calamine(data)[2][:2] == ["姓名", "赵测一"]
    streamed = build_workbook(
        form, [[Span("姓名", label=True), Span("赵测一", 2)]], write_only=True
    )
    ws = load_workbook(io.BytesIO(streamed)).active
    assert "B3:C3" in {str(r) for r in ws.merged_cells.ranges}
    assert calamine(streamed)[2][:2] == ["姓名", "赵测一"]


# ---------------------------------------------------------------- 附件1


def test_member_info_seed_001_attachment_1_grid() -> None:
    """党员基本信息表: the basic information, the 流动信息 block (note 6), the 出国（境）
    block (note 7), the family rows (note 8), the footer; print-ready A4."""
    mobile = m.MobileInfo(
        direction="4",
        reason="J",
        reason_note=None,
        certificate_no="LD-0001",
        work_unit="某虚构商行",
        destination="某省某市",
        left_on=date(2025, 5, 1),
        reported_branch="某社区党支部",
        reported_contact="周例四",
        reported_post="书记",
        reported_phone=factories.phone(9),
    )
    data = m.render_member_info(info(mobile=mobile))
    rows = calamine(data)
    assert rows[0][0] == "党员基本信息表"
    assert rows[1][0] == "党支部名称：第一测试党支部"
    got = pairs(rows)
    person = factories.member_values(3)
    assert got["姓名"] == person["name"]
    assert got["身份证号"] == person["id_number"]
    assert got["婚姻状况"] == "已婚"
    assert got["党员类别"] == "正式党员"
    assert got["单位是否建有党组织"] == "是"
    assert got["最近一次参加组织生活日期"] == "2025年3月10日"
    assert got["外出流向"] == "跨省流动"
    assert got["外出原因"] == "个体经商"
    assert got["流动党员活动证编号"] == "LD-0001"
    assert got["报到党支部联系人及职务"] == "周例四 书记"
    for label in ("出国日期", "出国原因", "出国后与组织联系情况", "党籍处理方式", "回国日期"):
        assert label in got
    flat = texts(rows)
    for block in (m.MOBILE_BLOCK, m.ABROAD_BLOCK, m.FAMILY_BLOCK):
        assert block in flat
    family_head = next(k for k, row in enumerate(rows) if row[0] == "称谓")
    assert rows[family_head + 1][:2] == ["配偶", "钱示二"]
    assert any(str(c).startswith("填表日期：2026年12月4日") for c in flat)
    ws = load_workbook(io.BytesIO(data)).active
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert "A1:F1" in merged  # the title
    id_row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 3).value == "身份证号")
    assert f"D{id_row}:F{id_row}" in merged
    assert int(ws.page_setup.paperSize) == 9 and ws.page_setup.orientation == "portrait"
    assert ws.oddHeader.right.text == MARKING


def test_member_info_without_mobile_leaves_the_block_blank_note_6() -> None:
    """附件1 note 6: 非流动党员不填写."""
    got = pairs(calamine(m.render_member_info(info())))
    assert got["外出流向"] in ("", None) and got["流入单位"] in ("", None)


ABROAD = {
    "abroad_date": "2024-03-10",
    "abroad_reason": "留学",
    "abroad_contact": "定期",
    "abroad_party_status": "保留党籍三年以上",
    "return_date": "2026-07",
    "org_life_restored": "已申请未恢复",
}
ABROAD_READ = {
    "出国日期": "2024年3月10日",
    "出国原因": "留学",
    "出国后与组织联系情况": "定期",
    "党籍处理方式": "保留党籍三年以上",
    "回国日期": "2026年7月",
    "恢复组织生活情况": "已申请未恢复",
}


def openpyxl_rows(data: bytes) -> list[list[object]]:
    ws = load_workbook(io.BytesIO(data)).active
    return [list(row) for row in ws.iter_rows(values_only=True)]


def test_member_info_abroad_block_from_the_record_note_7() -> None:
    """附件1 note 7: the 出国（境）情况 block carries the record's six items, read
    back alike by openpyxl and python-calamine, under the block's heading."""
    values = dict(info().values) | ABROAD
    data = m.render_member_info(info(values=tuple(values.items())))
    for rows in (calamine(data), openpyxl_rows(data)):
        got = pairs(rows)
        assert {label: got[label] for label in ABROAD_READ} == ABROAD_READ
        block = next(k for k, row in enumerate(rows) if row[0] == m.ABROAD_BLOCK)
        assert rows[block + 1][0] == "出国日期" and rows[block + 2][0] == "党籍处理方式"


def test_member_info_abroad_date_falls_back_to_a_mobile_record_abroad() -> None:
    """No 出国日期 in the record: a mobile registration 流向 出国（境） dates it;
    a record's own date wins over it; no record and no such registration: blank."""
    mobile = m.MobileInfo(
        direction="5",
        reason=None,
        reason_note=None,
        certificate_no=None,
        work_unit=None,
        destination="某国某市",
        left_on=date(2025, 5, 1),
        reported_branch=None,
        reported_contact=None,
        reported_post=None,
        reported_phone=None,
    )
    got = pairs(calamine(m.render_member_info(info(mobile=mobile))))
    assert got["出国日期"] == "2025年5月1日" and got["出国原因"] in ("", None)
    values = dict(info().values) | {"abroad_date": "2024-03"}
    both = info(mobile=mobile, values=tuple(values.items()))
    assert pairs(calamine(m.render_member_info(both)))["出国日期"] == "2024年3月"
    blank = pairs(calamine(m.render_member_info(info())))
    assert all(blank[label] in ("", None) for label in ABROAD_READ)


# ---------------------------------------------------------------- 一人一档


def attempt(k: int, **kw: object) -> m.AttemptRow:
    values: dict[str, object] = {
        "id": k,
        "attempted_on": date(2026, 11, k),
        "channel": "phone",
        "contact_person": None,
        "result": "not_reached",
        "note": None,
        "recorded_by": "孙样三",
        "recorded_at": datetime(2026, 11, k, 10, 30),
        "evidence": 0,
    }
    values.update(kw)
    return m.AttemptRow(**values)  # type: ignore[arg-type]


def dossier_bytes() -> bytes:
    attempts = [
        attempt(1, superseded_by_id=3, evidence=2),
        attempt(2, channel="relative", contact_person="钱示二", result="lead", note="在外地"),
        attempt(3, channel="sms", replaces_id=1),
    ]
    outcomes = [
        m.OutcomeRow(
            kind="found",
            decided_on=date(2026, 11, 20),
            lost_reason="6",
            lost_reason_note=None,
            occupation="3",
            org_category="7",
            had_misconduct=False,
            misconduct_note=None,
            misconduct_check="self",
            attitude="愿意回归组织",
            is_pocket=False,
            note=None,
            recorded_by="孙样三",
            recorded_at=datetime(2026, 11, 20, 9, 0),
        )
    ]
    events = [
        m.EventRow(datetime(2026, 11, 1, 9, 0), "孙样三", "member", "create", None, None, "赵测一"),
        m.EventRow(
            datetime(2026, 11, 2, 9, 0), None, "member", "update", "marital_status", "未婚", "已婚"
        ),
        m.EventRow(datetime(2026, 11, 3, 9, 0), "孙样三", "sweep", "answer", "3", "pending", "ok"),
        m.EventRow(
            datetime(2026, 11, 4, 9, 0), "孙样三", "attempt", "correct", "channel", "phone", "sms"
        ),
    ]
    return m.render_dossier(info(), attempts, outcomes, events)


def test_dossier_sheets_and_headers_R_DOSSIER() -> None:
    data = dossier_bytes()
    assert sheet_names(data) == ["基本信息", "查找记录", "查找结果", "全部记录", "处置决定"]
    assert load_workbook(io.BytesIO(data)).sheetnames == sheet_names(data)
    assert pairs(calamine(data, 0))["姓名"] == factories.member_values(3)["name"]
    attempts = calamine(data, 1)
    assert attempts[0][0].startswith("查找联系失联党员情况记录表")
    assert attempts[2][0] == "与党组织失去联系时间：1年8个月又10天"
    assert "与党组织失去联系原因：⑥居住地改变" in attempts[2]
    head = attempts[3]
    assert [c.header for c in m.ATTEMPT_COLUMNS] == head[: len(m.ATTEMPT_COLUMNS)]
    assert "凭证（份）" in head and "记录人" in head and "更正情况" in head


def test_dossier_attempts_keep_the_corrected_one_marked_R_DOSSIER() -> None:
    """查找记录: every attempt, a corrected one stays and is marked 已更正."""
    for rows in (calamine(dossier_bytes(), 1), _openpyxl_rows(dossier_bytes(), 1)):
        data_rows = [r for r in rows[4:] if isinstance(r[0], int | float) and r[0]]
        assert len(data_rows) == 3
        first, second, third = data_rows
        assert first[1] == "2026-11-01" and first[3] == "打电话" and first[7] == 2
        assert first[4] == "本人"  # as the 附件3 register words a call to the member
        assert first[10] == "已更正（见第3条）"
        assert second[2] == "知情人" and second[4] == "钱示二" and second[5] == "获得线索"
        assert second[8] == "孙样三" and second[9] == "2026-11-02 10:30"
        assert third[10] == "更正第1条"


def _openpyxl_rows(data: bytes, index: int) -> list[list[object]]:
    ws = load_workbook(io.BytesIO(data)).worksheets[index]
    return [list(r) for r in ws.iter_rows(values_only=True)]


def test_dossier_outcomes_and_events_in_order_R_DOSSIER() -> None:
    data = dossier_bytes()
    outcome = next(r for r in calamine(data, 2) if r[0] == 1)
    assert outcome[1:4] == ["经查找取得联系", "2026-11-20", "⑥居住地改变"]
    assert outcome[4] == "③农村外出务工经商人员" and outcome[5] == "⑦街道社区"
    assert outcome[6] == "无" and outcome[8] == "本人情况说明" and outcome[-1] == "现行"
    events = [r for r in calamine(data, 3) if isinstance(r[0], int | float) and r[0]]
    assert [r[1] for r in events] == sorted(r[1] for r in events)
    assert events[0][2] == "孙样三" and events[0][3] == "登记入册"
    assert events[1][2] == "系统"
    assert events[1][4:7] == ["婚姻状况", "未婚", "已婚"]
    assert events[1][7] == "修改 婚姻状况：未婚 → 已婚"
    assert events[2][7] == "五核查 3. 党费和组织生活：✔ 符合（原为待完善）"
    assert events[3][7] == "更正查找记录 查找方式：打电话 → 发短信"
    decisions = calamine(data, 4)
    assert [c.header for c in m.DECISION_COLUMNS] == decisions[2][: len(m.DECISION_COLUMNS)]
    assert "暂无" in texts(decisions)


def test_dossier_wording_is_the_cards_table() -> None:
    """The workbook and the card's 档案 view word events from one table."""
    from handlers import dossier

    assert m.ACTIONS is dossier.ACTIONS
    assert m.ACTIONS[("export", "export")] == "导出"


def test_render_jobs_pickle() -> None:
    """They run in a worker process: the function and its data pickle."""
    args = (info(), [attempt(1)], [], [])
    assert pickle.loads(pickle.dumps((m.render_dossier, args)))[1][0] == info()
