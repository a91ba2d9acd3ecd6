"""党员名册 (seed 001 附件2): the template secretaries fill in, and the copy of
an upload sent back with an added 错误说明 column when rows were refused.

The columns are the member record's fields (``domain.member_fields.FIELDS``)
in catalogue order, labelled as the record labels them, so the importer reads
back exactly what the template writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal

from domain import family_sheet
from domain.dates import PartialDate
from domain.errors import InvalidInput
from domain.member_fields import FIELDS, FieldSpec, Kind
from domain.roster import SAMPLE, HeaderMap, cell_text, template_header
from reports.builder import Column, Form, Line, build_workbook

TITLE = "党员名册"
TEXT = "@"  # every column is text: Excel must not turn 身份证号 into 4.10102E+17 or "2016-03" into a date
TRANSFER_GROUP = "组织关系转出"
_TRANSFER_KEYS = ("transfer_letter_date", "transfer_receiver", "transfer_receipt_date")
ERROR_COLUMN = "错误说明"
# Drop-downs and text format reach this far below the sample row.
TEMPLATE_INPUT_ROWS = 10_000

NOTES = (
    "填写说明：带*的列必须填写。日期写成 2016-03-18、2016.3.18、2016/3/18 或 2016年3月18日；"
    "出生年月、入党时间、转正时间、参加工作时间可只写到月，如 1985-06。"
    "身份证号、联系电话按文字填写（本表各列已设为文本格式，请勿改成数字或日期格式）。"
    "有下拉框的列请从下拉列表中选择。外出流动、出国（境）等特殊类型党员请在备注栏注明；"
    "出国（境）党员另填“出国（境）情况”各列（出国日期、回国日期可只写到月）。"
    "第一行是虚构的示例，导入时自动跳过，可以删除。"
    "家庭主要成员及重要社会关系填在“家庭成员”工作表。"
)
FAMILY_NOTES = (
    "填写说明：每行一位家庭成员或重要社会关系（配偶、子女、父母等），一名党员可以有多行。"
    "“党员姓名”与第一个工作表一致；同名党员请填写党员身份证号。"
    "某名党员在本表有记录时，导入后以本表为准替换其原有的家庭成员。"
)


def _width(spec: FieldSpec) -> float:
    if spec.kind is Kind.ID_NUMBER:
        return 21
    if spec.kind in (Kind.MONTH, Kind.DAY, Kind.PHONE):
        return 13
    if spec.kind in (Kind.CHOICE, Kind.YES_NO):
        return 12
    return max(10.0, min(30.0, spec.max_len * 0.3))


def _choices(spec: FieldSpec, categories: Sequence[str] = ()) -> tuple[str, ...]:
    if spec.kind is Kind.CATEGORY:
        return tuple(categories)
    if spec.kind is Kind.YES_NO:
        return ("是", "否")
    if spec.kind is Kind.CHOICE and spec.choices is not None:
        return tuple(c.label for c in spec.choices)
    return ()


def roster_columns(categories: Sequence[str] = ()) -> tuple[Column, ...]:
    """``categories``: the committee's 人员类别 list, the drop-down of that column."""
    return tuple(
        Column(
            header=template_header(spec),
            width=_width(spec),
            group=TRANSFER_GROUP if spec.key in _TRANSFER_KEYS else (spec.group or None),
            choices=_choices(spec, categories),
            number_format=TEXT,
        )
        for spec in FIELDS
    )


def roster_form(
    branch_name: str, today: date, *, footer: bool = True, categories: Sequence[str] = ()
) -> Form:
    footer_lines: tuple[Line, ...] = ()
    if footer:
        footer_lines = (
            ("审核领导：", "填表人：", "联系电话：", f"填表日期：{PartialDate.of(today).zh()}"),
        )
    return Form(
        title=TITLE,
        header_lines=(
            (f"党支部名称：{branch_name}", "负责人：", "联系电话："),
            (NOTES,),
        ),
        columns=roster_columns(categories),
        footer_lines=footer_lines,
        sheet_name=TITLE,
        freeze_columns=1,
        input_rows=TEMPLATE_INPUT_ROWS,
    )


def family_form(branch_name: str) -> Form:
    """家庭成员: the relatives of the members on the first sheet, a row each."""
    return Form(
        title="家庭主要成员及重要社会关系",
        header_lines=((f"党支部名称：{branch_name}",), (FAMILY_NOTES,)),
        columns=tuple(
            Column(
                header=header,
                width=_width(spec),
                choices=_choices(spec),
                number_format=TEXT,
            )
            for header, spec in zip(family_sheet.HEADERS, family_sheet.COLUMNS, strict=True)
        ),
        sheet_name=family_sheet.SHEET,
        freeze_columns=1,
        input_rows=TEMPLATE_INPUT_ROWS,
    )


def template_workbook(branch_name: str, today: date, categories: Sequence[str] = ()) -> bytes:
    """The empty register with one invented sample row, ready to fill in, and
    the 家庭成员 sheet beside it.

    No footer: secretaries add rows below the sample, and signature lines
    there would sit in their way (the importer still stops at a footer).
    """
    form = roster_form(branch_name, today, footer=False, categories=categories)
    sample = [SAMPLE.get(spec.key) for spec in FIELDS]
    family = (family_form(branch_name), [family_sheet.SAMPLE_ROW])
    return build_workbook(form, [sample], more=[family])


def error_workbook(
    header: HeaderMap,
    rows: Iterable[tuple[int, Sequence[object]]],
    messages: Mapping[int, str],
) -> bytes:
    """The upload sent back as it came, plus a 错误说明 column.

    Rows keep their numbers (the header lands on the same row as in the upload
    and every row below it is written, blank ones too), so “第12行” in the chat
    is row 12 here; after fixing, the file can be uploaded again as it is.
    """
    # Title on row 1, then lines enough to bring the header down to its old row.
    filler: list[Line] = [("",)] * max(0, header.row - 2)
    if filler:
        filler[0] = ("请按最后一列“错误说明”修改后重新上传；没有说明的行无需修改。",)
    form = Form(
        title="党员名册（有错误，本次未导入）" if header.row > 1 else None,
        header_lines=tuple(filler),
        columns=tuple(
            Column(header=label or "", width=14, number_format=_retype_format(header, c))
            for c, label in enumerate(header.labels)
        ),
        sheet_name=TITLE,
        freeze_columns=1,
    )
    extra = (Column(header=ERROR_COLUMN, width=60, wrap=True),)
    return build_workbook(
        form, _error_rows(header, rows, messages), write_only=True, extra_columns=extra
    )


def _retype_format(header: HeaderMap, column: int) -> str | None:
    """Text format where a fix is typed over a number-like value: the ID number.
    Only there: a styled cell per value makes 100,000 rows several times slower."""
    spec = header.fields.get(column)
    return TEXT if spec is not None and spec.kind is Kind.ID_NUMBER else None


def _error_rows(
    header: HeaderMap,
    rows: Iterable[tuple[int, Sequence[object]]],
    messages: Mapping[int, str],
) -> Iterator[list[object]]:
    width = len(header.labels)
    expected = header.row + 1
    for row_no, cells in rows:
        if row_no <= header.row:
            continue
        while expected < row_no:  # keep the numbering when the reader skips empty rows
            yield []
            expected += 1
        texts = [
            _text(cells[c] if c < len(cells) else None, header.fields.get(c)) for c in range(width)
        ]
        yield [*texts, messages.get(row_no)]
        expected += 1


def _text(value: object, spec: FieldSpec | None) -> str | None:
    if value is None or value == "":
        return None
    if spec is not None:
        try:
            return cell_text(value, spec)
        except InvalidInput:
            pass
    if isinstance(value, float) and value.is_integer():
        return str(int(Decimal(f"{value:.15g}")))  # as Excel shows it: 15 digits, then zeros
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
