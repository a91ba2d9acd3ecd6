"""Reading a filled-in 党员名册 (seed 001 附件2) — pure rules, no I/O.

The importer hands over the sheet's rows as the spreadsheet library gives them
(str / float / int / date / datetime / bool). Here they become field values:
the header row is found and mapped to ``FIELDS`` by label, every data row is
parsed with ``FieldSpec.parse`` and ``check_record``, and every problem is a
``RowError`` naming the spreadsheet's own 1-based row number and the column's
label, so the secretary can find the cell. Nothing is kept half-parsed: a row
with an error contributes no values.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from domain.errors import N_, InvalidInput
from domain.idcard import check_digit
from domain.member_fields import FIELD_BY_KEY, FIELDS, REQUIRED, FieldSpec, Kind, check_record

HEADER_SCAN_ROWS = 20  # the header sits under a title and a few header-block lines
REQUIRED_MARK = "*"

# Other spellings seen on registers in use; matched after the same normalising.
_ALIASES = {
    "身份证号码": "id_number",
    "公民身份号码": "id_number",
    "出生日期": "birth",
    "入党日期": "joined",
    "入党年月": "joined",
    "转正日期": "full_member_since",
    "手机": "phone",
    "手机号": "phone",
    "手机号码": "phone",
    "本人联系电话": "phone",
    "现居住地(流入地)": "residence",
    "工作单位": "work_unit",
    "现工作单位": "work_unit",
}
# Columns our own sheets add, or every register has; read past them silently.
_IGNORED = {"序号", "错误说明"}
# A row starting with one of these is the form's footer: the table ends there.
FOOTER_WORDS = ("审核领导", "填表人", "填表日期", "注：", "说明：", "填写说明")

_UNSHARED = frozenset({"name", "id_number", "phone"})  # unique per member: not worth sharing

# The template's sample row (an invented member). It is skipped on import, so
# a secretary who forgets to delete it does not add 张示例 to the branch.
SAMPLE_FIRST17 = "41010219850615001"
SAMPLE: Mapping[str, str] = {
    "name": "张示例",
    "gender": "男",
    "birth": "1985-06",
    "joined": "2008-07",
    "member_type": "正式党员",
    "id_number": SAMPLE_FIRST17 + check_digit(SAMPLE_FIRST17),
    "ethnicity": "汉族",
    "full_member_since": "2009-07",
    "education": "本科及以上",
    "marital_status": "已婚",
    "work_start": "2007-07",
    "academic": "大学本科",
    "degree": "学士",
    "school": "示例大学",
    "work_unit": "示例单位",
    "work_unit_has_org": "是",
    "residence": "示例市示例路1号",
    "phone": "13900000000",
    "last_org_life": "2016-03-18",
    "last_dues": "2016-03-18",
    "remarks": "示例行，导入时自动跳过，可删除",
}


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # the spreadsheet's row number, 1-based
    column: str  # the column's label; "" for a problem with the whole file or row
    message: str
    sheet: str = ""  # "" for the register itself; else the other sheet's name (家庭成员)


@dataclass(frozen=True, slots=True)
class ParsedRow:
    """One clean row. Kept as a tuple against the file's shared key tuple, not
    a dict per row: 100,000 rows must fit in memory beside the workbook."""

    row: int
    keys: tuple[str, ...]  # the same tuple object for every row of a file
    data: tuple[Any, ...]  # values in ``keys`` order; None where the cell was blank

    @property
    def values(self) -> dict[str, Any]:
        """Only the cells that were filled in: a blank cell changes nothing."""
        return {k: v for k, v in zip(self.keys, self.data, strict=True) if v is not None}


@dataclass(frozen=True)
class HeaderMap:
    row: int  # 1-based row number of the (last) header row; data starts below it
    fields: Mapping[int, FieldSpec]  # 0-based column index → field
    labels: tuple[str, ...]  # the header text of every column, as written
    unknown: tuple[str, ...] = ()  # headers that match no field: reported, not read


@dataclass
class RosterParse:
    header: HeaderMap
    rows: list[ParsedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    sample_skipped: bool = False
    family: list[Any] = field(default_factory=list)  # FamilyRow from the 家庭成员 sheet


def normalise_label(text: object) -> str:
    """Header text → comparable key: NFKC folds full-width brackets and spaces."""
    folded = unicodedata.normalize("NFKC", str(text or ""))
    folded = re.sub(r"\s+", "", folded).replace(REQUIRED_MARK, "").replace("(必填)", "")
    return folded


_BY_LABEL: Mapping[str, FieldSpec] = {
    **{normalise_label(k): FIELD_BY_KEY[v] for k, v in _ALIASES.items()},
    **{normalise_label(f.label): f for f in FIELDS},
}


def template_header(spec: FieldSpec) -> str:
    return REQUIRED_MARK + spec.label if spec.required else spec.label


def find_header(top_rows: Sequence[Sequence[object]], *, first_row: int = 1) -> HeaderMap:
    """The header among the sheet's first rows (``first_row`` is the number of
    ``top_rows[0]``). A two-level header (merged group cells above) is read as
    one: a column's label comes from the lower row when it has one."""
    scored = [
        (sum(normalise_label(c) in _BY_LABEL for c in row), i)
        for i, row in enumerate(top_rows[:HEADER_SCAN_ROWS])
    ]
    best, index = max(scored, default=(0, 0), key=lambda s: (s[0], -s[1]))
    if best < 2:
        raise InvalidInput(
            N_("没有找到表头行。请使用党员名册模板，保留“姓名”“性别”“出生年月”等列标题。")
        )
    labels = [str(c or "").strip() for c in top_rows[index]]
    if index + 1 < len(top_rows):
        below = top_rows[index + 1]
        lower = {
            c: str(text).strip()
            for c, text in enumerate(below)
            if normalise_label(text) in _BY_LABEL
            and (c >= len(labels) or normalise_label(labels[c]) not in _BY_LABEL)
        }
        if lower:
            labels += [""] * (max(lower) + 1 - len(labels))
            for c, text in lower.items():
                labels[c] = text
            index += 1
    return _map_labels(labels, row=first_row + index)


def _map_labels(labels: list[str], *, row: int) -> HeaderMap:
    fields: dict[int, FieldSpec] = {}
    seen: dict[str, int] = {}
    unknown: list[str] = []
    for c, text in enumerate(labels):
        key = normalise_label(text)
        if not key or key in _IGNORED:
            continue
        spec = _BY_LABEL.get(key)
        if spec is None:
            unknown.append(text)
            continue
        if spec.key in seen:
            raise InvalidInput(
                N_("“{label}”列出现了两次（第{first}列和第{second}列），请删掉其中一列。"),
                label=spec.label,
                first=seen[spec.key] + 1,
                second=c + 1,
            )
        seen[spec.key] = c
        fields[c] = spec
    missing = [f.label for f in REQUIRED if f.key not in seen]
    if missing:
        raise InvalidInput(
            N_("表格缺少必填列：{missing}。请使用党员名册模板，或在表头加上这些列。"),
            missing="、".join(missing),
        )
    return HeaderMap(row=row, fields=fields, labels=tuple(labels), unknown=tuple(unknown))


def cell_text(value: object, spec: FieldSpec) -> str:
    """A cell as the text a secretary would have typed (Excel's types undone)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        if spec.kind is Kind.MONTH and value.day == 1:
            # Excel turns a typed "2016-03" into the date 2016-03-01; the day is not meant.
            return f"{value.year:04d}-{value.month:02d}"
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value, spec)
    if isinstance(value, time | timedelta):
        raise InvalidInput(N_("“{label}”里是一个时间，请按文字重新填写。"), label=spec.label)
    return str(value).strip()


def _float_text(value: float, spec: FieldSpec) -> str:
    if spec.kind is Kind.ID_NUMBER:
        # Excel keeps 15 significant digits: an 18-digit number typed into a
        # number cell has already lost its last digits (…150000) before we see it.
        if value.is_integer() and 0 < value < 1e15:
            return str(int(value))
        raise InvalidInput(
            N_(
                "身份证号被Excel存成了数字（{shown}），后几位已经丢失。"
                "请把“身份证号”列设置为“文本”格式，重新输入号码后再上传。"
            ),
            shown=int(Decimal(f"{value:.15g}")),  # as Excel shows it: 15 digits, then zeros
        )
    if value.is_integer():
        return str(int(value))  # 2016.0 → "2016", a phone 13900001234.0 → "13900001234"
    text = repr(value)
    if spec.kind in (Kind.MONTH, Kind.DAY) and re.fullmatch(r"\d{4}\.1", text):
        raise InvalidInput(
            N_("“{label}”填成了数字{text}，分不清是1月还是10月。请写成 {year}-01 或 {year}-10。"),
            label=spec.label,
            text=text,
            year=text[:4],
        )
    return text


def parse_rows(
    rows: Iterable[tuple[int, Sequence[object]]],
    header: HeaderMap,
    *,
    today: date,
    max_rows: int | None = None,
) -> RosterParse:
    """Parse the data rows (row number, cells) below the header.

    Raises InvalidInput (a file-level refusal) once more than ``max_rows``
    filled rows are seen, so an oversized file is refused without parsing it all.
    """
    result = RosterParse(header)
    first_with_id: dict[str, int] = {}
    first_without_id: dict[tuple[str, str], int] = {}
    keys = tuple(spec.key for spec in header.fields.values())
    # One object per distinct value (months, dates, 汉族, the work unit …):
    # real registers repeat these on most rows; names, IDs and phones do not.
    shared: dict[Any, Any] = {}
    count = 0
    for row_no, cells in _table_rows(rows, header):
        count += 1
        if max_rows is not None and count > max_rows:
            raise InvalidInput(
                N_("一次最多导入{max}行，这个表格超过了。请分成几个文件上传。"), max=max_rows
            )
        values, errors = parse_row(row_no, cells, header, today=today)
        if errors:
            result.errors.extend(errors)
            continue
        if _is_sample(values):
            result.sample_skipped = True
            continue
        duplicate = _duplicate(row_no, values, first_with_id, first_without_id)
        if duplicate:
            result.errors.append(duplicate)
            continue
        data = tuple(
            shared.setdefault(v, v) if k not in _UNSHARED and isinstance(v, str | date) else v
            for k, v in ((k, values.get(k)) for k in keys)
        )
        result.rows.append(ParsedRow(row_no, keys, data))
    return result


def _table_rows(
    rows: Iterable[tuple[int, Sequence[object]]], header: HeaderMap
) -> Iterator[tuple[int, Sequence[object]]]:
    """Filled rows only: blank rows are skipped, the footer ends the table."""
    columns = header.fields
    for row_no, cells in rows:
        if row_no <= header.row:
            continue
        first = next((c for c in cells if c is not None and str(c).strip()), None)
        if first is None:
            continue
        if isinstance(first, str) and first.strip().startswith(FOOTER_WORDS):
            return
        # A row whose only content is in ignored columns (a pre-numbered 序号) is blank.
        if all(_blank(cells[c]) for c in columns if c < len(cells)):
            continue
        yield row_no, cells


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_row(
    row_no: int, cells: Sequence[object], header: HeaderMap, *, today: date
) -> tuple[dict[str, Any], list[RowError]]:
    values: dict[str, Any] = {}
    errors: list[RowError] = []
    for c, spec in header.fields.items():
        try:
            text = cell_text(cells[c] if c < len(cells) else None, spec)
            value = spec.parse(text, today=today)
        except InvalidInput as problem:
            errors.append(RowError(row_no, spec.label, problem.render()))
            continue
        if value is not None:
            values[spec.key] = value
    if not errors:
        errors = [
            RowError(row_no, _column_named(p.render()), p.render()) for p in check_record(values)
        ]
    return values, errors


def _column_named(message: str) -> str:
    """The field a cross-field message mentions first is the cell to look at."""
    found = [(message.find(f.label), f.label) for f in FIELDS if f.label in message]
    return min(found)[1] if found else ""


def _is_sample(values: Mapping[str, Any]) -> bool:
    return values.get("name") == SAMPLE["name"] and values.get("id_number") == SAMPLE["id_number"]


def _duplicate(
    row_no: int,
    values: Mapping[str, Any],
    with_id: dict[str, int],
    without_id: dict[tuple[str, str], int],
) -> RowError | None:
    id_number = values.get("id_number")
    if id_number:
        first = with_id.setdefault(id_number, row_no)
        if first != row_no:
            return RowError(
                row_no,
                FIELD_BY_KEY["id_number"].label,
                InvalidInput(
                    N_("与第{first}行的身份证号相同，同一名党员只能登记一行。"), first=first
                ).render(),
            )
        return None
    # Without an ID number a row is known by name and birth month (see the importer).
    key = (values["name"], values["birth"][:7])
    first = without_id.setdefault(key, row_no)
    if first != row_no:
        return RowError(
            row_no,
            FIELD_BY_KEY["name"].label,
            InvalidInput(
                N_(
                    "与第{first}行的姓名、出生年月相同，又都没有填身份证号，"
                    "无法区分是否同一人。请填写身份证号。"
                ),
                first=first,
            ).render(),
        )
    return None
