"""The one form builder (报表生成): every exported .xlsx is laid out here.

An official form is a small declarative ``Form``: a title row, header-block
lines (党支部名称 / 负责人 / 联系电话), the column headers (with merged group
headers where the paper form has them), one row per member or unit, then the
footer (审核领导 / 填表人 / 联系电话 / 填表日期). SPEC §7.

Two modes, one code path. ``write_only=True`` streams rows to disk through
openpyxl's write-only worksheet so a 100,000-row export stays small in memory.
A write-only sheet has no ``merge_cells()``, but it keeps the ordinary
``merged_cells`` range list and writes it after the rows (``write_tail``), so
merges — even those of the footer below the streamed rows — are added to that
list; every other sheet-level setting (widths, freeze panes, sheet properties)
is set before the first row because openpyxl writes it at the top of the file.
Data cells get borders only in the ordinary mode: a styled cell per value
costs time and memory at 100,000 rows.

A ``Form(grid=True)`` is a label/value sheet laid out like a paper form (the
党员基本信息表): no column-header row; each row is a list of cells, any of them a
``Span`` covering several columns (merged) or marked as a label (bold, shaded).
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.cell_range import CellRange
from openpyxl.worksheet.datavalidation import DataValidation

Line = tuple[str, ...]  # the parts of one header/footer line, spread across the width

LISTS_SHEET = "代码表"
# Excel refuses an inline list longer than 255 characters (the formula limit);
# longer lists, or items containing a comma, go to the hidden sheet.
_INLINE_LIST_LIMIT = 255

_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_TITLE_FONT = Font(name="宋体", size=16, bold=True)
_HEAD_FONT = Font(name="宋体", size=11, bold=True)
_HEAD_FILL = PatternFill("solid", fgColor="EDEDED")
_CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)
_LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)


@dataclass(frozen=True)
class Column:
    header: str
    width: float = 12.0
    group: str | None = None  # consecutive columns with the same group share a merged cell
    choices: tuple[str, ...] = ()  # a drop-down (data validation list)
    number_format: str | None = None  # "@" keeps 身份证号 as text, "yyyy-mm-dd" …
    wrap: bool = False


@dataclass(frozen=True)
class Form:
    title: str | None
    columns: tuple[Column, ...]
    header_lines: tuple[Line, ...] = ()
    footer_lines: tuple[Line, ...] = ()
    sheet_name: str = "Sheet1"
    freeze_columns: int = 0  # columns kept in view when scrolling right (e.g. 姓名)
    input_rows: int = 0  # empty rows below the data the drop-downs still cover (templates)
    landscape: bool = True
    # Every page printed carries the marking (R-CONFIDENTIAL); ``stamp`` names
    # who exported it and when, on each page's footer and in the file's properties.
    stamp: str | None = None
    # A label/value sheet (党员基本信息表): no column-header row, the rows hold
    # ``Span`` cells; the columns give only the widths.
    grid: bool = False


@dataclass(frozen=True)
class Span:
    """One cell of a ``Form(grid=True)`` row, merged across ``across`` columns;
    a ``label`` cell looks like a column header (bold, shaded). A plain value
    in a grid row is a one-column value cell."""

    value: Any
    across: int = 1
    label: bool = False


MARKING = "内部资料 注意保密"


@dataclass(frozen=True)
class Layout:
    """Where things land (1-based rows), so callers and tests need not count."""

    header_top: int
    header_bottom: int

    @property
    def first_data_row(self) -> int:
        return self.header_bottom + 1


def layout(form: Form) -> Layout:
    top = (1 if form.title else 0) + len(form.header_lines) + 1
    if form.grid:  # no column-header rows: the data start at ``top``
        return Layout(top, top - 1)
    grouped = any(c.group for c in form.columns)
    return Layout(top, top + 1 if grouped else top)


def build_workbook(
    form: Form,
    rows: Iterable[Sequence[Any]],
    *,
    write_only: bool = False,
    extra_columns: Sequence[Column] = (),
    more: Sequence[tuple[Form, Iterable[Sequence[Any]]]] = (),
) -> bytes:
    buffer = io.BytesIO()
    write_workbook(
        form, rows, buffer, write_only=write_only, extra_columns=extra_columns, more=more
    )
    return buffer.getvalue()


def write_workbook(
    form: Form,
    rows: Iterable[Sequence[Any]],
    target: str | Path | IO[bytes],
    *,
    write_only: bool = False,
    extra_columns: Sequence[Column] = (),
    more: Sequence[tuple[Form, Iterable[Sequence[Any]]]] = (),
) -> None:
    """Render ``form`` with ``rows`` (values in column order) into ``target``;
    ``more`` adds further sheets (a register and its detail rows, say)."""
    wb = Workbook(write_only=write_only)
    _mark(wb, form)
    sheets = [(form, rows, (*form.columns, *extra_columns))]
    sheets += [(f, r, f.columns) for f, r in more]
    lists = _list_sheet(wb, [c for _, _, columns in sheets for c in columns])
    for number, (one, one_rows, columns) in enumerate(sheets):
        ws = wb.create_sheet(one.sheet_name, number) if write_only or number else wb.active
        ws.title = one.sheet_name
        _write_sheet(ws, one, one_rows, columns, lists, write_only=write_only)
    wb.save(target)


def _write_sheet(
    ws: Any,
    form: Form,
    rows: Iterable[Sequence[Any]],
    columns: Sequence[Column],
    lists: dict[tuple[str, ...], str],
    *,
    write_only: bool,
) -> None:
    at = layout(form)
    _prepare_sheet(ws, form, columns, at)
    row_no = 0
    for line in ((form.title,) if form.title else ()), *form.header_lines:
        row_no += 1
        _line(ws, row_no, line, columns, title=row_no == 1 and bool(form.title))
    if form.grid:
        row_no = _grid_rows(ws, rows, columns, at.header_bottom)
    else:
        _column_headers(ws, columns, at)
        data_styles = [_data_style(c, borders=not write_only) for c in columns]
        row_no = at.header_bottom
        for values in rows:
            row_no += 1
            ws.append(
                [_cell(ws, v, s) if s else v for v, s in zip(values, data_styles, strict=False)]
            )
    last_data = row_no
    if form.footer_lines:
        row_no += 1
        ws.append([])  # a blank row between the table and the signatures
    for line in form.footer_lines:
        row_no += 1
        _line(ws, row_no, line, columns, title=False)

    last_input = max(last_data, at.header_bottom + form.input_rows)
    _validations(ws, columns, lists, at.first_data_row, last_input)


def _prepare_sheet(ws: Any, form: Form, columns: Sequence[Column], at: Layout) -> None:
    for index, column in enumerate(columns, 1):
        dim = ws.column_dimensions[get_column_letter(index)]
        dim.width = column.width
        if column.number_format:
            # The column's own style: what Excel applies to cells typed in later,
            # e.g. text for 身份证号 so an 18-digit number is not rounded to 15 digits.
            dim.number_format = column.number_format
    if not form.grid:
        ws.freeze_panes = f"{get_column_letter(form.freeze_columns + 1)}{at.first_data_row}"
        ws.print_title_rows = f"{at.header_top}:{at.header_bottom}"
    ws.page_setup.orientation = "landscape" if form.landscape else "portrait"
    ws.page_setup.paperSize = "9"  # A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    # Printed pages: the marking top right, the page number and the stamp below.
    ws.oddHeader.right.text = MARKING
    ws.oddHeader.right.font = "宋体,Bold"
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    if form.stamp:
        ws.oddFooter.right.text = form.stamp


def _mark(wb: Workbook, form: Form) -> None:
    """R-CONFIDENTIAL: whoever opens the file's properties sees the marking and
    who took the export (a forwarded file still names its source)."""
    wb.properties.title = form.title or form.sheet_name
    wb.properties.subject = MARKING
    wb.properties.keywords = MARKING
    wb.properties.creator = form.stamp or "Paicha"
    if form.stamp:
        wb.properties.description = f"{MARKING}；{form.stamp}"


def _list_sheet(wb: Workbook, columns: Sequence[Column]) -> dict[tuple[str, ...], str]:
    """Long code lists → one hidden sheet for the workbook; returns each such
    list → its range formula."""
    long = list(
        dict.fromkeys(
            c.choices
            for c in columns
            if c.choices
            and (_inline_length(c.choices) > _INLINE_LIST_LIMIT or _has_comma(c.choices))
        )
    )
    if not long:
        return {}
    sheet = wb.create_sheet(LISTS_SHEET)
    sheet.sheet_state = "hidden"
    for depth in range(max(len(choices) for choices in long)):
        sheet.append([choices[depth] if depth < len(choices) else None for choices in long])
    name = quote_sheetname(LISTS_SHEET)
    return {
        choices: f"{name}!${get_column_letter(k)}$1:${get_column_letter(k)}${len(choices)}"
        for k, choices in enumerate(long, 1)
    }


def _inline_length(choices: Sequence[str]) -> int:
    return len(",".join(choices)) + 2  # the quotes count too


def _has_comma(choices: Sequence[str]) -> bool:
    return any("," in c for c in choices)


def _line(ws: Any, row_no: int, parts: Line, columns: Sequence[Column], *, title: bool) -> None:
    """One title/header/footer line: the parts spread over equal column spans."""
    spans = _spans(len(columns), len(parts))
    cells: list[Any] = [None] * len(columns)
    style = _TITLE if title else _NOTE
    for (start, _end), text in zip(spans, parts, strict=False):
        cells[start] = _cell(ws, text, style)
    if title:
        ws.row_dimensions[row_no].height = 28
    else:
        # CJK characters are about two width units; grow the row for wrapped notes.
        lines = max(
            (
                math.ceil(len(text) * 2 / max(1.0, sum(c.width for c in columns[s : e + 1])))
                for (s, e), text in zip(spans, parts, strict=False)
            ),
            default=1,
        )
        ws.row_dimensions[row_no].height = 16 * max(1, lines) + 4
    ws.append(cells)
    # Merge after the append: in the ordinary mode append() would overwrite merged cells.
    for start, end in spans:
        if end > start:
            _merge(ws, row_no, start + 1, row_no, end + 1)


def _spans(width: int, parts: int) -> list[tuple[int, int]]:
    """0-based inclusive column spans for ``parts`` pieces of one line."""
    if parts <= 0 or width <= 0:
        return []
    if parts >= width:
        return [(i, i) for i in range(width)]
    step = width / parts
    return [(round(i * step), round((i + 1) * step) - 1) for i in range(parts)]


def _column_headers(ws: Any, columns: Sequence[Column], at: Layout) -> None:
    if at.header_top == at.header_bottom:
        ws.row_dimensions[at.header_top].height = 32
        ws.append([_cell(ws, c.header, _HEAD) for c in columns])
        return
    top: list[Any] = []
    bottom: list[Any] = []
    merges: list[tuple[int, int, int, int]] = []
    index = 0
    while index < len(columns):
        group = columns[index].group
        if not group:  # a column outside any group spans both header rows
            top.append(_cell(ws, columns[index].header, _HEAD))
            bottom.append(_cell(ws, None, _HEAD))
            merges.append((at.header_top, index + 1, at.header_bottom, index + 1))
            index += 1
            continue
        end = index
        while end + 1 < len(columns) and columns[end + 1].group == group:
            end += 1
        for k in range(index, end + 1):
            top.append(_cell(ws, group if k == index else None, _HEAD))
            bottom.append(_cell(ws, columns[k].header, _HEAD))
        if end > index:
            merges.append((at.header_top, index + 1, at.header_top, end + 1))
        index = end + 1
    ws.row_dimensions[at.header_top].height = 22
    ws.row_dimensions[at.header_bottom].height = 32
    ws.append(top)
    ws.append(bottom)
    for merge in merges:
        _merge(ws, *merge)


def _grid_rows(
    ws: Any, rows: Iterable[Sequence[Any]], columns: Sequence[Column], row_no: int
) -> int:
    """The rows of a label/value sheet; returns the last row's number."""
    width = len(columns)
    for values in rows:
        row_no += 1
        cells: list[Any] = []
        merges: list[tuple[int, int]] = []
        lines = 1
        for value in values:
            span = value if isinstance(value, Span) else Span(value)
            start = len(cells)
            if start >= width:
                break
            across = max(1, min(span.across, width - start))
            style = _HEAD if span.label else _VALUE
            cells.append(_cell(ws, span.value, style))
            cells.extend(_cell(ws, None, style) for _ in range(across - 1))
            if across > 1:
                merges.append((start + 1, start + across))
            room = sum(c.width for c in columns[start : start + across])
            lines = max(lines, math.ceil(len(str(span.value or "")) * 2 / max(1.0, room)))
        ws.row_dimensions[row_no].height = max(24, 16 * lines + 6)
        ws.append(cells)
        for first, last in merges:  # after the append, as in _line
            _merge(ws, row_no, first, row_no, last)
    return row_no


def _merge(ws: Any, r1: int, c1: int, r2: int, c2: int) -> None:
    if hasattr(ws, "merge_cells"):
        ws.merge_cells(start_row=r1, start_column=c1, end_row=r2, end_column=c2)
    else:  # write-only: the range list is written after the rows (see the module note)
        ws.merged_cells.add(CellRange(min_row=r1, min_col=c1, max_row=r2, max_col=c2))


@dataclass(frozen=True)
class _Style:
    font: Font | None = None
    alignment: Alignment | None = None
    fill: PatternFill | None = None
    border: Border | None = None
    number_format: str | None = None


_TITLE = _Style(font=_TITLE_FONT, alignment=_CENTRE)
_NOTE = _Style(alignment=_LEFT)
_HEAD = _Style(font=_HEAD_FONT, alignment=_CENTRE, fill=_HEAD_FILL, border=_BOX)
_VALUE = _Style(alignment=_LEFT, border=_BOX)


def _data_style(column: Column, *, borders: bool) -> _Style | None:
    if not (column.number_format or column.wrap or borders):
        return None
    return _Style(
        alignment=_LEFT if column.wrap else None,
        border=_BOX if borders else None,
        number_format=column.number_format,
    )


def _cell(ws: Any, value: Any, style: _Style) -> Cell:
    """A styled cell; ``append`` takes Cell objects in both modes."""
    cell = Cell(ws, row=1, column=1, value=value)  # as WriteOnlyCell(); append() moves it
    if style.font:
        cell.font = style.font
    if style.alignment:
        cell.alignment = style.alignment
    if style.fill:
        cell.fill = style.fill
    if style.border:
        cell.border = style.border
    if style.number_format:
        cell.number_format = style.number_format
    return cell


def _validations(
    ws: Any, columns: Sequence[Column], lists: dict[tuple[str, ...], str], first: int, last: int
) -> None:
    if last < first:
        return
    for index, column in enumerate(columns):
        if not column.choices:
            continue
        formula = lists.get(column.choices) or '"' + ",".join(column.choices) + '"'
        dv = DataValidation(type="list", formula1=formula, allow_blank=True)
        dv.showErrorMessage = True
        dv.errorTitle = "请从下拉列表中选择"
        dv.error = "只能填：" + "、".join(column.choices)[:200]
        letter = get_column_letter(index + 1)
        dv.add(f"{letter}{first}:{letter}{last}")
        ws.data_validations.append(dv)
