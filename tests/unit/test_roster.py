"""Reading a filled-in 党员名册 (domain/roster.py) and the one form builder that
writes the template (reports/): pure, no database.

Each refusal names the row (the spreadsheet's own number) and the column, and
its message says what to fix.
"""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

from domain.errors import InvalidInput
from domain.idcard import check_digit
from domain.member_fields import FIELD_BY_KEY, FIELDS, REQUIRED
from domain.roster import (
    SAMPLE,
    HeaderMap,
    RosterParse,
    cell_text,
    find_header,
    parse_rows,
)
from reports.builder import LISTS_SHEET, Column, Form, build_workbook, layout
from reports.forms.roster import template_workbook
from tests import factories

TODAY = date(2024, 6, 10)
HEADER = ["姓名", "性别", "出生年月", "入党时间", "党员类别", "身份证号", "联系电话", "备注"]


_MEMBERS: dict[int, dict[str, object]] = {}


def row_of(i: int = 0, **overrides: object) -> list[object]:
    """A clean row in HEADER's order for invented member ``i`` (the same ID each time)."""
    v = _MEMBERS.setdefault(i, factories.member_values(i))
    cells: dict[str, object] = {
        "姓名": v["name"],
        "性别": v["gender"],
        "出生年月": v["birth"],
        "入党时间": v["joined"],
        "党员类别": "正式党员",
        "身份证号": v["id_number"],
        "联系电话": factories.phone(i),
        "备注": None,
    }
    cells.update(overrides)
    return [cells[h] for h in HEADER]


def parse(*rows: list[object], header: list[str] = HEADER, **kw: object) -> RosterParse:
    mapped = find_header([header])
    return parse_rows(((i + 2, r) for i, r in enumerate(rows)), mapped, today=TODAY, **kw)  # type: ignore[arg-type]


def only_error(result: RosterParse) -> tuple[int, str, str]:
    assert len(result.errors) == 1, result.errors
    e = result.errors[0]
    return e.row, e.column, e.message


# --- the header ---


def test_header_is_matched_by_label_ignoring_required_mark_spaces_and_bracket_width():
    # Arrange: the template's "*", a full-width space, half-width brackets, an alias
    header = [
        "*姓　名",
        "* 性别",
        "出生年月",
        "入党时间",
        "党员类别",
        "现工作(学习)单位",
        "身份证号码",
    ]

    # Act
    mapped = find_header([header])

    # Assert
    assert [spec.key for spec in mapped.fields.values()] == [
        "name", "gender", "birth", "joined", "member_type", "work_unit", "id_number",
    ]  # fmt: skip
    assert mapped.row == 1 and mapped.unknown == ()


def test_unknown_columns_are_reported_and_numbering_columns_are_read_past():
    # Act
    mapped = find_header([["序号", *HEADER, "籍贯"]])

    # Assert
    assert mapped.unknown == ("籍贯",)
    assert 0 not in mapped.fields  # 序号


def test_missing_required_column_refuses_the_file_and_names_the_columns():
    # Act
    with pytest.raises(InvalidInput) as refused:
        find_header([["姓名", "出生年月", "入党时间", "身份证号"]])

    # Assert
    assert "性别" in refused.value.render() and "党员类别" in refused.value.render()


def test_a_column_given_twice_refuses_the_file():
    with pytest.raises(InvalidInput, match="出现了两次"):
        find_header([[*HEADER, "手机号码"]])  # 手机号码 is 联系电话 again


def test_header_is_found_below_title_rows_and_read_across_a_group_row():
    # Arrange: title, a header-block line, a group row over the last two columns
    rows = [
        ["党员名册"],
        ["党支部名称：示例第一党支部"],
        ["*姓名", "*性别", "*出生年月", "*入党时间", "*党员类别", "组织关系转出", ""],
        ["", "", "", "", "", "介绍信开出日期", "接收单位"],
    ]

    # Act
    mapped = find_header(rows)

    # Assert
    assert mapped.row == 4
    assert (
        mapped.fields[5].key == "transfer_letter_date"
        and mapped.fields[6].key == "transfer_receiver"
    )


def test_a_sheet_without_a_header_is_refused():
    with pytest.raises(InvalidInput, match="没有找到表头"):
        find_header([["张三", "男"], ["李四", "女"]])


# --- cells as Excel delivers them ---


@pytest.mark.parametrize(
    ("value", "key", "text"),
    [
        (2016.0, "ethnicity", "2016"),
        (13900001234.0, "phone", "13900001234"),
        (13900001234, "phone", "13900001234"),
        (datetime(2016, 3, 18, 0, 0), "last_dues", "2016-03-18"),
        (date(2016, 3, 18), "birth", "2016-03-18"),
        (date(2016, 3, 1), "birth", "2016-03"),  # Excel's date for a typed "2016-03"
        (True, "work_unit_has_org", "是"),
        ("  汉族\u3000", "ethnicity", "汉族"),
        (None, "remarks", ""),
    ],
)
def test_excel_cells_are_read_as_the_text_that_was_typed(value, key, text):
    assert cell_text(value, FIELD_BY_KEY[key]) == text


def test_id_number_stored_as_a_number_is_refused_with_a_hint_to_format_the_column_as_text():
    # Arrange: Excel keeps 15 significant digits of 410102198506150016
    stored = 410102198506150000.0

    # Act
    with pytest.raises(InvalidInput) as refused:
        cell_text(stored, FIELD_BY_KEY["id_number"])

    # Assert
    assert "文本" in refused.value.render() and "410102198506150000" in refused.value.render()


def test_a_date_typed_as_the_number_2016_1_is_refused_as_ambiguous():
    with pytest.raises(InvalidInput, match="分不清是1月还是10月"):
        cell_text(2016.1, FIELD_BY_KEY["joined"])


# --- rows ---


def test_clean_rows_are_parsed_into_field_values_with_spreadsheet_row_numbers():
    # Act
    result = parse(row_of(0), row_of(1))

    # Assert
    assert result.errors == []
    assert [r.row for r in result.rows] == [2, 3]
    values = result.rows[0].values
    assert values["member_type"] == "正式" and values["phone"] == factories.phone(0)
    assert "remarks" not in values  # blank: nothing to change


@pytest.mark.parametrize(
    ("id_number", "says"),
    [
        ("41010219850615001", "现在是17位"),
        ("41010219850615A016", "前17位只能是数字"),
        ("410102198506150011", "最后一位应为6"),
    ],
)
def test_bad_id_number_is_a_row_error_saying_what_is_wrong(id_number, says):
    # Act
    row, column, message = only_error(parse(row_of(0, 身份证号=id_number)))

    # Assert
    assert (row, column) == (2, "身份证号")
    assert says in message


def test_birth_disagreeing_with_the_id_number_is_a_row_error_on_birth():
    # Arrange
    first17 = "41010219850615001"  # born 1985-06-15, male
    id_number = first17 + check_digit(first17)

    # Act
    row, column, message = only_error(
        parse(row_of(0, 身份证号=id_number, 性别="男", 出生年月="1986-06"))
    )

    # Assert
    assert (row, column) == (2, "出生年月")
    assert "1985年6月15日" in message


@pytest.mark.parametrize(
    "text", ["2016-03-18", "2016.3.18", "2016/3/18", "2016年3月18日", "20160318"]
)
def test_every_date_form_secretaries_type_is_read(text):
    # Act
    result = parse([*row_of(0), text], header=[*HEADER, "最近一次交纳党费日期"])

    # Assert
    assert result.errors == []
    assert result.rows[0].values["last_dues"] == date(2016, 3, 18)


def test_a_future_date_is_refused():
    header = [*HEADER, "最近一次交纳党费日期"]
    _, column, message = only_error(parse([*row_of(0), "2024-07-01"], header=header))
    assert column == "最近一次交纳党费日期" and "将来" in message


def test_text_too_long_is_refused_not_cut():
    # Act
    result = parse(row_of(0, 备注="很" * 201))

    # Assert
    _, column, message = only_error(result)
    assert column == "备注" and "最多200个字" in message
    assert result.rows == []  # nothing half-kept


def test_a_missing_required_value_is_a_row_error():
    _, column, message = only_error(parse(row_of(0, 性别=None)))
    assert column == "性别" and "必须填写" in message


def test_duplicate_id_number_in_the_file_is_an_error_on_the_later_row():
    # Act
    result = parse(row_of(0), row_of(1), row_of(0, 联系电话="13900009999"))

    # Assert
    row, column, message = only_error(result)
    assert (row, column) == (4, "身份证号") and "第2行" in message
    assert [r.row for r in result.rows] == [2, 3]


def test_rows_without_id_number_and_same_name_and_birth_are_refused_as_indistinguishable():
    result = parse(row_of(0, 身份证号=None), row_of(0, 身份证号=None))
    assert only_error(result)[:2] == (3, "姓名")


def test_blank_rows_are_skipped_and_the_footer_ends_the_table():
    # Act
    result = parse(row_of(0), [None] * 8, ["", " ", None], row_of(1), ["填表人：", None], row_of(2))

    # Assert
    assert [r.row for r in result.rows] == [2, 5]
    assert result.errors == []


def test_more_rows_than_allowed_refuses_the_file():
    with pytest.raises(InvalidInput, match="最多导入2行"):
        parse(row_of(0), row_of(1), row_of(2), max_rows=2)


def test_the_template_sample_row_is_skipped():
    # Arrange
    header = [f.label for f in FIELDS]
    sample = [SAMPLE.get(f.key) for f in FIELDS]

    # Act
    result = parse(sample, header=header)

    # Assert
    assert result.sample_skipped and result.rows == [] and result.errors == []


# --- the template and the builder ---


def calamine_rows(data: bytes) -> list[list[object]]:
    return CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()


def test_template_lists_every_field_marks_required_ones_and_reads_back():
    # Act
    data = template_workbook("示例第一党支部", TODAY)
    rows = calamine_rows(data)
    mapped: HeaderMap = find_header(rows)

    # Assert
    assert rows[0][0] == "党员名册"
    assert "示例第一党支部" in rows[1][0]
    assert any("2016-03-18" in str(c) for row in rows[:4] for c in row)  # the date notes
    assert sorted(s.key for s in mapped.fields.values()) == sorted(f.key for f in FIELDS)
    assert {label for label in mapped.labels if label.startswith("*")} == {
        "*" + f.label for f in REQUIRED
    }


def test_template_has_drop_downs_for_coded_columns_and_text_format_for_id_numbers():
    # Act
    book = load_workbook(io.BytesIO(template_workbook("示例第一党支部", TODAY)))
    sheet = book.worksheets[0]
    lists = {dv.formula1 for dv in sheet.data_validations.dataValidation}

    # Assert
    assert '"男,女"' in lists and '"是,否"' in lists and '"正式党员,预备党员"' in lists
    assert sheet.freeze_panes == "B6"  # below the two header rows, 姓名 kept in view
    id_column = next(c for c in sheet[4] if c.value == "身份证号").column_letter
    assert sheet.column_dimensions[id_column].number_format == "@"
    assert sheet[f"{id_column}6"].number_format == "@"


@pytest.mark.parametrize("write_only", [False, True])
def test_builder_merges_group_headers_and_moves_long_lists_to_a_hidden_sheet(write_only):
    # Arrange
    long = tuple(f"很长的选项名称{i:02d}" for i in range(40))  # far over 255 characters
    form = Form(
        title="测试表",
        header_lines=(("党支部名称：示例", "负责人：", "联系电话："),),
        columns=(
            Column("姓名"),
            Column("甲", group="组"),
            Column("乙", group="组"),
            Column("丙", choices=long),
        ),
        footer_lines=(("填表人：", "填表日期："),),
        input_rows=50,
    )

    # Act
    data = build_workbook(form, [["张测一", 1, 2, long[0]]], write_only=write_only)
    book = load_workbook(io.BytesIO(data))
    sheet = book.worksheets[0]

    # Assert
    assert layout(form).first_data_row == 5
    merged = {str(r) for r in sheet.merged_cells.ranges}
    assert {"A1:D1", "B3:C3", "A3:A4", "D3:D4"} <= merged  # title, group, vertical headers
    assert book[LISTS_SHEET].sheet_state == "hidden"
    (validation,) = sheet.data_validations.dataValidation
    assert validation.formula1.startswith(f"'{LISTS_SHEET}'!$A$1:$A$40")
    assert str(validation.sqref) == "D5:D54"
    assert sheet.print_title_rows == "$3:$4"
    assert calamine_rows(data)[4][0] == "张测一"
    assert calamine_rows(data)[-1][0] == "填表人："
