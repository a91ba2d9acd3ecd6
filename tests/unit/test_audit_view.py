"""Audit views and masks (issue 18 point 2): masked values in every audit
view, the /audit workbook through the one form builder."""

from __future__ import annotations

import io
from datetime import date

from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

from domain.audit_view import masked, words
from domain.redact import mask_cjk, mask_numbers
from reports.forms.audit import TITLE, audit_workbook
from tests.factories import id_number, phone

ID = id_number(date(1985, 6, 15), serial=7)
X_ID = next(n for k in range(200) if (n := id_number(date(1990, 1, 1), serial=k)).endswith("X"))


def test_numbers_inside_text_are_masked_and_the_rest_kept():
    text = f"身份证{ID}，电话{phone(5)}，另一个{X_ID.lower()}，编号 12345"
    out = mask_numbers(text)
    assert ID not in out and phone(5) not in out and X_ID.lower() not in out
    assert ID[:4] + "*" * 10 + ID[-4:] in out and "139****0005" in out
    assert "12345" in out and "身份证" in out
    # +86 and spaced mobile numbers too; a longer digit run is not a phone.
    assert "8613900001234" not in mask_numbers("tel 8613900001234")
    assert mask_numbers("id 1234567890123456789012") == "id 1234567890123456789012"


def test_cjk_is_masked_character_for_character():
    assert mask_cjk("name=张示一 unit=示例大学 ok") == "name=＊＊＊ unit=＊＊＊＊ ok"


def test_personal_fields_are_masked_by_field_and_others_by_shape():
    assert masked("id_number", ID) == ID[:4] + "*" * 10 + ID[-4:]
    assert masked("phone", phone(1)) == "139****0001"
    assert masked("residence", "示例省示例市某路1号") == "示例********"
    assert masked("remarks", f"新号码{phone(2)}") == "新号码139****0002"
    assert masked("work_unit", "示例大学") == "示例大学"


def test_words_name_the_action_and_field_with_masked_values():
    said = words("member", "update", "phone", phone(1), phone(2))
    assert (said.action, said.field) == ("修改", "联系电话")
    assert said.change() == "139****0001 → 139****0002"
    assert words("member", "read", None, None, None).action == "查看党员卡片"
    assert words("role", "revoke", "secretary", "101", None).field == "支部书记"
    assert words("zzz", "yyy", None, None, None).action == "zzz/yyy"


def test_audit_workbook_reads_back_with_both_readers_and_evaluates_nothing():
    rows = [
        (
            "2026-11-25 10:00:00",
            "王书记",
            "修改",
            "张示一",
            "一支部",
            "联系电话",
            "139****0001",
            "=1+1",
        ),
    ]
    data = audit_workbook("示例党委", "全部记录", "李组织 2026-11-25 10:00 导出", rows)
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet["A1"].value == TITLE
    cells = [c for row in sheet.iter_rows() for c in row if c.value is not None]
    assert not any(c.data_type == "f" for c in cells)  # typed text never becomes a formula
    values = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()
    flat = [str(v) for row in values for v in row]
    assert "张示一" in flat and "139****0001" in flat and "序号" in flat
    assert sheet.oddFooter.right.text == "李组织 2026-11-25 10:00 导出"
